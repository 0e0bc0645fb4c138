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

from . import firmware
from .errors import InputError
from .protocols import schedule, units

DEFAULT_SYSCLK = 125_000_000
_pf = firmware.progformat()
_T = firmware.load("timing")  # the generator's cycle arithmetic: minimum field values


def nearest_cycle(seconds, sysclk_hz):
    """Nearest integer cycle to an exact time (ties round up)."""
    return int((Fraction(seconds) * sysclk_hz + Fraction(1, 2)) // 1)


def segments_from_cycles(cycles, width, end_gap, breaks=(), marks=()):
    """Onset cycles -> [(count, width, period, gap, flags)]: maximal runs of one period.

    `breaks`: indices where a segment must start; `marks`: indices whose segment gets the
    marker flag (each must also be a break). The last segment's gap is `end_gap`.
    Pure function; periods above 32 bits are never grouped (the format's period is u32).
    """
    breaks = set(breaks) | set(marks)
    marks = set(marks)
    segments = []
    i, n = 0, len(cycles)
    while i < n:
        j = i + 1  # exclusive end of the run starting at i
        if j < n and j not in breaks and cycles[j] - cycles[i] <= _pf.U32:
            period = cycles[j] - cycles[i]
            while j + 1 < n and j + 1 not in breaks and cycles[j + 1] - cycles[j] == period:
                j += 1
            j += 1
        count = j - i
        period = cycles[i + 1] - cycles[i] if count > 1 else 0
        gap = cycles[j] - cycles[j - 1] if j < n else end_gap
        segments.append((count, width, period, gap, _pf.FLAG_MARKER if i in marks else 0))
        i = j
    return segments


class Compiled:
    """A protocol compiled for one sysclk: the program plus everything needed to report it."""

    def __init__(self, protocol, sysclk_hz, sched, channel_times, channel_cycles, width, program):
        self.protocol = protocol
        self.sysclk_hz = sysclk_hz
        self.schedule = sched
        self.channel_times = channel_times  # per channel: exact Fraction onsets (s)
        self.channel_cycles = channel_cycles  # per channel: onset cycles after the start event
        self.width_cycles = width
        self.program = program
        # index of the channel whose stimulator answers on confirm_in (logs credit only it)
        self.confirm_channel = protocol.confirm_index()

    def max_rounding_error(self):
        """Largest |compiled - exact| onset time over all pulses, Fraction seconds."""
        worst = Fraction(0)
        for times, cycles in zip(self.channel_times, self.channel_cycles):
            for t, c in zip(times, cycles):
                worst = max(worst, abs(Fraction(c, self.sysclk_hz) - t))
        return worst

    def pulses(self):
        return sum(len(c) for c in self.channel_cycles)

    def last_onset(self):
        return max(times[-1] for times in self.channel_times)

    def duration(self):
        """First pulse onset to the end of the last pulse, exact seconds."""
        return self.last_onset() + self.protocol.pulse_width

    def encode(self):
        return _pf.encode(self.program)

    def summary(self):
        p = self.protocol
        return {
            "name": p.name,
            "title": p.title,
            "family": p.family,
            "pulses": self.pulses(),
            "first_pulse_s": 0.0,
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
            "channels": [
                {
                    "name": ch.name,
                    "index": i,
                    "polarity": ch.polarity,
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


def compile_protocol(protocol, sysclk_hz=DEFAULT_SYSCLK):
    _check_sysclk(sysclk_hz)
    width = nearest_cycle(protocol.pulse_width, sysclk_hz)
    if width < 1:
        raise InputError(
            '%s: pulse_width = "%s": at least one cycle (%s) at %d Hz'
            % (
                protocol.name,
                units.format_seconds(protocol.pulse_width),
                units.seconds_text(Fraction(1, sysclk_hz), 12),
                sysclk_hz,
            )
        )
    sched = schedule.expand(protocol)
    times = [[t + ch.offset for t in sched.onsets] for ch in protocol.channels]
    cycles = [[nearest_cycle(t, sysclk_hz) for t in ts] for ts in times]
    for ci, cs in enumerate(cycles):
        for k in range(1, len(cs)):
            if cs[k] - cs[k - 1] <= width:
                raise InputError(
                    "%s: channels.%d onset %d = %s: more than one pulse width (%d cycles) after "
                    "the previous onset at %d Hz"
                    % (protocol.name, ci, k, units.seconds_text(times[ci][k], 9), width, sysclk_hz)
                )
    end = max(cs[-1] for cs in cycles) + width + max(width, _T.MIN_GAP_SLACK)
    marks = sched.train_starts
    channels = []
    for ci, (ch, cs) in enumerate(zip(protocol.channels, cycles)):
        segs = segments_from_cycles(
            cs, width, end - cs[-1], breaks=marks, marks=marks if ci == 0 else ()
        )
        idle = 0 if ch.polarity == "active-high" else 1
        channels.append(_pf.Channel(ci, idle, cs[0], segs))
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
    _check_generator(protocol, program, len(marks))
    return Compiled(protocol, sysclk_hz, sched, times, cycles, width, program)


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
