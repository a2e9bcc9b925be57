// The nRF51 has a hardware RNG: os.urandom() reads it (nrf51_os.c, included by
// extmod/modos.c), the SDK draws its stream and session ids from it, and `random`
// is seeded from it.
#define MICROPY_PY_OS_URANDOM (1)
#define MICROPY_PY_OS_INCLUDEFILE "nrf51_os.c"
#define MICROPY_PY_RANDOM_SEED_INIT_FUNC (honch_board_random_u32())

#ifndef __ASSEMBLER__
#include <stddef.h>
#include <stdint.h>
void honch_board_random(uint8_t *out, size_t n);
uint32_t honch_board_random_u32(void);
#endif
