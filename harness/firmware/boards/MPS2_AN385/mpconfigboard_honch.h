// The qemu port's configuration plus the `time` module. The port sets
// MICROPY_PY_TIME to 0 because it has no tick source; mps2_hal.c provides one
// from the MPS2 FPGA IO counters.
#include "mpconfigport.h"

#undef MICROPY_PY_TIME
#define MICROPY_PY_TIME (1)

// No hardware RNG on this board: seed `random` from the cycle counter, whose value
// when the module is first imported depends on host timing and differs per boot.
#define MICROPY_PY_RANDOM_SEED_INIT_FUNC (mp_hal_ticks_cpu())
#ifndef __ASSEMBLER__
mp_uint_t mp_hal_ticks_cpu(void); // also in py/mphal.h, which extmod/modrandom.c does not include
#endif
