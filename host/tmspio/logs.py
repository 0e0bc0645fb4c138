"""The files of one run directory, and the pure matching of planned to captured pulses.

events.jsonl   one JSON object per line, appended and flushed as it happens; line 1 is the
               provenance record, so a log cut short by a crash is still self-describing
pulses.csv     channel,index,planned_s,captured_s,deviation_ns,confirmed,trial,condition
events.tsv     BIDS events (onset, duration, trial_type, trial, channel, intensity, ...) and
               its sidecar events.json describing every column and every level (BIDS_COLUMNS)
summary.json   pulses_planned, pulses_delivered, max_abs_deviation_ns, aborted, reason, ...,
               and per condition and per trial when the protocol has them
selftest.json  byte-identical copy of the timing certificate given to `tmspio run --selftest`
"""

import bisect
import csv
import json
import os
import platform
import threading
from fractions import Fraction

from . import __version__, firmware

EVENTS = "events.jsonl"
PULSES = "pulses.csv"
BIDS_TSV = "events.tsv"
BIDS_JSON = "events.json"
SUMMARY = "summary.json"
SELFTEST = "selftest.json"
PULSE_COLUMNS = [
    "channel",
    "index",
    "planned_s",
    "captured_s",
    "deviation_ns",
    "confirmed",
    "trial",
    "condition",
]
# pulses.csv of runs before trials and conditions (tmspio plot still reads them)
PULSE_COLUMNS_V1 = PULSE_COLUMNS[:6]

BIDS_COLUMNS = [
    "onset",
    "duration",
    "trial_type",
    "trial",
    "channel",
    "role",
    "pulse_index",
    "marker",
    "intensity_percent",
    "intensity_reference",
    "output_percent",
    "stimulator",
    "planned_onset",
    "deviation_ns",
    "confirmed",
]
NO_CONDITION = "tms_pulse"  # trial_type of every pulse of a protocol without conditions
ROLES = {
    "tms": "the output triggers a TMS stimulator (its pulses reach the head)",
    "other": "the output triggers another device, e.g. a peripheral nerve stimulator",
    "marker": "the output is wired to an EEG amplifier's trigger input: its pulses encode "
    "the trial's condition code (marker column) and are not TMS pulses",
}
REFERENCE_LEVELS = {
    "RMT": "resting motor threshold",
    "AMT": "active motor threshold",
    "MT": "motor threshold",
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


def _cell(value):
    """One csv/tsv field: n/a for None, true/false, numbers as written, text on one line."""
    if value is None:
        return "n/a"
    if type(value) is int:  # the common case (trial index, marker code): fast
        return str(value)
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, Fraction):
        return _plain(value)
    if isinstance(value, dict | list):
        value = json.dumps(value, separators=(",", ":"))
    return " ".join(str(value).split()) or "n/a"


def _plain(value):
    """A number without trailing zeros: 80 -> '80', 80.5 -> '80.5'; None -> n/a."""
    if value is None:
        return "n/a"
    exact = Fraction(str(value)) if isinstance(value, float) else Fraction(value)
    return str(exact.numerator) if exact.denominator == 1 else repr(float(exact))


def write_pulses(path, rows, names):
    """pulses.csv: one line per planned pulse (PULSE_COLUMNS); trial and condition come from
    annotate() (n/a without trials or conditions; a fire session's trial is what the script
    passed to fire(trial=...))."""
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
                    _cell(r.get("trial")),
                    _cell(r.get("condition")),
                ]
            )


# ---- what the logs say about each pulse: the compiled plan -------------------------------


def _intensity(declared):
    """A safety.core.Declared as the logs' intensity dict (None: nothing declared)."""
    if declared is None:
        return None
    out = {"percent": declared.percent, "reference": declared.reference}
    if declared.output is not None:
        out["output_percent"] = declared.output
    return out


def _code(ch):
    """A marker channel's code (protocols.model.MarkerCode) as JSON, else None."""
    code = getattr(ch, "code", None)
    if code is None:
        return None
    out = {"encoding": code.encoding}
    for field in ("width", "interval", "unit"):
        if getattr(code, field) is not None:
            out[field + "_s"] = float(getattr(code, field))
    return out


def protocol_meta(compiled, declared=None, stimulator=None):
    """What the logs need of a compiled protocol: its channels by output index (name, role,
    stimulator, a marker channel's code), its conditions (compiled.condition_summary of
    each) and trials, each planned pulse's PulseInfo (compiled.pulse_info), the stimulator of
    each condition's pulse per channel, and the run's declared intensity (safety.core
    Declared; it applies to the role-"tms" pulses whose condition gives no intensity).
    stimulator: the run's (--stimulator, else the file's)."""
    p = compiled.protocol
    channels = {}
    pulse_info = {}
    for ci, (ch, pch) in enumerate(zip(p.channels, compiled.program.channels)):
        channels[pch.index] = {
            "name": ch.name,
            "role": ch.role,
            # a marker channel drives an EEG amplifier: a stimulator only if it names one
            "stimulator": ch.stimulator
            if ch.role == "marker"
            else (ch.stimulator or stimulator or p.stimulator),
            "code": _code(ch),
        }
        pulse_info[pch.index] = compiled.pulse_info[ci]
    stimulators = {}  # (condition, output) -> the stimulator of that pulse
    for cond in compiled.conditions:
        for k, ch in channels.items():
            pulse = cond.pulses.get(ch["name"])
            own = None if pulse is None else pulse.stimulator
            stimulators[cond.name, k] = own or ch["stimulator"]
    return {
        "task": p.name,
        "description": " ".join(x for x in (p.title, p.methods) if x),
        "channels": channels,
        "conditions": [compiled.condition_summary(c.name) for c in compiled.conditions],
        "trials": [
            {"index": t.index, "condition": t.condition, "onset_s": float(t.onset)}
            for t in compiled.trials
        ],
        "pulse_info": pulse_info,
        "stimulators": stimulators,
        "declared": _intensity(declared),
        "width_s": float(p.pulse_width),
        "mode": "protocol",
    }


def fire_meta(template, width_s, declared=None, stimulator=None):
    """The same for a fire-on-command session (session._fire_template; width_s: its parsed
    pulse width): no plan, no conditions; a pulse's trial is what the script passed to
    fire(trial=...)."""
    return {
        "task": template["name"],
        "description": template.get("title", ""),
        "channels": {
            i: {
                "name": ch["name"],
                "role": ch.get("role", "tms"),
                "stimulator": ch.get("stimulator") or stimulator or template.get("stimulator"),
            }
            for i, ch in enumerate(template["channels"])
        },
        "conditions": [],
        "trials": [],
        "pulse_info": {},
        "stimulators": {},
        "declared": _intensity(declared),
        "width_s": float(width_s),
        "mode": "fire",
    }


def annotate(rows, meta):
    """Add to each row (match_pulses) its pulse's trial, condition, marker, width_s and
    intensity from the plan (compiled.pulse_info; a fire session has none: trial as given,
    condition None, the protocol's width). The intensity of a role-"tms" pulse is its
    condition's, else (no conditions, or a condition without one) the run's declaration."""
    infos = meta["pulse_info"]
    channels = meta["channels"]
    conditions = bool(meta["conditions"])
    done = {}  # (channel, id(info)) -> the fields: PulseInfo objects are shared between pulses
    for r in rows:
        k = r["channel"]
        mine = infos.get(k)
        info = mine[r["index"]] if mine is not None and r["index"] < len(mine) else None
        fields = done.get((k, id(info)))
        if fields is None:
            ch = channels.get(k, {})
            if info is None:
                condition, marker, width, intensity = None, None, meta["width_s"], None
            else:
                condition, marker, width = info.condition, info.marker, info.width_s
                intensity = info.intensity
            if ch.get("role", "tms") == "tms" and (intensity is None or not conditions):
                # without conditions the run's declaration is the one the envelope judged
                # (--intensity, else the file's)
                intensity = meta["declared"]
            stimulator = meta["stimulators"].get((condition, k), ch.get("stimulator"))
            fields = done[k, id(info)] = (condition, marker, width, intensity, stimulator)
        if info is None:
            r.setdefault("trial", None)  # a fire session's, as the script gave it
        else:
            r["trial"] = info.trial
        r["condition"], r["marker"], r["width_s"], r["intensity"], r["stimulator"] = fields
    return rows


# ---- events.tsv and its sidecar --------------------------------------------------------------


def _seconds(value):
    from .protocols import units  # not at import: `tmspio plot` reads PULSE_COLUMNS only

    try:
        return units.format_seconds(Fraction(str(value)))
    except (ValueError, ZeroDivisionError):
        return "%g s" % value


def _intensity_text(intensity):
    if not intensity:
        return None
    parts = []
    if intensity.get("percent") is not None:
        parts.append("%s %% %s" % (_plain(intensity["percent"]), intensity.get("reference")))
    if intensity.get("output_percent") is not None:
        parts.append("%s %% stimulator output" % _plain(intensity["output_percent"]))
    return ", ".join(parts) or None


def _code_text(code, n):
    """How a marker channel sends code n (its _code dict)."""
    if code is None:
        return "code %d" % n
    if code["encoding"] == "count":
        return "code %d as %d pulse%s of %s, %s onset to onset" % (
            n,
            n,
            "" if n == 1 else "s",
            _seconds(code["width_s"]),
            _seconds(code["interval_s"]),
        )
    return "code %d as one pulse %d x %s = %s wide" % (
        n,
        n,
        _seconds(code["unit_s"]),
        _seconds(Fraction(str(code["unit_s"])) * n),
    )


def condition_text(summary, channels=None):
    """One condition (compiled.condition_summary) in words, for the sidecar's Levels;
    channels: protocol_meta's, for the marker channels' codes."""
    codes = {ch["name"]: ch.get("code") for ch in (channels or {}).values()}
    roles = {ch["name"]: ch.get("role") for ch in (channels or {}).values()}
    pulsing, silent = [], []
    sent = False  # a marker channel sends the code (said there, not again at the end)
    for name, ch in summary["channels"].items():
        if not ch.get("pulses"):
            silent.append(name)
            continue
        if roles.get(name) == "marker" and summary.get("marker") is not None:
            pulsing.append(
                "%s sends marker %s from the trial onset"
                % (name, _code_text(codes.get(name), summary["marker"]))
            )
            sent = True
            continue
        details = ["width " + _seconds(ch["width_s"])] if ch.get("width_s") is not None else []
        text = _intensity_text(ch.get("intensity"))
        if text:
            details.append(text)
        if ch.get("stimulator"):
            details.append("stimulator " + ch["stimulator"])
        pulsing.append(
            "%s pulses at trial onset + %s%s"
            % (name, _seconds(ch.get("offset_s") or 0), " (%s)" % ", ".join(details))
        )
    out = "condition %s: %s" % (
        summary["name"],
        "; ".join(pulsing) if pulsing else "no channel pulses",
    )
    if silent:
        out += "; %s not pulsing" % ", ".join(silent)
    if summary.get("marker") is not None and not sent:
        out += "; marker code %d" % summary["marker"]
    return out


def bids_sidecar(meta):
    """events.json: every column of events.tsv (BIDS_COLUMNS) with its description and unit,
    and every level of each categorical column (trial_type, channel, role, marker,
    intensity_reference, stimulator, confirmed), from the plan: every value annotate() can
    give a row comes from the meta's channels, conditions and declaration."""
    fire = meta["mode"] == "fire"
    conditions = meta["conditions"]
    channels = [meta["channels"][k] for k in sorted(meta["channels"])]
    if conditions:
        trial_type = {
            "Description": "Condition of the trial the pulse belongs to (the protocol's "
            "conditions; every pulse of a trial, on every channel, has its condition)",
            "Levels": {c["name"]: condition_text(c, meta["channels"]) for c in conditions},
        }
    else:
        trial_type = {
            "Description": "Event kind (the protocol has no conditions)",
            "Levels": {NO_CONDITION: "TTL trigger pulse delivered to the stimulator"},
        }
    if fire:
        trial = "What the script passed to fire(trial=...) for this pulse (n/a: nothing)"
    elif meta["trials"]:
        trial = (
            "Index of the trial the pulse belongs to, from 0 in time order (summary.json "
            "lists each trial's condition and planned onset)"
        )
    else:
        trial = "Trial index (n/a: the protocol has no trials)"
    marker_levels = {  # the codes a marker channel carries (none without one)
        str(c["marker"]): "marker code of condition %s" % c["name"]
        for c in conditions
        if c.get("marker") is not None and any(ch["role"] == "marker" for ch in channels)
    }
    marker = {
        "Description": "Condition code carried by a pulse of a marker channel (role "
        "marker) to the EEG amplifier; n/a for every other pulse"
    }
    if marker_levels:
        marker["Levels"] = marker_levels
    references = sorted(
        {
            ch["intensity"]["reference"]
            for c in conditions
            for ch in c["channels"].values()
            if (ch.get("intensity") or {}).get("reference")
        }
        | ({meta["declared"]["reference"]} if meta["declared"] else set())
    )
    stimulators = sorted(
        {ch["stimulator"] for ch in channels if ch.get("stimulator")}
        | {sid for sid in meta["stimulators"].values() if sid}
    )
    if meta["declared"] is None:
        declared = "nothing was declared"
    else:
        declared = "the run declared %s" % _intensity_text(meta["declared"])
    if conditions:
        source = (
            "from the pulse's condition; a TMS pulse whose condition gives none takes the "
            "run's declaration (%s)" % declared
        )
    else:
        source = "the run's declaration for a TMS channel (%s)" % declared
    intensity_note = (
        "as the operator declared it (tmspio cannot see the stimulator's setting): %s; n/a "
        "where nothing applies (other and marker channels)" % source
    )
    out = {
        "TaskName": meta["task"],
        "onset": {
            "Description": "Captured onset of the TTL trigger pulse on the board, seconds "
            "from the program's start event (board clock)"
            if not fire
            else "Captured onset of the TTL trigger pulse, seconds on the board clock (since "
            "the firmware's command loop started)",
            "Units": "s",
        },
        "duration": {"Description": "Planned TTL pulse width", "Units": "s"},
        "trial_type": trial_type,
        "trial": {"Description": trial},
        "channel": {
            "Description": "Trigger output channel name from the protocol file"
            if not fire
            else "Trigger output channel name (Session(channels=...))",
            "Levels": {
                ch["name"]: "output %d, role %s%s"
                % (
                    k,
                    ch["role"],
                    ", stimulator %s" % ch["stimulator"] if ch.get("stimulator") else "",
                )
                for k, ch in sorted(meta["channels"].items())
            },
        },
        "role": {
            "Description": "What the channel's output drives",
            "Levels": {
                role: ROLES[role]
                for role in dict.fromkeys(ch["role"] for ch in channels)
                if role in ROLES
            },
        },
        "pulse_index": {"Description": "Index of the pulse on its channel, from 0"},
        "marker": marker,
        "intensity_percent": {
            "Description": "Intensity in percent of the motor threshold named in "
            "intensity_reference, " + intensity_note,
            "Units": "%",
        },
        "intensity_reference": {
            "Description": "The motor threshold intensity_percent refers to",
            "Levels": {ref: REFERENCE_LEVELS.get(ref, ref) for ref in references},
        },
        "output_percent": {
            "Description": "Stimulator output in percent of its maximum, " + intensity_note,
            "Units": "%",
        },
        "stimulator": {
            "Description": "The stimulator profile of the channel (tmspio stimulators ID); "
            "n/a: none declared",
            "Levels": {sid: "tmspio stimulator profile %s" % sid for sid in stimulators},
        },
        "planned_onset": {
            "Description": "Planned onset from the compiled program, seconds from the start "
            "event (n/a: not planned, a fire session or a trigger that never came)",
            "Units": "s",
        },
        "deviation_ns": {"Description": "Captured minus planned onset", "Units": "ns"},
        "confirmed": {
            "Description": "A stimulator confirmation edge followed the pulse before "
            "the next pulse of its channel (n/a: not the protocol's "
            "confirm_channel, or no confirmation input seen)",
            "Levels": {
                "true": "the stimulator's trigger-out answered this pulse",
                "false": "no answer before the channel's next pulse",
            },
        },
        "StimulusPresentation": {
            "SoftwareName": "tmspio",
            "SoftwareVersion": __version__,
            "OperatingSystem": platform.platform(terse=True),
        },
    }
    if meta.get("description"):
        out["TaskDescription"] = meta["description"]
    for column in BIDS_COLUMNS:  # a categorical column with no value in this run: no Levels
        if out[column].get("Levels") == {}:
            del out[column]["Levels"]
    return out


def write_bids(tsv_path, json_path, rows, meta):
    """events.tsv (the delivered pulses in onset order, BIDS_COLUMNS) and events.json
    (bids_sidecar). rows: match_pulses rows after annotate(rows, meta)."""
    delivered = sorted(
        (r for r in rows if r["captured_s"] is not None),
        key=lambda r: (r["captured_s"], r["channel"]),
    )
    channels = meta["channels"]
    fixed = {}  # the columns a pulse shares with others of its channel and condition, once
    with open(tsv_path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, delimiter="\t", lineterminator="\n")
        w.writerow(BIDS_COLUMNS)
        for r in delivered:
            intensity = r.get("intensity")
            key = (
                r["channel"],
                r.get("condition"),
                r.get("marker"),
                r.get("width_s"),
                id(intensity),  # the rows (and so their dicts) live through the loop
                r.get("stimulator"),
            )
            cells = fixed.get(key)
            if cells is None:
                ch = channels.get(r["channel"], {})
                intensity = intensity or {}
                cells = fixed[key] = (
                    _num(r.get("width_s", meta["width_s"]), 9),
                    r.get("condition") or NO_CONDITION,
                    ch.get("name", str(r["channel"])),
                    ch.get("role", "tms"),
                    _cell(r.get("marker")),
                    _plain(intensity.get("percent")),
                    _cell(intensity.get("reference")),
                    _plain(intensity.get("output_percent")),
                    _cell(r.get("stimulator", ch.get("stimulator"))),
                )
            duration, trial_type, name, role, marker, ip, ir, op, stim = cells
            w.writerow(
                [
                    _num(r["captured_s"], 9),
                    duration,
                    trial_type,
                    _cell(r.get("trial")),
                    name,
                    role,
                    r["index"],
                    marker,
                    ip,
                    ir,
                    op,
                    stim,
                    _num(r["planned_s"], 9),
                    _ns(r["deviation_ns"]),
                    _cell(r["confirmed"]),
                ]
            )
    write_json(json_path, bids_sidecar(meta))


def _worst(rows):
    devs = [abs(r["deviation_ns"]) for r in rows if r["deviation_ns"] is not None]
    if not devs:
        return None
    worst = max(devs)
    return int(worst) if worst.denominator == 1 else float(worst)


def summarize(rows, aborted, reason, extra=None, confirm_channel=None):
    summary = {
        "pulses_planned": len(rows),
        "pulses_delivered": sum(1 for r in rows if r["captured_s"] is not None),
        "max_abs_deviation_ns": _worst(rows),
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


def summarize_plan(rows, meta):
    """summary.json's per-condition and per-trial report of annotated rows (annotate):

    conditions: {name: {trials, pulses_planned, pulses_delivered, max_abs_deviation_ns,
    pulses_confirmed and pulses_confirmable (None without confirmation edges, as in the run's
    summary), channels:
    {channel name: {pulses_planned, pulses_delivered}}}} in the protocol's order;
    trials: [{index, condition, onset_s (planned, s from time zero), pulses_planned,
    pulses_delivered}]; trials_planned and trials_complete (every pulse delivered).
    {} for a protocol without conditions and trials."""
    if not meta["conditions"] and not meta["trials"]:
        return {}
    confirms = any(r["confirmed"] is not None for r in rows)
    names = {k: ch["name"] for k, ch in meta["channels"].items()}
    groups = {c["name"]: [] for c in meta["conditions"]}
    per_trial = {t["index"]: [] for t in meta["trials"]}
    for r in rows:
        if r.get("condition") in groups:
            groups[r["condition"]].append(r)
        if r.get("trial") in per_trial:
            per_trial[r["trial"]].append(r)
    n_trials = {}
    for t in meta["trials"]:
        n_trials[t["condition"]] = n_trials.get(t["condition"], 0) + 1
    conditions = {}
    for name, mine in groups.items():
        channels = {}
        for k in sorted(names):
            on = [r for r in mine if r["channel"] == k]
            channels[names[k]] = {
                "pulses_planned": len(on),
                "pulses_delivered": sum(1 for r in on if r["captured_s"] is not None),
            }
        conditions[name] = {
            "trials": n_trials.get(name, 0),
            "pulses_planned": len(mine),
            "pulses_delivered": sum(1 for r in mine if r["captured_s"] is not None),
            "max_abs_deviation_ns": _worst(mine),
            "pulses_confirmed": sum(1 for r in mine if r["confirmed"]) if confirms else None,
            # of the delivered pulses of the confirm channel (None as pulses_confirmed)
            "pulses_confirmable": sum(1 for r in mine if r["confirmed"] is not None)
            if confirms
            else None,
            "channels": channels,
        }
    trials = []
    complete = 0
    for t in meta["trials"]:
        mine = per_trial[t["index"]]
        delivered = sum(1 for r in mine if r["captured_s"] is not None)
        complete += bool(mine) and delivered == len(mine)
        trials.append(
            {
                "index": t["index"],
                "condition": t["condition"],
                "onset_s": t["onset_s"],
                "pulses_planned": len(mine),
                "pulses_delivered": delivered,
            }
        )
    return {
        "conditions": conditions,
        "trials_planned": len(trials),
        "trials_complete": complete,
        "trials": trials,
    }


def write_json(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)
