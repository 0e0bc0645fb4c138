"""Findings, the declared intensity and the shared helpers of the safety envelope.

Every finding has a kind: "safety" (a rule that protects the person: refuses, overridable only
with a written reason) or "method" (how closely the protocol follows a published variant: warns,
never refuses). A refusing finding names the nearest change that would pass (`fix`).
"""

from fractions import Fraction

from .. import packaged
from ..errors import InputError
from ..protocols import units

PASS, WARN, REFUSE = "pass", "warn", "refuse"
SAFETY, METHOD = "safety", "method"
REFERENCES = ("RMT", "AMT", "MT")


def data():
    return packaged.load_json("safety.json")


def source(key, unverified=None):
    text = data()["sources"][key]["short"]
    return "%s; UNVERIFIED: %s" % (text, unverified) if unverified else text


class Finding:
    """One rule's outcome: the rule, its kind, the value checked, the limit, where the limit
    comes from and, when refused, the nearest change that would pass."""

    def __init__(self, rule, outcome, value, limit, source, detail="", kind=SAFETY, fix=""):
        if kind not in (SAFETY, METHOD):
            raise ValueError("kind %r" % kind)
        if kind == METHOD and outcome == REFUSE:
            raise ValueError("a method finding never refuses (%s)" % rule)
        self.rule = rule
        self.kind = kind
        self.outcome = outcome  # pass | warn | refuse
        self.value = value
        self.limit = limit
        self.source = source
        self.detail = detail
        self.fix = fix if outcome == REFUSE else ""

    def __str__(self):
        text = "%s %s %s: %s; limit %s" % (
            self.outcome.upper(),
            self.kind,
            self.rule,
            self.value,
            self.limit,
        )
        if self.detail:
            text += " (%s)" % self.detail
        text += " [%s]" % self.source
        if self.fix:
            text += "; would pass with: %s" % self.fix
        return text

    def as_dict(self):
        return {
            "rule": self.rule,
            # not "kind": the session's event log writes these as fields of a "safety" event
            "rule_kind": self.kind,
            "outcome": self.outcome,
            "value": self.value,
            "limit": self.limit,
            "source": self.source,
            "detail": self.detail,
            "fix": self.fix,
        }


class Declared:
    """What the operator declares (tmspio cannot see the stimulator): the intensity in % of a
    motor threshold and, optionally, the stimulator output in % of its maximum."""

    def __init__(self, percent, reference, output=None):
        self.percent = Fraction(str(percent))
        self.reference = reference
        self.output = None if output is None else Fraction(str(output))

    def __str__(self):
        return "%s%% %s" % (num(self.percent), self.reference)

    def with_percent(self, percent):
        return Declared(percent, self.reference, self.output)


def declared_intensity(protocol, percent=None, reference=None, output=None):
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
    if reference not in REFERENCES:
        raise InputError("--reference = %r: RMT, AMT or MT" % reference)
    if output is not None and not 0 < output <= 100:
        raise InputError(
            "--output = %g: the stimulator output in %% of its maximum, above 0 and at most 100"
            % output
        )
    return Declared(percent, reference, output)


def as_rmt_note(declared):
    """How a declaration is compared with a bound in % RMT (the number itself is kept)."""
    if declared.reference == "AMT":
        return "% AMT compared as % RMT (AMT is below RMT: conservative)"
    if declared.reference == "MT":
        return "% MT taken as % RMT"
    return ""


def num(x):
    x = Fraction(x)
    return str(x.numerator) if x.denominator == 1 else ("%.6f" % float(x)).rstrip("0")


def s(x):
    return units.seconds_text(x)


def ms(x):
    return "%s ms" % num(Fraction(x) * 1000)


def hz(x):
    return "%s Hz" % num(x)


def head_onsets(protocol, sched):
    """Sorted onsets (Fraction s) of every pulse that reaches the head: the union of the
    channels with role tms, each shifted by its offset."""
    out = []
    for _, ch in protocol.tms_channels():
        out.extend(t + ch.offset for t in sched.onsets)
    out.sort()
    return out


def shortest(onsets):
    if len(onsets) < 2:
        return None
    return min(b - a for a, b in zip(onsets, onsets[1:]))
