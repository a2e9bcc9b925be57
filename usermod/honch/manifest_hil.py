# The harness's firmware (harness/firmware/build.py): the SDK plus the on-device
# conformance agent.
include("manifest.py")
module("honch_agent.py", base_path="../../harness/agent")
