"""tests/firmware: the board fixture (helpers: tests/support/fwtest.py)."""

import fwtest
import pytest


@pytest.fixture
def cfg():
    return fwtest.board_cfg()
