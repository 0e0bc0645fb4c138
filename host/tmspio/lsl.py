"""Lab Streaming Layer marker outlet: one sample per pulse, stamped in LSL's clock.

Optional: `pip install tmspio[lsl]` (pylsl, whose wheels carry liblsl). `Session(lsl=True)`
opens a string stream of type "Markers" with three channels — channel (output index),
condition (the PulseRecord's: the pulse's condition, or the channel name in a protocol without
conditions and in fire sessions), trial (the pulse's trial index, or what the script passed to
fire(trial=...), else empty) — and
pushes one sample per captured pulse. The timestamp is the pulse's captured onset mapped to
the host clock by the clock sync (tmspio.clock) and then to `pylsl.local_clock()`: LabRecorder
stores it next to an EEG amplifier's stream on the same LSL clock (docs/api.md, "LSL").
"""

import time

from .errors import InputError

STREAM_TYPE = "Markers"
CHANNELS = ("channel", "condition", "trial")
INSTALL_HINT = "pip install 'tmspio[lsl]'"


def require():
    """The pylsl module; InputError naming the extra when it is missing."""
    try:
        import pylsl
    except ImportError as e:
        raise InputError(
            f"lsl=True: pylsl is not installed ({e}); {INSTALL_HINT} (its wheels include liblsl)"
        ) from None
    return pylsl


def clock_offset(pylsl, rounds=16):
    """pylsl.local_clock() - time.perf_counter() in seconds, from the tightest of `rounds`
    bracketed readings (both are monotonic clocks of this host; the difference is constant)."""
    best = None
    for _ in range(rounds):
        a = time.perf_counter()
        lsl = pylsl.local_clock()
        b = time.perf_counter()
        if best is None or b - a < best[0]:
            best = (b - a, lsl - (a + b) / 2)
    return best[1]


class MarkerOutlet:
    """One LSL outlet; push(record) sends a PulseRecord whose captured_host_s is known."""

    def __init__(self, name, source_id):
        pylsl = require()
        self.pylsl = pylsl
        info = pylsl.StreamInfo(
            name, STREAM_TYPE, len(CHANNELS), pylsl.IRREGULAR_RATE, "string", source_id
        )
        chans = info.desc().append_child("channels")
        for label in CHANNELS:
            chans.append_child("channel").append_child_value("label", label)
        info.desc().append_child_value("manufacturer", "tmspio")
        self.outlet = pylsl.StreamOutlet(info)
        self.offset = clock_offset(pylsl)
        self.pushed = 0

    def sample(self, record):
        """(sample, LSL timestamp) of a PulseRecord."""
        trial = "" if record.trial is None else str(record.trial)
        return [str(record.channel), record.condition, trial], record.captured_host_s + self.offset

    def push(self, record):
        sample, stamp = self.sample(record)
        self.outlet.push_sample(sample, stamp)
        self.pushed += 1

    def close(self):
        self.outlet = None
