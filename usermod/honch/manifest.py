# The SDK's Python code, for a board's frozen manifest:
#   include("<repo>/usermod/honch/manifest.py")
# Paths are relative to this file.
package("honch", base_path="../..")
module("honch_transport.py")
