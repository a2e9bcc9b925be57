// Tick counters, delays and console input of the emulated boards, over the board
// HAL (<board>_hal.c): its 64-bit microsecond clock and its two ways of sleeping.
//
// The qemu port polls its UART in a loop, so an idle board keeps a host core busy
// (QEMU runs the loop as fast as it can). Waiting for input and sleeping go
// through the HAL instead, which stops the CPU (WFI) until the UART or a timer
// raises its interrupt line, so that QEMU sleeps too.

#include "py/mphal.h"
#include "py/runtime.h"

#include "uart.h"

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
    for (;;) {
        // Run scheduled callbacks and deliver a pending KeyboardInterrupt, as other ports do while sleeping.
        mp_handle_pending(true);
        if (honch_board_us() >= end) {
            break;
        }
        honch_board_sleep_until(end);
    }
}

// Every reader of the console (the REPLs, sys.stdin) calls mp_hal_stdin_rx_chr;
// the board's makefile links them here (-Wl,--wrap) instead of to the port's
// busy loop in ports/qemu/mphalport.c.
int __wrap_mp_hal_stdin_rx_chr(void);
int __wrap_mp_hal_stdin_rx_chr(void) {
    for (;;) {
        int c = uart_rx_chr();
        if (c != UART_RX_NO_CHAR) {
            return c;
        }
        honch_board_wait_for_input();
    }
}
