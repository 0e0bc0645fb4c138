"""Loopback self-test and its timing certificate.

A jumper joins a trigger output to a capture input (the board file's `loopback` pairs). The host
loads a short test program through the ordinary load/arm/start path — the same engine code a
session uses — collects the edges the board captured on the input, and compares every edge with
the plan:

  offset_i  = captured_i - planned_i          (cycles; planned_i relative to the start event)
  jitter    = max(offset) - min(offset)       peak-to-peak, independent of any fixed delay
  latency_i = captured_i - (start + planned_i)   only when the board reports the start cycle;
              otherwise captured_i - output_i when it captures its own output edges too;
              otherwise not measured (the certificate says so, it never guesses)

The board's capture samples its inputs every CAP_SLOT cycles (firmware/timing.py: 2), so a
captured edge is its pad cycle rounded up to that grid. The test program therefore puts every
edge on the grid (all widths and periods are multiples of the slot): the rounding is then the
same for every edge, and any spread is real. The verdict is "pass" when every planned edge
arrived once, with the planned level, never before it was commanded, and the jitter is within
the tolerance (default: one capture slot, because on hardware an external buffer's delay may
straddle a sample). Everything here except `run_selftest` is pure and unit-tested;
`run_selftest(link)` drives a connected board.

The test pulses leave the trigger output: the stimulator must be disconnected or disarmed.
"""

import datetime
import json
import os
import time

from . import __version__, firmware
from .boards import load_board, pin_label, role_of
from .errors import DeviceError, InputError

FORMAT = "tmspio-selftest/1"
# Capture resolution of the firmware: one sample every CAP_SLOT cycles.
RESOLUTION_CYCLES = firmware.load("timing").CAP_SLOT
DEFAULT_TOLERANCE_CYCLES = RESOLUTION_CYCLES
# Number of pulses in each of the two test segments: enough edges for a jitter figure, short
# enough (about 50 ms at the default limits) for a quick check before every session.
PULSES_PER_SEGMENT = 10


class SelftestError(DeviceError):
    """The self-test could not run (no loopback, link failure) — distinct from a failed verdict."""


# -- the test program ---------------------------------------------------------------------------


def cycles_per_us(sysclk_hz):
    return sysclk_hz // 1_000_000


def selftest_program(board, output_gpio):
    """Program driving the trigger channel on `output_gpio`: two segments of PULSES_PER_SEGMENT.

    Segment A runs at the board's limits (narrowest pulse, shortest interval); segment B uses a
    longer pulse and a period that is not a round number of microseconds (3 x min interval + one
    capture slot). Every count is a multiple of the capture slot (see the module docstring).
    """
    pins = board["pins"]["trigger"]
    if output_gpio not in pins:
        raise InputError(
            "loopback output GPIO%d is not a trigger pin of board %r"
            % (output_gpio, board["name"])
        )
    lim = board["limits"]
    us = cycles_per_us(board["sysclk_hz"])
    width_a = _on_grid(lim["min_width_us"] * us)
    period_a = _on_grid(lim["min_interval_us"] * us)
    period_b = 3 * period_a + RESOLUTION_CYCLES
    width_b = _on_grid(min(10 * width_a, lim["max_width_us"] * us, period_b // 2))
    n = PULSES_PER_SEGMENT
    segments = [
        (n, width_a, period_a, 5 * period_a, 0),
        (n, width_b, period_b, period_b, 0),
    ]
    channel = firmware.progformat().Channel(
        pins.index(output_gpio), idle_level=0, delay=0, segments=segments
    )
    return firmware.progformat().Program(board["sysclk_hz"], [channel])


def _on_grid(cycles):
    """Round up to a multiple of the capture slot."""
    return -(-cycles // RESOLUTION_CYCLES) * RESOLUTION_CYCLES


def plan_edges(channel):
    """[(cycle, level)] of every edge of a channel, relative to the start event, in time order."""
    idle = channel.idle_level
    edges = []
    t = channel.delay
    for count, width, period, gap, _flags in channel.segments:
        for k in range(count):
            edges.append((t, 1 - idle))
            edges.append((t + width, idle))
            if k < count - 1:
                t += period
        t += gap
    return edges


# -- measurement -------------------------------------------------------------------------------


def measure(
    plan,
    captured,
    sysclk_hz,
    start_cycle=None,
    outputs=None,
    tolerance_cycles=DEFAULT_TOLERANCE_CYCLES,
):
    """Compare captured input edges [(cycle, level)] with planned edges [(cycle, level)].

    `outputs`: the board's capture of its own output edges, if it has one (same format).
    Returns a dict of exact integer cycle figures plus ns conversions and a list of reasons why
    the measurement fails (empty when it passes).
    """
    captured = sorted(captured)
    n = min(len(plan), len(captured))
    reasons = []
    wrong_level = [i for i in range(n) if captured[i][1] != plan[i][1]]
    if len(captured) < len(plan):
        reasons.append("%d of %d planned edges missing" % (len(plan) - len(captured), len(plan)))
    if len(captured) > len(plan):
        reasons.append("%d unplanned edges captured" % (len(captured) - len(plan)))
    if wrong_level:
        i = wrong_level[0]
        reasons.append(
            "%d edges have the wrong level (first: edge %d at cycle %d is %d, planned %d)"
            % (len(wrong_level), i, captured[i][0], captured[i][1], plan[i][1])
        )
    offsets = [captured[i][0] - plan[i][0] for i in range(n)]
    result = {
        "edges_planned": len(plan),
        "edges_measured": len(captured),
        "edges": [[plan[i][0], captured[i][0], plan[i][1]] for i in range(n)],
    }
    if offsets:
        jitter = max(offsets) - min(offsets)
        result["jitter_cycles"] = jitter
        result["jitter_ns"] = ns(jitter, sysclk_hz)
        if jitter > tolerance_cycles:
            reasons.append(
                "jitter %d cycles (%s ns) exceeds the tolerance of %d cycles"
                % (jitter, _fmt(ns(jitter, sysclk_hz)), tolerance_cycles)
            )
    else:
        result["jitter_cycles"] = None
        result["jitter_ns"] = None
    latency, reference = _latencies(plan, captured, n, start_cycle, outputs)
    result["latency_reference"] = reference
    if latency:
        result["latency_cycles"] = {"min": min(latency), "max": max(latency)}
        result["latency_ns"] = {
            "min": ns(min(latency), sysclk_hz),
            "max": ns(max(latency), sysclk_hz),
        }
        if min(latency) < 0:
            reasons.append(
                "an edge arrived %d cycles before it was commanded (wrong wiring or crosstalk)"
                % -min(latency)
            )
    else:
        result["latency_cycles"] = None
        result["latency_ns"] = None
    result["reasons"] = reasons
    return result


def _latencies(plan, captured, n, start_cycle, outputs):
    if start_cycle is not None:
        return [captured[i][0] - (start_cycle + plan[i][0]) for i in range(n)], "start_event"
    outputs = sorted(outputs or [])
    if outputs and len(outputs) == len(plan):
        return [captured[i][0] - outputs[i][0] for i in range(n)], "output_edge"
    return [], "not_measured"


def ns(cycles, sysclk_hz):
    """Cycles -> nanoseconds, rounded to 0.1 ns (exact for 125 MHz: 8 ns per cycle)."""
    return round(cycles * 1e9 / sysclk_hz, 1)


def _fmt(x):
    return ("%.1f" % x).rstrip("0").rstrip(".")


# -- the certificate ---------------------------------------------------------------------------


def certificate(
    board, firmware_version, pairs, port, created_utc, tolerance_cycles=DEFAULT_TOLERANCE_CYCLES
):
    """Combine per-loopback results into the certificate dict.

    pairs: [(output_gpio, input_gpio, measure() result)]. created_utc: an aware datetime.
    """
    sysclk = board["sysclk_hz"]
    reasons = []
    jitters, lat_min, lat_max = [], [], []
    entries = []
    planned = measured = 0
    for out, inp, r in pairs:
        planned += r["edges_planned"]
        measured += r["edges_measured"]
        for reason in r["reasons"]:
            reasons.append("GPIO%d->GPIO%d: %s" % (out, inp, reason))
        if r["jitter_cycles"] is not None:
            jitters.append(r["jitter_cycles"])
        if r["latency_cycles"] is not None:
            lat_min.append(r["latency_cycles"]["min"])
            lat_max.append(r["latency_cycles"]["max"])
        entry = {
            "output": out,
            "output_role": role_of(board, out),
            "output_pin": pin_label(board, out),
            "input": inp,
            "input_role": role_of(board, inp),
            "input_pin": pin_label(board, inp),
        }
        entry.update(r)
        entries.append(entry)
    if not pairs:
        reasons.append("no loopback pair was measured")
    jitter = max(jitters) if jitters else None
    cert = {
        "format": FORMAT,
        "created_utc": created_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "board": board["name"],
        "chip": board["chip"],
        "firmware_version": firmware_version,
        "host_version": __version__,
        "port": port,
        "sysclk_hz": sysclk,
        "resolution_cycles": RESOLUTION_CYCLES,
        "tolerance_cycles": tolerance_cycles,
        "edges_planned": planned,
        "edges_measured": measured,
        "latency_reference": _common([e["latency_reference"] for e in entries]),
        "latency_cycles": {"min": min(lat_min), "max": max(lat_max)} if lat_min else None,
        "latency_ns": (
            {"min": ns(min(lat_min), sysclk), "max": ns(max(lat_max), sysclk)} if lat_min else None
        ),
        "jitter_cycles": jitter,
        "jitter_ns": ns(jitter, sysclk) if jitter is not None else None,
        "verdict": "fail" if reasons else "pass",
        "reasons": reasons,
        "loopback": entries,
    }
    cert["summary"] = summary_line(cert)
    return cert


def _common(values):
    values = sorted(set(values))
    return values[0] if len(values) == 1 else ("mixed" if values else "not_measured")


def summary_line(cert):
    """One line for terminals and session logs."""
    if cert["latency_cycles"] is None:
        latency = "latency not measured"
    else:
        lc, ln = cert["latency_cycles"], cert["latency_ns"]
        latency = "latency %d..%d cycles (%s..%s ns)" % (
            lc["min"],
            lc["max"],
            _fmt(ln["min"]),
            _fmt(ln["max"]),
        )
    if cert["jitter_cycles"] is None:
        jitter = "jitter not measured"
    else:
        jitter = "jitter %d cycles (%s ns)" % (cert["jitter_cycles"], _fmt(cert["jitter_ns"]))
    line = "selftest %s: board %s, firmware %s, %d Hz, %d/%d edges, %s, %s" % (
        cert["verdict"].upper(),
        cert["board"],
        cert["firmware_version"],
        cert["sysclk_hz"],
        cert["edges_measured"],
        cert["edges_planned"],
        latency,
        jitter,
    )
    if cert["reasons"]:
        line += "; " + cert["reasons"][0]
    return line


# -- files ----------------------------------------------------------------------------------------

REQUIRED_KEYS = (
    "format",
    "created_utc",
    "board",
    "firmware_version",
    "sysclk_hz",
    "edges_planned",
    "edges_measured",
    "latency_cycles",
    "jitter_cycles",
    "verdict",
    "summary",
)


def write_certificate(cert, path):
    """Write the certificate as JSON (keys in a fixed order, one trailing newline)."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(cert, f, indent=1)
        f.write("\n")


def load_certificate(path):
    """Read a certificate written by write_certificate; InputError names what is wrong."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise InputError("%s: not a readable self-test certificate: %s" % (path, e)) from None
    return parse_certificate(data, path)


def parse_certificate(data, path):
    """The certificate in `data` (the bytes of file `path`, named in errors) -> dict.

    Lets a caller check and store exactly the bytes it read (tmspio run keeps a copy)."""
    try:
        cert = json.loads(data.decode("utf-8"))
    except ValueError as e:  # UnicodeDecodeError is a ValueError
        raise InputError("%s: not a readable self-test certificate: %s" % (path, e)) from None
    if not isinstance(cert, dict) or cert.get("format") != FORMAT:
        raise InputError(
            "%s: format: %r is not a self-test certificate (expected %r)"
            % (path, cert.get("format") if isinstance(cert, dict) else cert, FORMAT)
        )
    for key in REQUIRED_KEYS:
        if key not in cert:
            raise InputError("%s: missing field %r" % (path, key))
    try:
        created_at(cert)
    except (TypeError, ValueError):
        raise InputError(
            "%s: created_utc = %r: expected UTC time as YYYY-MM-DDTHH:MM:SSZ"
            % (path, cert["created_utc"])
        ) from None
    return cert


def created_at(cert):
    """The certificate's creation time as an aware UTC datetime."""
    return datetime.datetime.strptime(cert["created_utc"], "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.UTC
    )


def certificate_problems(cert, board_name, firmware_version, now_utc, max_age_s):
    """Why a stored certificate does not vouch for this session (empty list: it does).

    `tmspio run` calls this before a session; the self-test itself must not run then, because
    its pulses would reach the connected stimulator.
    """
    problems = []
    if cert["verdict"] != "pass":
        problems.append("the self-test failed: " + cert["summary"])
    if cert["board"] != board_name:
        problems.append("it certifies board %r, not %r" % (cert["board"], board_name))
    if cert["firmware_version"] != firmware_version:
        problems.append(
            "it was made with firmware %r, the board runs %r"
            % (cert["firmware_version"], firmware_version)
        )
    age = (now_utc - created_at(cert)).total_seconds()
    if age > max_age_s:
        problems.append("it is %d s old (limit %d s)" % (age, max_age_s))
    if age < 0:
        problems.append("it is dated in the future (%s)" % cert["created_utc"])
    return problems


# -- running it on a board ------------------------------------------------------------------------

PRE_RUN_STATES = ("idle", "loaded")
RUN_TIMEOUT_S = 60.0  # wall-clock bound per loopback run (the program itself lasts ~50 ms),
# times the link's timeout scale (--timeout-scale: the real port in rp2040py needed more)


def run_selftest(
    link, board=None, tolerance_cycles=DEFAULT_TOLERANCE_CYCLES, now=None, heartbeat_ms=None
):
    """Run the loopback test on a connected board (a tmspio.link.Link after hello) -> certificate.

    `board`: the board dict; by default the host's boards/<name>.json for the name the board
    reports. Each loopback pair gets its own load/arm/start through the normal session path.
    `heartbeat_ms`: the board's host-silence bound for each run (None: the board's default;
    0 on an emulated board running faster than real time, see session.heartbeat_for).
    The test pulses reach the trigger output: the stimulator must be disconnected or disarmed.
    """
    info = link.info if link.info is not None else link.hello()
    if board is None:
        board = load_board(info["board"])
    if info.get("board") != board["name"]:
        raise SelftestError(
            "the board reports board file %r but the self-test was given %r"
            % (info.get("board"), board["name"])
        )
    if info.get("sysclk_hz") != board["sysclk_hz"]:
        raise SelftestError(
            "the board runs at %s Hz but board file %r says %d Hz"
            % (info.get("sysclk_hz"), board["name"], board["sysclk_hz"])
        )
    link.require_at_rest()
    wire = firmware.wire()
    sources = {"confirm_in": wire.SRC_CONFIRM, "trigger_in": wire.SRC_TRIGGER_IN}
    pairs = []
    for out, inp in board["loopback"]:
        prog = selftest_program(board, out)
        channel = prog.channels[0]
        link.load(prog)
        since = len(link.states)
        link.run(heartbeat_ms)
        status = _wait_at_rest(link, since, RUN_TIMEOUT_S * getattr(link, "scale", 1))
        edges = list(link.edges)
        source = sources[role_of(board, inp)]
        captured = [(cycle, level) for src, level, cycle in edges if src == source]
        outputs = [(cycle, level) for src, level, cycle in edges if src == channel.index]
        result = measure(
            plan_edges(channel),
            captured,
            board["sysclk_hz"],
            start_cycle=status.get("start_cycle"),
            outputs=outputs or None,
            tolerance_cycles=tolerance_cycles,
        )
        result["run_state"] = status.get("state")
        result["start_cycle"] = status.get("start_cycle")
        planned, delivered = status.get("pulses_planned"), status.get("pulses_delivered")
        if planned is not None and delivered != planned:
            result["reasons"].append(
                "the board delivered %s of %s pulses (%s)"
                % (delivered, planned, status.get("reason") or status.get("state"))
            )
        pairs.append((out, inp, result))
    now = now or datetime.datetime.now(datetime.UTC)
    return certificate(board, info["firmware"], pairs, link.port, now, tolerance_cycles)


def _wait_at_rest(link, since, timeout):
    """The first status at rest reported after link.states[since] (the end of this run)."""
    deadline = time.monotonic() + timeout
    while True:
        active = False
        for st in link.states[since:]:
            state = st.get("state")
            if state in firmware.wire().ACTIVE_STATES:
                active = True
            elif active or state not in PRE_RUN_STATES:
                return st  # a late "loaded" report from before the run is not its end
        if time.monotonic() > deadline:
            link.stop("self-test timed out")
            raise SelftestError(
                "the self-test program did not finish within %g s (state %r)"
                % (timeout, link.states[-1].get("state") if link.states else None)
            )
        time.sleep(0.01)
