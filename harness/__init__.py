"""honch-hil: the hardware-in-the-loop conformance harness for the Honch SDK."""

from pathlib import Path

#: The checkout this harness runs from (an editable install; conformance/, core/ and
#: boards.toml live beside the package).
REPO_ROOT = Path(__file__).resolve().parent.parent
__version__ = (REPO_ROOT / "VERSION").read_text().strip()
