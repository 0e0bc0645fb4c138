"""Fixtures for the hardware-model tests; the helpers live in simrig.py."""

import pytest
from tmspio.emulator.mpy.rp2040 import board as emuboard


@pytest.fixture
def board():
    return emuboard.Board()
