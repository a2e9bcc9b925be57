# The upstream VIRT_RV32 board (RISC-V in qemu-system-riscv32 -machine virt) plus
# tick counters and the `time` module (virt_hal.c, ../common). Build with
#   make -C ports/qemu BOARD=VIRT_RV32 BOARD_DIR=<this directory>
include $(TOP)/ports/qemu/boards/VIRT_RV32/mpconfigboard.mk

HONCH_BOARD_HAL = virt_hal.o
include $(BOARD_DIR)/../common/honch_board.mk

# RV32IMC, as the board's mpy-cross flags say. The port's default,
# rv32imac_zicsr, names an extension that Debian's GCC 12 does not match against
# its multilibs, which then links the 64-bit libgcc and picolibc; ISA spec 2.2,
# where the CSR instructions are part of the base ISA, selects rv32im/ilp32.
RV32_ARCH = rv32imc
AFLAGS += -misa-spec=2.2
LDFLAGS += -misa-spec=2.2

# The port's default heap, stated here because the footprint benchmark's figures depend on it.
MICROPY_HEAP_SIZE = 143360
