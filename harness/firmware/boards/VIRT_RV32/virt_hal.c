// Board HAL of QEMU's RISC-V virt machine (qemu-system-riscv32 -machine virt):
// time from the CLINT's 64-bit mtime register, which QEMU's virt machine counts
// at 10 MHz (its device tree's timebase-frequency). No RNG is modelled (virtio-rng
// would need a virtio driver).

#include <stdint.h>

#include "py/mphal.h"

#define CLINT_MTIME_LO (*(volatile uint32_t *)0x0200BFF8u)
#define CLINT_MTIME_HI (*(volatile uint32_t *)0x0200BFFCu)
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

// Not yet: the CPU keeps polling (the port's behaviour).
void honch_board_wait_for_input(void) {
}

void honch_board_sleep_until(uint64_t until_us) {
    (void)until_us;
}
