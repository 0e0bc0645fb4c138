"""Safety envelope: checks a protocol at a declared intensity against published limits.

check(protocol, intensity, stimulator) -> [Finding]; enforce(findings, override) raises
SafetyRefused unless nothing is refused or a written override reason is given (the reason is
returned for the session log). Rules, their data and sources: data/safety.json, docs/safety.md.

* rtms family: Wassermann 1998 single-train table (as carried in Rossi 2009) and Chen 1997's
  inter-train pause; between table entries the most restrictive neighbouring cell applies.
* theta-burst, qps, paired-pulse, pas, single-pulse: the protocol must match a published variant
  of its family (shape, pulse count, intensity where published).
* every family: the stimulator profile (minimum interval, maximum rate, minimum width, polarity).
Limits that are unknown give a "warn" finding; they are never guessed. Gated protocols are
checked in their densest case: one train per refractory interval.
"""

from fractions import Fraction

from . import packaged, stimulators
from .errors import InputError, SafetyRefused
from .protocols import model, schedule, units

PASS, WARN, REFUSE = "pass", "warn", "refuse"
RATE_WINDOW = Fraction(1)  # seconds: max_rate_hz counts pulses in any 1 s window


def data():
    return packaged.load_json("safety.json")


def _source(key, unverified=None):
    text = data()["sources"][key]["short"]
    return "%s; UNVERIFIED: %s" % (text, unverified) if unverified else text


class Finding:
    """One rule's outcome: the rule, the value checked, the limit and where it comes from."""

    def __init__(self, rule, outcome, value, limit, source, detail=""):
        self.rule = rule
        self.outcome = outcome  # pass | warn | refuse
        self.value = value
        self.limit = limit
        self.source = source
        self.detail = detail

    def __str__(self):
        text = "%s %s: %s; limit %s" % (self.outcome.upper(), self.rule, self.value, self.limit)
        if self.detail:
            text += " (%s)" % self.detail
        return text + " [%s]" % self.source

    def as_dict(self):
        return dict(self.__dict__)


class Declared:
    """The intensity the operator declares (tmspio cannot see the stimulator's output)."""

    def __init__(self, percent, reference):
        self.percent = Fraction(str(percent))
        self.reference = reference

    def __str__(self):
        return "%s%% %s" % (_num(self.percent), self.reference)


def _num(x):
    x = Fraction(x)
    return str(x.numerator) if x.denominator == 1 else ("%.6f" % float(x)).rstrip("0")


def _s(x):
    return units.seconds_text(x)


def _ms(x):
    return "%s ms" % _num(Fraction(x) * 1000)


# ---- conventional rTMS: Wassermann table and Chen 1997 ---------------------------------------


def _fixed(interval):
    return interval is not None and not isinstance(interval, model.Jitter)


def rtms_trains(protocol):
    """(pulses per train, onset-to-onset interval, inter_train_interval or None, trains),
    or None when the pattern is not plain trains of equally spaced pulses."""
    t = protocol.timing
    if t is None:
        return None
    levels = [
        (n, iv)
        for n, iv in (
            (t.pulses_in_burst, t.inter_pulse_interval),
            (t.bursts_in_train, t.inter_burst_interval),
            (t.trains_in_protocol, protocol.train_interval()),
        )
        if n > 1
    ]
    if any(not _fixed(iv) for n, iv in levels) or len(levels) > 2:
        return None
    if not levels:
        return 1, None, None, 1
    if len(levels) == 1:
        return levels[0][0], levels[0][1], None, 1
    return levels[0][0], levels[0][1], levels[1][1], levels[1][0]


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


def wassermann_limit(frequency_hz, percent):
    """Conservative table limit (Fraction s) or None when outside the table (> 25 Hz, > 220%)."""
    table = data()["wassermann"]
    rows = sorted((Fraction(k), v) for k, v in table["rows_hz"].items())
    cols = [Fraction(c) for c in table["intensity_percent_mt"]]
    if frequency_hz > rows[-1][0] or percent > cols[-1]:
        return None
    freqs = [r[0] for r in rows]
    return min(
        _cell(rows[r][1][c])
        for r in _bracket(freqs, frequency_hz)
        for c in _bracket(cols, percent)
    )


def _rtms_rules(protocol, declared):
    table = data()["wassermann"]
    src = _source(table["source"], table["unverified"])
    shape = rtms_trains(protocol)
    if shape is None:
        return [
            Finding(
                "wassermann-train-duration",
                REFUSE,
                "pattern not plain trains",
                "trains of equally spaced pulses",
                src,
                "bursts, jitter or onset lists are not covered by the table",
            )
        ]
    n, interval, iti, trains = shape
    if interval is None:
        return [Finding("wassermann-train-duration", PASS, "one pulse", "single pulses", src)]
    freq = 1 / interval
    duration = n * interval  # the table's convention: 40 pulses at 10 Hz = 4 s
    limit = wassermann_limit(freq, declared.percent)
    value = "train %s at %s Hz, %s" % (_s(duration), _num(freq), declared)
    detail = "AMT treated as %MT (conservative)" if declared.reference == "AMT" else ""
    found = []
    if limit is None:
        found.append(
            Finding(
                "wassermann-train-duration",
                REFUSE,
                value,
                "table covers 1-25 Hz and 90-220% MT",
                src,
                "outside the table",
            )
        )
        return found
    outcome = REFUSE if duration > limit else PASS
    found.append(Finding("wassermann-train-duration", outcome, value, _s(limit), src, detail))
    chen = data()["chen_shortening"]
    shorter = limit * Fraction(str(chen["factor"]))
    found.append(
        Finding(
            "chen-train-shortening",
            WARN if duration > shorter else PASS,
            value,
            "%s (%s of %s)" % (_s(shorter), chen["factor"], _s(limit)),
            _source(chen["source"]),
            "advice, not a refusal",
        )
    )
    rule = data()["chen_inter_train"]
    if iti is not None:
        pause = iti - duration
        min_pause = Fraction(rule["min_pause_s"])
        applies = declared.percent > rule["above_percent_mt"]
        outcome = REFUSE if applies and pause < min_pause else PASS
        found.append(
            Finding(
                "chen-inter-train-interval",
                outcome,
                "pause %s between trains at %s" % (_s(pause), declared),
                "%s above %s%% MT" % (_s(min_pause), rule["above_percent_mt"]),
                _source(rule["source"]),
                "" if applies else "applies above %s%% MT only" % rule["above_percent_mt"],
            )
        )
    return found


# ---- patterned families: match a published variant ------------------------------------------


def _range(values):
    return Fraction(str(values[0])) / 1000, Fraction(str(values[1])) / 1000


def _interval_in(interval, bounds):
    lo, hi = _range(bounds)
    return interval is not None and lo <= model.lowest(interval) and model.highest(interval) <= hi


def _show_interval(interval):
    if interval is None:
        return "none"
    if isinstance(interval, model.Jitter):
        return "uniform %s-%s" % (_num(interval.lowest * 1000), _ms(interval.highest))
    return _ms(interval)


def _show_bounds(bounds):
    lo, hi = _range(bounds)
    return _ms(lo) if lo == hi else "%s-%s" % (_num(lo * 1000), _ms(hi))


def _mismatches(protocol, variant, sched):
    """[(field, value, allowed)] where the protocol differs from a published variant."""
    out = []
    t = protocol.timing
    if "channels" in variant and len(protocol.channels) != variant["channels"]:
        out.append(("channels", len(protocol.channels), variant["channels"]))
    if "offset_ms" in variant:
        for i, ch in enumerate(protocol.channels[1:], 1):
            lo, hi = _range(variant["offset_ms"])
            if not lo <= ch.offset <= hi:
                out.append(
                    ("channels.%d.offset" % i, _ms(ch.offset), _show_bounds(variant["offset_ms"]))
                )
    for field in ("inter_pulse_interval", "inter_burst_interval", "inter_train_interval"):
        key = field + "_ms"
        if key in variant:
            value = getattr(t, field) if t is not None else None
            if field == "inter_train_interval" and t is not None:
                value = protocol.train_interval()  # gated: the densest case
            if not _interval_in(value, variant[key]):
                out.append((field, _show_interval(value), _show_bounds(variant[key])))
    for field in ("pulses_in_burst", "bursts_in_train", "trains_in_protocol"):
        if field in variant:
            value = getattr(t, field) if t is not None else "onset list"
            if value != variant[field]:
                out.append((field, value, variant[field]))
    pulses = len(sched.onsets)
    if "max_pulses" in variant and pulses > variant["max_pulses"]:
        out.append(("pulses", pulses, "at most %d" % variant["max_pulses"]))
    if "min_interval_ms" in variant and pulses > 1:
        shortest = min(b - a for a, b in zip(sched.onsets, sched.onsets[1:]))
        limit = Fraction(str(variant["min_interval_ms"])) / 1000
        if shortest < limit:
            out.append(("shortest interval", _ms(shortest), "at least %s" % _ms(limit)))
    return out


def _family_rules(protocol, declared, sched):
    variants = data()["families"].get(protocol.family)
    rule = "family-%s" % protocol.family
    if not variants:
        return [
            Finding(
                rule,
                REFUSE,
                "family %s" % protocol.family,
                "a family with published parameters",
                "tmspio safety.json",
                "no published table or variant covers this pattern",
            )
        ]
    scored = [(_mismatches(protocol, v, sched), v) for v in variants]
    matched = [v for miss, v in scored if not miss]
    if not matched:
        miss, nearest = min(scored, key=lambda mv: len(mv[0]))
        value = "; ".join("%s %s" % (f, val) for f, val, _ in miss)
        limit = "; ".join("%s %s" % (f, allowed) for f, _, allowed in miss)
        return [
            Finding(
                rule,
                REFUSE,
                value,
                limit,
                _source(nearest["source"], nearest.get("unverified")),
                "nearest published variant: %s" % nearest["name"],
            )
        ]
    names = ", ".join(v["name"] for v in matched)
    found = [
        Finding(
            rule,
            PASS,
            "pattern of %s" % names,
            "published variant",
            _source(matched[0]["source"], matched[0].get("unverified")),
        )
    ]
    if not any("max_pulses" in v for v in matched):
        found.append(
            Finding(
                "family-pulse-count",
                WARN,
                "%d pulses per channel" % len(sched.onsets),
                "UNKNOWN",
                _source(matched[0]["source"]),
                "no published maximum in the reference",
            )
        )
    limits = [
        (Fraction(str(v["intensity_max"][declared.reference])), v)
        for v in matched
        if declared.reference in v.get("intensity_max", {})
    ]
    if limits:
        limit, v = max(limits, key=lambda lv: lv[0])
        found.append(
            Finding(
                "family-intensity",
                REFUSE if declared.percent > limit else PASS,
                str(declared),
                "%s%% %s" % (_num(limit), declared.reference),
                _source(v["source"], v.get("unverified")),
                v["name"],
            )
        )
    elif any(v.get("intensity_max") for v in matched):
        published = ", ".join(
            "%s: %s"
            % (v["name"], ", ".join("%s%% %s" % (p, r) for r, p in v["intensity_max"].items()))
            for v in matched
            if v.get("intensity_max")
        )
        found.append(
            Finding(
                "family-intensity",
                REFUSE,
                str(declared),
                published,
                _source(matched[0]["source"]),
                "no published intensity in %% %s for this pattern" % declared.reference,
            )
        )
    else:
        found.append(
            Finding(
                "family-intensity",
                WARN,
                str(declared),
                "UNKNOWN",
                _source(matched[0]["source"]),
                "no published intensity in the reference; not checked",
            )
        )
    return found


# ---- stimulator profile ---------------------------------------------------------------------


def _max_in_window(onsets, window):
    best, lo = 0, 0
    for hi in range(len(onsets)):
        while onsets[hi] - onsets[lo] >= window:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def _stimulator_rules(protocol, stim, sched, default):
    """Profile limits for the channels wired to `stim`; `default` is the profile id of channels
    without their own."""
    src = stim.source_text()
    channels = [
        (i, ch) for i, ch in enumerate(protocol.channels) if (ch.stimulator or default) == stim.id
    ]
    found = []
    shortest = None
    if len(sched.onsets) > 1:
        shortest = min(b - a for a, b in zip(sched.onsets, sched.onsets[1:]))
    if stim.min_interval_ms is None:
        found.append(
            Finding(
                "stimulator-min-interval",
                WARN,
                _show_opt(shortest),
                "UNKNOWN",
                src,
                stim.min_interval_note,
            )
        )
    else:
        limit = Fraction(str(stim.min_interval_ms)) / 1000
        bad = shortest is not None and shortest < limit
        found.append(
            Finding(
                "stimulator-min-interval",
                REFUSE if bad else PASS,
                _show_opt(shortest),
                "at least %s" % _ms(limit),
                src,
                stim.min_interval_note,
            )
        )
    peak = _max_in_window(sched.onsets, RATE_WINDOW)
    value = "%d pulses in 1 s" % peak
    if stim.max_rate_hz is None:
        found.append(Finding("stimulator-max-rate", WARN, value, "UNKNOWN", src))
    else:
        found.append(
            Finding(
                "stimulator-max-rate",
                REFUSE if peak > stim.max_rate_hz else PASS,
                value,
                "%s pulses in any 1 s" % _num(Fraction(str(stim.max_rate_hz))),
                src,
            )
        )
    width = _ms(protocol.pulse_width)
    if stim.min_width_us is None:
        found.append(
            Finding("stimulator-min-width", WARN, width, "UNKNOWN", src, stim.min_width_note)
        )
    else:
        limit = Fraction(str(stim.min_width_us)) / 1_000_000
        found.append(
            Finding(
                "stimulator-min-width",
                REFUSE if protocol.pulse_width < limit else PASS,
                width,
                "at least %s" % _ms(limit),
                src,
            )
        )
    for i, ch in channels:
        value = "channel %d (%s) %s" % (i, ch.name, ch.polarity)
        if stim.polarity == "unknown":
            outcome = WARN
        elif stim.polarity == "either":
            outcome = PASS
        else:
            outcome = PASS if stim.polarity == ch.polarity else REFUSE
        found.append(
            Finding(
                "stimulator-polarity",
                outcome,
                value,
                stim.polarity if stim.polarity != "unknown" else "UNKNOWN",
                src,
                stim.polarity_note,
            )
        )
    if len(channels) < len(protocol.channels):
        names = ", ".join(ch.name for _, ch in channels)
        for f in found:
            if not f.value.startswith("channel "):
                f.value = "%s: %s" % (names, f.value)
    return found


def _show_opt(shortest):
    return "single pulse" if shortest is None else "shortest interval %s" % _ms(shortest)


# ---- entry points ---------------------------------------------------------------------------


def declared_intensity(protocol, percent=None, reference=None):
    """The operator's declaration, falling back to the protocol file's."""
    if percent is None:
        if protocol.intensity is None:
            raise InputError(
                "%s: intensity: not declared in the protocol; give --intensity PCT" % protocol.name
            )
        percent = protocol.intensity.percent
        reference = reference or protocol.intensity.reference
    if reference is None:
        reference = protocol.intensity.reference if protocol.intensity else "RMT"
    if not 0 < percent <= 300:
        raise InputError("--intensity = %g: a percentage above 0 and at most 300" % percent)
    if reference not in ("RMT", "AMT"):
        raise InputError("--reference = %r: RMT or AMT" % reference)
    return Declared(percent, reference)


def check(protocol, intensity, stimulator=None):
    """Every rule's finding for `protocol` at `intensity` (Declared, or a number in % of the
    protocol's reference) on `stimulator` (profile id or Stimulator; default: the protocol's,
    else generic-ttl). A channel with its own `stimulator` is checked against that profile."""
    if not isinstance(intensity, Declared):
        intensity = declared_intensity(protocol, intensity)
    if stimulator is None:
        stimulator = protocol.stimulator or "generic-ttl"
    if isinstance(stimulator, str):
        stimulator = stimulators.get(stimulator)
    sched = schedule.expand(protocol)
    if protocol.family == "rtms":
        found = _rtms_rules(protocol, intensity)
    else:
        found = _family_rules(protocol, intensity, sched)
    profiles = [stimulator]  # the default first, then each channel's own profile once
    for ch in protocol.channels:
        if ch.stimulator and ch.stimulator not in [p.id for p in profiles]:
            profiles.append(stimulators.get(ch.stimulator, "channels.stimulator"))
    for stim in profiles:
        if any((ch.stimulator or stimulator.id) == stim.id for ch in protocol.channels):
            found += _stimulator_rules(protocol, stim, sched, stimulator.id)
    return found


def refused(findings):
    return [f for f in findings if f.outcome == REFUSE]


def enforce(findings, override=None, name="protocol"):
    """None when nothing is refused; the override reason when refusals are overridden;
    otherwise raises SafetyRefused carrying the refusing findings."""
    bad = refused(findings)
    if not bad:
        return None
    if override is not None and override.strip():
        return override.strip()
    if override is not None:
        raise InputError("--override = %r: a written reason (not empty)" % override)
    raise SafetyRefused(
        '%s refused by the safety envelope (%d rule%s); --override "reason" '
        "runs it anyway and logs the reason" % (name, len(bad), "" if len(bad) == 1 else "s"),
        bad,
    )
