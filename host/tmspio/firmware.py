"""Access to the firmware tree from the host: the shared pure modules and the file list.

`progformat` and `wire` are written once, in the common CPython/MicroPython subset, and live in
firmware/ because the board runs them; the host loads the very same files from there.
"""

import importlib.util
import os
import sys

FIRMWARE_DIR = os.environ.get("TMSPIO_FIRMWARE_DIR") or os.path.normpath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "firmware")
)
BOARDS_DIR = os.path.normpath(os.path.join(FIRMWARE_DIR, "..", "boards"))


def load(name):
    """Import firmware/<name>.py as tmspio._fw.<name> (cached)."""
    key = "tmspio._fw." + name
    if key in sys.modules:
        return sys.modules[key]
    path = os.path.join(FIRMWARE_DIR, name + ".py")
    spec = importlib.util.spec_from_file_location(key, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[key] = module
    spec.loader.exec_module(module)
    return module


def progformat():
    return load("progformat")


def wire():
    return load("wire")
