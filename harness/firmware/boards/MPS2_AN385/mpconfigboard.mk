# The upstream MPS2_AN385 board (Cortex-M3 in qemu-system-arm -machine mps2-an385)
# plus what the qemu port leaves out but every real board has and the SDK and the
# on-device agent need: tick counters and the `time` module (../common, with
# mps2_hal.c). Build with
#   make -C ports/qemu BOARD=MPS2_AN385 BOARD_DIR=<this directory>
include $(TOP)/ports/qemu/boards/MPS2_AN385/mpconfigboard.mk

HONCH_BOARD_HAL = mps2_hal.o ../common/honch_cortex_m_idle.o
# The console UART's receive interrupt and the core clock SysTick counts.
CFLAGS += -DHONCH_BOARD_CONSOLE_IRQ=0 -DHONCH_BOARD_CPU_HZ=25000000u
include $(BOARD_DIR)/../common/honch_board.mk

# The GC heap of the emulated board (the port's own default, stated here because
# the footprint benchmark's figures depend on it).
MICROPY_HEAP_SIZE = 143360

# mps2.ld plus a place for libgcc's unwind tables (see the file).
LDSCRIPT = $(abspath $(BOARD_DIR))/mps2_honch.ld
