"""Hardware-in-the-loop tests: one suite, two targets.

Every test takes the `target` fixture, parametrised over
  * "emulated" — a fresh emulated board on a pty (always; part of `make test`), and
  * "hardware" — the board on $TMSPIO_HW_PORT (`make test-hw PORT=/dev/ttyACM0`), skipped with
    the reason below when the variable is unset.
The hardware rig is wired as tests/hw/README.md says; the emulated board models the same
jumpers from its board file (architecture §6).
"""

import os

import pytest
from tmspio import boards

PORT_ENV = "TMSPIO_HW_PORT"
ESTOP_ENV = "TMSPIO_HW_ESTOP_DRIVER"
NO_BOARD = (
    "no board attached: set %s to its serial port (make test-hw PORT=/dev/ttyACM0) to run "
    "this test on hardware" % PORT_ENV
)
EMULATED_BOARD = "emulated"


class Target:
    """Where a test runs: a port to connect to, and what to expect there."""

    def __init__(self, kind, port, emulator=None):
        self.kind = kind
        self.port = port
        self.emulator = emulator  # the SerialBoard when kind == "emulated"

    @property
    def emulated(self):
        return self.kind == "emulated"

    def heartbeat_ms(self):
        """Host-silence bound for runs: off on the emulator, whose clock outruns wall time."""
        from tmspio.link import HEARTBEAT_WALL_MS

        return 0 if self.emulated else HEARTBEAT_WALL_MS

    def jitter_tolerance(self):
        """Emulated timing is exact; hardware may straddle one capture sample (selftest doc)."""
        from tmspio.selftest import RESOLUTION_CYCLES

        return 0 if self.emulated else RESOLUTION_CYCLES

    def estop_driver(self, board):
        """The trigger output jumpered to the e-stop input (rig.estop_driver or the env var)."""
        if not self.emulated and os.environ.get(ESTOP_ENV):
            return int(os.environ[ESTOP_ENV])
        return board.get("rig", {}).get("estop_driver")

    def __repr__(self):
        return "Target(%s, %s)" % (self.kind, self.port)


def _hardware_port():
    port = os.environ.get(PORT_ENV)
    if not port:
        pytest.skip(NO_BOARD)
    return port


@pytest.fixture(params=["emulated", "hardware"])
def target(request):
    """A board running the tmspio firmware."""
    if request.param == "hardware":
        yield Target("hardware", _hardware_port())
        return
    from tmspio.emulator.serial_board import SerialBoard

    with SerialBoard(board=boards.board_path(EMULATED_BOARD)) as emu:
        yield Target("emulated", emu.path, emu)


@pytest.fixture(params=["emulated", "hardware"])
def fresh_target(request, tmp_path):
    """A board to deploy onto: on the emulator, MicroPython with no tmspio firmware on it."""
    if request.param == "hardware":
        yield Target("hardware", _hardware_port())
        return
    from tmspio.emulator.serial_board import SerialBoard

    flash = tmp_path / "flash"
    flash.mkdir()
    (flash / "main.py").write_text("# a fresh MicroPython board: no tmspio firmware yet\n")
    with SerialBoard(flash=str(flash)) as emu:
        yield Target("emulated", emu.path, emu)
