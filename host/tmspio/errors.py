"""Host exception classes. Each layer raises its own subclass; only cli.main() prints and exits.

The exit code travels with the class so the CLI never guesses:
0 ok, 1 device/link/runtime failure, 2 invalid input or usage, 3 refused by the safety envelope,
130 interrupted after a safe stop.
"""


class TmspioError(Exception):
    """Base of every error the CLI reports as one line `tmspio: error: ...`."""

    exit_code = 1


class InputError(TmspioError):
    """Invalid file, field or parameter.

    The message names file, field path, value and what is allowed."""

    exit_code = 2


class SafetyRefused(TmspioError):
    """The safety envelope refused the protocol; `findings` lists every rule that failed."""

    exit_code = 3

    def __init__(self, message, findings=()):
        super().__init__(message)
        self.findings = list(findings)


class DeviceError(TmspioError):
    """The board, the serial link or a run failed."""

    exit_code = 1


class Interrupted(TmspioError):
    """Ctrl-C: the run was stopped and the outputs are idle."""

    exit_code = 130
