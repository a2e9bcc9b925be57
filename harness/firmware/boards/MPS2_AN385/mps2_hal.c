// Board HAL of the MPS2 AN385 (qemu-system-arm -machine mps2-an385): time from the
// FPGA IO block (Arm AN385, "FPGA system control and I/O"; QEMU models it as
// mps2-fpgaio). No RNG on this board.

#include <stdint.h>

#include "py/mphal.h"

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
