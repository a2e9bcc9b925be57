# The upstream MPS2_AN385 board (Cortex-M3 in qemu-system-arm -machine mps2-an385)
# plus what the qemu port leaves out but every real board has and the SDK and the
# on-device agent need: tick counters and the `time` module. mps2_hal.c provides
# the counters; mpconfigboard_honch.h switches the module on. Build with
#   make -C ports/qemu BOARD=MPS2_AN385 BOARD_DIR=<this directory>
include $(TOP)/ports/qemu/boards/MPS2_AN385/mpconfigboard.mk

# Replaces the port's mpconfigport.h (py/mpconfig.h includes MP_CONFIGFILE instead).
CFLAGS += -DMP_CONFIGFILE='"$(abspath $(BOARD_DIR))/mpconfigboard_honch.h"'
SRC_BOARD_O += $(abspath $(BOARD_DIR))/mps2_hal.o

# The GC heap of the emulated board (the port's own default, stated here because
# the footprint benchmark's figures depend on it).
MICROPY_HEAP_SIZE = 143360

# mps2.ld plus a place for libgcc's unwind tables (see the file).
LDSCRIPT = $(abspath $(BOARD_DIR))/mps2_honch.ld
