"""The envelope for protocols with conditions and trials.

Each condition is judged on its own: the pulses at the head of all its trials (each TMS pulse
at its own intensity; the condition is judged at its highest), against the family's envelope
and, as method findings, its published variants (conditions that pulse more than one channel:
a trial on one channel, e.g. test alone, is a paired design's control). Then the whole sequence: every trial's head
pulses merged, at the highest intensity of any condition. Each channel is checked against the
stimulator profile of its pulses (a condition may name another), with all of that channel's
pulses (one device). Marker channels (role = "marker") carry condition codes to an EEG
amplifier: never a TMS pulse, never a stimulator. Every finding's value starts with the
condition it belongs to ("condition sici-2ms: ...") or "all trials: ".

A pulse without its own intensity uses the declared one (--intensity, else the protocol's
`intensity`); a pulse given in % output only has no % motor threshold unless one is declared,
and the family's intensity bound then warns UNKNOWN for that condition.
"""

from fractions import Fraction

from .. import stimulators
from ..errors import InputError
from ..protocols import schedule
from . import families, rtms
from .core import REFUSE, WARN, Declared, Finding, shortest, source
from .devices import max_in_window, profile_findings


class PerCondition(Declared):
    """The declaration of a trial protocol: each pulse's own intensity. `percent` and
    `reference` are the highest of any TMS pulse (None when none is known in % of a motor
    threshold); `output` the declared stimulator output (--output)."""

    def __init__(self, highest, output=None, every=()):
        self.highest = highest
        self.every = list(every)  # every TMS pulse's Declared (None: % output only), for policy
        self.percent = None if highest is None else highest.percent
        self.reference = None if highest is None else highest.reference
        self.output = None if output is None else Fraction(str(output))

    def __str__(self):
        if self.highest is None:
            return "each condition's intensity (none in % of a motor threshold)"
        return "each condition's intensity (highest %s)" % self.highest

    def with_percent(self, percent):
        return PerCondition(self.highest.with_percent(percent), self.output, self.every)


def _pulse_declared(pulse, fallback, where):
    """A TMS pulse's Declared (None: known in % output only), from its own intensity, else
    the fallback (--intensity, else the protocol's); InputError when it has none at all."""
    own = pulse.intensity
    output = None if fallback is None else fallback.output
    if own is None:
        if fallback is None:
            raise InputError(
                "%s.intensity: not declared (give it in the file, the protocol's intensity, "
                "or --intensity PCT)" % where
            )
        return fallback
    if own.percent is not None:
        return Declared(own.percent, own.reference, output)
    if fallback is not None and fallback.percent is not None:
        return Declared(fallback.percent, fallback.reference, own.output_percent)
    return None


def _highest(values):
    known = [d for d in values if d is not None]
    return max(known, key=lambda d: d.percent) if known else None


def pulse_intensities(protocol, fallback):
    """{condition name: [Declared or None]} of each TMS pulse of each condition."""
    out = {}
    for k, cond in enumerate(protocol.conditions):
        out[cond.name] = [
            _pulse_declared(pulse, fallback, "conditions.%d.pulses.%s" % (k, name))
            for name, pulse in cond.pulses.items()
            if _channel(protocol, name).role == "tms"
        ]
    return out


def declaration(protocol, fallback, output=None):
    """The PerCondition declaration the report names (highest TMS pulse intensity)."""
    per = pulse_intensities(protocol, fallback)
    used = set(protocol.trial_conditions())
    every = [d for name, ds in per.items() if name in used for d in ds]
    if output is None and fallback is not None:
        output = fallback.output
    return PerCondition(_highest(every), output, every)


def _channel(protocol, name):
    return next(ch for ch in protocol.channels if ch.name == name)


def _view(protocol, cond, trials):
    """A condition's trials in nested terms (the published variants' vocabulary): its head
    pulses in one trial as a burst (regular offsets only), trials as trains."""
    offsets = sorted(
        p.offset for name, p in cond.pulses.items() if _channel(protocol, name).role == "tms"
    )
    step = offsets[1] - offsets[0] if len(offsets) > 1 else None
    if step is not None and any(b - a != step for a, b in zip(offsets, offsets[1:])):
        return None
    return {
        "inter_pulse_interval": step,
        "pulses_in_burst": len(offsets),
        "inter_burst_interval": None,
        "bursts_in_train": 1,
        "inter_train_interval": protocol.trials.interval,
        "trains_in_protocol": trials,
    }


def _layout(protocol, k, cond):
    return [
        ("conditions.%d.pulses.%s.offset" % (k, ch.name), cond.pulses[ch.name].offset)
        for ch in protocol.channels
        if ch.name in cond.pulses
    ]


def _label(found, label):
    for f in found:
        f.value = "%s: %s" % (label, f.value)
    return found


def _family(protocol, declared, onsets, variants=None):
    """The family's findings for these head onsets at `declared` (None: unknown in % of a
    motor threshold: the intensity bound warns UNKNOWN)."""
    judged = declared if declared is not None else Declared(1, "RMT")
    if protocol.family == "rtms":
        found = rtms.rtms_findings(onsets, judged, (), None)
    else:
        found = families.envelope_findings(protocol, judged, onsets)
        if variants is not None:
            found += families.variant_findings(protocol, judged, onsets, *variants)
    if declared is None:
        found = [f for f in found if f.rule not in ("family-intensity", "published-intensity")]
        if protocol.family != "custom":
            found.append(
                Finding(
                    "family-intensity",
                    WARN,
                    "intensity in % output only",
                    "UNKNOWN",
                    source("tmspio-default"),
                    "the family's bound is in % of a motor threshold; declare it with "
                    "--intensity PCT",
                )
            )
    return found


def trial_findings(protocol, fallback, stimulator):
    """Every finding for a protocol with conditions; `fallback` the declared intensity (or
    None), `stimulator` the default profile (a Stimulator)."""
    _sched, trials, planned = schedule.expand_trials(protocol)
    per = pulse_intensities(protocol, fallback)
    tms = [ci for ci, ch in enumerate(protocol.channels) if ch.role == "tms"]
    counts = {}
    for t in trials:
        counts[t.condition] = counts.get(t.condition, 0) + 1
    found = []
    for k, cond in enumerate(protocol.conditions):
        if cond.name not in counts:
            continue
        onsets = sorted(p.time for ci in tms for p in planned[ci] if p.condition == cond.name)
        if not onsets:
            continue  # no pulse at the head in this condition (its channels: profiles below)
        layout = _layout(protocol, k, cond)
        # a trial on one channel (test alone) is the control of a paired design: no variant
        variants = (_view(protocol, cond, counts[cond.name]), layout) if len(layout) > 1 else None
        fs = _family(protocol, _highest(per[cond.name]), onsets, variants)
        found += _label(fs, "condition %s" % cond.name)
    onsets = sorted(p.time for ci in tms for p in planned[ci])
    if onsets:
        used = [d for name, ds in per.items() if name in counts for d in ds]
        # the intensity bound is each condition's (above); the sequence adds the spacing
        whole = _family(protocol, _highest(used), onsets)
        whole = [f for f in whole if f.rule != "family-intensity"]
        found += _label(whole, "all trials")
    found += _profile_findings(protocol, planned, stimulator, fallback)
    return found


def _profile_findings(protocol, planned, default, fallback):
    """Each non-marker channel against the profile of each of its pulses (all the channel's
    pulses count: one device), at the highest output its pulses declare."""
    groups = {}  # profile id -> {channel index}
    for ci, ch in enumerate(protocol.channels):
        if ch.role == "marker":
            continue
        for p in planned[ci]:
            groups.setdefault(p.stimulator or default.id, set()).add(ci)
    n_channels = len([ch for ch in protocol.channels if ch.role != "marker"])
    found = []
    for stim_id in sorted(groups, key=lambda s: (s != default.id, s)):
        stim = default if stim_id == default.id else stimulators.get(stim_id, "stimulator")
        chans = sorted(groups[stim_id])
        fastest, peak, width, outputs = None, 0, None, []
        for ci in chans:
            times = [p.time for p in planned[ci]]
            least = shortest(times)
            if least is not None and (fastest is None or least < fastest):
                fastest = least
            peak = max(peak, max_in_window(times))
            narrowest = min(p.width for p in planned[ci])
            width = narrowest if width is None else min(width, narrowest)
            outputs += [
                p.intensity.output_percent
                for p in planned[ci]
                if p.intensity is not None and p.intensity.output_percent is not None
            ]
        output = max(outputs) if outputs else (None if fallback is None else fallback.output)
        declared = Declared(1, "RMT", output)  # the profile rules read the output only
        found += profile_findings(
            stim,
            [(ci, protocol.channels[ci]) for ci in chans],
            fastest,
            peak,
            width,
            declared,
            n_channels,
        )
    return found


def refusing_conditions(findings):
    """The condition names (and "all trials") whose findings refuse, in order."""
    out = []
    for f in findings:
        if f.outcome == REFUSE and ":" in f.value:
            label = f.value.split(":", 1)[0]
            if label not in out and (label.startswith("condition ") or label == "all trials"):
                out.append(label)
    return out
