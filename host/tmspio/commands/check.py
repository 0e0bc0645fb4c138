"""tmspio check: the safety envelope for a protocol at a declared intensity (exit 3 if refused)."""

from .. import safety
from ..errors import InputError
from ..protocols import resolve
from ._common import number, print_json

HELP = "check a protocol against the safety envelope at a declared intensity"


def add_arguments(parser):
    parser.add_argument("protocol", metavar="PROTOCOL|FILE",
                        help="library name (tmspio protocols) or a .toml/.json file")
    parser.add_argument("--intensity", metavar="PCT",
                        help="declared intensity in %% of motor threshold "
                        "(default: the protocol's declaration)")
    parser.add_argument("--reference", choices=("RMT", "AMT"),
                        help="threshold the intensity refers to (default: the protocol's, "
                        "else RMT)")
    parser.add_argument("--stimulator", metavar="NAME",
                        help="stimulator profile (tmspio stimulators; default: the protocol's, "
                        "else generic-ttl)")
    parser.add_argument("--override", metavar="REASON",
                        help="run despite refusals; the written reason goes into the session log")
    parser.add_argument("--json", action="store_true", help="print the findings as JSON")


def evaluate(args):
    """(protocol, declared, stimulator id, findings, override reason or None) - used by run."""
    protocol = resolve(args.protocol)
    percent = None
    if args.reference and args.intensity is None:
        raise InputError("--reference = %r: only together with --intensity (without it the "
                         "protocol's own declaration is used)" % args.reference)
    if args.intensity is not None:
        percent = number("--intensity", args.intensity, "a number (percent of motor threshold)")
    declared = safety.declared_intensity(protocol, percent, args.reference)
    stim = args.stimulator or protocol.stimulator or "generic-ttl"
    findings = safety.check(protocol, declared, stim)
    return protocol, declared, stim, findings


def run(args):
    protocol, declared, stim, findings = evaluate(args)
    bad = safety.refused(findings)
    verdict = "REFUSED" if bad else "PASS"
    if bad and args.override:
        verdict = "REFUSED, OVERRIDDEN"
    if args.json:
        print_json({"protocol": protocol.name, "intensity": str(declared), "stimulator": stim,
                    "verdict": verdict, "override": args.override if bad else None,
                    "findings": [f.as_dict() for f in findings]})
    else:
        warns = sum(1 for f in findings if f.outcome == safety.WARN)
        print("%s at %s on %s: %s (%d rules, %d refused, %d warnings)" % (
            protocol.name, declared, stim, verdict, len(findings), len(bad), warns))
        for f in findings:
            print("  %s" % f)
    reason = safety.enforce(findings, args.override, protocol.name)
    if reason is not None and not args.json:
        print("OVERRIDDEN by the operator: %s" % reason)
    return 0
