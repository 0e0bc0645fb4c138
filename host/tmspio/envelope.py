"""The safety-envelope step of a session, in one function: `assess`.

`tmspio.Session` (and so `tmspio run`) calls `assess` before any port is opened; a refusal
raises SafetyRefused carrying `report` (the verdict line and every finding, as `tmspio check`
prints them) so the CLI can print it. Fire-on-command sessions assess, before each pulse, the
pulses of the whole session so far plus the new one (`fire_protocol`). The rules themselves are
tmspio.safety's (docs/safety.md).
"""

from fractions import Fraction

from . import safety
from .errors import SafetyRefused
from .protocols import parser


def assess(protocol, options=None):
    """The envelope's Verdict for `protocol` (library name, file path or a parsed Protocol)
    with `options` (a dict with tmspio.safety.OPTION_NAMES' keys: intensity, reference,
    output, stimulator, policy, override, operator; None: the protocol's own declaration).

    Raises InputError for bad input, SafetyRefused (with `.report`, the lines `tmspio check`
    prints) when a safety rule refuses and no written `override` reason is given."""
    verdict = safety.evaluate(protocol, options)
    try:
        verdict.enforce(announce=False)
    except SafetyRefused as e:
        e.report = verdict.report()
        raise
    return verdict


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
