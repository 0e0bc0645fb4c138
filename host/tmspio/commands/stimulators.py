"""tmspio stimulators: list the stimulator trigger-input profiles (unknown facts say UNKNOWN)."""

from .. import stimulators
from ._common import print_json

HELP = "list stimulator profiles (trigger polarity, width, interval, rate, connector)"


def add_arguments(parser):
    parser.add_argument("name", nargs="?", metavar="ID", help="show one profile in full")
    parser.add_argument("--json", action="store_true", help="print JSON")


def _opt(value, unit):
    return "UNKNOWN" if value is None else "%s %s" % (value, unit)


def _rate_table(p):
    if not p.rate_by_output:
        return p.rate_by_output_note
    steps = ", ".join("%s Hz up to %s%%" % (rate, top) for top, rate in p.rate_by_output["table"])
    return "%s (%s)" % (steps, p.rate_by_output_note)


def run(args):
    if args.name:
        profiles = [stimulators.get(args.name, "stimulator")]
    else:
        profiles = stimulators.all_profiles()
    if args.json:
        print_json([p.as_dict() for p in profiles])
        return 0
    if not args.name:
        print(
            "%-20s %-11s %-11s %-13s %-9s  %s"
            % ("id", "polarity", "min width", "min interval", "max rate", "label")
        )
        for p in profiles:
            print(
                "%-20s %-11s %-11s %-13s %-9s  %s"
                % (
                    p.id,
                    p.polarity.upper() if p.polarity == "unknown" else p.polarity,
                    _opt(p.min_width_us, "us"),
                    _opt(p.min_interval_ms, "ms"),
                    _opt(p.max_rate_hz, "Hz"),
                    p.label,
                )
            )
        print("\n`tmspio stimulators ID` prints connector, trigger-out, notes and sources.")
        return 0
    p = profiles[0]
    for label, value in (
        ("label", p.label),
        ("connector", p.connector),
        ("polarity", "%s: %s" % (p.polarity, p.polarity_note)),
        ("min width", "%s: %s" % (_opt(p.min_width_us, "us"), p.min_width_note)),
        ("min interval", "%s: %s" % (_opt(p.min_interval_ms, "ms"), p.min_interval_note)),
        ("max rate", _opt(p.max_rate_hz, "Hz")),
        ("rate/output", _rate_table(p)),
        ("trigger out", p.trigger_out),
        ("notes", p.notes),
        ("sources", "; ".join(p.source_list()) or "none"),
    ):
        print("%-13s %s" % (label + ":", value))
    return 0
