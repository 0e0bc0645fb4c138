"""tmspio run: the protocol on a board (or the emulated one) through tmspio.Session, logged.

This command only parses its options, calls Session and prints: the envelope, the certificate
and board checks, the run directory and the summary are Session's (docs/api.md)."""

import os
import sys

from .. import safety
from ..errors import InputError, SafetyRefused
from ..session import Session
from ._common import add_link_argument, link_scale, number

HELP = "run a protocol on the board (or --emulator) and log every pulse's timing"
SELFTEST_MAX_AGE_H = 24


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
    p.add_argument(
        "--stream",
        choices=("auto", "always", "never"),
        default="auto",
        help="send the program while it runs instead of loading it whole: auto (default) "
        "streams one larger than the board's max_program_bytes, if it can (one channel, "
        "immediate or trigger start); always streams any program that can (testing); never "
        "refuses one too large to load",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_link_argument(p)


def _speed(args):
    if args.speed is None or args.speed == "max":
        return args.speed
    allowed = "a positive number or max"
    value = number("--speed", args.speed, allowed)  # refuses nan and inf too
    if not value > 0:
        raise InputError(f"--speed = {args.speed!r}: {allowed}")
    return value


def _max_age(args):
    allowed = "a number of hours, 0 or more"
    hours = number("--selftest-max-age", args.selftest_max_age, allowed)
    if hours < 0:
        raise InputError(f"--selftest-max-age = {args.selftest_max_age!r}: {allowed}")
    return hours


def run(args):
    speed = _speed(args)
    scale = link_scale(args)
    intensity = None
    if args.intensity is not None:
        intensity = number("--intensity", args.intensity, "a number (percent of motor threshold)")
    max_age = _max_age(args)
    try:
        session = Session(
            args.protocol,
            port=args.port,
            emulator=args.emulator,
            speed=speed,
            intensity=intensity,
            reference=args.reference,
            output=args.output,
            stimulator=args.stimulator,
            policy=args.policy,
            override=args.override,
            operator=args.operator,
            out=args.out,
            selftest=args.selftest,
            selftest_max_age_h=max_age,
            timeout_scale=scale,
            console=True,
            progress_bar=not args.quiet,
            stream=args.stream,
        )
    except SafetyRefused as e:
        print("\n".join(getattr(e, "report", ())))
        raise
    print("\n".join(session.assessment.report()))
    with session:
        summary = session.run()
    print_summary(summary, session.out, session.plot_files)
    error = (summary.get("stream") or {}).get("error")
    if error is not None:  # the run stopped on the stream: one line, as every CLI error
        print(
            f"tmspio: error: {summary['protocol']}: the streamed program stopped: {error}; "
            f"{summary['pulses_delivered']} of {summary['pulses_planned']} pulses delivered, "
            f"outputs idle; log in {session.out}",
            file=sys.stderr,
        )
    return 1 if summary["aborted"] or error is not None else 0


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
    st = s.get("stream")
    if st is not None:
        print(
            f"streamed: {st['sent_bytes']:,} of {st['bytes']:,} bytes sent (a "
            f"{st['head_bytes']:,}-byte start loaded, then {st['pieces_sent']} of "
            f"{st['pieces']} pieces)"
        )
    if s["aborted"]:
        print(f"aborted: {s['reason']}")
    print(f"log:     {os.path.join(out, 'events.jsonl')} (+ pulses.csv, events.tsv, summary.json)")
    print(f"plot:    {plots[0]} and {plots[1]}")
