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
        lines.append(
            "  channel %d %s: %s, offset %s, %d pulses%s"
            % (
                i,
                ch.name,
                ch.polarity,
                units.format_seconds(ch.offset),
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
        else "not declared"
    )
    lines.append("  intensity %s; stimulator %s" % (intensity, p.stimulator or "not declared"))
    if c.schedule.draws:
        fields = sorted({d.field for d in c.schedule.draws})
        lines.append(
            "  jittered: %d drawn intervals (%s); --json lists every value"
            % (len(c.schedule.draws), ", ".join(fields))
        )
    for flag in p.unverified:
        lines.append("  UNVERIFIED: %s" % flag)
    if methods:
        lines.append("  citation: %s" % (p.citation or "(none)"))
        lines.append("  methods: %s" % (p.methods or "(none)"))
    return "\n".join(lines)


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
