"""tmspio show: what a protocol will deliver, compiled for a system clock, before any pulse."""

from .. import board_limits, compiler
from ..boards import load_board
from ..errors import InputError
from ..protocols import resolve, units
from ._common import add_board_argument, check_board, integer, print_json

HELP = "summarise a protocol (library name or file) as compiled for the board"


def add_arguments(parser):
    parser.add_argument(
        "protocol",
        metavar="PROTOCOL|FILE",
        help="library name (tmspio protocols) or a .toml/.json file",
    )
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument(
        "--sysclk",
        metavar="HZ",
        help="system clock to compile for (default: the --board's, else %d)"
        % compiler.DEFAULT_SYSCLK,
    )
    add_board_argument(parser)
    parser.add_argument(
        "--methods", action="store_true", help="also print the citation and methods description"
    )


def _ns(seconds):
    return "%.3f ns" % (float(seconds) * 1e9)


def render(c, methods=False):
    p = c.protocol
    s = units.seconds_text
    lines = [
        "%s: %s" % (p.name, p.title or "(no title)"),
        "  family %s; start %s%s; pulse width %s"
        % (
            p.family,
            p.start.mode,
            " (refractory %s)" % units.format_seconds(p.start.refractory)
            if p.start.refractory is not None
            else "",
            units.format_seconds(p.pulse_width),
        ),
        "  pulses %d on %d channel%s; first pulse 0 s; last pulse %s; duration %s"
        % (
            c.pulses(),
            len(p.channels),
            "" if len(p.channels) == 1 else "s",
            s(c.last_onset(), 9),
            s(c.duration(), 9),
        ),
        "  compiled for %d Hz: %d segments, largest rounding error %s"
        % (c.sysclk_hz, c.program.segment_count(), _ns(c.max_rounding_error())),
    ]
    if p.start.mode == "gated":
        lines.append(
            "  gated: each train starts on a gate edge; times above are the densest "
            "case, one train per refractory interval"
        )
    for i, ch in enumerate(p.channels):
        if p.conditions is not None:
            where = "role %s" % ch.role
            if ch.role == "marker":
                where += " (%s)" % _code_text(ch.code)
        else:
            where = "offset %s" % units.format_seconds(ch.offset)
        lines.append(
            "  channel %d %s: %s, %s, %d pulses%s"
            % (
                i,
                ch.name,
                ch.polarity,
                where,
                len(c.channel_times[i]),
                ", stimulator %s" % ch.stimulator if ch.stimulator else "",
            )
        )
    if len(p.channels) > 1:  # one confirm input: say whose trigger-out the log credits
        lines.append(
            "  confirm input: channel %d %s (pulses of the other channels log "
            "confirmed = n/a)" % (c.confirm_channel, p.channels[c.confirm_channel].name)
        )
    intensity = (
        "%s%% %s" % (_num(p.intensity.percent), p.intensity.reference)
        if p.intensity
        else "per condition"
        if p.conditions is not None
        and any(q.intensity is not None for c in p.conditions for q in c.pulses.values())
        else "not declared"
    )
    lines.append("  intensity %s; stimulator %s" % (intensity, p.stimulator or "not declared"))
    if c.schedule.draws:
        fields = sorted({d.field for d in c.schedule.draws})
        lines.append(
            "  jittered: %d drawn intervals (%s); --json lists every value"
            % (len(c.schedule.draws), ", ".join(fields))
        )
    if p.conditions is not None:
        lines += _trial_lines(c)
    for flag in p.unverified:
        lines.append("  UNVERIFIED: %s" % flag)
    if methods:
        lines.append("  citation: %s" % (p.citation or "(none)"))
        lines.append("  methods: %s" % (p.methods or "(none)"))
    return "\n".join(lines)


TRIAL_ROWS = 20  # a longer trial table shows its first TRIAL_ROWS - 5 and last 5 rows


def _code_text(code):
    if code.encoding == "count":
        return "code N = N pulses of %s, %s apart" % (
            units.format_seconds(code.width),
            units.format_seconds(code.interval),
        )
    return "code N = one pulse N x %s wide" % units.format_seconds(code.unit)


def _interval_text(interval):
    if interval is None:
        return "none"
    if hasattr(interval, "uniform"):
        return "uniform %s to %s (seed %d)" % (
            units.format_seconds(interval.lowest),
            units.format_seconds(interval.highest),
            interval.seed,
        )
    return units.format_seconds(interval)


def _trial_lines(c):
    p = c.protocol
    t = p.trials
    design = t.design
    if design == "random":
        design += " (seed %d%s)" % (
            t.seed,
            "" if t.max_run is None else ", at most %d in a row" % t.max_run,
        )
    elif design == "blocks":
        design += " of %d" % t.repeats + (
            " (order seed %d)" % t.seed if t.order is None else " in the given order"
        )
    lines = []
    for cond in c.conditions:
        summary = c.condition_summary(cond.name)
        parts = []
        for name, ch in summary["channels"].items():
            if not ch["pulses"] or p.channels[[x.name for x in p.channels].index(name)].role == (
                "marker"
            ):
                continue
            pulse = cond.pulses[name]
            text = "%s at %s" % (name, units.format_seconds(pulse.offset))
            if pulse.width is not None:
                text += " width %s" % units.format_seconds(pulse.width)
            if pulse.intensity is not None:
                text += " %s" % pulse.intensity.text()
            if pulse.stimulator is not None:
                text += " on %s" % pulse.stimulator
            parts.append(text)
        lines.append(
            "  condition %s%s: %s"
            % (
                cond.name,
                "" if cond.marker is None else " (marker %d)" % cond.marker,
                "; ".join(parts) or "no pulse",
            )
        )
    lines.append(
        "  trials %d, design %s; trial interval %s"
        % (len(c.trials), design, _interval_text(t.interval))
    )
    rows = c.trials
    shown = rows if len(rows) <= TRIAL_ROWS else rows[: TRIAL_ROWS - 5]
    width = max(len(x.condition) for x in rows)
    lines.append("    %5s  %-*s  %s" % ("trial", width, "condition", "onset"))
    for x in shown:
        lines.append("    %5d  %-*s  %s" % (x.index, width, x.condition, _s(x.onset)))
    if len(rows) > TRIAL_ROWS:
        lines.append(
            "    ... %d more trials (--json lists every trial)" % (len(rows) - len(shown) - 5)
        )
        for x in rows[-5:]:
            lines.append("    %5d  %-*s  %s" % (x.index, width, x.condition, _s(x.onset)))
    return lines


def _s(seconds):
    return units.seconds_text(seconds, 9)


def _num(x):
    return ("%f" % x).rstrip("0").rstrip(".")


def _sysclk(args, board):
    if args.sysclk is None:
        return compiler.DEFAULT_SYSCLK if board is None else board["sysclk_hz"]
    sysclk = integer("--sysclk", args.sysclk, 1, 0xFFFFFFFF, "an integer 1..4294967295 Hz")
    if board is not None and sysclk != board["sysclk_hz"]:
        raise InputError(
            "--sysclk = %r: board %s runs at %d Hz (leave --sysclk out with "
            "--board)" % (args.sysclk, board["name"], board["sysclk_hz"])
        )
    return sysclk


def run(args):
    board = None if args.board is None else load_board(args.board)
    compiled = compiler.compile_protocol(resolve(args.protocol), _sysclk(args, board))
    if board is not None:  # before any output: a protocol the board refuses is not summarised
        check_board(compiled, board)
    if args.json:
        summary = compiled.summary()
        if board is not None:
            summary["board"] = {
                "name": board["name"],
                "limits": board["limits"],
                "program_bytes": board_limits.program_bytes(compiled),
                "within_limits": True,
            }
        print_json(summary)
    else:
        print(render(compiled, args.methods))
        if board is not None:
            print(
                "  within board %s's limits: %s"
                % (board["name"], board_limits.summary(board["limits"], compiled))
            )
    return 0
