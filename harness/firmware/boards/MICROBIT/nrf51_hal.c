// Board HAL of the nRF51 (qemu-system-arm -machine microbit, a Cortex-M0): time
// from TIMER0 and random bytes from the RNG peripheral (nRF51 Series Reference
// Manual v3.0, chapters 18 "TIMER" and 21 "RNG"; QEMU models both), and the console
// UART's interrupt for honch_cortex_m_idle.c.

#include <stdbool.h>
#include <stdint.h>

#include "py/mphal.h"

#include "honch_cortex_m.h"

#define REG(base, offset) (*(volatile uint32_t *)((base) + (offset)))

#define TIMER0 (0x40008000u)
#define TIMER_START(t) REG(t, 0x000u)
#define TIMER_CAPTURE0(t) REG(t, 0x040u)
#define TIMER_MODE(t) REG(t, 0x504u)
#define TIMER_BITMODE(t) REG(t, 0x508u)
#define TIMER_PRESCALER(t) REG(t, 0x510u)
#define TIMER_CC0(t) REG(t, 0x540u)
#define TIMER_MODE_TIMER (0u)
#define TIMER_BITMODE_32 (3u)
// 16 MHz >> 4: one count per microsecond.
#define TIMER_PRESCALER_1MHZ (4u)

#define RNG (0x4000D000u)
#define RNG_START REG(RNG, 0x000u)
#define RNG_STOP REG(RNG, 0x004u)
#define RNG_VALRDY REG(RNG, 0x100u)
#define RNG_CONFIG REG(RNG, 0x504u)
#define RNG_VALUE REG(RNG, 0x508u)
#define RNG_CONFIG_DERCEN (1u) // bias correction

static bool timer_running;
static uint32_t last_count;
static uint64_t wraps; // the high 32 bits of the microsecond count

static uint32_t timer_count(void) {
    if (!timer_running) {
        TIMER_MODE(TIMER0) = TIMER_MODE_TIMER;
        TIMER_BITMODE(TIMER0) = TIMER_BITMODE_32;
        TIMER_PRESCALER(TIMER0) = TIMER_PRESCALER_1MHZ;
        TIMER_START(TIMER0) = 1u;
        timer_running = true;
    }
    TIMER_CAPTURE0(TIMER0) = 1u;
    return TIMER_CC0(TIMER0);
}

// The 32-bit counter wraps every 71.6 minutes; it is extended to 64 bits here,
// which is right as long as the time is read at least once per wrap (the SDK's
// clock is read on every call, the agent's loop calls it far more often).
uint64_t honch_board_us(void) {
    uint32_t count = timer_count();
    if (count < last_count) {
        wraps += 1ull << 32;
    }
    last_count = count;
    return wraps | count;
}

uint32_t honch_board_cycles(void) {
    return timer_count();
}

static uint8_t rng_byte(void) {
    RNG_VALRDY = 0u;
    RNG_START = 1u;
    while (RNG_VALRDY == 0u) {
    }
    RNG_STOP = 1u;
    return (uint8_t)RNG_VALUE;
}

void honch_board_random(uint8_t *out, size_t n) {
    RNG_CONFIG = RNG_CONFIG_DERCEN;
    for (size_t i = 0; i < n; i++) {
        out[i] = rng_byte();
    }
}

uint32_t honch_board_random_u32(void) {
    uint8_t b[4];
    honch_board_random(b, sizeof b);
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

// The console UART: its interrupt is IRQ 2 (the peripheral's ID); RXDRDY is
// cleared by the port's uart_rx_chr, which lowers the line.
#define UART0 (0x40002000u)
#define UART_RXDRDY REG(UART0, 0x108u)
#define UART_INTENSET REG(UART0, 0x304u)
#define UART_INT_RXDRDY (1u << 2)

void honch_board_console_irq_enable(void) {
    UART_INTENSET = UART_INT_RXDRDY;
}

void honch_board_console_irq_clear(void) {
}

bool honch_board_console_has_input(void) {
    return UART_RXDRDY != 0u;
}
