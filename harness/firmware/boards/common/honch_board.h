// What every emulated board of the harness adds to the qemu port's configuration
// (included by each board's MP_CONFIGFILE): the `time` module, which the SDK and
// the agent need and the port leaves out because it has no tick source, and the
// board HAL behind it (honch_board_time.c plus one <board>_hal.c per board).
#include "mpconfigport.h"

#ifdef HONCH_BOARD_CONFIG
#include HONCH_BOARD_CONFIG
#endif

#undef MICROPY_PY_TIME
#define MICROPY_PY_TIME (1)

// Without a hardware RNG, `random` is seeded from the fast counter, whose value
// when the module is first imported depends on host timing and differs per boot.
#ifndef MICROPY_PY_RANDOM_SEED_INIT_FUNC
#define MICROPY_PY_RANDOM_SEED_INIT_FUNC (mp_hal_ticks_cpu())
#endif

#ifndef __ASSEMBLER__
#include <stdint.h>
mp_uint_t mp_hal_ticks_cpu(void); // also in py/mphal.h, which extmod/modrandom.c does not include

// The board HAL (<board>_hal.c).
// Microseconds since reset; never wraps in practice (64 bits).
uint64_t honch_board_us(void);
// The fastest free-running counter the board has (time.ticks_cpu()); wraps at 32 bits.
uint32_t honch_board_cycles(void);
// Stop the CPU until the console has input (or any other wake-up: callers check again).
void honch_board_wait_for_input(void);
// Stop the CPU until honch_board_us() reaches until_us, or earlier (callers check again).
void honch_board_sleep_until(uint64_t until_us);
#endif
