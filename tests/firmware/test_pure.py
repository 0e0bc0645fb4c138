"""The firmware's pure modules: the same tests under CPython and the MicroPython unix port."""

import puretests  # tests/support/emu (pytest's pythonpath)
import pytest
from fwtest import run_micropython

NAMES = sorted(n for n in dir(puretests) if n.startswith("test_"))


@pytest.mark.parametrize("name", NAMES)
def test_cpython(name):
    getattr(puretests, name)()


def test_micropython_unix_port():
    lines = run_micropython("import puretests\npuretests.run_all()\n")
    assert lines[-1] == "PASS %d" % len(NAMES)
