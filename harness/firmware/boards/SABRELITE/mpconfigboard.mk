# The upstream SABRELITE board (i.MX6, a Cortex-A9 in ARM state, built with
# -mno-unaligned-access) plus tick counters and the `time` module (imx6_hal.c,
# ../common). Build with
#   make -C ports/qemu BOARD=SABRELITE BOARD_DIR=<this directory>
include $(TOP)/ports/qemu/boards/SABRELITE/mpconfigboard.mk

HONCH_BOARD_HAL = imx6_hal.o
include $(BOARD_DIR)/../common/honch_board.mk

# The board's own default (ARM code is larger than Thumb-2), stated here because
# the footprint benchmark's figures depend on it.
MICROPY_HEAP_SIZE = 163840

# imx6.ld plus a place for libgcc's unwind tables (see the file).
LDSCRIPT = $(abspath $(BOARD_DIR))/imx6_honch.ld
