"""tmspio protocols: list the built-in protocol library."""

from .. import compiler
from ..protocols import library, resolve, units
from ._common import print_json

HELP = "list the built-in protocol library"


def add_arguments(parser):
    parser.add_argument("--json", action="store_true", help="print a JSON list")


def entries():
    out = []
    for name in library.names():
        p = resolve(name)
        c = compiler.compile_protocol(p)
        out.append(
            {
                "name": name,
                "family": p.family,
                "title": p.title,
                "pulses": c.pulses(),
                "last_pulse_s": float(c.last_onset()),
                "unverified": len(p.unverified),
                "citation": p.citation,
            }
        )
    return out


def run(args):
    rows = entries()
    if args.json:
        print_json(rows)
        return 0
    width = max(len(r["name"]) for r in rows)
    print("%-*s  %-12s %6s %12s  %s" % (width, "name", "family", "pulses", "last pulse", "title"))
    for r in rows:
        flag = " [UNVERIFIED x%d]" % r["unverified"] if r["unverified"] else ""
        print(
            "%-*s  %-12s %6d %12s  %s%s"
            % (
                width,
                r["name"],
                r["family"],
                r["pulses"],
                units.seconds_text(r["last_pulse_s"], 4),
                r["title"],
                flag,
            )
        )
    print(
        "\n`tmspio show NAME --methods` prints the citation and methods; "
        "[UNVERIFIED] marks values not confirmed against the source."
    )
    return 0
