"""The emulated board for host code and tests: `from tmspio.emulator import Board, rp2, machine`.

The stand-ins in mpy/ are imported here as package modules (tmspio.emulator.mpy.*), so host code
never puts mpy/ on sys.path (it holds time.py/select.py that would shadow the real ones).
"""

from .mpy import machine, pioasm, rp2
from .mpy import select as emuselect
from .mpy import time as emutime
from .mpy.rp2040 import board as emuboard
from .mpy.rp2040.board import ACCESS_CYCLES, BUS_CYCLES, Board, BoardReset, EmulatorError, current

__all__ = [
    "ACCESS_CYCLES",
    "BUS_CYCLES",
    "Board",
    "BoardReset",
    "EmulatorError",
    "current",
    "emuboard",
    "emuselect",
    "emutime",
    "machine",
    "pioasm",
    "rp2",
]
