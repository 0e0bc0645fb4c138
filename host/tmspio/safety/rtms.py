"""Conventional rTMS: the Wassermann 1998 single-train table (as carried in Rossi 2009) and
Chen 1997's pause between trains, judged on the exact onsets of the pulses at the head.

Trains are not judged one at a time: trains whose pause is shorter than Chen 1997's safe pause
(5 s) are joined and judged as one train, at every intensity (above 100% MT such a pause is
refused outright). A joined train is read at its fastest rate (1 / its shortest interval) for its
whole length (last onset - first onset + that interval, the table's n/f convention), so splitting
a train into pieces, or slowing part of it, can never turn a refusal into a pass.
"""

from bisect import bisect_left, bisect_right
from fractions import Fraction
from math import floor

from .core import PASS, REFUSE, WARN, Finding, data, hz, num, s, source


def _cell(text):
    return Fraction(text.lstrip(">"))


def _bracket(values, x):
    """Indices of the table entries around x (one index when x is on an entry or outside)."""
    if x <= values[0]:
        return [0]
    for i, v in enumerate(values):
        if x == v:
            return [i]
        if x < v:
            return [i - 1, i]
    return [len(values) - 1]


def _cells(frequency_hz, percent):
    """[(row key, column %)] of the table cells the conservative reading uses, or None when
    outside the table (above 25 Hz or above 220% MT)."""
    table = data()["wassermann"]
    rows = sorted((Fraction(k), k) for k in table["rows_hz"])
    cols = [Fraction(c) for c in table["intensity_percent_mt"]]
    if frequency_hz > rows[-1][0] or percent > cols[-1]:
        return None
    freqs = [r[0] for r in rows]
    return [
        (rows[r][1], table["intensity_percent_mt"][c])
        for r in _bracket(freqs, frequency_hz)
        for c in _bracket(cols, percent)
    ]


def wassermann_limit(frequency_hz, percent):
    """Conservative table limit (Fraction s) or None when outside the table (> 25 Hz, > 220%)."""
    cells = _cells(Fraction(frequency_hz), Fraction(percent))
    if cells is None:
        return None
    table = data()["wassermann"]
    cols = table["intensity_percent_mt"]
    return min(_cell(table["rows_hz"][r][cols.index(c)]) for r, c in cells)


def disagreements(frequency_hz, percent):
    """The second copy's differing values for the cells used here (shown in the finding)."""
    cells = _cells(Fraction(frequency_hz), Fraction(percent)) or []
    out = []
    for d in data()["wassermann"]["disagreements"]:
        if (d["hz"], d["percent_mt"]) in cells:
            out.append(
                "%s Hz at %s%% MT: a second copy gives %s s, this table %s s (the lower is used)"
                % (d["hz"], d["percent_mt"], d["other"], d["shipped"].lstrip(">"))
            )
    return out


def blocks(onsets, min_pause):
    """Split onsets into trains judged together: [(i, j, m)], onsets[i:j] one train, m its
    shortest interval (None for a single pulse). A new train starts where the pause (the gap
    minus the train's interval, the table's n/f convention) is at least `min_pause`."""
    out = []
    if not onsets:
        return out
    start, m = 0, None
    for k in range(1, len(onsets)):
        gap = onsets[k] - onsets[k - 1]
        if gap - (m or 0) >= min_pause:
            out.append((start, k, m))
            start, m = k, None
        else:
            m = gap if m is None else min(m, gap)
    out.append((start, len(onsets), m))
    return out


def _min_pause():
    return Fraction(data()["chen_inter_train"]["min_pause_s"])


def _pauses(onsets, starts, bl):
    """Every pause between trains: at a train start of the protocol (`starts`, a set), or where
    a gap is longer than its train's interval. Each pause is the gap minus the train's
    interval."""
    pauses = []
    for i, j, m in bl:
        for k in range(i + 1, j):
            gap = onsets[k] - onsets[k - 1]
            if k in starts or gap > m:
                pauses.append(gap - m)
    for (_, _, m), (i2, _, _) in zip(bl, bl[1:]):
        pauses.append(onsets[i2] - onsets[i2 - 1] - (m or 0))
    return pauses


class _Train:
    """One train as the table reads it (independent of the intensity)."""

    def __init__(self, onsets, i, j, m, starts):
        self.pulses = j - i
        self.interval = m
        self.frequency = 1 / m
        self.duration = onsets[j - 1] - onsets[i] + m
        self.trains = 1 + bisect_left(starts, j) - bisect_right(starts, i)

    def limit(self, percent):
        return wassermann_limit(self.frequency, percent)

    def refused(self, percent):
        limit = self.limit(percent)
        return limit is None or self.duration > limit


class _Analysis:
    """The trains and pauses of a set of head onsets, computed once: only the limits depend on
    the intensity, so trying other intensities (the nearest passing change) costs no rescan."""

    def __init__(self, onsets, train_starts):
        self.onsets = onsets
        starts = sorted(train_starts)
        bl = blocks(onsets, _min_pause())
        self.trains = [_Train(onsets, i, j, m, starts) for i, j, m in bl if m is not None]
        pauses = _pauses(onsets, set(starts), bl) if onsets else []
        self.least_pause = min(pauses) if pauses else None

    def worst(self, percent):
        bad = [t for t in self.trains if t.refused(percent)]
        if bad:
            return max(bad, key=lambda t: (t.limit(percent) is None, t.duration))
        if not self.trains:
            return None
        return max(self.trains, key=lambda t: t.duration / t.limit(percent))

    def passes(self, percent):
        rule = data()["chen_inter_train"]
        if any(t.refused(percent) for t in self.trains):
            return False
        pause_bad = self.least_pause is not None and self.least_pause < _min_pause()
        return not (pause_bad and percent > rule["above_percent_mt"])


def _regular(protocol):
    """(pulses per train, interval) of plain, fixed trains of the protocol, else None."""
    t = protocol.timing
    if (
        t is None
        or protocol.start.mode == "gated"
        or t.pulses_in_burst < 2
        or t.bursts_in_train != 1
        or t.trains_in_protocol < 2
        or protocol.is_jittered()
        or len(protocol.tms_channels()) != 1
    ):
        return None
    return t.pulses_in_burst, t.inter_pulse_interval


def _iti_for_pause(protocol, pause):
    """inter_train_interval (as the protocol counts it) that gives trains this pause."""
    n, ipi = _regular(protocol)
    if protocol.timing.inter_train_interval_from == "last-pulse":
        return "%s from the last pulse" % s(pause + ipi)
    return s(n * ipi + pause)


def _lower_intensity(analysis, declared):
    """The highest table column below the declaration at which nothing rtms refuses."""
    for col in reversed(data()["wassermann"]["intensity_percent_mt"]):
        if col < declared.percent and analysis.passes(Fraction(col)):
            return "at most %s%% %s" % (col, declared.reference)
    return None


def _train_fix(protocol, analysis, declared, worst):
    options = []
    pause = _min_pause()
    regular = _regular(protocol)
    limit = worst.limit(declared.percent)
    if limit is None:
        if worst.frequency > 25:
            options.append("at most 25 Hz")
    elif worst.trains > 1 and regular:
        n, ipi = regular
        one = wassermann_limit(1 / ipi, declared.percent)
        gap = "a pause of at least %s between trains (inter_train_interval at least %s)" % (
            s(pause),
            _iti_for_pause(protocol, pause),
        )
        if one is not None and n * ipi <= one:
            options.append(gap)
        elif one is not None and floor(one / ipi) >= 1:
            options.append("at most %d pulses per train and %s" % (floor(one / ipi), gap))
    else:
        most = floor(limit / worst.interval)
        if most >= 1:
            what = "per train" if worst.trains == 1 else "without a pause of %s" % s(pause)
            options.append("at most %d pulses %s" % (most, what))
    lower = _lower_intensity(analysis, declared)
    if lower:
        options.append(lower)
    if not options:
        # nothing alone passes: the table's top column with the pulses it allows there
        top = max(data()["wassermann"]["intensity_percent_mt"])
        cap = wassermann_limit(min(worst.frequency, 25), min(declared.percent, top))
        most = max(1, floor(cap * min(worst.frequency, 25)))
        parts = []
        if declared.percent > top:
            parts.append("at most %s%% %s" % (top, declared.reference))
        if worst.frequency > 25:
            parts.append("at most 25 Hz")
        parts.append("at most %d pulses without a pause of %s" % (most, s(pause)))
        options.append(" and ".join(parts))
    return ", or ".join(options)


def rtms_findings(onsets, declared, train_starts=(), protocol=None):
    """The rtms family's findings for these head onsets; `protocol` (optional) lets a refusal
    name the nearest passing change in the protocol's own terms."""
    table = data()["wassermann"]
    src = source(table["source"], table["unverified"])
    pause = _min_pause()
    analysis = _Analysis(onsets, train_starts)
    worst = analysis.worst(declared.percent)
    found = []
    reading = "AMT treated as %MT (conservative)" if declared.reference == "AMT" else ""
    if worst is None:
        found.append(
            Finding(
                "wassermann-train-duration",
                PASS,
                "single pulses, no train" if onsets else "no pulse reaches the head",
                "trains only",
                src,
            )
        )
    else:
        limit = worst.limit(declared.percent)
        refused = worst.refused(declared.percent)
        value = "train %s at %s, %s" % (s(worst.duration), hz(worst.frequency), declared)
        if worst.trains > 1:
            value += " (%d trains judged as one: pauses under %s)" % (worst.trains, s(pause))
        detail = "; ".join(
            x for x in [reading] + disagreements(worst.frequency, declared.percent) if x
        )
        fix = _fix(protocol, analysis, declared, worst) if refused else ""
        if limit is None:
            found.append(
                Finding(
                    "wassermann-train-duration",
                    REFUSE,
                    value,
                    "table covers 1-25 Hz and 90-220% MT",
                    src,
                    "outside the table" + ("; " + detail if detail else ""),
                    fix=fix,
                )
            )
        else:
            found += _table_findings(worst, limit, refused, value, src, detail, fix)
    found += _pause_findings(analysis, declared, protocol)
    return found


def _table_findings(worst, limit, refused, value, src, detail, fix):
    chen = data()["chen_shortening"]
    shorter = limit * Fraction(str(chen["factor"]))
    return [
        Finding(
            "wassermann-train-duration",
            REFUSE if refused else PASS,
            value,
            s(limit),
            src,
            detail,
            fix=fix,
        ),
        Finding(
            "chen-train-shortening",
            WARN if worst.duration > shorter else PASS,
            value,
            "%s (%s of %s)" % (s(shorter), chen["factor"], s(limit)),
            source(chen["source"]),
            "advice, not a refusal",
        ),
    ]


def _pause_findings(analysis, declared, protocol):
    rule = data()["chen_inter_train"]
    pause = _min_pause()
    found = []
    least = analysis.least_pause
    if least is not None:
        applies = declared.percent > rule["above_percent_mt"]
        bad = applies and least < pause
        if applies:
            detail = ""
        elif least < pause:
            detail = (
                "at or below %s%% MT: trains with shorter pauses are judged as one train"
                % (rule["above_percent_mt"])
            )
        else:
            detail = "applies above %s%% MT only" % rule["above_percent_mt"]
        fix = ""
        if bad:
            options = []
            if protocol is not None and _regular(protocol):
                options.append(
                    "a pause of at least %s between trains (inter_train_interval at least %s)"
                    % (s(pause), _iti_for_pause(protocol, pause))
                )
            else:
                options.append("pauses of at least %s between trains" % s(pause))
            if analysis.passes(Fraction(rule["above_percent_mt"])):
                options.append("at most %s%% %s" % (rule["above_percent_mt"], declared.reference))
            fix = ", or ".join(options)
        found.append(
            Finding(
                "chen-inter-train-interval",
                REFUSE if bad else PASS,
                "pause %s between trains at %s" % (s(least), declared),
                "%s above %s%% MT" % (s(pause), rule["above_percent_mt"]),
                source(rule["source"]),
                detail,
                fix=fix,
            )
        )
    return found


def _fix(protocol, analysis, declared, worst):
    if protocol is None:
        return ""
    return _train_fix(protocol, analysis, declared, worst)


def min_pause():
    return _min_pause()


__all__ = ["blocks", "disagreements", "min_pause", "num", "rtms_findings", "wassermann_limit"]
