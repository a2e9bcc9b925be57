// Board HAL of the MPS2 AN385 (qemu-system-arm -machine mps2-an385): time from the
// FPGA IO block (Arm AN385, "FPGA system control and I/O"; QEMU models it as
// mps2-fpgaio), and the console UART's interrupt for honch_cortex_m_idle.c. No RNG
// on this board.

#include <stdbool.h>
#include <stdint.h>

#include "py/mphal.h"

#include "honch_cortex_m.h"

#define FPGAIO_BASE (0x40028000u)
// Hundredths of a second since reset.
#define FPGAIO_CLK100HZ (*(volatile uint32_t *)(FPGAIO_BASE + 0x14u))
// Counts every prescaler expiry; PRESCALE is 0 after reset, so it counts every
// cycle of the 25 MHz reference clock since reset and wraps every 171.8 s.
#define FPGAIO_COUNTER (*(volatile uint32_t *)(FPGAIO_BASE + 0x18u))
#define CYCLES_PER_HUNDREDTH (250000u)
#define CYCLES_PER_US (25u)

// The time since reset as hundredths of a second plus the cycles after the last
// full hundredth. COUNTER has the exact low 32 bits of the cycle count; CLK100HZ,
// read first, is at most a hundredth behind it, far less than half of COUNTER's
// range, so the difference is small and never ambiguous.
uint64_t honch_board_us(void) {
    uint32_t hundredths = FPGAIO_CLK100HZ;
    uint32_t low = FPGAIO_COUNTER;
    int32_t after = (int32_t)(low - hundredths * CYCLES_PER_HUNDREDTH);
    uint32_t cycles = after > 0 ? (uint32_t)after : 0u;
    return (uint64_t)hundredths * 10000u + cycles / CYCLES_PER_US;
}

uint32_t honch_board_cycles(void) {
    return FPGAIO_COUNTER;
}

// The console, UART0 (a CMSDK APB UART): its receive interrupt is IRQ 0 on the AN385.
#define UART0_BASE (0x40004000u)
#define UART0_STATE (*(volatile uint32_t *)(UART0_BASE + 0x04u))
#define UART0_CTRL (*(volatile uint32_t *)(UART0_BASE + 0x08u))
#define UART0_INTSTATUS (*(volatile uint32_t *)(UART0_BASE + 0x0Cu))
#define UART_STATE_RXFULL (1u << 1)
#define UART_CTRL_RX_INTEN (1u << 3)
#define UART_INTSTATUS_RX (1u << 1)

void honch_board_console_irq_enable(void) {
    UART0_CTRL |= UART_CTRL_RX_INTEN;
}

// The receive interrupt stays raised until written off (write 1 to clear).
void honch_board_console_irq_clear(void) {
    UART0_INTSTATUS = UART_INTSTATUS_RX;
}

bool honch_board_console_has_input(void) {
    return (UART0_STATE & UART_STATE_RXFULL) != 0u;
}
