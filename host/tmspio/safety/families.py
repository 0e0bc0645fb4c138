"""Patterned families (theta-burst, qps, paired-pulse, pas, single-pulse, custom).

Safety (refuses): each family's envelope in data/safety.json `family_envelopes`, judged on the
pulses that reach the head: the shape of each burst, how far apart bursts are, the total and
(theta burst) the continuous pulse count, and an intensity bound, published where a source gives
one, else tmspio's named default. Method (warns only): whether the protocol matches a published
variant of its family (`variants`) and that variant's published intensity.
"""

from fractions import Fraction

from ..protocols import model
from . import rtms
from .core import (
    METHOD,
    PASS,
    REFUSE,
    WARN,
    Finding,
    as_rmt_note,
    data,
    ms,
    num,
    s,
    shortest,
    source,
)

FAMILIES_WITH_RULES = ("rtms", "theta-burst", "qps", "paired-pulse", "pas", "single-pulse")


def _src(entry):
    status = entry.get("status", "")
    unverified = (
        status[len("UNVERIFIED") :].lstrip(": ") if status.startswith("UNVERIFIED") else None
    )
    return source(entry["source"], unverified)


def bursts(onsets, gap):
    """[(i, j)]: onsets[i:j] is one burst, each pulse at most `gap` after the previous."""
    out, start = [], 0
    for k in range(1, len(onsets)):
        if onsets[k] - onsets[k - 1] > gap:
            out.append((start, k))
            start = k
    if onsets:
        out.append((start, len(onsets)))
    return out


def envelope_findings(protocol, declared, onsets):
    fam = protocol.family
    if fam == "custom":
        return [
            Finding(
                "family-custom",
                REFUSE,
                "family custom",
                "a family with published rules",
                source("tmspio-default"),
                "no published table or bound covers this pattern",
                fix="a family whose rules cover the pattern (%s)" % ", ".join(FAMILIES_WITH_RULES),
            )
        ]
    env = data()["family_envelopes"][fam]
    found = []
    gap = Fraction(str(env["burst_gap_ms"])) / 1000
    groups = bursts(onsets, gap)
    shape = env["burst"]
    most = max((j - i for i, j in groups), default=0)
    fastest = shortest(onsets)
    value = "%d pulse%s per burst" % (most, "" if most == 1 else "s")
    limit = "at most %d pulse%s per burst" % (
        shape["max_pulses"],
        "" if shape["max_pulses"] == 1 else "s",
    )
    bad = most > shape["max_pulses"]
    if shape.get("min_interval_ms") is not None:
        least = Fraction(str(shape["min_interval_ms"])) / 1000
        value += ", shortest interval %s" % ("none" if fastest is None else ms(fastest))
        limit += ", intervals of at least %s" % ms(least)
        bad = bad or (fastest is not None and fastest < least)
    found.append(
        Finding(
            "burst-shape",
            REFUSE if bad else PASS,
            value,
            limit,
            _src(shape),
            "a burst: pulses at most %s apart" % ms(gap) if gap else "every pulse on its own",
            fix=limit if bad else "",
        )
    )
    spacing = env["burst_spacing"]
    least = Fraction(str(spacing["min_ms"])) / 1000
    firsts = [onsets[i] for i, _ in groups]
    closest = shortest(firsts)
    exclusive = spacing.get("exclusive", False)
    if closest is None:
        bad, value = False, "one burst"
    else:
        bad = closest <= least if exclusive else closest < least
        value = "bursts %s apart (onset to onset)" % s(closest)
    words = "more than" if exclusive else "at least"
    found.append(
        Finding(
            "burst-spacing",
            REFUSE if bad else PASS,
            value,
            "%s %s" % (words, s(least)),
            _src(spacing),
            fix="bursts %s %s apart (onset to onset)" % (words, s(least)) if bad else "",
        )
    )
    cap = env.get("max_pulses")
    if cap is None:
        found.append(
            Finding(
                "pulse-total",
                WARN,
                "%d pulses at the head" % len(onsets),
                "UNKNOWN",
                source("tmspio-default"),
                "no published maximum for this family in the sources reached",
            )
        )
    else:
        bad = len(onsets) > cap["value"]
        found.append(
            Finding(
                "pulse-total",
                REFUSE if bad else PASS,
                "%d pulses at the head" % len(onsets),
                "at most %d" % cap["value"],
                _src(cap),
                fix="at most %d pulses" % cap["value"] if bad else "",
            )
        )
    stretch = env.get("max_continuous_pulses")
    if stretch is not None:
        pause = Fraction(str(stretch["pause_s"]))
        longest = max((j - i for i, j, _ in rtms.blocks(onsets, pause)), default=0)
        bad = longest > stretch["value"]
        found.append(
            Finding(
                "continuous-pulses",
                REFUSE if bad else PASS,
                "%d pulses without a pause of %s" % (longest, s(pause)),
                "at most %d" % stretch["value"],
                _src(stretch),
                fix="at most %d pulses without a pause of %s" % (stretch["value"], s(pause))
                if bad
                else "",
            )
        )
    found.append(intensity_finding(fam, declared))
    return found


def intensity_finding(family, declared):
    """The family's intensity bound in % RMT (AMT and MT compared as RMT, see as_rmt_note)."""
    env = data()["family_envelopes"][family]["intensity"]
    note = as_rmt_note(declared)
    if env.get("default"):
        d = data()["default_intensity"]
        bound = Fraction(str(d["max_percent_rmt"]))
        src = source(d["source"], d["status"][len("UNVERIFIED: ") :])
        detail = "; ".join(x for x in ("default: " + d["reason"], note) if x)
        bad = declared.percent > bound
        return Finding(
            "family-intensity",
            REFUSE if bad else PASS,
            str(declared),
            "%s%% RMT" % num(bound),
            "%s; %s" % (source("tmspio-default"), src),
            detail,
            fix="at most %s%% %s" % (num(bound), declared.reference) if bad else "",
        )
    bound = Fraction(str(env["max_percent_rmt"]))
    confirmed = Fraction(str(env["confirmed_percent_rmt"]))
    src = _src(env)
    if declared.percent > bound:
        return Finding(
            "family-intensity",
            REFUSE,
            str(declared),
            "%s%% RMT" % num(bound),
            src,
            note,
            fix="at most %s%% %s" % (num(bound), declared.reference),
        )
    if declared.percent > confirmed:
        detail = (
            "above %s%% RMT (%s), the highest intensity confirmed for this family; the "
            % (
                num(confirmed),
                source(env["confirmed_source"]),
            )
            + "bound above it rests on an UNVERIFIED source"
        )
        return Finding(
            "family-intensity",
            WARN,
            str(declared),
            "%s%% RMT" % num(bound),
            src,
            "; ".join(x for x in (detail, note) if x),
        )
    return Finding("family-intensity", PASS, str(declared), "%s%% RMT" % num(bound), src, note)


# ---- published variants (method) -------------------------------------------------------------


def head_view(protocol):
    """The timing of the pulses at the head in nested terms, or None when it has none: the
    protocol's own timing for one TMS channel; for several TMS channels at regular offsets
    0, d, 2d, ... each firing one pulse per burst, a burst of that many pulses d apart."""
    t = protocol.timing
    if t is None:
        return None
    view = {
        "inter_pulse_interval": t.inter_pulse_interval,
        "pulses_in_burst": t.pulses_in_burst,
        "inter_burst_interval": t.inter_burst_interval,
        "bursts_in_train": t.bursts_in_train,
        "inter_train_interval": protocol.train_interval(),
        "trains_in_protocol": t.trains_in_protocol,
    }
    tms = protocol.tms_channels()
    if len(tms) > 1:
        offsets = sorted(ch.offset for _, ch in tms)
        step = offsets[1] - offsets[0]
        regular = step > 0 and all(o - offsets[0] == k * step for k, o in enumerate(offsets))
        if not regular or t.pulses_in_burst != 1:
            return None
        view.update(inter_pulse_interval=step, pulses_in_burst=len(tms))
    return view


def _bounds(values):
    lo = Fraction(str(values[0])) / 1000
    hi = None if values[1] is None else Fraction(str(values[1])) / 1000
    return lo, hi


def _interval_in(interval, bounds):
    lo, hi = _bounds(bounds)
    if interval is None:
        return False
    return lo <= model.lowest(interval) and (hi is None or model.highest(interval) <= hi)


def _show_interval(interval):
    if interval is None:
        return "none"
    if isinstance(interval, model.Jitter):
        return "uniform %s-%s" % (num(interval.lowest * 1000), ms(interval.highest))
    return ms(interval)


def _show_bounds(bounds):
    lo, hi = _bounds(bounds)
    if hi is None:
        return "at least %s" % ms(lo)
    return ms(lo) if lo == hi else "%s-%s" % (num(lo * 1000), ms(hi))


def _mismatches(protocol, view, variant, pulses, layout=None):
    """[(field, value, published)] where the protocol differs from a published variant.
    `layout`: [(field name, offset)] of the pulsing channels (default: the protocol's)."""
    out = []
    if layout is None:
        layout = [("channels.%d.offset" % i, ch.offset) for i, ch in enumerate(protocol.channels)]
    if "channels" in variant and len(layout) != variant["channels"]:
        out.append(("channels", len(layout), variant["channels"]))
    if "offset_ms" in variant:
        for field, offset in layout[1:]:
            if not _interval_in(offset, variant["offset_ms"]):
                out.append((field, ms(offset), _show_bounds(variant["offset_ms"])))
    for field in ("inter_pulse_interval", "inter_burst_interval", "inter_train_interval"):
        key = field + "_ms"
        if key in variant:
            value = view[field] if view is not None else None
            if not _interval_in(value, variant[key]):
                out.append((field, _show_interval(value), _show_bounds(variant[key])))
    for field in ("pulses_in_burst", "bursts_in_train", "trains_in_protocol"):
        if field in variant:
            value = view[field] if view is not None else "no nested timing"
            if value != variant[field]:
                out.append((field, value, variant[field]))
    if "max_pulses" in variant and pulses > variant["max_pulses"]:
        out.append(("pulses", pulses, "at most %d" % variant["max_pulses"]))
    return out


def variant_findings(protocol, declared, onsets, view=False, layout=None):
    """Method findings: the published variant the protocol matches (or the nearest one and how
    it differs) and that variant's published intensity. They warn, never refuse. `view` and
    `layout` (a condition's, safety/trials.py) replace head_view and the channel offsets."""
    variants = data()["variants"].get(protocol.family)
    if not variants:
        return []
    if view is False:
        view = head_view(protocol)
    scored = [(_mismatches(protocol, view, v, len(onsets), layout), v) for v in variants]
    matched = [v for miss, v in scored if not miss]
    if not matched:
        miss, nearest = min(scored, key=lambda mv: len(mv[0]))
        return [
            Finding(
                "published-variant",
                WARN,
                "; ".join("%s %s" % (f, val) for f, val, _ in miss),
                "; ".join("%s %s" % (f, allowed) for f, _, allowed in miss),
                source(nearest["source"], nearest.get("unverified")),
                "nearest published variant: %s%s"
                % (nearest["name"], ("; " + nearest["note"]) if nearest.get("note") else ""),
                kind=METHOD,
            )
        ]
    found = [
        Finding(
            "published-variant",
            PASS,
            "pattern of %s" % ", ".join(v["name"] for v in matched),
            "published variant",
            source(matched[0]["source"], matched[0].get("unverified")),
            kind=METHOD,
        )
    ]
    published = [v for v in matched if v.get("intensity_max")]
    same = [
        (Fraction(str(v["intensity_max"][declared.reference])), v)
        for v in published
        if declared.reference in v["intensity_max"]
    ]
    if same:
        limit, v = max(same, key=lambda lv: lv[0])
        found.append(
            Finding(
                "published-intensity",
                WARN if declared.percent > limit else PASS,
                str(declared),
                "%s%% %s" % (num(limit), declared.reference),
                source(v["source"], v.get("unverified")),
                v["name"]
                + ("; above the published intensity" if declared.percent > limit else ""),
                kind=METHOD,
            )
        )
    elif published:
        text = ", ".join(
            "%s: %s"
            % (v["name"], ", ".join("%s%% %s" % (p, r) for r, p in v["intensity_max"].items()))
            for v in published
        )
        found.append(
            Finding(
                "published-intensity",
                WARN,
                str(declared),
                text,
                source(published[0]["source"], published[0].get("unverified")),
                "published in another reference; the two cannot be compared",
                kind=METHOD,
            )
        )
    return found
