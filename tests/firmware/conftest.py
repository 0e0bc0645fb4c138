"""tests/firmware: firmware/ and tests/firmware/emu on the import path, the board fixture.

Helpers live in fwtest.py (a module named conftest would clash with other test folders').
"""

import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
for _p in (
    os.path.join(os.path.dirname(os.path.dirname(HERE)), "firmware"),
    os.path.join(HERE, "emu"),
    HERE,
):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import fwtest  # noqa: E402


@pytest.fixture
def cfg():
    return fwtest.board_cfg()
