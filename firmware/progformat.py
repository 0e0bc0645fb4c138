# Segment program format: the contract between the host compiler and the firmware engine.
# Pure module in the common subset of CPython and MicroPython; the host imports this same file.
# See docs/program-format.md for the meaning of every field and the cycle arithmetic.
#
# Binary layout (little-endian):
#   header   "TMSP" u8 version u8 start_mode u8 n_channels u8 reserved
#            u32 sysclk_hz  u32 refractory_cycles
#   channel  u8 index u8 idle_level u16 reserved  u64 delay_cycles  u32 n_records
#   record   u32 count u32 width u32 period u32 flags u64 gap      (24 bytes)
#            flags bit 1 (REC_INTERVALS) clear: one segment (count, width, period, gap, flags)
#            flags bit 1 set: an interval block of `count` one-pulse segments of `width`:
#              period = base (cycles), gap = 0, flags bits 10:8 = B (1..4 bytes per interval),
#              then count x B bytes: segment k's gap is base + the k-th unsigned B-byte value
#   trailer  u32 crc32 of everything before it (binascii.crc32)
# A Program always holds the segments; encode() picks the records (a run of one-pulse
# segments of one width and flags, except a channel's last segment, becomes an interval block).
import struct

try:
    from binascii import crc32
except ImportError:  # pragma: no cover - every supported interpreter has it
    from zlib import crc32

MAGIC = b"TMSP"
VERSION = 2

START_IMMEDIATE = 0
START_TRIGGER = 1
START_GATED = 2
START_MODES = ("immediate", "trigger", "gated")  # by value; the protocol files use these names

FLAG_MARKER = 1  # raise the marker output with this segment's first pulse
SEGMENT_FLAGS = FLAG_MARKER
REC_INTERVALS = 2  # record flag: an interval block (never a segment flag)
REC_BYTES_SHIFT = 8  # interval block: bytes per interval in flags bits 10:8
MIN_BLOCK = 2  # one-pulse segments in a row that encode() turns into an interval block

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
    # segments: list of (count, width, period, gap, flags) tuples, all integer cycles (or, on
    # the board, a SegView over the received bytes: the same tuples, unpacked on access)
    def __init__(self, index, idle_level=0, delay=0, segments=None):
        self.index = index
        self.idle_level = idle_level
        self.delay = delay
        self.segments = segments if segments is not None else []

    def pulses(self):
        segs = self.segments
        if isinstance(segs, SegView) or hasattr(segs, "pulses"):  # the board's views, a stream
            return segs.pulses
        n = 0
        for seg in segs:
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


class SegView:
    """A channel's segments read from the program bytes: a sequence of (count, width, period,
    gap, flags) tuples that costs its records' bytes and no Python objects per segment.
    records() walks the records themselves (an interval block is one record), so a check that
    holds for a whole block is made once per block, not once per pulse."""

    def __init__(self, data, off, n_records, n_segments, pulses, summary):
        self._data = data
        self._off = off
        self._nrec = n_records
        self._n = n_segments
        self.pulses = pulses
        self.summary = summary  # _scan: the minimums and maximums every check starts from

    def __len__(self):
        return self._n

    def __getitem__(self, i):
        if i < 0:
            i += self._n
        if not 0 <= i < self._n:
            raise IndexError("segment index out of range")
        for seg in self:
            if i == 0:
                return seg
            i -= 1

    def __iter__(self):
        for rec in self.records():
            if rec[5] is None:
                yield rec[:5]
            else:
                for seg in self.block(rec):
                    yield seg

    def records(self):
        """(count, width, period, gap, flags, block): block None for one segment; for an
        interval block (offset, B) with `count` one-pulse segments whose gaps are >= `gap`."""
        data = self._data
        off = self._off
        for _ in range(self._nrec):
            count, width, period, flags, gap = struct.unpack_from(_SEGMENT, data, off)
            off += SEGMENT_SIZE
            if flags & REC_INTERVALS:
                nb = (flags >> REC_BYTES_SHIFT) & 7
                yield (count, width, 0, period, flags & SEGMENT_FLAGS, (off, nb))
                off += count * nb
            else:
                yield (count, width, period, gap, flags, None)

    def block(self, rec):
        """The one-pulse segments of an interval block record, in order."""
        n, width, _p, base, flags, blk = rec
        data = self._data
        off, nb = blk
        if nb == 4:
            fmt = "<I"
        elif nb == 2:
            fmt = "<H"
        else:
            fmt = None
        for _ in range(n):
            if fmt is not None:
                v = struct.unpack_from(fmt, data, off)[0]
            elif nb == 1:
                v = data[off]
            else:
                v = data[off] | data[off + 1] << 8 | data[off + 2] << 16
            off += nb
            yield (1, width, 0, base + v, flags)


def records(segs):
    """The records of a channel's segments: SegView.records(), or one per segment of a list."""
    if isinstance(segs, SegView):
        return segs.records()
    return _list_records(segs)


def _list_records(segs):
    for count, width, period, gap, flags in segs:
        yield (count, width, period, gap, flags, None)


def record_segments(segs, rec):
    """The segments one record of records(segs) stands for."""
    if rec[5] is None:
        return (rec[:5],)
    return segs.block(rec)


def _check(ok, field, value, allowed):
    if not ok:
        raise FormatError("%s = %r: %s" % (field, value, allowed))


def _check_segment(sname, seg):
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


def validate(prog):
    """Structural checks that hold for every board; board limits are checked by the engine.
    One step per record: an interval block whose smallest gap exceeds its width is valid as a
    whole (its other fields are fixed by the layout)."""
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
        segs = ch.segments
        _check(len(segs) >= 1, name + ".segments", len(segs), "at least one segment")
        if isinstance(segs, SegView):
            sm = segs.summary
            if not sm[S_ODD] and sm[S_WMIN] >= 1 and sm[S_LOWMIN] >= 1 and sm[S_SLACKMIN] >= 1:
                if sm[S_GMAX] <= MAX_GAP:
                    continue  # every segment is well formed (the per-segment rules below)
        si = 0
        for rec in records(segs):
            if rec[5] is None:
                _check_segment("%s.segments[%d]" % (name, si), rec[:5])
                si += 1
                continue
            if not 1 <= rec[1] < rec[3]:  # width 1.., below the smallest gap: else look closer
                for k, seg in enumerate(segs.block(rec)):
                    _check_segment("%s.segments[%d]" % (name, si + k), seg)
            si += rec[0]


def _interval_bytes(span):
    nb = 1
    while span >> (8 * nb):
        nb += 1
    return nb


def _encode_segments(parts, segs, blocks, last_alone=True):
    """Append the records of one channel's segments to parts; returns how many.
    last_alone: the last segment ends the program, so it is never in a block."""
    n = len(segs)
    i = 0
    nrec = 0
    while i < n:
        count, width, period, gap, flags = segs[i]
        j = i
        if blocks:
            while (
                j < n - (1 if last_alone else 0)
                and segs[j][0] == 1
                and segs[j][1] == width
                and segs[j][4] == flags
                and segs[j][3] <= U32
            ):
                j += 1
        if j - i >= MIN_BLOCK:
            gaps = [seg[3] for seg in segs[i:j]]
            base = min(gaps)
            nb = _interval_bytes(max(gaps) - base)
            parts.append(
                struct.pack(
                    _SEGMENT, j - i, width, base, flags | REC_INTERVALS | nb << REC_BYTES_SHIFT, 0
                )
            )
            if nb == 4:
                parts.append(struct.pack("<%dI" % len(gaps), *[g - base for g in gaps]))
            elif nb == 2:
                parts.append(struct.pack("<%dH" % len(gaps), *[g - base for g in gaps]))
            else:
                parts.append(bytes(b for g in gaps for b in struct.pack("<I", g - base)[:nb]))
            i = j
        else:
            parts.append(struct.pack(_SEGMENT, count, width, period, flags, gap))
            i += 1
        nrec += 1
    return nrec


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
    blocks = prog.start_mode != START_GATED  # gated: one segment per gate edge, kept as is
    for ch in prog.channels:
        recs = []
        nrec = _encode_segments(recs, ch.segments, blocks)
        parts.append(struct.pack(_CHANNEL, ch.index, ch.idle_level, 0, ch.delay, nrec))
        parts.extend(recs)
    body = b"".join(parts)
    return body + struct.pack("<I", crc32(body) & U32)


_BIG = 1 << 64  # "none" in a summary's minimums

# SegView.summary: what every check needs, gathered by the one pass over the records at decode
S_WMIN = 0  # least width
S_WMAX = 1  # largest width
S_CMAX = 2  # largest count of a segment
S_LOWMIN = 3  # least period - width of a segment with count > 1
S_SLACKMIN = 4  # least gap - width (an interval block: its base - width)
S_GMAX = 5  # largest gap of a segment record
S_IMIN = 6  # a lower bound of every onset-to-onset interval (periods, gaps but the last, bases)
S_MARKER = 7  # some segment raises the marker
S_ODD = 8  # something only the per-segment walk can name (count 0, period with count 1, flags)
S_LAST = 9  # the last record's (least) gap: the end of the program, or of a stream piece


def encode_records(segs, final):
    """A stream piece: the records of `segs` (no header, no CRC; the frame has its own).
    final: the stream's last piece, whose last segment's gap ends the program."""
    parts = []
    _encode_segments(parts, segs, True, final)
    return b"".join(parts)


def piece_view(data, name):
    """A stream piece's bytes -> SegView (structure refused here, as FormatError)."""
    nrec = 0
    off = 0
    while off < len(data):  # count the records: their sizes follow from their headers
        _check(off + SEGMENT_SIZE <= len(data), name, "truncated", "whole records")
        count, _w, _p, flags, _g = struct.unpack_from(_SEGMENT, data, off)
        off += SEGMENT_SIZE
        if flags & REC_INTERVALS:
            off += count * ((flags >> REC_BYTES_SHIFT) & 7)
        nrec += 1
    _check(nrec >= 1, name, 0, "at least one record")
    end, nseg, pulses, summary = _scan(data, 0, nrec, len(data), name)
    _check(end == len(data), name, len(data), "exactly %d bytes of records" % end)
    return SegView(data, 0, nrec, nseg, pulses, summary)


def _scan(data, off, nrec, end, name):
    """Walk a channel's records once: structure (refused here) and the summary the checks use.
    -> (offset after them, segments, pulses, summary)."""
    nseg = 0
    pulses = 0
    wmin = lowmin = slackmin = imin = _BIG
    wmax = cmax = gmax = 0
    marker = odd = False
    last_gap = _BIG
    for ri in range(nrec):
        _check(
            off + SEGMENT_SIZE <= end,
            name + ".records",
            nrec,
            "as many records as the data holds",
        )
        count, width, period, flags, gap = struct.unpack_from(_SEGMENT, data, off)
        off += SEGMENT_SIZE
        if flags & REC_INTERVALS:
            rname = "%s.records[%d]" % (name, ri)
            nb = (flags >> REC_BYTES_SHIFT) & 7
            _check(
                flags & ~(SEGMENT_FLAGS | REC_INTERVALS | 7 << REC_BYTES_SHIFT) == 0
                and 1 <= nb <= 4
                and gap == 0,
                rname + ".flags",
                flags,
                "an interval block: bit 0 marker, bit 1 set, bits 10:8 = 1..4, gap 0",
            )
            _check(count >= 1, rname + ".count", count, "at least one interval")
            off += count * nb
            _check(off <= end, rname, "truncated", "count x %d bytes of intervals" % nb)
            nseg += count
            gap = period  # the least gap of the block
            if count > 1 and gap < imin:
                imin = gap
            if cmax < 1:
                cmax = 1
        else:
            nseg += 1
            if count > 1:
                if period - width < lowmin:
                    lowmin = period - width
                if period < imin:
                    imin = period
            elif period != 0 or count == 0:
                odd = True
            if flags & ~SEGMENT_FLAGS:
                odd = True
            if gap > gmax:
                gmax = gap
            if count > cmax:
                cmax = count
        if last_gap < imin:
            imin = last_gap  # the previous record's gap ends at this record's first onset
        last_gap = gap
        if width < wmin:
            wmin = width
        if width > wmax:
            wmax = width
        if gap - width < slackmin:
            slackmin = gap - width
        if flags & FLAG_MARKER:
            marker = True
        pulses += count
    summary = (wmin, wmax, cmax, lowmin, slackmin, gmax, imin, marker, odd, last_gap)
    return off, nseg, pulses, summary


def decode(data, view=False):
    """bytes -> Program. Raises FormatError naming what is wrong; never returns a partial program.
    view=True (the board): each channel's segments are a SegView over `data` (which must not
    change afterwards); else lists of tuples."""
    n = len(data)
    _check(n >= HEADER_SIZE + 4, "length", n, "at least %d bytes" % (HEADER_SIZE + 4))
    (crc,) = struct.unpack_from("<I", data, n - 4)
    _check(
        crc32(memoryview(data)[: n - 4]) & U32 == crc, "crc32", crc, "crc32 of the program bytes"
    )
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
        index, idle, _r, delay, nrec = struct.unpack_from(_CHANNEL, data, off)
        off += CHANNEL_SIZE
        start = off
        off, nseg, pulses, summary = _scan(data, off, nrec, n - 4, "channels[%d]" % ci)
        segs = SegView(data, start, nrec, nseg, pulses, summary)
        channels.append(Channel(index, idle, delay, segs if view else list(segs)))
    _check(off == n - 4, "length", n, "exactly %d bytes" % (off + 4))
    prog = Program(sysclk, channels, start_mode, refractory)
    validate(prog)
    return prog
