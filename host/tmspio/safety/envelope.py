"""The envelope's entry points: every rule for a protocol, the verdict, and the one function
pair `tmspio check` and `tmspio run` (and the script API) share:

    add_envelope_arguments(parser)            # --intensity --reference --output --stimulator
                                              # --policy --override --operator
    verdict = judge(protocol, args_or_options)  # prints the report; raises SafetyRefused (exit 3)
    verdict.record(run_dir)                   # after a run: the override record + site log

`evaluate` is judge without printing or refusing (check --json prints its own report first).
"""

import getpass
import hashlib
import os
import sys

from .. import stimulators
from ..errors import InputError, SafetyRefused
from ..protocols import parser, schedule
from . import families, policy, rtms, trials
from .core import REFERENCES, REFUSE, WARN, Declared, declared_intensity, head_onsets
from .devices import stimulator_findings

OPTION_NAMES = ("intensity", "reference", "output", "stimulator", "policy", "override", "operator")


def check(protocol, intensity, stimulator=None):
    """Every rule's finding for `protocol` at `intensity` (Declared, or a number in % of the
    protocol's reference) on `stimulator` (profile id or Stimulator; default: the protocol's,
    else generic-ttl). A channel with its own `stimulator` is checked against that profile."""
    if protocol.conditions is not None:
        return _trial_check(protocol, intensity, stimulator)
    if not isinstance(intensity, Declared):
        intensity = declared_intensity(protocol, intensity)
    if stimulator is None:
        stimulator = protocol.stimulator or "generic-ttl"
    if isinstance(stimulator, str):
        stimulator = stimulators.get(stimulator)
    sched = schedule.expand(protocol)
    onsets = head_onsets(protocol, sched)
    if protocol.family == "rtms":
        starts = sched.train_starts if len(protocol.tms_channels()) == 1 else ()
        found = rtms.rtms_findings(onsets, intensity, starts, protocol)
    else:
        found = families.envelope_findings(protocol, intensity, onsets)
        found += families.variant_findings(protocol, intensity, onsets)
    profiles = [stimulator]  # the default first, then each channel's own profile once
    for ch in protocol.channels:
        if ch.stimulator and ch.stimulator not in [p.id for p in profiles]:
            profiles.append(stimulators.get(ch.stimulator, "channels.stimulator"))
    for stim in profiles:
        if any((ch.stimulator or stimulator.id) == stim.id for ch in protocol.channels):
            found += stimulator_findings(protocol, stim, sched, stimulator.id, intensity)
    return found


def _trial_check(protocol, intensity, stimulator):
    """Conditions and trials (safety/trials.py): `intensity` is the fallback for pulses
    without their own (Declared, a number in % of the protocol's reference, or None)."""
    if isinstance(intensity, trials.PerCondition):
        intensity = None
    if intensity is not None and not isinstance(intensity, Declared):
        intensity = declared_intensity(protocol, intensity)
    if intensity is None and protocol.intensity is not None:
        intensity = declared_intensity(protocol)
    if stimulator is None:
        stimulator = protocol.stimulator or "generic-ttl"
    if isinstance(stimulator, str):
        stimulator = stimulators.get(stimulator)
    return trials.trial_findings(protocol, intensity, stimulator)


def refused(findings):
    return [f for f in findings if f.outcome == REFUSE]


def _message(name, bad):
    return (
        '%s refused by the safety envelope (%d rule%s); --override "reason" runs it anyway '
        "and logs the reason" % (name, len(bad), "" if len(bad) == 1 else "s")
    )


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
    raise SafetyRefused(_message(name, bad), bad)


# ---- options, the verdict and the shared pair --------------------------------------------


def add_envelope_arguments(parser_):
    """The envelope's options, identical for check and run."""
    parser_.add_argument(
        "--intensity",
        metavar="PCT",
        help="declared intensity in %% of motor threshold (default: the protocol's declaration)",
    )
    parser_.add_argument(
        "--reference",
        choices=REFERENCES,
        help="threshold the intensity refers to: RMT, AMT, or MT (the unit of the rTMS "
        "single-train table) (default: the protocol's, else RMT)",
    )
    parser_.add_argument(
        "--output",
        metavar="PCT",
        help="stimulator output in %% of its maximum (the unit of the stimulators' "
        "rate-against-output tables; without it that limit is UNKNOWN and warns)",
    )
    parser_.add_argument(
        "--stimulator",
        metavar="NAME",
        help="stimulator profile (tmspio stimulators; default: the protocol's, else generic-ttl)",
    )
    parser_.add_argument(
        "--policy",
        metavar="FILE",
        help="site policy: approved protocols and intensity ranges (TOML, docs/safety.md; "
        "default: $%s, else none)" % policy.POLICY_ENV,
    )
    parser_.add_argument(
        "--override",
        metavar="REASON",
        help="accept the envelope's safety refusals with this written reason (run records "
        "it with who and when in the run directory and the site log)",
    )
    parser_.add_argument(
        "--operator",
        metavar="NAME",
        help="who is responsible for an override (default: the login name)",
    )


def _options(options):
    if options is None:
        return dict.fromkeys(OPTION_NAMES)
    if isinstance(options, dict):
        unknown = set(options) - set(OPTION_NAMES)
        if unknown:
            raise InputError(
                "envelope options %s: unknown; allowed: %s"
                % (", ".join(sorted(unknown)), ", ".join(OPTION_NAMES))
            )
        return {k: options.get(k) for k in OPTION_NAMES}
    return {k: getattr(options, k, None) for k in OPTION_NAMES}


def _number(option, value, what):
    if value is None or isinstance(value, int | float) and not isinstance(value, bool):
        if value is not None and (value != value or value in (float("inf"), float("-inf"))):
            raise InputError("%s = %r: %s" % (option, value, what))
        return value
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise InputError("%s = %r: %s" % (option, value, what)) from None
    if out != out or out in (float("inf"), float("-inf")):
        raise InputError("%s = %r: %s" % (option, value, what))
    return out


def _sha256(protocol, path):
    if path and os.path.isfile(path):
        with open(path, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()
    return hashlib.sha256(protocol.model_dump_json().encode()).hexdigest()


def _source_path(name):
    if os.path.exists(name):
        return os.path.abspath(name)
    from ..protocols import library

    return library.path_of(name)


class Verdict:
    """What the envelope decided for one protocol, declaration and stimulator."""

    def __init__(self, protocol, declared, stimulator, findings, source, sha256, pol, opts):
        self.protocol = protocol
        self.declared = declared
        self.stimulator = stimulator
        self.findings = findings
        self.source = source
        self.sha256 = sha256
        self.policy = pol
        self.requested_override = opts["override"]
        self.override = None  # the accepted reason, set by enforce()
        self.operator = opts["operator"] or _login()

    def refused(self):
        return refused(self.findings)

    def overridden(self):
        return bool(self.refused()) and self.override is not None

    def verdict_text(self):
        if not self.refused():
            return "PASS"
        req = self.requested_override
        return "REFUSED, OVERRIDDEN" if req and req.strip() else "REFUSED"

    def report_lines(self):
        warns = sum(1 for f in self.findings if f.outcome == WARN)
        output = ""
        if self.declared.output is not None:
            output = " (output %s%%)" % rtms.num(self.declared.output)
        lines = [
            "%s at %s%s on %s: %s (%d rules, %d refused, %d warnings)"
            % (
                self.protocol.name,
                self.declared,
                output,
                self.stimulator,
                self.verdict_text(),
                len(self.findings),
                len(self.refused()),
                warns,
            )
        ]
        lines += ["  %s" % f for f in self.findings]
        where = trials.refusing_conditions(self.findings) if self.protocol.conditions else []
        if where:
            lines.append("  refused in: %s" % "; ".join(where))
        return lines

    def report(self):
        """report_lines() and, when a refusal was overridden, the line that says so."""
        lines = self.report_lines()
        if self.override is not None:
            lines.append("OVERRIDDEN by the operator: %s" % self.override)
        return lines

    def as_dict(self):
        return {
            "protocol": self.protocol.name,
            "protocol_sha256": self.sha256,
            "intensity": str(self.declared),
            "output_percent": None
            if self.declared.output is None
            else float(self.declared.output),
            "stimulator": self.stimulator,
            "site_policy": None if self.policy is None else self.policy.path,
            "verdict": self.verdict_text(),
            "override": self.requested_override if self.refused() else None,
            "findings": [f.as_dict() for f in self.findings],
        }

    def enforce(self, announce=True):
        """None when nothing is refused; the accepted override reason; else SafetyRefused."""
        reason = enforce(self.findings, self.requested_override, self.protocol.name)
        self.override = reason
        if reason is not None and announce:
            print("OVERRIDDEN by the operator: %s" % reason)
        return reason

    def record(self, out_dir):
        """After a run: override.json in `out_dir` and one line in the site log (only when
        refusals were overridden); returns the record or None."""
        return policy.record(self, out_dir)


def _login():
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def evaluate(protocol, options=None):
    """The Verdict for `protocol` (a Protocol, a library name or a file) with `options` (an
    argparse namespace or a dict with the keys of OPTION_NAMES); raises InputError only."""
    opts = _options(options)
    source = None
    if isinstance(protocol, str):
        source = _source_path(protocol)
        protocol = parser.resolve(protocol)
    percent = _number("--intensity", opts["intensity"], "a number (percent of motor threshold)")
    if opts["reference"] and percent is None:
        raise InputError(
            "--reference = %r: only together with --intensity (without it the "
            "protocol's own declaration is used)" % opts["reference"]
        )
    output = _number("--output", opts["output"], "a number (stimulator output in %)")
    stim = opts["stimulator"] or protocol.stimulator or "generic-ttl"
    if protocol.conditions is not None:
        # each pulse's own intensity; the declaration (if any) fills the pulses without one
        fallback = None
        if percent is not None or protocol.intensity is not None:
            fallback = declared_intensity(protocol, percent, opts["reference"], output)
        elif output is not None:
            declared_intensity(protocol, 100, None, output)  # the same range check of --output
        findings = check(protocol, fallback, stim)
        declared = trials.declaration(protocol, fallback, output)
    else:
        declared = declared_intensity(protocol, percent, opts["reference"], output)
        findings = check(protocol, declared, stim)
    pol = policy.from_options(opts["policy"])
    sha = _sha256(protocol, source)
    if pol is not None:
        findings.append(pol.finding(protocol, declared, stim, sha))
    return Verdict(protocol, declared, stim, findings, source, sha, pol, opts)


def judge(protocol, options=None, report=True):
    """evaluate, print the report on stdout (unless report=False) and enforce: returns the
    Verdict (its `override` the accepted reason, or None); raises SafetyRefused (exit 3) when
    refused and not overridden, exactly as `tmspio check` does."""
    verdict = evaluate(protocol, options)
    if report:
        for line in verdict.report_lines():
            print(line, file=sys.stdout)
    verdict.enforce(announce=report)
    return verdict
