"""MicroPython traps that compile (mpy-cross) but fail at run time on the board, checked over
firmware/ and the emulator's mpy/ tree. Each rule is first proven on the real unix port."""

import os
import re
import subprocess

import pytest
from tmspio.emulator import runner

ROOTS = [runner.FIRMWARE_DIR, runner.MPY_DIR]

# Built-in exception types have no Python-level __init__ on MicroPython: calling it unbound
# raises AttributeError (use super().__init__(...)).
UNBOUND_INIT = re.compile(r"\b(BaseException|Exception|[A-Z]\w*Error)\.__init__\(")


def sources():
    for root in ROOTS:
        for name in sorted(os.listdir(root)):
            if name.endswith(".py"):
                yield os.path.join(root, name)


def test_unbound_builtin_exception_init_fails_on_micropython():
    snippet = (
        "class E(Exception):\n    def __init__(self):\n        Exception.__init__(self, 1)\nE()\n"
    )
    result = subprocess.run(
        [runner.micropython_exe(), "-c", snippet], capture_output=True, text=True, timeout=30
    )
    assert "AttributeError: type object 'Exception' has no attribute '__init__'" in (
        result.stdout + result.stderr
    )


@pytest.mark.parametrize("path", list(sources()), ids=os.path.basename)
def test_no_unbound_builtin_exception_init(path):
    with open(path, encoding="utf-8") as f:
        hits = [
            "%s:%d: %s -> use super().__init__(...)" % (path, n, line.strip())
            for n, line in enumerate(f, 1)
            if UNBOUND_INIT.search(line)
        ]
    assert hits == []
