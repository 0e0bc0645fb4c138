"""Protocol model (pydantic 2): what a protocol file may say, with every rule that needs no clock.

Timing follows the nibs-bids nested terms, all intervals onset-to-onset (tms-domain.md §0):
pulse p of burst b of train k starts at k*inter_train_interval + b*inter_burst_interval +
p*inter_pulse_interval after the first pulse. Alternatively `onsets` lists every onset explicitly.
An interval may be jittered: {uniform = ["1.1 s", "1.4 s"], seed = 7} draws each instance anew.
"""

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
    role: Literal["tms", "other"] = Field(
        "tms",
        description="tms: the channel triggers a TMS stimulator (its pulses reach the head "
        "and count in the safety envelope's head rules); other: another device, e.g. the "
        "peripheral nerve stimulator of PAS (checked against its own profile only)",
    )


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

    @model_validator(mode="after")
    def _consistent(self):
        if self.timing is None and self.onsets is None:
            _fail("timing", None, "required field missing (or give an onsets list instead)")
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
        return len(self.onsets) if self.onsets is not None else self.timing.pulses()

    def is_jittered(self):
        t = self.timing
        return t is not None and any(
            isinstance(getattr(t, f), Jitter)
            for f in ("inter_pulse_interval", "inter_burst_interval", "inter_train_interval")
        )
