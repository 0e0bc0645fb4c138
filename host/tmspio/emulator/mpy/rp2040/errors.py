"""The emulator's one exception class and the watchdog reset signal (CPython and MicroPython)."""


class EmulatorError(Exception):
    """A feature the emulated board does not model, or a misuse of the board API."""


class BoardReset(BaseException):
    """The emulated watchdog reset the board. A BaseException so firmware `except Exception`
    cannot swallow it; the runner catches it and restarts the firmware."""

    def __init__(self, cause, cycle):
        super().__init__("board reset (%s) at cycle %d" % (cause, cycle))
        self.cause = cause
        self.cycle = cycle
