// Tick counters and delays of the emulated boards, over the board HAL's 64-bit
// microsecond clock (honch_board_us(), in <board>_hal.c).

#include "py/mphal.h"
#include "py/runtime.h"

// The tick functions wrap modulo 2^32 like the hardware counters of other ports.
mp_uint_t mp_hal_ticks_ms(void) {
    return (mp_uint_t)(honch_board_us() / 1000u);
}

mp_uint_t mp_hal_ticks_us(void) {
    return (mp_uint_t)honch_board_us();
}

mp_uint_t mp_hal_ticks_cpu(void) {
    return honch_board_cycles();
}

void mp_hal_delay_us(mp_uint_t us) {
    uint64_t end = honch_board_us() + us;
    while (honch_board_us() < end) {
    }
}

void mp_hal_delay_ms(mp_uint_t ms) {
    uint64_t end = honch_board_us() + (uint64_t)ms * 1000u;
    while (honch_board_us() < end) {
        // Run scheduled callbacks and deliver a pending KeyboardInterrupt, as other ports do while sleeping.
        mp_handle_pending(true);
    }
}
