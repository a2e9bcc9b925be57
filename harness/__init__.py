"""honch-hil: the hardware-in-the-loop conformance harness for the Honch SDK."""

from pathlib import Path

#: The checkout this harness runs from (an editable install; conformance/, core/ and
#: boards.toml live beside the package).
REPO_ROOT = Path(__file__).resolve().parent.parent
#: The harness's own version (``honch-hil --version``).
__version__ = (REPO_ROOT / "VERSION").read_text().strip()
#: The version of the SDK this project ships (core/, usermod/, honch/): ``honch.__version__``,
#: ``_honch_core.SDK_VERSION`` and ``$sdk_version`` on the wire. Other ports report their own.
SDK_VERSION = (REPO_ROOT / "core" / "VERSION").read_text().strip()
#: Options of every pytest process that runs the conformance suite. The suite uses no
#: hypothesis; its pytest plugin, present wherever the test extra is installed, costs
#: about 1.5 s of CPU at start-up in each process and each xdist worker.
CONFORMANCE_PYTEST_OPTIONS = ("-p", "no:hypothesispytest")
