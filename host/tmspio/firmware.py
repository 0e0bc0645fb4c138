"""Where the host finds the firmware and the board files, and the shared pure modules.

`progformat`, `wire`, `limits` ... are written once, in the common CPython/MicroPython subset,
and live with the firmware because the board runs them; the host loads the very same files.

This module is the one place that decides where those files are (FIRMWARE_DIR, BOARDS_DIR),
read once at import, first match wins:

1. $TMSPIO_FIRMWARE_DIR, a folder of firmware .py files; the board files are the `boards`
   folder beside it if there is one, else the ones shipped with tmspio;
2. the copy inside the installed package, tmspio/device/firmware/ and tmspio/device/boards/
   (a wheel or sdist install: setup.py copies the checkout's folders there);
3. the checkout, firmware/ and boards/ two levels above this file (an editable install, or
   host/ on sys.path).

The emulator (emulator/runner.py, serial_board.py), deploy and boards.py all take the paths
from here.
"""

import importlib.util
import os
import re
import sys

ENV_VAR = "TMSPIO_FIRMWARE_DIR"
PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
INSTALLED_DIR = os.path.join(PACKAGE_DIR, "device")  # wheel / sdist install
CHECKOUT_DIR = os.path.normpath(os.path.join(PACKAGE_DIR, "..", ".."))  # editable install
BOOT_FILE = "main.py"  # present in every firmware folder


def locate(environ=None):
    """(firmware dir, boards dir, source) with source one of ENV_VAR, "package", "checkout".

    When no copy is found at all the package's own (missing) folders are returned, so the
    error names the place a wheel install should have them (see load())."""
    environ = os.environ if environ is None else environ
    source, root = "package", INSTALLED_DIR
    for name, candidate in (("package", INSTALLED_DIR), ("checkout", CHECKOUT_DIR)):
        if os.path.isfile(os.path.join(candidate, "firmware", BOOT_FILE)):
            source, root = name, candidate
            break
    firmware_dir = os.path.join(root, "firmware")
    boards_dir = os.path.join(root, "boards")
    override = environ.get(ENV_VAR)
    if override:
        firmware_dir = os.path.abspath(override)
        beside = os.path.join(os.path.dirname(firmware_dir.rstrip(os.sep)), "boards")
        if os.path.isdir(beside):
            boards_dir = beside
        source = ENV_VAR
    return os.path.normpath(firmware_dir), os.path.normpath(boards_dir), source


FIRMWARE_DIR, BOARDS_DIR, SOURCE = locate()


class FirmwareMissing(ImportError):
    """A firmware file the host needs is not where FIRMWARE_DIR says (a broken install)."""


# `import timing` / `from progformat import ...` at the start of a line: the board's flat file
# system makes every firmware module a top-level name
_IMPORT = re.compile(r"^[ \t]*(?:from[ \t]+(\w+)[ \t]+import\b|import[ \t]+(\w+))", re.M)


def _siblings(path):
    """The firmware modules that the file at `path` imports by their bare names."""
    with open(path, encoding="utf-8") as f:
        names = {a or b for a, b in _IMPORT.findall(f.read())}
    return sorted(n for n in names if os.path.isfile(os.path.join(FIRMWARE_DIR, n + ".py")))


def load(name):
    """Import <FIRMWARE_DIR>/<name>.py as tmspio._fw.<name> (cached).

    Its bare-name imports of other firmware modules (`import timing`) resolve to their
    tmspio._fw copies, loaded first; those bare names are in sys.modules only while the module
    executes, so nothing else in the host sees a `timing` or `wire` module."""
    key = "tmspio._fw." + name
    if key in sys.modules:
        return sys.modules[key]
    path = os.path.join(FIRMWARE_DIR, name + ".py")
    if not os.path.isfile(path):
        where = f"${ENV_VAR}" if SOURCE == ENV_VAR else f"the tmspio package ({SOURCE})"
        raise FirmwareMissing(
            f"tmspio: firmware file {path} not found (firmware folder from {where}); "
            f"reinstall tmspio, or set {ENV_VAR} to a folder of the firmware's .py files"
        )
    depends = {dep: load(dep) for dep in _siblings(path) if dep != name}
    saved = {dep: sys.modules.get(dep) for dep in depends}
    spec = importlib.util.spec_from_file_location(key, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[key] = module
    sys.modules.update(depends)
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[key]
        raise
    finally:
        for dep, previous in saved.items():
            if previous is None:
                sys.modules.pop(dep, None)
            else:
                sys.modules[dep] = previous
    return module


def progformat():
    return load("progformat")


def wire():
    return load("wire")
