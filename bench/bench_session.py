"""Benchmark of fire on command and the clock sync (docs/performance.md, "Fire and clock sync").

The real firmware on the emulated board at --speed 1 (board time paced to real time), driven by
tmspio.Session(None, ...) as a script would:

1. fire() call: perf_counter before fire() to its return (host -> board FIRE, the board's arm
   and start, its ack back), N pulses about 1.1 s apart.
2. Command to pulse on the host clock: perf_counter before fire() to the pulse's captured onset
   mapped to the host clock by the clock sync (stated with the sync's uncertainty).
3. The board's part, on the board clock: FIRE handled (t_request, us) -> engine.start() returned
   (t_after) -> the captured onset. On the emulated board these are the CPU model's cycles
   (docs/architecture.md §3; UNVERIFIED on a Pico), so this is the CPU part a Pico would spend
   if the model's per-call costs hold.
4. Baseline in the same run: the SYNC round trip (a request the board answers without work).
5. Clock sync: exchanges kept, round trips, fitted drift and the stated uncertainty.

Run:  .venv/bin/python bench/bench_session.py [--fires N]      prints one JSON line
"""

import argparse
import json
import statistics
import sys
import tempfile
import time

import tmspio
from tmspio import logs


def _stats(values, unit_scale, places=3):
    v = sorted(values)
    return {
        "n": len(v),
        "median": round(statistics.median(v) * unit_scale, places),
        "p95": round(v[max(0, int(0.95 * len(v)) - 1)] * unit_scale, places),
        "min": round(v[0] * unit_scale, places),
        "max": round(v[-1] * unit_scale, places),
    }


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--fires", type=int, default=20)
    ap.add_argument("--gap", type=float, default=1.1, help="seconds between fires")
    args = ap.parse_args(argv)
    out = tempfile.mkdtemp(prefix="bench-session-")
    calls, sends = [], []
    with tmspio.Session(None, emulator=True, intensity=100, family="rtms", out=out) as s:
        s.open()
        sync_rtt = []
        for _ in range(50):
            a, _board, b = s.link.sync()
            sync_rtt.append((b - a) / 1e9)
        for k in range(args.fires):
            t0 = time.perf_counter()
            n = s.fire(trial=k)
            calls.append(time.perf_counter() - t0)
            sends.append(t0)
            s.wait_pulse(n)
            time.sleep(max(0.0, args.gap - (time.perf_counter() - t0)))
    fires = [e for e in logs.read_events(f"{out}/{logs.EVENTS}") if e["event"] == "fire"]
    to_pulse, board_cpu, arm, bracket, unc = [], [], [], [], []
    for t0, rec, f in zip(sends, s.pulses, fires):
        to_pulse.append(rec.captured_host_s - t0)
        unc.append(rec.host_uncertainty_s)
        board_cpu.append(rec.captured_board_s - f["board_us_request"] / 1e6)
        arm.append((f["board_us_before"] - f["board_us_request"]) / 1e6)
        bracket.append((f["board_us_after"] - f["board_us_before"]) / 1e6)
    result = {
        "board": "emulated, --speed 1",
        "fire_call_ms": _stats(calls, 1e3),
        "command_to_pulse_host_ms": _stats(to_pulse, 1e3),
        "host_uncertainty_ms": _stats(unc, 1e3),
        "board_request_to_onset_us": _stats(board_cpu, 1e6, 1),
        "board_request_to_start_us": _stats(arm, 1e6, 1),
        "start_bracket_us": _stats(bracket, 1e6, 1),
        "baseline_sync_rtt_ms": _stats(sync_rtt, 1e3),
        "fire_call_over_sync_rtt": round(
            statistics.median(calls) / statistics.median(sync_rtt), 1
        ),
        "clock": s.summary["clock"],
        "pulses": len(s.pulses),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
