# The upstream MICROBIT board (nRF51, a Cortex-M0: Thumb-1 only, no hardware
# divide, every unaligned access faults) plus tick counters, the `time` module and
# os.urandom from the RNG (nrf51_hal.c, ../common). Build with
#   make -C ports/qemu BOARD=MICROBIT BOARD_DIR=<this directory>
include $(TOP)/ports/qemu/boards/MICROBIT/mpconfigboard.mk

HONCH_BOARD_HAL = nrf51_hal.o ../common/honch_cortex_m_idle.o
# The console UART's receive interrupt and the core clock SysTick counts.
CFLAGS += -DHONCH_BOARD_CONSOLE_IRQ=2 -DHONCH_BOARD_CPU_HZ=16000000u
HONCH_BOARD_CONFIG = nrf51_config.h
include $(BOARD_DIR)/../common/honch_board.mk
# nrf51_os.c is included by extmod/modos.c.
CFLAGS += -I$(abspath $(BOARD_DIR))

# A real nRF51822 has 16 KiB of RAM, far too little for MicroPython plus the SDK
# (the client state alone is 5.5 KiB, the event buffer 8 KiB). QEMU's model is run
# with 256 KiB (harness/boards/qemu.py, as MicroPython's own MICROBIT board does);
# the GC heap is held to 96 KiB (the suite needs a 32 KiB event buffer beside
# tethered 4 KiB messages), less than the other boards, so that
# memory pressure shows where a larger board would hide it.
MICROPY_HEAP_SIZE = 98304

# nrf51.ld plus a place for libgcc's unwind tables (see the file).
LDSCRIPT = $(abspath $(BOARD_DIR))/nrf51_honch.ld
