"""tmspio command line: a table of verbs, each in its own module under tmspio.commands.

Each command module defines `HELP` (one line), `add_arguments(parser)` and `run(args) -> int`.
Modules are imported only when their verb runs, so a broken optional dependency of one verb never
breaks another. This is the only place that prints errors and chooses exit codes.
"""

import argparse
import importlib
import sys

from . import __version__
from .errors import DeviceError, Interrupted, TmspioError

PROG = "tmspio"

# verb -> module under tmspio.commands (order = order in --help)
COMMANDS = {
    "protocols": "library",
    "show": "show",
    "check": "check",
    "stimulators": "stimulators",
    "run": "run",
    "plot": "plot",
    "emulate": "emulate",
    "deploy": "deploy",
    "selftest": "selftest",
    "maintenance": "maintenance",
}


class UsageError(Exception):
    """A command line argparse cannot parse (exit 2)."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one `tmspio: error:` line like every other error."""

    def error(self, message):
        verb = self.prog[len(PROG) :].strip()
        raise UsageError(
            "%s%s (see `%s --help`)" % (verb + ": " if verb else "", message, self.prog)
        )


def _load(verb):
    return importlib.import_module(f"tmspio.commands.{COMMANDS[verb]}")


def build_parser(verbs=None):
    parser = _Parser(
        prog=PROG,
        description="Cycle-exact TMS trigger trains from a Raspberry Pi Pico, "
        "with a safety envelope, timing logs and a desktop emulator.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
    sub.required = True
    for verb in verbs or COMMANDS:
        try:
            module = _load(verb)
        except ModuleNotFoundError as e:
            if e.name and e.name.startswith("tmspio.commands"):
                continue  # verb not built in this version
            raise
        p = sub.add_parser(verb, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_module=module, _parser=p)
    return parser


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    # Build only the verb that runs (fast, and one verb's import never breaks another);
    # fall back to the full table for --help and usage errors.
    verbs = [argv[0]] if argv and argv[0] in COMMANDS else None
    parser = build_parser(verbs)
    try:
        args, extra = parser.parse_known_args(argv)
        if extra:  # reported by the verb's parser, so the message names the verb
            args._parser.error("unrecognized arguments: %s" % " ".join(extra))
    except UsageError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    except SystemExit as e:  # --help, --version
        return e.code if isinstance(e.code, int) else 2
    try:
        return int(args._module.run(args) or 0)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return Interrupted.exit_code
    except TmspioError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)  # findings went to stdout with the report
        return e.exit_code
    except BrokenPipeError:
        return 0
    except OSError as e:
        if e.filename is None:
            raise
        # a file or directory the system refused (permissions, full disk, missing parent)
        print(f"{PROG}: error: {e.filename}: {e.strerror}", file=sys.stderr)
        return DeviceError.exit_code


if __name__ == "__main__":
    sys.exit(main())
