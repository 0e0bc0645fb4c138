"""Fixtures for the hardware-model tests; the helpers live in simrig.py."""

import pytest
from tmspio.emulator.mpy import emuboard


@pytest.fixture
def board():
    return emuboard.Board()
