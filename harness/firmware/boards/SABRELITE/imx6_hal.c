// Board HAL of the i.MX6 (qemu-system-arm -machine sabrelite, a Cortex-A9): time
// from the Cortex-A9 MPCore global timer (Cortex-A9 MPCore TRM, 4.3 "Global
// timer"), a 64-bit up-counter at the peripheral base + 0x200 (0x00A00200 on the
// i.MX6). QEMU clocks it at 100 MHz with prescaler 0. No RNG is modelled.

#include <stdbool.h>
#include <stdint.h>

#include "py/mphal.h"

#define GTIMER (0x00A00200u)
#define GTIMER_COUNT_LO (*(volatile uint32_t *)(GTIMER + 0x00u))
#define GTIMER_COUNT_HI (*(volatile uint32_t *)(GTIMER + 0x04u))
#define GTIMER_CONTROL (*(volatile uint32_t *)(GTIMER + 0x08u))
#define GTIMER_CONTROL_ENABLE (1u)
#define GTIMER_COUNTS_PER_US (100u)

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

// Not yet: the CPU keeps polling (the port's behaviour).
void honch_board_wait_for_input(void) {
}

void honch_board_sleep_until(uint64_t until_us) {
    (void)until_us;
}
