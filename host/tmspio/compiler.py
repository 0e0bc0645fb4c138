"""Compile a protocol into the firmware's segment program (firmware/progformat.py) for a sysclk.

Every onset is the nearest sysclk cycle to its exact time measured from the first pulse, so the
rounding error of one pulse never carries into the next (no drift, however long the protocol).
Runs of equal onset-to-onset periods become one segment (count, width, period, gap, flags);
a segment never crosses a train start, and channel 0's train starts raise the marker output.
Each channel's onsets are its own exact times (first pulse + offset), so its `delay` is its offset.
The program ends one pulse width (at least the firmware's minimum gap) after the last pulse of the
latest channel has ended. Gated programs fire one segment per accepted gate edge, so each train
must compile to exactly one segment, and the refractory interval must cover it
(firmware/timing.py).
The firmware's minimum field values (firmware/timing.py) are checked here too, so `show` reports
a program the board would refuse.
"""

from fractions import Fraction
from typing import NamedTuple

from . import firmware
from .errors import InputError
from .protocols import schedule, units
from .protocols.schedule import Trial  # noqa: F401  (compiler.Trial: the interface)

DEFAULT_SYSCLK = 125_000_000
_pf = firmware.progformat()
_T = firmware.load("timing")  # the generator's cycle arithmetic: minimum field values


def nearest_cycle(seconds, sysclk_hz):
    """Nearest integer cycle to an exact time (ties round up)."""
    return int((Fraction(seconds) * sysclk_hz + Fraction(1, 2)) // 1)


def segments_from_cycles(cycles, width, end_gap, breaks=(), marks=(), pairs=False):
    """Onset cycles -> [(count, width, period, gap, flags)]: maximal runs of one period and
    one width.

    A run of only two pulses (one period, as every pair of a jittered train is) becomes two
    one-pulse segments, which progformat packs into an interval block (B bytes a pulse instead
    of 24 per pair), unless its period is too short for a gap (firmware MIN_GAP_SLACK) or
    `pairs` asks for them (gated programs: one segment per train).

    `width`: one width in cycles for every pulse, or a list aligned with `cycles`; a run breaks
    where the width changes. `breaks`: indices where a segment must start; `marks`: indices
    whose segment gets the marker flag (each must also be a break). The last segment's gap is
    `end_gap`. Pure function; periods above 32 bits are never grouped (the format's period is
    u32).
    """
    n = len(cycles)
    widths = [width] * n if isinstance(width, int) else list(width)
    breaks = set(breaks) | set(marks)
    breaks.update(k for k in range(1, n) if widths[k] != widths[k - 1])
    marks = set(marks)
    segments = []
    i = 0
    while i < n:
        j = i + 1  # exclusive end of the run starting at i
        if j < n and j not in breaks and cycles[j] - cycles[i] <= _pf.U32:
            period = cycles[j] - cycles[i]
            while j + 1 < n and j + 1 not in breaks and cycles[j + 1] - cycles[j] == period:
                j += 1
            j += 1
        if j - i == 2 and not pairs and cycles[i + 1] - cycles[i] - widths[i] >= _T.MIN_GAP_SLACK:
            j = i + 1  # a lone pair: two one-pulse segments (see the docstring)
        count = j - i
        period = cycles[i + 1] - cycles[i] if count > 1 else 0
        gap = cycles[j] - cycles[j - 1] if j < n else end_gap
        segments.append((count, widths[i], period, gap, _pf.FLAG_MARKER if i in marks else 0))
        i = j
    return segments


class PulseInfo(NamedTuple):
    """What one compiled pulse belongs to (aligned with Compiled.channel_cycles[ci])."""

    trial: object  # trial index, or None (a protocol without trials)
    condition: object  # condition name, or None
    width_s: float  # planned width
    intensity: object  # {"percent", "reference"} or {"output_percent"}, or None
    marker: object  # marker channels (role = "marker"): the trial's code; else None


def _intensity(value):
    return None if value is None else value.as_dict()


class Compiled:
    """A protocol compiled for one sysclk: the program plus everything needed to report it.

    Protocols with conditions and trials also have `conditions` (the model's, file order),
    `trials` ([Trial(index, condition, onset)], time order, onset exact from the first trial's
    onset) and, for every protocol, `pulse_info[ci]` (PulseInfo per pulse, aligned with
    channel_cycles[ci]) and `channel_widths[ci]` (width in cycles per pulse)."""

    def __init__(
        self,
        protocol,
        sysclk_hz,
        sched,
        channel_times,
        channel_cycles,
        width,
        program,
        trials=(),
        pulse_info=None,
        channel_widths=None,
    ):
        self.protocol = protocol
        self.sysclk_hz = sysclk_hz
        self.schedule = sched
        self.channel_times = channel_times  # per channel: exact Fraction onsets (s)
        self.channel_cycles = channel_cycles  # per channel: onset cycles after the start event
        self.width_cycles = width  # the protocol's pulse_width in cycles
        self.program = program
        # index of the channel whose stimulator answers on confirm_in (logs credit only it)
        self.confirm_channel = protocol.confirm_index()
        self.conditions = list(protocol.conditions or ())
        self.trials = list(trials)
        if channel_widths is None:
            channel_widths = [[width] * len(cs) for cs in channel_cycles]
        self.channel_widths = channel_widths
        if pulse_info is None:
            one = PulseInfo(
                None, None, float(protocol.pulse_width), _intensity(protocol.intensity), None
            )
            pulse_info = [[one] * len(cs) for cs in channel_cycles]
        self.pulse_info = pulse_info

    def max_rounding_error(self):
        """Largest |compiled - exact| onset time over all pulses, Fraction seconds."""
        worst = Fraction(0)
        for times, cycles in zip(self.channel_times, self.channel_cycles):
            for t, c in zip(times, cycles):
                worst = max(worst, abs(Fraction(c, self.sysclk_hz) - t))
        return worst

    def pulses(self):
        return sum(len(c) for c in self.channel_cycles)

    def first_onset(self):
        return min(times[0] for times in self.channel_times)

    def last_onset(self):
        return max(times[-1] for times in self.channel_times)

    def duration(self):
        """Time zero to the end of the last pulse, exact seconds (time zero: the first pulse,
        or with trials the first trial's onset)."""
        if not self.trials:
            return self.last_onset() + self.protocol.pulse_width
        return max(
            times[-1] + Fraction(ws[-1], self.sysclk_hz)
            for times, ws in zip(self.channel_times, self.channel_widths)
        )

    def encode(self):
        return _pf.encode(self.program)

    def condition_summary(self, name):
        """One condition as JSON: {"name", "marker", "channels": {channel: {"pulses",
        "offset_s", "width_s", "intensity", "stimulator"}}} (every channel; a marker channel
        pulses when the condition has a code, its offset is 0 and its width the code's first
        pulse)."""
        p = self.protocol
        cond = p.condition(name)
        channels = {}
        for ch in p.channels:
            if ch.role == "marker":
                pulses = cond.marker is not None
                channels[ch.name] = {
                    "pulses": pulses,
                    "offset_s": 0.0 if pulses else None,
                    "width_s": float(ch.code.pulses(cond.marker)[0][1]) if pulses else None,
                    "intensity": None,
                    "stimulator": ch.stimulator,
                }
                continue
            pulse = cond.pulses.get(ch.name)
            if pulse is None:
                channels[ch.name] = {
                    "pulses": False,
                    "offset_s": None,
                    "width_s": None,
                    "intensity": None,
                    "stimulator": None,
                }
                continue
            intensity = pulse.intensity
            if intensity is None and ch.role == "tms":
                intensity = p.intensity
            channels[ch.name] = {
                "pulses": True,
                "offset_s": float(pulse.offset),
                "width_s": float(p.pulse_width_of(pulse)),
                "intensity": _intensity(intensity),
                "stimulator": pulse.stimulator or ch.stimulator or p.stimulator,
            }
        return {"name": cond.name, "marker": cond.marker, "channels": channels}

    def summary(self):
        p = self.protocol
        return {
            "name": p.name,
            "title": p.title,
            "family": p.family,
            "pulses": self.pulses(),
            "first_pulse_s": float(self.first_onset()),
            "last_pulse_s": float(self.last_onset()),
            "duration_s": float(self.duration()),
            "pulse_width_s": float(p.pulse_width),
            "sysclk_hz": self.sysclk_hz,
            "segments": self.program.segment_count(),
            "start_mode": p.start.mode,
            "refractory_s": None if p.start.refractory is None else float(p.start.refractory),
            "max_rounding_error_s": float(self.max_rounding_error()),
            "unverified": list(p.unverified),
            "citation": p.citation,
            "methods": p.methods,
            "stimulator": p.stimulator,
            "confirm_channel": p.channels[self.confirm_channel].name,
            "intensity": None
            if p.intensity is None
            else {"percent": p.intensity.percent, "reference": p.intensity.reference},
            "draws": [d.as_dict() for d in self.schedule.draws],
            "conditions": [self.condition_summary(c.name) for c in self.conditions],
            "trials": [
                {"index": t.index, "condition": t.condition, "onset_s": float(t.onset)}
                for t in self.trials
            ],
            "channels": [
                {
                    "name": ch.name,
                    "index": i,
                    "polarity": ch.polarity,
                    "role": ch.role,
                    "stimulator": ch.stimulator or p.stimulator,
                    "offset_s": float(ch.offset),
                    "pulses": len(self.channel_times[i]),
                    "onsets_s": [float(t) for t in self.channel_times[i]],
                    "segments": [list(s) for s in self.program.channels[i].segments],
                }
                for i, ch in enumerate(p.channels)
            ],
        }


def _check_sysclk(sysclk_hz):
    if (
        isinstance(sysclk_hz, bool)
        or not isinstance(sysclk_hz, int)
        or not (0 < sysclk_hz <= _pf.U32)
    ):
        raise InputError("sysclk_hz = %r: an integer 1..%d Hz" % (sysclk_hz, _pf.U32))


def _width_cycles(protocol, width, sysclk_hz, field="pulse_width"):
    cycles = nearest_cycle(width, sysclk_hz)
    if cycles < 1:
        raise InputError(
            '%s: %s = "%s": at least one cycle (%s) at %d Hz'
            % (
                protocol.name,
                field,
                units.format_seconds(width),
                units.seconds_text(Fraction(1, sysclk_hz), 12),
                sysclk_hz,
            )
        )
    return cycles


def _check_spacing(protocol, times, cycles, widths, sysclk_hz):
    for ci, cs in enumerate(cycles):
        for k in range(1, len(cs)):
            if cs[k] - cs[k - 1] <= widths[ci][k - 1]:
                raise InputError(
                    "%s: channels.%d onset %d = %s: more than one pulse width (%d cycles) after "
                    "the previous onset at %d Hz"
                    % (
                        protocol.name,
                        ci,
                        k,
                        units.seconds_text(times[ci][k], 9),
                        widths[ci][k - 1],
                        sysclk_hz,
                    )
                )


def compile_protocol(protocol, sysclk_hz=DEFAULT_SYSCLK):
    _check_sysclk(sysclk_hz)
    width = _width_cycles(protocol, protocol.pulse_width, sysclk_hz)
    if protocol.conditions is not None:
        return _compile_trials(protocol, sysclk_hz, width)
    sched = schedule.expand(protocol)
    times = [[t + ch.offset for t in sched.onsets] for ch in protocol.channels]
    cycles = [[nearest_cycle(t, sysclk_hz) for t in ts] for ts in times]
    widths = [[width] * len(cs) for cs in cycles]
    _check_spacing(protocol, times, cycles, widths, sysclk_hz)
    end = max(cs[-1] for cs in cycles) + width + max(width, _T.MIN_GAP_SLACK)
    marks = sched.train_starts
    channels = []
    for ci, (ch, cs) in enumerate(zip(protocol.channels, cycles)):
        segs = segments_from_cycles(
            cs,
            width,
            end - cs[-1],
            breaks=marks,
            marks=marks if ci == 0 else (),
            pairs=protocol.start.mode == "gated",
        )
        idle = 0 if ch.polarity == "active-high" else 1
        channels.append(_pf.Channel(ci, idle, cs[0], segs))
    program = _program(protocol, sysclk_hz, channels, len(marks))
    return Compiled(protocol, sysclk_hz, sched, times, cycles, width, program)


def _program(protocol, sysclk_hz, channels, trains):
    refractory = 0
    if protocol.start.refractory is not None:
        refractory = nearest_cycle(protocol.start.refractory, sysclk_hz)
    program = _pf.Program(
        sysclk_hz, channels, _pf.START_MODES.index(protocol.start.mode), refractory
    )
    try:
        _pf.validate(program)
    except _pf.FormatError as e:
        raise InputError(
            "%s: does not fit the segment program at %d Hz: %s" % (protocol.name, sysclk_hz, e)
        ) from None
    _check_generator(protocol, program, trains)
    return program


def _compile_trials(protocol, sysclk_hz, width):
    """Conditions and trials: each channel plays only the trials where it pulses, every onset
    the nearest cycle to its exact time from the first trial's onset, every pulse its own
    width. Channel 0's first pulse of each trial raises the marker output."""
    sched, trials, planned = schedule.expand_trials(protocol)
    times = [[p.time for p in ps] for ps in planned]
    cycles = [[nearest_cycle(t, sysclk_hz) for t in ts] for ts in times]
    widths = []
    for ci, ps in enumerate(planned):
        field = "channels.%d width" % ci
        widths.append([_width_cycles(protocol, p.width, sysclk_hz, field) for p in ps])
    _check_spacing(protocol, times, cycles, widths, sysclk_hz)
    end = max(cs[-1] + ws[-1] + max(ws[-1], _T.MIN_GAP_SLACK) for cs, ws in zip(cycles, widths))
    channels, info = [], []
    for ci, (ch, cs, ps) in enumerate(zip(protocol.channels, cycles, planned)):
        starts = [k for k in range(len(ps)) if k == 0 or ps[k].trial != ps[k - 1].trial]
        segs = segments_from_cycles(
            cs, widths[ci], end - cs[-1], breaks=starts, marks=starts if ci == 0 else ()
        )
        idle = 0 if ch.polarity == "active-high" else 1
        channels.append(_pf.Channel(ci, idle, cs[0], segs))
        fallback = protocol.intensity if ch.role == "tms" else None
        info.append(
            [
                PulseInfo(
                    p.trial,
                    p.condition,
                    float(p.width),
                    _intensity(p.intensity if p.intensity is not None else fallback),
                    p.marker,
                )
                for p in ps
            ]
        )
    program = _program(protocol, sysclk_hz, channels, len(trials))
    return Compiled(
        protocol, sysclk_hz, sched, times, cycles, width, program, trials, info, widths
    )


def _check_generator(protocol, program, trains):
    """The firmware's minimum field values and the gated one-segment-per-train rule."""
    where = "%s at %d Hz: channels.%%d.segments.%%d" % (protocol.name, program.sysclk_hz)
    for ci, ch in enumerate(program.channels):
        if program.start_mode == _pf.START_GATED and len(ch.segments) != trains:
            raise InputError(
                '%s: start.mode = "gated": each gate edge fires one segment, so each train must '
                "be equally spaced pulses; %d trains compile to %d segments at %d Hz"
                % (protocol.name, trains, len(ch.segments), program.sysclk_hz)
            )
        for si, (count, width, period, gap, _flags) in enumerate(ch.segments):
            name = where % (ci, si)
            if width < _T.MIN_WIDTH:
                raise InputError(
                    "%s.width = %d cycles: at least %d (firmware minimum)"
                    % (name, width, _T.MIN_WIDTH)
                )
            if count > 1 and period - width < _T.MIN_LOW:
                raise InputError(
                    "%s.period = %d cycles: at least width + %d (firmware minimum)"
                    % (name, period, _T.MIN_LOW)
                )
            if program.start_mode == _pf.START_GATED:
                need = ch.delay + (count - 1) * period + width + _T.GATED_SLACK
                if program.refractory < need:
                    raise InputError(
                        "%s: start.refractory = %d cycles: at least %d (delay + train + width "
                        "+ %d, firmware minimum)"
                        % (protocol.name, program.refractory, need, _T.GATED_SLACK)
                    )
            if gap - width < _T.MIN_GAP_SLACK:
                raise InputError(
                    "%s.gap = %d cycles: at least width + %d (firmware minimum)"
                    % (name, gap, _T.MIN_GAP_SLACK)
                )
