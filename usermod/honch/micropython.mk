# The Honch SDK as a MicroPython user C module (make-based ports: unix, qemu,
# stm32, ...): the portable core from core/ and the _honch_core binding.
#   make USER_C_MODULES=<repo>/usermod ...
# Heap sizes and other firmware-wide options stay in the board configuration.

HONCH_MOD_DIR := $(USERMOD_DIR)
HONCH_ROOT := $(abspath $(HONCH_MOD_DIR)/../..)
HONCH_SDK_VERSION := $(strip $(file < $(HONCH_ROOT)/core/VERSION))

# Scanned for qstrs.
SRC_USERMOD_C += $(HONCH_MOD_DIR)/modhonch_core.c $(HONCH_MOD_DIR)/honch_mp_port.c
# Plain C99 without MicroPython objects: compiled, not scanned. Absolute paths
# outside USER_C_MODULES end up under $(BUILD) with their full path.
SRC_USERMOD_LIB_C += $(wildcard $(HONCH_ROOT)/core/src/*.c)

CFLAGS_USERMOD += -I$(HONCH_ROOT)/core/include -I$(HONCH_MOD_DIR)
CFLAGS_USERMOD += -DHONCH_SDK_VERSION='"$(HONCH_SDK_VERSION)"'
