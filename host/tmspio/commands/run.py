"""tmspio run: safety envelope, then the protocol on a board (or the emulated one), logged."""

import os

from .. import plot, safety, session
from ..errors import InputError
from ._common import add_link_argument, link_scale, number

HELP = "run a protocol on the board (or --emulator) and log every pulse's timing"


def add_arguments(p):
    p.add_argument(
        "protocol",
        metavar="PROTOCOL|FILE",
        help="library name (tmspio protocols) or a .toml/.json file",
    )
    where = p.add_mutually_exclusive_group()
    where.add_argument("--port", help="serial port or URL (default: the one Pico attached)")
    where.add_argument(
        "--emulator", action="store_true", help="run on the emulated board (no hardware)"
    )
    safety.add_envelope_arguments(p)
    p.add_argument("--out", metavar="DIR", help="run directory (default: runs/<protocol>-<UTC>)")
    p.add_argument(
        "--speed",
        metavar="X",
        help="emulated board only: emulated/real time ratio, or max (default: max "
        "with --emulator; with --port, the speed `tmspio emulate` was given)",
    )
    p.add_argument(
        "--selftest",
        metavar="CERT.json",
        help="timing certificate from `tmspio selftest --out` (run just before, "
        "stimulator disconnected): checked against the connected board and "
        "stored with the run as selftest.json; run never pulses a self-test",
    )
    p.add_argument(
        "--selftest-max-age",
        metavar="HOURS",
        default=str(SELFTEST_MAX_AGE_H),
        help="oldest certificate --selftest accepts (default %(default)s hours)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_link_argument(p)


SELFTEST_MAX_AGE_H = 24


def _speed(args):
    if args.speed is None:
        return "max" if args.emulator else None
    if args.speed == "max":
        return "max"
    allowed = "a positive number or max"
    value = number("--speed", args.speed, allowed)  # refuses nan and inf too
    if not value > 0:
        raise InputError(f"--speed = {args.speed!r}: {allowed}")
    return value


def _certificate(args):
    """The --selftest file read and parsed before any port is opened (None without it); it is
    checked against the board once connected (session.Run)."""
    allowed = "a number of hours, 0 or more"
    hours = number("--selftest-max-age", args.selftest_max_age, allowed)
    if hours < 0:
        raise InputError(f"--selftest-max-age = {args.selftest_max_age!r}: {allowed}")
    if args.selftest is None:
        return None
    return session.TimingCertificate(args.selftest, hours * 3600)


def run(args):
    speed = _speed(args)
    scale = link_scale(args)
    verdict = safety.judge(args.protocol, args)  # the report; SafetyRefused (exit 3) if refused
    protocol, declared, findings, override = (
        verdict.protocol,
        verdict.declared,
        verdict.findings,
        verdict.override,
    )
    source = session.source_path(args.protocol)
    out = args.out or os.path.join(
        "runs", f"{protocol.name}-{session._utc()[:19]}".replace(":", "")
    )
    # before any board is touched; the directory itself is made only after the board's limits
    # passed (session.Run), so a refused protocol leaves nothing behind
    session.check_out_dir(out)
    certificate = _certificate(args)
    link, board = session.open_board(args.port, args.emulator, speed, scale=scale)
    try:
        run = session.Run(
            link,
            protocol,
            out,
            source=source,
            findings=findings,
            override=override,
            speed=speed,
            show_progress=not args.quiet,
            declared=declared,
            board_name="emulated" if args.emulator else None,
            certificate=certificate,
        )
        summary = run.execute()
    finally:
        session.close_board(link, board)
        if os.path.isdir(out):
            verdict.record(out)  # an override: override.json here and a line in the site log
    plots = plot.write_plots(out)
    print_summary(summary, out, plots)
    return 1 if summary["aborted"] else 0


def print_summary(s, out, plots):
    dev = s["max_abs_deviation_ns"]
    # what the deviations are measured from (docs/running.md): an immediate run's first
    # captured onset (0 by definition); the captured trigger edges of a trigger or gated run
    if s.get("trigger_edges_captured"):
        zero = "planned from each accepted trigger edge + latency"
    elif s.get("start_mode") in ("trigger", "gated"):
        zero = "time zero = each train's first captured onset"
    else:
        zero = "time zero = first captured onset"
    print(
        f"{s['protocol']}: {s['pulses_delivered']} of {s['pulses_planned']} pulses delivered; "
        f"max |deviation| {'n/a' if dev is None else f'{dev} ns ({zero})'}"
    )
    if s.get("pulses_confirmed") is not None:
        channel = f" (channel {s['confirm_channel']})" if s.get("confirm_channel") else ""
        print(
            f"confirmed by the stimulator's trigger-out: {s['pulses_confirmed']} of "
            f"{s['pulses_confirmable']}{channel}"
        )
    if s["aborted"]:
        print(f"aborted: {s['reason']}")
    print(f"log:     {os.path.join(out, 'events.jsonl')} (+ pulses.csv, events.tsv, summary.json)")
    print(f"plot:    {plots[0]} and {plots[1]}")
