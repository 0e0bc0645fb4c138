"""tmspio check: the safety envelope for a protocol at a declared intensity (exit 3 if refused)."""

from .. import board_limits, safety
from .. import compile as compiler
from ..boards import load_board
from ._common import add_board_argument, check_board, print_json

HELP = "check a protocol against the safety envelope at a declared intensity"


def add_arguments(parser):
    parser.add_argument(
        "protocol",
        metavar="PROTOCOL|FILE",
        help="library name (tmspio protocols) or a .toml/.json file",
    )
    safety.add_envelope_arguments(parser)
    add_board_argument(parser)
    parser.add_argument("--json", action="store_true", help="print the findings as JSON")


def run(args):
    verdict = safety.evaluate(args.protocol, args)
    board = compiled = None
    if args.board is not None:
        # first, before the envelope's verdict: no override lifts a board's hard limit
        board = load_board(args.board)
        compiled = compiler.compile_protocol(verdict.protocol, board["sysclk_hz"])
        check_board(compiled, board)
    if args.json:
        report = verdict.as_dict()
        if board is not None:
            report["board"] = {
                "name": board["name"],
                "limits": board["limits"],
                "program_bytes": board_limits.program_bytes(compiled),
                "within_limits": True,
            }
        print_json(report)
    else:
        for line in verdict.report_lines():
            print(line)
        if board is not None:
            print(
                "  within board %s's limits: %s"
                % (board["name"], board_limits.summary(board["limits"], compiled))
            )
    # the same refusal as `tmspio run` (safety.judge): SafetyRefused, exit 3
    verdict.enforce(announce=not args.json)
    return 0


# ---- kept for callers of the first envelope API (tmspio.safety.judge replaces them) ---------


def evaluate(args):
    """(protocol, declared, stimulator id, findings)."""
    v = safety.evaluate(args.protocol, args)
    return v.protocol, v.declared, v.stimulator, v.findings


def print_report(protocol, declared, stim, findings, override):
    opts = {"override": override, "operator": None}
    v = safety.Verdict(protocol, declared, stim, findings, None, None, None, opts)
    for line in v.report_lines():
        print(line)


def enforce(protocol, findings, override, announce=True):
    """safety.enforce (raises SafetyRefused, exit 3); an accepted override is announced."""
    reason = safety.enforce(findings, override, protocol.name)
    if reason is not None and announce:
        print("OVERRIDDEN by the operator: %s" % reason)
    return reason
