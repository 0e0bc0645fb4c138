"""tmspio check: the safety envelope for a protocol at a declared intensity (exit 3 if refused)."""

from .. import board_limits, compiler, safety
from ..boards import load_board
from ..errors import InputError
from ..protocols import resolve
from ._common import add_board_argument, add_safety_arguments, check_board, number, print_json

HELP = "check a protocol against the safety envelope at a declared intensity"


def add_arguments(parser):
    parser.add_argument(
        "protocol",
        metavar="PROTOCOL|FILE",
        help="library name (tmspio protocols) or a .toml/.json file",
    )
    add_safety_arguments(parser)
    add_board_argument(parser)
    parser.add_argument("--json", action="store_true", help="print the findings as JSON")


def evaluate(args):
    """(protocol, declared, stimulator id, findings); run uses it too."""
    protocol = resolve(args.protocol)
    percent = None
    if args.reference and args.intensity is None:
        raise InputError(
            "--reference = %r: only together with --intensity (without it the "
            "protocol's own declaration is used)" % args.reference
        )
    if args.intensity is not None:
        percent = number("--intensity", args.intensity, "a number (percent of motor threshold)")
    declared = safety.declared_intensity(protocol, percent, args.reference)
    stim = args.stimulator or protocol.stimulator or "generic-ttl"
    findings = safety.check(protocol, declared, stim)
    return protocol, declared, stim, findings


def verdict(findings, override):
    bad = safety.refused(findings)
    if not bad:
        return "PASS"
    return "REFUSED, OVERRIDDEN" if override and override.strip() else "REFUSED"


def print_report(protocol, declared, stim, findings, override):
    """The verdict line and every rule's finding (stdout; the error line alone goes to stderr)."""
    warns = sum(1 for f in findings if f.outcome == safety.WARN)
    print(
        "%s at %s on %s: %s (%d rules, %d refused, %d warnings)"
        % (
            protocol.name,
            declared,
            stim,
            verdict(findings, override),
            len(findings),
            len(safety.refused(findings)),
            warns,
        )
    )
    for f in findings:
        print("  %s" % f)


def run(args):
    protocol, declared, stim, findings = evaluate(args)
    board = compiled = None
    if args.board is not None:
        # first, before the envelope's verdict: no override lifts a board's hard limit
        board = load_board(args.board)
        compiled = compiler.compile_protocol(protocol, board["sysclk_hz"])
        check_board(compiled, board)
    if args.json:
        bad = safety.refused(findings)
        report = {
            "protocol": protocol.name,
            "intensity": str(declared),
            "stimulator": stim,
            "verdict": verdict(findings, args.override),
            "override": args.override if bad else None,
            "findings": [f.as_dict() for f in findings],
        }
        if board is not None:
            report["board"] = {
                "name": board["name"],
                "limits": board["limits"],
                "program_bytes": board_limits.program_bytes(compiled),
                "within_limits": True,
            }
        print_json(report)
    else:
        print_report(protocol, declared, stim, findings, args.override)
        if board is not None:
            print(
                "  within board %s's limits: %s"
                % (board["name"], board_limits.summary(board["limits"], compiled))
            )
    enforce(protocol, findings, args.override, announce=not args.json)
    return 0


def enforce(protocol, findings, override, announce=True):
    """safety.enforce (raises SafetyRefused, exit 3); an accepted override is announced."""
    reason = safety.enforce(findings, override, protocol.name)
    if reason is not None and announce:
        print("OVERRIDDEN by the operator: %s" % reason)
    return reason
