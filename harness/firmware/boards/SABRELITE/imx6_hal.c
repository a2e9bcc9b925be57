// Board HAL of the i.MX6 (qemu-system-arm -machine sabrelite, a Cortex-A9): time
// from the Cortex-A9 MPCore global timer (Cortex-A9 MPCore TRM, 4.3 "Global
// timer"), a 64-bit up-counter at the peripheral base + 0x200 (0x00A00200 on the
// i.MX6). QEMU clocks it at 100 MHz with prescaler 0. No RNG is modelled.
//
// Sleeping: WFI wakes on a pending IRQ even while CPSR.I masks it (ARMv7-A ARM,
// "Wait For Interrupt"); the port's vector table cannot take one, so I stays set
// and the GIC's interrupt is acknowledged by hand. The global timer's comparator
// (PPI 27) wakes a sleeper, UART1's receive-ready interrupt (SPI 26, ID 58) a reader.

#include <stdbool.h>
#include <stdint.h>

#include "py/mphal.h"

#define GTIMER (0x00A00200u)
#define GTIMER_COUNT_LO (*(volatile uint32_t *)(GTIMER + 0x00u))
#define GTIMER_COUNT_HI (*(volatile uint32_t *)(GTIMER + 0x04u))
#define GTIMER_CONTROL (*(volatile uint32_t *)(GTIMER + 0x08u))
#define GTIMER_CONTROL_ENABLE (1u)
#define GTIMER_CONTROL_COMPARE_IRQ (6u) // comparator enable + its interrupt
#define GTIMER_STATUS (*(volatile uint32_t *)(GTIMER + 0x0Cu))
#define GTIMER_COMPARE_LO (*(volatile uint32_t *)(GTIMER + 0x10u))
#define GTIMER_COMPARE_HI (*(volatile uint32_t *)(GTIMER + 0x14u))
#define GTIMER_COUNTS_PER_US (100u)
#define GTIMER_IRQ (27u)

#define REG(address) (*(volatile uint32_t *)(address))
#define GICC_CTLR REG(0x00A00100u)
#define GICC_PMR REG(0x00A00104u)
#define GICC_IAR REG(0x00A0010Cu)
#define GICC_EOIR REG(0x00A00110u)
#define GICD_CTLR REG(0x00A01000u)
#define GICD_ISENABLER(irq) REG(0x00A01100u + 4u * ((irq) / 32u))
#define GICD_ICENABLER(irq) REG(0x00A01180u + 4u * ((irq) / 32u))
#define GICD_ITARGETSR (0x00A01800u)
#define GIC_SPURIOUS (1020u)

#define UART1_IRQ (58u)
#define UART1_UCR1 REG(0x02020080u)
#define UART1_UTS REG(0x020200B4u)
#define UART_UCR1_RRDYEN (1u << 9)
#define UART_UTS_RXEMPTY (1u << 5)

static bool gtimer_running;

// The TRM's procedure for a consistent 64-bit value: high, low, high again.
static uint64_t gtimer_count(void) {
    if (!gtimer_running) {
        GTIMER_CONTROL = GTIMER_CONTROL_ENABLE;
        gtimer_running = true;
    }
    uint32_t hi, lo;
    do {
        hi = GTIMER_COUNT_HI;
        lo = GTIMER_COUNT_LO;
    } while (GTIMER_COUNT_HI != hi);
    return (uint64_t)hi << 32 | lo;
}

uint64_t honch_board_us(void) {
    return gtimer_count() / GTIMER_COUNTS_PER_US;
}

uint32_t honch_board_cycles(void) {
    return (uint32_t)gtimer_count();
}


static void gic_enable(void) {
    static bool enabled;
    __asm volatile ("cpsid if" : : : "memory");
    if (!enabled) {
        GICD_CTLR = 1u;
        GICC_PMR = 0xFFu;
        GICC_CTLR = 1u;
        *(volatile uint8_t *)(GICD_ITARGETSR + UART1_IRQ) = 1u; // to CPU 0
        UART1_UCR1 |= UART_UCR1_RRDYEN;
        enabled = true;
    }
}

// Acknowledge and end whatever the GIC signals, so that it can signal it again.
static void gic_acknowledge(void) {
    uint32_t id = GICC_IAR & 0x3FFu;
    if (id < GIC_SPURIOUS) {
        GICC_EOIR = id;
    }
}

static void wait_for_interrupt(uint32_t irq) {
    GICD_ISENABLER(irq) = 1u << (irq % 32u);
    __asm volatile ("dsb\n wfi" : : : "memory");
    GICD_ICENABLER(irq) = 1u << (irq % 32u);
    gic_acknowledge();
}

void honch_board_wait_for_input(void) {
    gic_enable();
    gic_acknowledge();
    if (UART1_UTS & UART_UTS_RXEMPTY) {
        wait_for_interrupt(UART1_IRQ);
    }
}

void honch_board_sleep_until(uint64_t until_us) {
    gic_enable();
    uint64_t at = until_us * GTIMER_COUNTS_PER_US;
    GTIMER_CONTROL = GTIMER_CONTROL_ENABLE;
    GTIMER_STATUS = 1u;
    GTIMER_COMPARE_LO = (uint32_t)at;
    GTIMER_COMPARE_HI = (uint32_t)(at >> 32);
    GTIMER_CONTROL = GTIMER_CONTROL_ENABLE | GTIMER_CONTROL_COMPARE_IRQ;
    if (gtimer_count() < at) {
        wait_for_interrupt(GTIMER_IRQ);
    }
    GTIMER_CONTROL = GTIMER_CONTROL_ENABLE;
    GTIMER_STATUS = 1u;
}
