"""Protocol model (pydantic 2): what a protocol file may say, with every rule that needs no clock.

Timing follows the nibs-bids nested terms, all intervals onset-to-onset (tms-domain.md §0):
pulse p of burst b of train k starts at k*inter_train_interval + b*inter_burst_interval +
p*inter_pulse_interval after the first pulse. Alternatively `onsets` lists every onset explicitly.
An interval may be jittered: {uniform = ["1.1 s", "1.4 s"], seed = 7} draws each instance anew.
"""

import re
from fractions import Fraction
from math import ceil, floor
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    PlainSerializer,
    Tag,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

from .. import stimulators
from . import units

MAX_CHANNELS = 4
MAX_PULSES = 1_000_000
MAX_CONDITIONS = 255
FAMILIES = ("rtms", "theta-burst", "qps", "paired-pulse", "pas", "single-pulse", "custom")


def _parser(rate_ok):
    help_text = units.INTERVAL_HELP if rate_ok else units.DURATION_HELP

    def parse(value):
        if isinstance(value, units.Quantity):
            return value
        try:
            return units.parse(value, rate_ok)
        except ValueError as e:
            raise PydanticCustomError("duration", str(e)) from None

    return parse, help_text


def _quantity(rate_ok):
    parse, help_text = _parser(rate_ok)
    pattern = units.INTERVAL_PATTERN if rate_ok else units.DURATION_PATTERN
    return Annotated[
        Fraction,
        BeforeValidator(parse),
        PlainSerializer(units.format_seconds, return_type=str),
        WithJsonSchema({"type": "string", "pattern": pattern, "description": help_text}),
    ]


Duration = _quantity(False)
Interval = _quantity(True)


def _fail(path, value, allowed):
    """Cross-field error that names its own field path (the parser puts it in the message)."""
    raise PydanticCustomError(
        "field", "{allowed}", {"path": path, "value": value, "allowed": allowed}
    )


def _known(stimulator):
    if stimulator is not None and stimulator not in stimulators.ids():
        raise PydanticCustomError(
            "stimulator",
            "unknown stimulator; allowed: {allowed}",
            {"allowed": ", ".join(stimulators.ids())},
        )
    return stimulator


StimulatorId = Annotated[str, AfterValidator(_known)]  # a profile id of `tmspio stimulators`


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Jitter(Strict):
    """Each instance of the interval is drawn uniformly from [lo, hi] (1 ns grid), seeded."""

    uniform: tuple[Interval, Interval] = Field(description="[lowest, highest] interval")
    seed: int = Field(
        ge=0, le=2**63 - 1, strict=True, description="random.Random seed; drawn values are logged"
    )

    @model_validator(mode="after")
    def _ordered(self):
        lo, hi = self.uniform
        if not lo < hi or ceil(lo * 10**9) > floor(hi * 10**9):
            _fail(
                "uniform",
                [units.format_seconds(lo), units.format_seconds(hi)],
                "lowest < highest, with a whole nanosecond between them",
            )
        return self

    @property
    def lowest(self):
        return self.uniform[0]

    @property
    def highest(self):
        return self.uniform[1]


def _interval_kind(value):
    return "jitter" if isinstance(value, dict | Jitter) else "fixed"


IntervalOrJitter = Annotated[
    Annotated[Interval, Tag("fixed")] | Annotated[Jitter, Tag("jitter")],
    Discriminator(_interval_kind),
]
UNION_TAGS = ("fixed", "jitter")


def lowest(interval):
    return interval.lowest if isinstance(interval, Jitter) else interval


def highest(interval):
    return interval.highest if isinstance(interval, Jitter) else interval


class Timing(Strict):
    inter_pulse_interval: IntervalOrJitter | None = None
    pulses_in_burst: int = Field(1, ge=1, strict=True)
    inter_burst_interval: IntervalOrJitter | None = None
    bursts_in_train: int = Field(1, ge=1, strict=True)
    inter_train_interval: IntervalOrJitter | None = None
    trains_in_protocol: int = Field(1, ge=1, strict=True)
    inter_train_interval_from: Literal["onset", "last-pulse"] = Field(
        "onset",
        description="what inter_train_interval counts from: onset = the first pulse of a "
        "train (nibs-bids, the default); last-pulse = the last pulse of a train, as some "
        "stimulators count the pause between trains",
    )

    @model_validator(mode="after")
    def _intervals_match_counts(self):
        for interval, count in (
            ("inter_pulse_interval", "pulses_in_burst"),
            ("inter_burst_interval", "bursts_in_train"),
            ("inter_train_interval", "trains_in_protocol"),
        ):
            n, value = getattr(self, count), getattr(self, interval)
            # inter_train_interval: required or refused by Protocol (gated trains have none)
            if n > 1 and value is None and interval != "inter_train_interval":
                _fail(interval, None, "required when %s > 1" % count)
            if n == 1 and value is not None:
                _fail(interval, _show(value), "only allowed when %s > 1 (it is 1)" % count)
        if self.inter_train_interval_from != "onset" and self.inter_train_interval is None:
            _fail(
                "inter_train_interval_from",
                self.inter_train_interval_from,
                '"onset" unless inter_train_interval is given',
            )
        if self.pulses() > MAX_PULSES:
            _fail("", "%d pulses" % self.pulses(), "at most %d pulses in total" % MAX_PULSES)
        return self

    def pulses(self):
        return self.pulses_in_burst * self.bursts_in_train * self.trains_in_protocol

    def burst_span(self):
        """Longest first-to-last onset time of one burst."""
        if self.pulses_in_burst == 1:
            return Fraction(0)
        return (self.pulses_in_burst - 1) * highest(self.inter_pulse_interval)

    def train_span(self):
        if self.bursts_in_train == 1:
            return self.burst_span()
        return (self.bursts_in_train - 1) * highest(self.inter_burst_interval) + self.burst_span()


def _show(value):
    if isinstance(value, Jitter):
        return {"uniform": [units.format_seconds(v) for v in value.uniform], "seed": value.seed}
    return units.format_seconds(value)


class MarkerCode(Strict):
    """How a marker channel sends a trial's condition code N (1..255) from the trial onset:
    encoding "count": N pulses of `width`, `interval` onset to onset; encoding "width": one
    pulse N x `unit` wide."""

    encoding: Literal["count", "width"] = Field(
        description="count: N pulses (the amplifier's trigger channel counts them); width: one "
        "pulse N x unit wide (the amplifier measures it)"
    )
    width: Duration | None = Field(
        None, description='count only: each pulse\'s width, e.g. "1 ms"'
    )
    interval: Duration | None = Field(
        None, description='count only: onset to onset of the code\'s pulses, e.g. "4 ms"'
    )
    unit: Duration | None = Field(
        None, description='width only: code N is one pulse N x unit wide, e.g. "1 ms"'
    )

    @model_validator(mode="after")
    def _fields_match_encoding(self):
        need = ("width", "interval") if self.encoding == "count" else ("unit",)
        other = ("unit",) if self.encoding == "count" else ("width", "interval")
        for f in need:
            if getattr(self, f) is None:
                _fail(f, None, 'required when encoding = "%s"' % self.encoding)
            if getattr(self, f) <= 0:
                _fail(f, units.format_seconds(getattr(self, f)), "above 0")
        for f in other:
            if getattr(self, f) is not None:
                _fail(
                    f,
                    units.format_seconds(getattr(self, f)),
                    'only allowed when encoding = "%s"'
                    % ("count" if self.encoding == "width" else "width"),
                )
        if self.encoding == "count" and self.interval <= self.width:
            _fail(
                "interval",
                units.format_seconds(self.interval),
                "longer than width (%s)" % units.format_seconds(self.width),
            )
        return self

    def pulses(self, code):
        """[(offset, width)] of code N's pulses from the trial onset (exact seconds)."""
        if self.encoding == "count":
            return [(k * self.interval, self.width) for k in range(code)]
        return [(Fraction(0), code * self.unit)]

    def span(self, code):
        """Trial onset to the end of code N's last pulse."""
        offset, width = self.pulses(code)[-1]
        return offset + width


class Channel(Strict):
    name: str = Field(
        pattern=r"^[A-Za-z0-9_.-]{1,32}$",
        description="letters, digits, _ . - (1 to 32 characters)",
    )
    polarity: Literal["active-high", "active-low"] = Field(
        description="active-high: idle low, pulse high; active-low: idle high, pulse low"
    )
    offset: Duration = Field(
        default_factory=lambda: units.parse("0 s"),
        description="delay of this channel's pulses after channel 0's",
    )
    stimulator: StimulatorId | None = Field(
        None,
        description="this channel's stimulator profile, when it differs from the "
        "protocol's (e.g. the nerve stimulator of PAS)",
    )
    role: Literal["tms", "other", "marker"] = Field(
        "tms",
        description="tms: the channel triggers a TMS stimulator (its pulses reach the head "
        "and count in the safety envelope's head rules); other: another device, e.g. the "
        "peripheral nerve stimulator of PAS (checked against its own profile only); marker: "
        "wired to an EEG amplifier's trigger input, it carries each trial's condition code "
        "(`code`; protocols with conditions only; never a TMS pulse)",
    )
    code: MarkerCode | None = Field(
        None,
        description='role = "marker" only: how a trial\'s condition code N is sent, from the '
        "trial's onset",
    )

    @model_validator(mode="after")
    def _code_for_markers(self):
        if self.role == "marker" and self.code is None:
            _fail("code", None, 'required when role = "marker" (encoding "count" or "width")')
        if self.role != "marker" and self.code is not None:
            _fail("code", self.code.encoding, 'only allowed when role = "marker"')
        return self


class Start(Strict):
    mode: Literal["immediate", "trigger", "gated"] = "immediate"
    refractory: Duration | None = Field(
        None, description="gated only: ignore further gate edges for this long after one"
    )

    @model_validator(mode="after")
    def _refractory(self):
        if self.mode == "gated" and self.refractory is None:
            _fail("refractory", None, 'required when mode = "gated"')
        if self.mode != "gated" and self.refractory is not None:
            _fail(
                "refractory",
                units.format_seconds(self.refractory),
                'only allowed when mode = "gated"',
            )
        return self


class Intensity(Strict):
    percent: float = Field(gt=0, le=300, strict=True, description="percent of the motor threshold")
    reference: Literal["RMT", "AMT", "MT"] = Field(
        description="RMT = resting, AMT = active motor threshold; MT = motor threshold, the "
        "unit of the Wassermann/Rossi single-train table"
    )

    def as_dict(self):
        return {"percent": self.percent, "reference": self.reference}


_INTENSITY_TEXT = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*%\s*(RMT|AMT|MT|output)\s*$")
INTENSITY_HELP = (
    'a table {percent, reference} or {output_percent}, or text such as "120% RMT", '
    '"80% AMT", "110% MT" or "65% output"'
)


def _intensity_text(value):
    if not isinstance(value, str):
        return value
    m = _INTENSITY_TEXT.match(value)
    if not m:
        raise PydanticCustomError("intensity", INTENSITY_HELP)
    number = float(m.group(1))
    if m.group(2) == "output":
        return {"output_percent": number}
    return {"percent": number, "reference": m.group(2)}


class PulseIntensity(Strict):
    """One pulse's intensity (metadata for the logs and the safety envelope): in % of a motor
    threshold, or in % of the stimulator's maximum output."""

    percent: float | None = Field(
        None, gt=0, le=300, strict=True, description="percent of the motor threshold"
    )
    reference: Literal["RMT", "AMT", "MT"] | None = Field(
        None, description="RMT, AMT or MT: the threshold `percent` refers to"
    )
    output_percent: float | None = Field(
        None, gt=0, le=100, strict=True, description="percent of the stimulator's maximum output"
    )

    @model_validator(mode="after")
    def _one_kind(self):
        if self.percent is None and self.output_percent is None:
            _fail("percent", None, "give percent with reference, or output_percent")
        if self.percent is not None and self.output_percent is not None:
            _fail(
                "output_percent",
                self.output_percent,
                "not together with percent (give one of them)",
            )
        if self.percent is not None and self.reference is None:
            _fail("reference", None, "required with percent: RMT, AMT or MT")
        if self.percent is None and self.reference is not None:
            _fail("reference", self.reference, "only together with percent")
        return self

    def as_dict(self):
        if self.percent is not None:
            return {"percent": self.percent, "reference": self.reference}
        return {"output_percent": self.output_percent}

    def text(self):
        if self.percent is not None:
            return "%s%% %s" % (_num(self.percent), self.reference)
        return "%s%% output" % _num(self.output_percent)


def _num(x):
    return ("%f" % x).rstrip("0").rstrip(".")


PulseIntensityField = Annotated[
    PulseIntensity,
    BeforeValidator(_intensity_text),
    WithJsonSchema(
        {
            "anyOf": [
                {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "percent": {"type": "number", "exclusiveMinimum": 0, "maximum": 300},
                        "reference": {"enum": ["RMT", "AMT", "MT"]},
                        "output_percent": {
                            "type": "number",
                            "exclusiveMinimum": 0,
                            "maximum": 100,
                        },
                    },
                },
                {"type": "string", "pattern": _INTENSITY_TEXT.pattern},
            ],
            "description": INTENSITY_HELP,
        }
    ),
]


class ConditionPulse(Strict):
    """What one channel does in a trial of a condition: one pulse at `offset` after the trial
    onset."""

    offset: Duration = Field(
        default_factory=lambda: units.parse("0 s"),
        description="time of the pulse after the trial's onset",
    )
    width: Duration | None = Field(None, description="TTL width; default: pulse_width")
    intensity: PulseIntensityField | None = Field(
        None, description="the pulse's intensity (metadata: logs and the safety envelope)"
    )
    stimulator: StimulatorId | None = Field(
        None, description="stimulator profile; default: the channel's, else the protocol's"
    )


class Condition(Strict):
    name: str = Field(
        pattern=r"^[A-Za-z0-9_.-]{1,32}$",
        description="letters, digits, _ . - (1 to 32 characters); the logs' trial_type",
    )
    marker: int | None = Field(
        None,
        ge=1,
        le=255,
        strict=True,
        description='code 1..255 sent on a marker channel (role = "marker") at each trial',
    )
    pulses: dict[str, ConditionPulse] = Field(
        description="channel name -> its pulse in this condition; a channel not listed does "
        "not pulse"
    )


class Trials(Strict):
    """How trials draw conditions, and when they start (onset to onset)."""

    design: Literal["list", "blocks", "random"] = Field(
        description="list: `sequence` names every trial; blocks: each condition `repeats` "
        "times in a row, blocks in `order` (else a seeded shuffle); random: each condition "
        "`repeats` times, seeded shuffle with at most `max_run` equal trials in a row"
    )
    sequence: list[str] | None = Field(
        None, min_length=1, description='design = "list": the condition of every trial'
    )
    repeats: int | None = Field(
        None, ge=1, strict=True, description="blocks, random: trials of each condition"
    )
    order: list[str] | None = Field(
        None, min_length=1, description='design = "blocks": the order of the blocks'
    )
    seed: int | None = Field(
        None,
        ge=0,
        le=2**63 - 1,
        strict=True,
        description="random.Random seed of the order (random; blocks without order)",
    )
    max_run: int | None = Field(
        None,
        ge=1,
        strict=True,
        description='design = "random": the longest run of one condition (default: no limit)',
    )
    interval: IntervalOrJitter | None = Field(
        None, description="trial onset to the next trial's onset, fixed or jittered"
    )

    @model_validator(mode="after")
    def _fields_match_design(self):
        allowed = {
            "list": ("sequence",),
            "blocks": ("repeats", "order", "seed"),
            "random": ("repeats", "seed", "max_run"),
        }[self.design]
        for f in ("sequence", "repeats", "order", "seed", "max_run"):
            value = getattr(self, f)
            if value is not None and f not in allowed:
                _fail(f, value, 'not allowed when design = "%s"' % self.design)
        if self.design == "list" and self.sequence is None:
            _fail("sequence", None, 'required when design = "list"')
        if self.design != "list" and self.repeats is None:
            _fail("repeats", None, 'required when design = "%s"' % self.design)
        if self.design == "random" and self.seed is None:
            _fail("seed", None, 'required when design = "random"')
        if self.design == "blocks" and self.order is None and self.seed is None:
            _fail("seed", None, 'required when design = "blocks" has no order')
        if self.design == "blocks" and self.order is not None and self.seed is not None:
            _fail("seed", self.seed, "only allowed when order is not given")
        return self


class Protocol(Strict):
    """One protocol file. Either `timing` (nested terms) or `onsets` (explicit list)."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="tmspio protocol")

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$", description="short identifier")
    title: str = ""
    family: Literal[FAMILIES] = Field(
        description="pattern family; selects the safety rules that apply (docs/safety.md)"
    )
    citation: str = ""
    methods: str = Field("", description="one-sentence methods description")
    unverified: list[str] = Field(
        default_factory=list, description="values not confirmed against the primary source"
    )
    stimulator: StimulatorId | None = Field(
        None, description="stimulator profile id (tmspio stimulators)"
    )
    intensity: Intensity | None = None
    pulse_width: Duration = Field(description='TTL pulse width, e.g. "1 ms"')
    start: Start = Field(default_factory=Start)
    channels: list[Channel] = Field(min_length=1, max_length=MAX_CHANNELS)
    confirm_channel: str | None = Field(
        None,
        description="name of the channel whose stimulator's trigger-out is wired to the "
        "board's confirm input; the delivery log credits confirmation edges to that channel "
        "only (other channels log confirmed = n/a). Default: the first channel",
    )
    timing: Timing | None = None
    onsets: list[Duration] | None = Field(
        None,
        min_length=1,
        max_length=MAX_PULSES,
        description='explicit onsets after the first pulse; starts at "0 s", increasing',
    )
    conditions: list[Condition] | None = Field(
        None,
        min_length=1,
        max_length=MAX_CONDITIONS,
        description="trial types: per channel whether it pulses, its offset, width, "
        "intensity and stimulator, and a marker code (instead of timing/onsets; needs trials)",
    )
    trials: Trials | None = Field(
        None, description="the order of the conditions' trials and the interval between them"
    )

    @model_validator(mode="after")
    def _consistent(self):
        trial_fields = [f for f in ("conditions", "trials") if getattr(self, f) is not None]
        for f in trial_fields:
            for other in ("timing", "onsets"):
                if getattr(self, other) is not None:
                    _fail(
                        other,
                        None,
                        "not allowed together with %s: a protocol has either timing, "
                        "onsets, or conditions with trials" % f,
                    )
        if len(trial_fields) == 1:
            missing = ({"conditions", "trials"} - set(trial_fields)).pop()
            _fail(missing, None, "required together with %s" % trial_fields[0])
        if self.timing is None and self.onsets is None and not trial_fields:
            _fail(
                "timing",
                None,
                "required field missing (or give an onsets list, or conditions and trials)",
            )
        if self.timing is not None and self.onsets is not None:
            _fail(
                "onsets",
                [units.format_seconds(t) for t in self.onsets[:3]],
                "not allowed together with [timing]; give one of them",
            )
        if self.pulse_width <= 0:
            _fail("pulse_width", units.format_seconds(self.pulse_width), "above 0")
        names = [c.name for c in self.channels]
        for i, ch in enumerate(self.channels):
            if names.index(ch.name) != i:
                _fail("channels.%d.name" % i, ch.name, "a name not used by another channel")
        if self.confirm_channel is not None and self.confirm_channel not in names:
            _fail("confirm_channel", self.confirm_channel, "a channel name: %s" % ", ".join(names))
        if self.conditions is not None:
            self._check_conditions()
            return self
        for i, ch in enumerate(self.channels):
            if ch.role == "marker":
                _fail(
                    "channels.%d.role" % i,
                    "marker",
                    'tms or other (a "marker" channel sends condition codes: protocols with '
                    "conditions and trials only)",
                )
        if self.channels[0].offset != 0:
            _fail(
                "channels.0.offset",
                units.format_seconds(self.channels[0].offset),
                '"0 s" (offsets are measured from channel 0)',
            )
        if self.onsets is not None:
            self._check_onsets()
        else:
            self._check_timing()
        return self

    # ---- conditions and trials ---------------------------------------------------------

    def _check_conditions(self):
        names = [c.name for c in self.channels]
        if self.start.mode == "gated":
            _fail(
                "start.mode",
                "gated",
                "immediate or trigger with conditions (a gate edge fires one segment per "
                "channel, and a channel that does not pulse in every trial cannot keep that)",
            )
        for i, ch in enumerate(self.channels):
            if ch.offset != 0:
                _fail(
                    "channels.%d.offset" % i,
                    units.format_seconds(ch.offset),
                    '"0 s" with conditions (give each pulse\'s offset in conditions.*.pulses)',
                )
        cond_names = [c.name for c in self.conditions]
        codes = {}
        for k, cond in enumerate(self.conditions):
            where = "conditions.%d" % k
            if cond_names.index(cond.name) != k:
                _fail(where + ".name", cond.name, "a name not used by another condition")
            if cond.marker is not None:
                if cond.marker in codes:
                    _fail(
                        where + ".marker",
                        cond.marker,
                        "a code not used by another condition (%s has %d)"
                        % (codes[cond.marker], cond.marker),
                    )
                codes[cond.marker] = cond.name
            for ch_name, pulse in cond.pulses.items():
                at = "%s.pulses.%s" % (where, ch_name)
                if ch_name not in names:
                    _fail(at, None, "a channel name: %s" % ", ".join(names))
                if self.channels[names.index(ch_name)].role == "marker":
                    _fail(
                        at,
                        None,
                        'a channel with role tms or other (a "marker" channel sends the '
                        "condition's marker code by itself)",
                    )
                if pulse.width is not None and pulse.width <= 0:
                    _fail(at + ".width", units.format_seconds(pulse.width), "above 0")
        markers = [i for i, ch in enumerate(self.channels) if ch.role == "marker"]
        self._check_trials(cond_names)
        used = set(self.trial_conditions())
        for i, ch in enumerate(self.channels):
            pulses = any(
                (c.marker is not None) if i in markers else (ch.name in c.pulses)
                for c in self.conditions
                if c.name in used
            )
            if not pulses:
                _fail(
                    "channels.%d" % i,
                    ch.name,
                    "a channel that pulses in at least one trial (%s)"
                    % (
                        "no trial's condition has a marker code"
                        if i in markers
                        else "no trial's condition lists it in pulses"
                    ),
                )
        span, where = self.trial_span()
        t = self.trials
        count = len(self.trial_conditions())
        if count > 1 and t.interval is None:
            _fail("trials.interval", None, "required when there is more than one trial")
        if count > 1 and lowest(t.interval) <= span:
            _fail(
                "trials.interval",
                _show(t.interval),
                "longer than the longest trial (%s, to the end of %s)"
                % (units.format_seconds(span), where),
            )

    def _check_trials(self, cond_names):
        t = self.trials
        listed = ", ".join(cond_names)
        for field in ("sequence", "order"):
            for k, name in enumerate(getattr(t, field) or ()):
                if name not in cond_names:
                    _fail("trials.%s.%d" % (field, k), name, "a condition name: %s" % listed)
        if t.order is not None and sorted(t.order) != sorted(cond_names):
            _fail("trials.order", t.order, "each condition exactly once: %s" % listed)
        if t.design == "random" and t.max_run is not None and len(cond_names) == 1:
            if t.repeats > t.max_run:
                _fail(
                    "trials.max_run",
                    t.max_run,
                    "at least repeats (%d) with a single condition" % t.repeats,
                )
        if len(self.trial_conditions()) > MAX_PULSES:
            _fail("trials", "%d trials" % len(self.trial_conditions()), "at most %d" % MAX_PULSES)

    def trial_conditions(self):
        """The condition names the trials use, with repeats (not in order)."""
        t = self.trials
        if t.design == "list":
            return list(t.sequence)
        return [c.name for c in self.conditions for _ in range(t.repeats)]

    def pulse_width_of(self, pulse):
        return self.pulse_width if pulse.width is None else pulse.width

    def trial_span(self):
        """(longest trial onset to the end of its last pulse, "conditions.K.pulses.NAME" or
        "the marker code of conditions.K" that ends it)."""
        best, where = Fraction(0), "no pulse"
        markers = [ch for ch in self.channels if ch.role == "marker"]
        for k, cond in enumerate(self.conditions):
            for name, pulse in cond.pulses.items():
                end = pulse.offset + self.pulse_width_of(pulse)
                if end > best:
                    best, where = end, "conditions.%d.pulses.%s" % (k, name)
            if cond.marker is not None:
                for ch in markers:
                    end = ch.code.span(cond.marker)
                    if end > best:
                        best, where = end, "the marker code of conditions.%d" % k
        return best, where

    def condition(self, name):
        return next(c for c in self.conditions if c.name == name)

    def _check_onsets(self):
        if self.start.mode == "gated":
            _fail(
                "start.mode",
                "gated",
                "immediate or trigger with an onsets list (gated "
                "protocols start each train of [timing] on a gate edge)",
            )
        if self.onsets[0] != 0:
            _fail(
                "onsets.0",
                units.format_seconds(self.onsets[0]),
                '"0 s" (onsets are measured from the first pulse)',
            )
        for i in range(1, len(self.onsets)):
            if self.onsets[i] - self.onsets[i - 1] <= self.pulse_width:
                _fail(
                    "onsets.%d" % i,
                    units.format_seconds(self.onsets[i]),
                    "more than pulse_width (%s) after the previous onset (%s)"
                    % (
                        units.format_seconds(self.pulse_width),
                        units.format_seconds(self.onsets[i - 1]),
                    ),
                )

    def _check_timing(self):
        t = self.timing
        w = self.pulse_width
        if t.pulses_in_burst > 1 and lowest(t.inter_pulse_interval) <= w:
            _fail(
                "timing.inter_pulse_interval",
                _show(t.inter_pulse_interval),
                "longer than pulse_width (%s)" % units.format_seconds(w),
            )
        if t.bursts_in_train > 1 and lowest(t.inter_burst_interval) <= t.burst_span() + w:
            _fail(
                "timing.inter_burst_interval",
                _show(t.inter_burst_interval),
                "longer than one burst plus pulse_width (%s)"
                % units.format_seconds(t.burst_span() + w),
            )
        gated = self.start.mode == "gated"
        if gated:
            if t.inter_train_interval is not None:
                _fail(
                    "timing.inter_train_interval",
                    _show(t.inter_train_interval),
                    'not allowed when start.mode = "gated" (each train starts on a gate edge)',
                )
            if self.start.refractory <= t.train_span() + w:
                _fail(
                    "start.refractory",
                    units.format_seconds(self.start.refractory),
                    "longer than one train plus pulse_width (%s)"
                    % units.format_seconds(t.train_span() + w),
                )
            return
        if t.trains_in_protocol > 1 and t.inter_train_interval is None:
            _fail("timing.inter_train_interval", None, "required when trains_in_protocol > 1")
        # last-pulse: the interval runs from the train's last onset, so it only has to clear
        # that pulse's width
        span = t.train_span() if t.inter_train_interval_from == "onset" else 0
        if t.trains_in_protocol > 1 and lowest(t.inter_train_interval) <= span + w:
            if t.inter_train_interval_from == "onset":
                allowed = "longer than one train plus pulse_width (%s)"
            else:
                allowed = "longer than pulse_width (%s): it counts from the train's last pulse"
            _fail(
                "timing.inter_train_interval",
                _show(t.inter_train_interval),
                allowed % units.format_seconds(span + w),
            )

    def train_interval(self):
        """Onset-to-onset of trains; gated: the densest case, one train per refractory. With
        inter_train_interval_from = "last-pulse" the train's longest span is added (a jittered
        interval becomes the same jitter shifted by it)."""
        if self.start.mode == "gated":
            return self.start.refractory
        t = self.timing
        iti = t.inter_train_interval
        if iti is None or t.inter_train_interval_from == "onset":
            return iti
        span = t.train_span()
        if isinstance(iti, Jitter):
            return Jitter(uniform=(iti.lowest + span, iti.highest + span), seed=iti.seed)
        return iti + span

    def tms_channels(self):
        """[(index, channel)] of the channels that trigger a TMS stimulator."""
        return [(i, ch) for i, ch in enumerate(self.channels) if ch.role == "tms"]

    def confirm_index(self):
        """Index of the channel wired to the confirm input (the first unless named)."""
        if self.confirm_channel is None:
            return 0
        return [c.name for c in self.channels].index(self.confirm_channel)

    def pulses_per_channel(self):
        """Pulses of each channel (protocols without conditions: every channel the same)."""
        if self.conditions is not None:
            raise ValueError("pulses_per_channel: a protocol with conditions (compile it)")
        return len(self.onsets) if self.onsets is not None else self.timing.pulses()

    def is_jittered(self):
        if self.trials is not None:
            return isinstance(self.trials.interval, Jitter)
        t = self.timing
        return t is not None and any(
            isinstance(getattr(t, f), Jitter)
            for f in ("inter_pulse_interval", "inter_burst_interval", "inter_train_interval")
        )
