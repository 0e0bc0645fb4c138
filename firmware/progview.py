# A verified program that stays in its received bytes: segments are unpacked on access, so a
# loaded program costs its 24 bytes per segment and no Python objects per segment. Same checks
# and messages as progformat.decode (which builds lists, for the host).
import struct

import progformat as pf


class SegView:
    """Read-only sequence of one channel's (count, width, period, gap, flags) tuples."""

    def __init__(self, data, off, n):
        self._data = data
        self._off = off
        self._n = n

    def __len__(self):
        return self._n

    def __getitem__(self, i):
        if i < 0:
            i += self._n
        if not 0 <= i < self._n:
            raise IndexError("segment index out of range")
        count, width, period, flags, gap = struct.unpack_from(
            pf._SEGMENT, self._data, self._off + pf.SEGMENT_SIZE * i
        )
        return (count, width, period, gap, flags)

    def __iter__(self):
        for i in range(self._n):
            yield self[i]


def decode(data):
    """bytes -> progformat.Program whose channels hold SegViews; raises progformat.FormatError."""
    check = pf._check
    n = len(data)
    check(n >= pf.HEADER_SIZE + 4, "length", n, "at least %d bytes" % (pf.HEADER_SIZE + 4))
    (crc,) = struct.unpack_from("<I", data, n - 4)
    check(
        pf.crc32(memoryview(data)[: n - 4]) & pf.U32 == crc,
        "crc32",
        crc,
        "crc32 of the program bytes",
    )
    magic, version, mode, n_channels, _r, sysclk, refractory = struct.unpack_from(
        pf._HEADER, data, 0
    )
    check(magic == pf.MAGIC, "magic", magic, "b'TMSP'")
    check(version == pf.VERSION, "version", version, "%d" % pf.VERSION)
    off = pf.HEADER_SIZE
    channels = []
    for ci in range(n_channels):
        check(
            off + pf.CHANNEL_SIZE <= n - 4,
            "channels[%d]" % ci,
            "truncated",
            "a full channel record",
        )
        index, idle, _r, delay, nseg = struct.unpack_from(pf._CHANNEL, data, off)
        off += pf.CHANNEL_SIZE
        check(
            off + nseg * pf.SEGMENT_SIZE <= n - 4,
            "channels[%d].segments" % ci,
            nseg,
            "as many segment records as the data holds",
        )
        channels.append(pf.Channel(index, idle, delay, SegView(data, off, nseg)))
        off += nseg * pf.SEGMENT_SIZE
    check(off == n - 4, "length", n, "exactly %d bytes" % (off + 4))
    prog = pf.Program(sysclk, channels, mode, refractory)
    pf.validate(prog)
    return prog
