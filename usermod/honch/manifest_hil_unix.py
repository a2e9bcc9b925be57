# The harness's unix firmware: what the standard variant freezes and Debian's
# tarball has (asyncio; its micropython-lib parts mip, ssl and unix-ffi are not
# there and the SDK needs none), plus the SDK and the agent.
include("$(MPY_DIR)/extmod/asyncio")
include("manifest_hil.py")
