// Tick counters and delays for MicroPython on the MPS2 AN385 (qemu-system-arm
// -machine mps2-an385), read from the FPGA IO block (Arm AN385, "FPGA system
// control and I/O"; QEMU models it as mps2-fpgaio).

#include <stdint.h>

#include "py/mphal.h"
#include "py/runtime.h"

#define FPGAIO_BASE (0x40028000u)
// Hundredths of a second since reset.
#define FPGAIO_CLK100HZ (*(volatile uint32_t *)(FPGAIO_BASE + 0x14u))
// Counts every prescaler expiry; PRESCALE is 0 after reset, so it counts every
// cycle of the 25 MHz reference clock since reset and wraps every 171.8 s.
#define FPGAIO_COUNTER (*(volatile uint32_t *)(FPGAIO_BASE + 0x18u))
#define CYCLES_PER_HUNDREDTH (250000u)
#define CYCLES_PER_MS (25000u)
#define CYCLES_PER_US (25u)

// The time since reset as hundredths of a second plus the cycles after the last
// full hundredth. COUNTER has the exact low 32 bits of the cycle count; CLK100HZ,
// read first, is at most a hundredth behind it, far less than half of COUNTER's
// range, so the difference is small and never ambiguous. No 64-bit division: the
// linker script has no room for the unwind tables libgcc's would pull in.
static uint32_t time_since_reset(uint32_t *cycles) {
    uint32_t hundredths = FPGAIO_CLK100HZ;
    uint32_t low = FPGAIO_COUNTER;
    int32_t after = (int32_t)(low - hundredths * CYCLES_PER_HUNDREDTH);
    *cycles = after > 0 ? (uint32_t)after : 0u;
    return hundredths;
}

static uint64_t cycles_since_reset(void) {
    uint32_t cycles;
    uint32_t hundredths = time_since_reset(&cycles);
    return (uint64_t)hundredths * CYCLES_PER_HUNDREDTH + cycles;
}

// The tick functions wrap modulo 2^32 like the hardware counters of other ports.
mp_uint_t mp_hal_ticks_ms(void) {
    uint32_t cycles;
    uint32_t hundredths = time_since_reset(&cycles);
    return hundredths * 10u + cycles / CYCLES_PER_MS;
}

mp_uint_t mp_hal_ticks_us(void) {
    uint32_t cycles;
    uint32_t hundredths = time_since_reset(&cycles);
    return hundredths * 10000u + cycles / CYCLES_PER_US;
}

mp_uint_t mp_hal_ticks_cpu(void) {
    return FPGAIO_COUNTER;
}

void mp_hal_delay_us(mp_uint_t us) {
    uint64_t end = cycles_since_reset() + (uint64_t)us * CYCLES_PER_US;
    while (cycles_since_reset() < end) {
    }
}

void mp_hal_delay_ms(mp_uint_t ms) {
    uint64_t end = cycles_since_reset() + (uint64_t)ms * CYCLES_PER_MS;
    while (cycles_since_reset() < end) {
        // Run scheduled callbacks and deliver a pending KeyboardInterrupt, as other ports do while sleeping.
        mp_handle_pending(true);
    }
}
