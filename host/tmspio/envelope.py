"""The safety-envelope step of a session, in one function: `assess`.

`tmspio.Session` (and so `tmspio run`) calls `assess` before any port is opened; a refusal
raises SafetyRefused carrying `report` (the verdict line and every finding, as `tmspio check`
prints them) so the CLI can print it. Fire-on-command sessions assess, before each pulse, the
pulses of the whole session so far plus the new one (`fire_protocol`). The rules themselves are
tmspio.safety's (docs/safety.md).
"""

from fractions import Fraction

from . import safety
from .errors import InputError, SafetyRefused
from .protocols import model, parser


class Assessment:
    """The envelope's outcome for one protocol at one declared intensity."""

    def __init__(self, protocol, declared, stimulator, findings, override, source):
        self.protocol = protocol  # protocols.model.Protocol
        self.declared = declared  # safety.Declared
        self.stimulator = stimulator  # profile id
        self.findings = findings  # [safety.Finding]
        self.override = override  # the accepted override reason, or None
        self.source = source  # absolute path of the protocol file, or None

    @property
    def verdict(self):
        bad = safety.refused(self.findings)
        if not bad:
            return "PASS"
        return "REFUSED, OVERRIDDEN" if self.override else "REFUSED"

    def report(self, verdict=None):
        """The lines `tmspio check` prints: verdict line, one per finding, the override."""
        f = self.findings
        warns = sum(1 for x in f if x.outcome == safety.WARN)
        lines = [
            "%s at %s on %s: %s (%d rules, %d refused, %d warnings)"
            % (
                self.protocol.name,
                self.declared,
                self.stimulator,
                verdict or self.verdict,
                len(f),
                len(safety.refused(f)),
                warns,
            )
        ]
        lines += ["  %s" % x for x in f]
        if self.override:
            lines.append("OVERRIDDEN by the operator: %s" % self.override)
        return lines


def assess(protocol, intensity=None, reference=None, stimulator=None, override=None):
    """Parse and check `protocol` (library name, file path or a parsed Protocol) at `intensity`
    (% of `reference` motor threshold; None: the protocol's declaration) on `stimulator`
    (profile id; None: the protocol's, else generic-ttl). Returns an Assessment.

    Raises InputError for bad input, SafetyRefused (with `.report`, the printed report) when a
    rule refuses and no written `override` reason is given."""
    source = None
    if not isinstance(protocol, model.Protocol):
        name = str(protocol)
        protocol = parser.resolve(name)
        source = _source_path(name)
    if reference is not None and intensity is None:
        raise InputError(
            "--reference = %r: only together with --intensity (without it the "
            "protocol's own declaration is used)" % reference
        )
    declared = safety.declared_intensity(protocol, intensity, reference)
    stim = stimulator or protocol.stimulator or "generic-ttl"
    findings = safety.check(protocol, declared, stim)
    result = Assessment(protocol, declared, stim, findings, None, source)
    try:
        result.override = safety.enforce(findings, override, protocol.name)
    except SafetyRefused as e:
        e.report = result.report()
        raise
    return result


def fire_protocol(template, channel, onsets_s):
    """The pulses of one channel of a fire-on-command session as a protocol the envelope
    checks: `template` is the session's dict (family, pulse_width, channels, stimulator,
    intensity), `onsets_s` every onset of `channel` so far plus the new one (seconds, any
    zero). Family rtms is checked as its densest case, one train of all these pulses at the
    shortest interval seen (the Wassermann table covers plain trains only); every other
    family with the onsets as they are."""
    onsets = sorted(Fraction(round(t * 1_000_000), 1_000_000) for t in onsets_s)
    first = onsets[0]
    ch = dict(template["channels"][channel])
    ch.pop("offset", None)
    data = {k: v for k, v in template.items() if k != "channels"}
    data["channels"] = [ch]
    if template["family"] == "rtms":
        timing = {"pulses_in_burst": len(onsets)}
        if len(onsets) > 1:
            shortest = min(b - a for a, b in zip(onsets, onsets[1:]))
            timing["inter_pulse_interval"] = "%s us" % _num(shortest * 1_000_000)
        data["timing"] = timing
    else:
        data["onsets"] = ["%s us" % _num((t - first) * 1_000_000) for t in onsets]
    return parser.from_dict(data, source="<fire session>")


def _num(x):
    x = Fraction(x)
    return str(x.numerator) if x.denominator == 1 else "%.6f" % float(x)


def _source_path(name):
    import os

    if os.path.exists(name):
        return os.path.abspath(name)
    from .protocols import library

    return library.path_of(name)
