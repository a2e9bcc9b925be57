# Included by every board's mpconfigboard.mk after the upstream board's:
# honch_board.h replaces the port's mpconfigport.h (py/mpconfig.h includes
# MP_CONFIGFILE instead; it includes mpconfigport.h first), and the tick functions
# plus the board's HAL (the objects listed in HONCH_BOARD_HAL) are linked in. A
# board with settings of its own names its header in HONCH_BOARD_CONFIG.
HONCH_BOARD_COMMON := $(abspath $(BOARD_DIR)/../common)

CFLAGS += -DMP_CONFIGFILE='"$(HONCH_BOARD_COMMON)/honch_board.h"'
ifneq ($(HONCH_BOARD_CONFIG),)
CFLAGS += -DHONCH_BOARD_CONFIG='"$(abspath $(BOARD_DIR))/$(HONCH_BOARD_CONFIG)"'
endif
LDFLAGS += -L$(HONCH_BOARD_COMMON) -Wl,--wrap=mp_hal_stdin_rx_chr
CFLAGS += -I$(HONCH_BOARD_COMMON)
SRC_BOARD_O += $(HONCH_BOARD_COMMON)/honch_board_time.o $(abspath $(addprefix $(BOARD_DIR)/,$(HONCH_BOARD_HAL)))
