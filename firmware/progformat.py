# Segment program format: the contract between the host compiler and the firmware engine.
# Pure module in the common subset of CPython and MicroPython; the host imports this same file.
# See docs/program-format.md for the meaning of every field and the cycle arithmetic.
#
# Binary layout (little-endian):
#   header   "TMSP" u8 version u8 start_mode u8 n_channels u8 reserved
#            u32 sysclk_hz  u32 refractory_cycles
#   channel  u8 index u8 idle_level u16 reserved  u64 delay_cycles  u32 n_segments
#   segment  u32 count u32 width u32 period u32 flags u64 gap      (24 bytes)
#   trailer  u32 crc32 of everything before it (binascii.crc32)
import struct

try:
    from binascii import crc32
except ImportError:  # pragma: no cover - every supported interpreter has it
    from zlib import crc32

MAGIC = b"TMSP"
VERSION = 1

START_IMMEDIATE = 0
START_TRIGGER = 1
START_GATED = 2
START_MODES = ("immediate", "trigger", "gated")

FLAG_MARKER = 1  # raise the marker output with this segment's first pulse
SEGMENT_FLAGS = FLAG_MARKER

MAX_CHANNELS = 4
U32 = 0xFFFFFFFF
MAX_GAP = (1 << 48) - 1  # ~26 days at 125 MHz; gaps beyond 32 bits are split by the firmware

_HEADER = "<4sBBBBII"
_CHANNEL = "<BBHQI"
_SEGMENT = "<IIIIQ"
HEADER_SIZE = struct.calcsize(_HEADER)
CHANNEL_SIZE = struct.calcsize(_CHANNEL)
SEGMENT_SIZE = struct.calcsize(_SEGMENT)


class FormatError(ValueError):
    """A program that is not well formed (the field is named in the message)."""


class Channel:
    # segments: list of (count, width, period, gap, flags) tuples, all integer cycles
    def __init__(self, index, idle_level=0, delay=0, segments=None):
        self.index = index
        self.idle_level = idle_level
        self.delay = delay
        self.segments = segments if segments is not None else []

    def pulses(self):
        n = 0
        for seg in self.segments:
            n += seg[0]
        return n

    def onsets(self):
        """Planned onset cycles relative to the program's start event (generator)."""
        t = self.delay
        for count, width, period, gap, flags in self.segments:
            for k in range(count):
                yield t
                if k < count - 1:
                    t += period
            t += gap

    def __eq__(self, other):
        return (
            self.index == other.index
            and self.idle_level == other.idle_level
            and self.delay == other.delay
            and [tuple(s) for s in self.segments] == [tuple(s) for s in other.segments]
        )


class Program:
    def __init__(self, sysclk_hz, channels, start_mode=START_IMMEDIATE, refractory=0):
        self.sysclk_hz = sysclk_hz
        self.channels = channels
        self.start_mode = start_mode
        self.refractory = refractory

    def pulses(self):
        n = 0
        for ch in self.channels:
            n += ch.pulses()
        return n

    def segment_count(self):
        n = 0
        for ch in self.channels:
            n += len(ch.segments)
        return n

    def __eq__(self, other):
        return (
            self.sysclk_hz == other.sysclk_hz
            and self.start_mode == other.start_mode
            and self.refractory == other.refractory
            and self.channels == other.channels
        )


def _check(ok, field, value, allowed):
    if not ok:
        raise FormatError("%s = %r: %s" % (field, value, allowed))


def validate(prog):
    """Structural checks that hold for every board; board limits are checked by the engine."""
    _check(0 < prog.sysclk_hz <= U32, "sysclk_hz", prog.sysclk_hz, "1..4294967295")
    _check(prog.start_mode in (0, 1, 2), "start_mode", prog.start_mode, "0, 1 or 2")
    _check(0 <= prog.refractory <= U32, "refractory", prog.refractory, "0..4294967295")
    _check(
        1 <= len(prog.channels) <= MAX_CHANNELS, "channels", len(prog.channels), "1..4 channels"
    )
    seen = []
    for ci, ch in enumerate(prog.channels):
        name = "channels[%d]" % ci
        _check(
            0 <= ch.index < MAX_CHANNELS and ch.index not in seen,
            name + ".index",
            ch.index,
            "a distinct output index 0..3",
        )
        seen.append(ch.index)
        _check(ch.idle_level in (0, 1), name + ".idle_level", ch.idle_level, "0 or 1")
        _check(0 <= ch.delay <= MAX_GAP, name + ".delay", ch.delay, "0..2**48-1 cycles")
        _check(len(ch.segments) >= 1, name + ".segments", len(ch.segments), "at least one segment")
        for si, seg in enumerate(ch.segments):
            sname = "%s.segments[%d]" % (name, si)
            _check(len(seg) == 5, sname, seg, "(count, width, period, gap, flags)")
            count, width, period, gap, flags = seg
            _check(1 <= count <= U32, sname + ".count", count, "1..4294967295 pulses")
            _check(1 <= width <= U32, sname + ".width", width, "1..4294967295 cycles")
            if count > 1:
                _check(
                    width < period <= U32,
                    sname + ".period",
                    period,
                    "width < period <= 4294967295 cycles when count > 1",
                )
            else:
                _check(period == 0, sname + ".period", period, "0 when count == 1")
            _check(width < gap <= MAX_GAP, sname + ".gap", gap, "width < gap <= 2**48-1 cycles")
            _check(flags & ~SEGMENT_FLAGS == 0, sname + ".flags", flags, "bit 0 (marker) only")


def encode(prog):
    validate(prog)
    parts = [
        struct.pack(
            _HEADER,
            MAGIC,
            VERSION,
            prog.start_mode,
            len(prog.channels),
            0,
            prog.sysclk_hz,
            prog.refractory,
        )
    ]
    for ch in prog.channels:
        parts.append(struct.pack(_CHANNEL, ch.index, ch.idle_level, 0, ch.delay, len(ch.segments)))
        for count, width, period, gap, flags in ch.segments:
            parts.append(struct.pack(_SEGMENT, count, width, period, flags, gap))
    body = b"".join(parts)
    return body + struct.pack("<I", crc32(body) & U32)


def decode(data):
    """bytes -> Program. Raises FormatError naming what is wrong; never returns a partial program."""
    n = len(data)
    _check(n >= HEADER_SIZE + 4, "length", n, "at least %d bytes" % (HEADER_SIZE + 4))
    body = memoryview(data)[: n - 4]
    (crc,) = struct.unpack_from("<I", data, n - 4)
    _check(crc32(body) & U32 == crc, "crc32", crc, "crc32 of the program bytes")
    magic, version, start_mode, n_channels, _r, sysclk, refractory = struct.unpack_from(
        _HEADER, data, 0
    )
    _check(magic == MAGIC, "magic", magic, "b'TMSP'")
    _check(version == VERSION, "version", version, "%d" % VERSION)
    off = HEADER_SIZE
    channels = []
    for ci in range(n_channels):
        _check(
            off + CHANNEL_SIZE <= n - 4, "channels[%d]" % ci, "truncated", "a full channel record"
        )
        index, idle, _r, delay, nseg = struct.unpack_from(_CHANNEL, data, off)
        off += CHANNEL_SIZE
        _check(
            off + nseg * SEGMENT_SIZE <= n - 4,
            "channels[%d].segments" % ci,
            nseg,
            "as many segment records as the data holds",
        )
        segs = []
        for _ in range(nseg):
            count, width, period, flags, gap = struct.unpack_from(_SEGMENT, data, off)
            off += SEGMENT_SIZE
            segs.append((count, width, period, gap, flags))
        channels.append(Channel(index, idle, delay, segs))
    _check(off == n - 4, "length", n, "exactly %d bytes" % (off + 4))
    prog = Program(sysclk, channels, start_mode, refractory)
    validate(prog)
    return prog
