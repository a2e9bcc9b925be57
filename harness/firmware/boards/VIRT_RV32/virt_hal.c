// Board HAL of QEMU's RISC-V virt machine (qemu-system-riscv32 -machine virt):
// time from the CLINT's 64-bit mtime register, which QEMU's virt machine counts
// at 10 MHz (its device tree's timebase-frequency), and sleeping with WFI. No RNG
// is modelled (virtio-rng would need a virtio driver).
//
// WFI wakes when an interrupt is pending and enabled in mie, whatever mstatus.MIE
// says (RISC-V privileged spec, "Wait for Interrupt"); MIE stays 0, so no trap is
// ever taken: the timer (mtimecmp) wakes a sleeper, the UART's receive interrupt,
// routed through the PLIC, a reader.

#include <stdbool.h>
#include <stdint.h>

#include "py/mphal.h"

#define REG(address) (*(volatile uint32_t *)(address))
#define CLINT_MTIME_LO REG(0x0200BFF8u)
#define CLINT_MTIME_HI REG(0x0200BFFCu)
#define CLINT_MTIMECMP_LO REG(0x02004000u) // hart 0
#define CLINT_MTIMECMP_HI REG(0x02004004u)
// The PLIC's context 0 is hart 0 in M-mode; the NS16550A UART is source 10.
#define PLIC_UART_SOURCE (10u)
#define PLIC_PRIORITY(source) REG(0x0C000000u + 4u * (source))
#define PLIC_ENABLE0 REG(0x0C002000u)
#define PLIC_THRESHOLD0 REG(0x0C200000u)
#define PLIC_CLAIM0 REG(0x0C200004u)
#define UART_IER (*(volatile uint8_t *)0x10000001u)
#define UART_LSR (*(volatile uint8_t *)0x10000005u)
#define UART_IER_RX_AVAILABLE (0x01u)
#define UART_LSR_DATA_READY (0x01u)
#define MIE_MTIE (1u << 7)
#define MIE_MEIE (1u << 11)
#define MTIME_COUNTS_PER_US (10u)

// A consistent 64-bit value on a 32-bit hart: high, low, high again.
static uint64_t mtime(void) {
    uint32_t hi, lo;
    do {
        hi = CLINT_MTIME_HI;
        lo = CLINT_MTIME_LO;
    } while (CLINT_MTIME_HI != hi);
    return (uint64_t)hi << 32 | lo;
}

uint64_t honch_board_us(void) {
    return mtime() / MTIME_COUNTS_PER_US;
}

uint32_t honch_board_cycles(void) {
    return CLINT_MTIME_LO;
}


static void wait_for_interrupt(unsigned mie_bits) {
    __asm volatile ("csrs mie, %0" : : "r"(mie_bits) : "memory");
    __asm volatile ("wfi" : : : "memory");
    __asm volatile ("csrc mie, %0" : : "r"(mie_bits) : "memory");
}

// Claim and complete whatever the PLIC has pending, so that it can raise it again.
static void plic_acknowledge(void) {
    uint32_t source = PLIC_CLAIM0;
    if (source != 0u) {
        PLIC_CLAIM0 = source;
    }
}

void honch_board_wait_for_input(void) {
    static bool armed;
    if (!armed) {
        PLIC_PRIORITY(PLIC_UART_SOURCE) = 1u;
        PLIC_THRESHOLD0 = 0u;
        PLIC_ENABLE0 |= 1u << PLIC_UART_SOURCE;
        UART_IER |= UART_IER_RX_AVAILABLE;
        armed = true;
    }
    plic_acknowledge();
    if ((UART_LSR & UART_LSR_DATA_READY) == 0u) { // arrived before the acknowledgement
        wait_for_interrupt(MIE_MEIE);
    }
    plic_acknowledge();
}

void honch_board_sleep_until(uint64_t until_us) {
    uint64_t at = until_us * MTIME_COUNTS_PER_US;
    // High word first, so that the comparator never holds a value in the past on the way.
    CLINT_MTIMECMP_HI = 0xFFFFFFFFu;
    CLINT_MTIMECMP_LO = (uint32_t)at;
    CLINT_MTIMECMP_HI = (uint32_t)(at >> 32);
    if (mtime() < at) {
        wait_for_interrupt(MIE_MTIE);
    }
    CLINT_MTIMECMP_HI = 0xFFFFFFFFu; // lowers the timer interrupt
}
