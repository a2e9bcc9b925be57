"""Files the per-test coverage run puts in the host agent (see sitecustomize.py)."""
