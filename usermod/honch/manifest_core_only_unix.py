# A unix firmware as a port author might have it: the standard variant's frozen
# asyncio and our _honch_core C module, nothing of the SDK's Python frozen.
include("$(MPY_DIR)/extmod/asyncio")
