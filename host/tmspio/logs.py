"""The files of one run directory, and the pure matching of planned to captured pulses.

events.jsonl   one JSON object per line, appended and flushed as it happens; line 1 is the
               provenance record, so a log cut short by a crash is still self-describing
pulses.csv     channel,index,planned_s,captured_s,deviation_ns,confirmed
events.tsv     BIDS-style events (onset, duration, trial_type, channel, ...) + events.json
summary.json   pulses_planned, pulses_delivered, max_abs_deviation_ns, aborted, reason, ...
selftest.json  byte-identical copy of the timing certificate given to `tmspio run --selftest`
"""

import bisect
import csv
import json
import os
import threading
from fractions import Fraction

from . import firmware

EVENTS = "events.jsonl"
PULSES = "pulses.csv"
BIDS_TSV = "events.tsv"
BIDS_JSON = "events.json"
SUMMARY = "summary.json"
SELFTEST = "selftest.json"
PULSE_COLUMNS = ["channel", "index", "planned_s", "captured_s", "deviation_ns", "confirmed"]

BIDS_SIDECAR = {
    "onset": {
        "Description": "Captured onset of the TTL trigger pulse, seconds from the "
        "program's start event (board clock)",
        "Units": "s",
    },
    "duration": {"Description": "Planned TTL pulse width", "Units": "s"},
    "trial_type": {
        "Description": "Event kind",
        "Levels": {"tms_pulse": "TTL trigger pulse delivered to the stimulator"},
    },
    "channel": {"Description": "Trigger output channel name from the protocol file"},
    "pulse_index": {"Description": "Index of the pulse on its channel, from 0"},
    "planned_onset": {"Description": "Planned onset from the compiled program", "Units": "s"},
    "deviation_ns": {"Description": "Captured minus planned onset", "Units": "ns"},
    "confirmed": {
        "Description": "A stimulator confirmation edge followed the pulse before "
        "the next pulse of its channel (n/a: not the protocol's "
        "confirm_channel, or no confirmation input seen)"
    },
}


class EventLog:
    """events.jsonl: append one record per call and flush it to disk at once."""

    def __init__(self, path):
        self.path = path
        self._f = open(path, "a", encoding="utf-8")
        self._lock = threading.Lock()  # the link's reader thread and the main thread both log

    def write(self, kind, **fields):
        record = {"event": kind}
        record.update(fields)
        line = json.dumps(record, separators=(",", ":")) + "\n"
        with self._lock:
            self._f.write(line)
            self._f.flush()  # on disk for any reader even if this process is killed next

    def close(self):
        with self._lock:
            if not self._f.closed:
                self._f.close()


def read_events(path):
    """Every complete record of an events.jsonl (a torn last line is ignored)."""
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.endswith("\n"):
                out.append(json.loads(line))
    return out


def match_pulses(
    planned, idle_levels, start_cycle, edges, sysclk_hz, confirm_source=None, confirm_channel=0
):
    """Pair each planned onset with the captured onset edge of its channel, in order.

    planned: {channel index: [onset cycles after the start event, or None where the onset is
    unknown (trigger/gated: see trigger_plan)]}; idle_levels: {index: 0|1};
    edges: [(source, level, cycle)] with absolute cycles; start_cycle: absolute cycle of the
    start event; confirm_channel: index of the channel whose stimulator is wired to the
    confirm input (only its pulses can be confirmed; the others stay None = n/a).
    Returns one row dict per planned pulse (captured None when not delivered).
    """
    onsets = {ch: [] for ch in planned}
    confirms = []
    for source, level, cycle in edges:
        if source in planned and level != idle_levels[source]:
            onsets[source].append(cycle)
        elif confirm_source is not None and source == confirm_source and level == 1:
            confirms.append(cycle)
    confirms.sort()
    confirmed = _confirmed_pulses(onsets.get(confirm_channel, []), confirms)
    rows = []
    for ch in sorted(planned):
        plan = planned[ch]
        got = onsets[ch]
        for k, p in enumerate(plan):
            captured = got[k] if k < len(got) else None
            row = {
                "channel": ch,
                "index": k,
                "planned_cycle": p,
                "planned_s": None if p is None else Fraction(p, sysclk_hz),
                "captured_cycle": None,
                "captured_s": None,
                "deviation_ns": None,
                "confirmed": None,
            }
            if captured is not None and start_cycle is not None:
                rel = captured - start_cycle
                row["captured_cycle"] = rel
                row["captured_s"] = Fraction(rel, sysclk_hz)
                if p is not None:  # None: its trigger never came (trigger_plan)
                    row["deviation_ns"] = Fraction((rel - p) * 1_000_000_000, sysclk_hz)
                if confirms and ch == confirm_channel:
                    row["confirmed"] = k in confirmed
            rows.append(row)
    return rows


def _firmware_plan():
    """firmware/plan.py, the board's own planned-edge code, loaded with its firmware imports."""
    return firmware.load("plan")


def trigger_plan(program, start_cycle, edges, trigger_source=None, trigger_level=1):
    """Planned onsets of a trigger- or gated-start program, laid on its accepted trigger edges.

    program: the progformat.Program that ran; start_cycle: the board's time zero on the capture
    clock (its first captured onset minus that channel's delay, i.e. the first accepted edge +
    TRIGGER_LATENCY); edges: [(source, level, cycle)] as the board sent them; trigger_source
    and trigger_level: the wire source of trigger_in and its active level, if it was captured.

    Every onset is accepted edge + TRIGGER_LATENCY + channel delay + its offset in the train,
    computed by firmware/plan.py (accepted_triggers, iter_onsets: trigger mode accepts the
    first edge, gated mode one edge per segment, each at or after the previous accepted edge
    + refractory). The edges come from the captured trigger_in edges when the board streamed
    any (the first accepted one is the last edge at or before start_cycle - TRIGGER_LATENCY,
    + 1 for the capture grid; the board's rule picks the rest); otherwise each train's edge is inferred from its first captured
    onset (minus the channel's delay and TRIGGER_LATENCY), so that onset reads 0.

    Returns (planned, info): planned {channel index: [cycles after info["start_cycle"], or
    None for a pulse whose trigger never came]}; info: summary fields (timing_reference,
    accepted_triggers, trigger_edges_captured, and start_cycle: the time zero the plan is
    relative to, the first captured trigger edge + TRIGGER_LATENCY when trigger_in was
    captured, else the board's)."""
    plan = _firmware_plan()
    latency = plan.T.TRIGGER_LATENCY
    gated = program.start_mode == plan.START_GATED
    captured = sorted(
        c
        for s, lvl, c in edges
        if trigger_source is not None and s == trigger_source and lvl == trigger_level
    )
    info = {"accepted_triggers": 0, "trigger_edges_captured": len(captured)}
    planned = {ch.index: [None] * ch.pulses() for ch in program.channels}
    if start_cycle is None:
        info["timing_reference"] = (
            "no onset captured, so no trigger edge was accepted: planned onsets unknown"
        )
        return planned, info
    first = start_cycle - latency  # the edge that started the board's time zero
    # the capture reports edges on its 2-cycle grid: the captured trigger edge may read one
    # cycle later than the pad edge that produced `first`
    before = [c for c in captured if c <= first + 1]
    if before:
        triggers = [c for c in captured if c >= before[-1]]
        # time zero: the first accepted edge + TRIGGER_LATENCY, where the first onset (less
        # its channel's delay) was planned; the onsets are measured against it
        start_cycle = triggers[0] + latency
        how = (
            "time zero is the first accepted trigger_in edge + TRIGGER_LATENCY; planned "
            "onsets laid on the trigger_in edges the board captured: each pulse "
            "at its accepted edge + TRIGGER_LATENCY (%d cycles) + its channel's delay + "
            "its offset in the train (firmware/plan.py accepts the edges: %s); "
            "deviations are measured from those edges (both captures sit on the 2-cycle "
            "grid: +-1 cycle, 8 ns at 125 MHz)" % (latency, _rule(gated))
        )
    else:
        triggers = _inferred_triggers(program, start_cycle, edges, gated, latency)
        how = (
            "the board does not capture trigger_in, so each accepted trigger edge is "
            "inferred from its train's first captured onset minus the channel's delay "
            "and TRIGGER_LATENCY (%d cycles): that onset reads deviation 0 by definition "
            "and every other pulse of the train is measured exactly against it "
            "(firmware/plan.py lays the plan: %s)" % (latency, _rule(gated))
        )
        if captured:
            how += "; no captured trigger_in edge precedes the first onset"
    accepted = plan.accepted_triggers(program, triggers[0], triggers)
    info["accepted_triggers"] = len(accepted)
    for ci, ch in enumerate(program.channels):
        mine = planned[ch.index]
        for k, (cycle, _, _) in enumerate(plan.iter_onsets(program, ci, triggers[0], triggers)):
            mine[k] = cycle - start_cycle
    info["timing_reference"] = how + (
        "; pulses of trains whose trigger never came are not "
        "delivered and have no planned onset (n/a)"
    )
    info["start_cycle"] = start_cycle
    return planned, info


def _rule(gated):
    if gated:
        return "gated, one train per edge at or after the previous accepted edge + refractory"
    return "trigger, the first edge starts the whole program"


def _inferred_triggers(program, start_cycle, edges, gated, latency):
    """Trigger edges implied by the captured onsets: train 0 by the board's start_cycle, and
    in gated mode train j > 0 by the earliest first onset of segment j on any channel."""
    triggers = [start_cycle - latency]
    if not gated:
        return triggers
    idle = {ch.index: ch.idle_level for ch in program.channels}
    onsets = {index: [] for index in idle}
    for source, level, cycle in edges:
        if source in idle and level != idle[source]:
            onsets[source].append(cycle)
    firsts = {}  # segment -> earliest (first onset - delay) over the channels
    for ch in program.channels:
        k = 0
        for j, seg in enumerate(ch.segments):
            if j and k < len(onsets[ch.index]):
                d = onsets[ch.index][k] - ch.delay - latency
                firsts[j] = min(d, firsts.get(j, d))
            k += seg[0]
    j = 1
    while j in firsts:  # a train without any onset ends the run: no later one was played
        triggers.append(firsts[j])
        j += 1
    return triggers


def _confirmed_pulses(onsets, confirms):
    """{index} of the confirming channel's onsets credited with a confirmation edge: each edge
    confirms that channel's latest captured onset at or before it. Onsets of other channels
    never count: one confirm input is wired to one stimulator, and a later pulse on another
    channel must not hide (or take) that stimulator's answer."""
    out = set()
    for c in confirms:
        i = bisect.bisect_right(onsets, c)
        if i:
            out.add(i - 1)
    return out


def _num(value, places):
    if value is None:
        return "n/a"
    return f"{float(value):.{places}f}"


def _ns(value):
    if value is None:
        return "n/a"
    return str(int(value)) if value.denominator == 1 else f"{float(value):.3f}"


def write_pulses(path, rows, names):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(PULSE_COLUMNS)
        for r in rows:
            w.writerow(
                [
                    names[r["channel"]],
                    r["index"],
                    _num(r["planned_s"], 9),
                    _num(r["captured_s"], 9),
                    _ns(r["deviation_ns"]),
                    "n/a" if r["confirmed"] is None else str(r["confirmed"]).lower(),
                ]
            )


def write_bids(tsv_path, json_path, rows, names, width_s):
    delivered = sorted(
        (r for r in rows if r["captured_s"] is not None),
        key=lambda r: (r["captured_s"], r["channel"]),
    )
    with open(tsv_path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, delimiter="\t", lineterminator="\n")
        w.writerow(
            [
                "onset",
                "duration",
                "trial_type",
                "channel",
                "pulse_index",
                "planned_onset",
                "deviation_ns",
                "confirmed",
            ]
        )
        for r in delivered:
            w.writerow(
                [
                    _num(r["captured_s"], 9),
                    _num(width_s, 9),
                    "tms_pulse",
                    names[r["channel"]],
                    r["index"],
                    _num(r["planned_s"], 9),
                    _ns(r["deviation_ns"]),
                    "n/a" if r["confirmed"] is None else str(r["confirmed"]).lower(),
                ]
            )
    write_json(json_path, BIDS_SIDECAR)


def summarize(rows, aborted, reason, extra=None, confirm_channel=None):
    devs = [abs(r["deviation_ns"]) for r in rows if r["deviation_ns"] is not None]
    worst = max(devs) if devs else None
    summary = {
        "pulses_planned": len(rows),
        "pulses_delivered": sum(1 for r in rows if r["captured_s"] is not None),
        "max_abs_deviation_ns": None
        if worst is None
        else (int(worst) if worst.denominator == 1 else float(worst)),
        "aborted": aborted,
        "reason": reason,
        # stimulator trigger-out edges seen after the pulse; None: no confirmation input seen
        "pulses_confirmed": None
        if all(r["confirmed"] is None for r in rows)
        else sum(1 for r in rows if r["confirmed"]),
    }
    if summary["pulses_confirmed"] is not None:
        # the delivered pulses that could be confirmed: those of the confirming channel
        summary["pulses_confirmable"] = sum(1 for r in rows if r["confirmed"] is not None)
    if confirm_channel is not None:
        summary["confirm_channel"] = confirm_channel  # name: only its pulses can be confirmed
    if extra:
        summary.update(extra)
    return summary


def write_json(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)
