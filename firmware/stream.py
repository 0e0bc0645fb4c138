# A program larger than the heap, streamed (docs/program-format.md §8): the loaded program's one
# channel goes on with records that arrive while it runs, in pieces the host sends as room frees
# up (a bounded look-ahead of WINDOW bytes). Each piece is checked before it is queued: its
# structure, the generator's minimums and the board limits, from the records' summary; across
# pieces only a bound can be kept, so every onset-to-onset interval must be at least
# max(min_interval_us, max_rate_window_s / (max_rate_hz * max_rate_window_s)): then no window
# holds more onsets than the limit. A piece that does not clear it is refused (and stops a run).
# Pure: the engine owns the timing side (feeder.GenFeed: a late piece is an underrun fault).
import progformat as pf
import timing as T
from fwerror import FirmwareError

WINDOW = 8192  # bytes of pieces queued at most (the look-ahead)


def _us(cycles, hz):
    return "%d cycles (%d.%03d us)" % (
        cycles,
        cycles * 1000000 // hz,
        cycles * 1000000000 // hz % 1000,
    )


class Stream:
    def __init__(self, prog, limits, total):
        hz = prog.sysclk_hz
        if len(prog.channels) != 1 or prog.start_mode == pf.START_GATED:
            raise FirmwareError(
                "state",
                "stream: channels = %d, start mode %d: allowed one channel, immediate or "
                "trigger start" % (len(prog.channels), prog.start_mode),
            )
        if total > limits["max_pulses"] or total < prog.pulses():
            raise FirmwareError(
                "limit",
                "stream pulses = %d: allowed %d (loaded) .. limits.max_pulses = %d"
                % (total, prog.pulses(), limits["max_pulses"]),
            )
        self.hz = hz
        self.limits = limits
        self.total = total
        self.pulses = prog.pulses()
        self.head = prog.channels[0].segments  # the loaded SegView
        self.pieces = []
        self.queued = 0
        self.received = 0  # bytes of pieces accepted
        self.ended = False
        self.n = 0  # pieces accepted
        # the least interval every onset-to-onset interval must reach (exact rationals):
        # interval * 10**6 >= min_interval_us * hz and interval * k >= window cycles
        self._min_us = limits["min_interval_us"]
        self._k = limits["max_rate_hz"] * limits["max_rate_window_s"]
        self._win = limits["max_rate_window_s"] * hz
        sm = self.head.summary
        self._check_intervals("loaded program", sm[pf.S_IMIN])
        self.last_gap = sm[pf.S_LAST]  # becomes an interval once the next piece comes

    def _check_intervals(self, where, m):
        if m >= pf._BIG:
            return
        if m * 1000000 < self._min_us * self.hz:
            raise FirmwareError(
                "limit",
                "%s: interval = %s is below limits.min_interval_us = %d us"
                % (where, _us(m, self.hz), self._min_us),
            )
        if m * self._k < self._win:
            raise FirmwareError(
                "limit",
                "%s: interval = %s: a streamed program keeps every interval at least "
                "limits.max_rate_window_s / (max_rate_hz * max_rate_window_s) = %s, so no "
                "window holds more than %d pulses"
                % (where, _us(m, self.hz), _us(-(-self._win // self._k), self.hz), self._k),
            )

    def room(self):
        return WINDOW - self.queued

    def add(self, data):
        """Check and queue one piece (bytes of whole records). Raises FirmwareError."""
        where = "stream piece %d" % self.n
        if self.ended:
            raise FirmwareError("state", "%s after the stream's end" % where)
        if len(data) > self.room():
            raise FirmwareError(
                "state",
                "%s: %d bytes, room for %d (window %d)" % (where, len(data), self.room(), WINDOW),
            )
        try:
            view = pf.piece_view(bytes(data), where)
        except pf.FormatError as e:
            raise FirmwareError("format", str(e)) from None
        sm = view.summary
        if sm[pf.S_ODD] or sm[pf.S_WMIN] < 1 or sm[pf.S_LOWMIN] < 1 or sm[pf.S_SLACKMIN] < 1:
            raise FirmwareError("format", "%s: a segment is not well formed" % where)
        if (
            sm[pf.S_WMIN] < T.MIN_WIDTH
            or sm[pf.S_CMAX] > T.MAX_COUNT
            or sm[pf.S_LOWMIN] < T.MIN_LOW
            or sm[pf.S_SLACKMIN] < T.MIN_GAP_SLACK
            or sm[pf.S_GMAX] > pf.MAX_GAP
        ):
            raise FirmwareError(
                "timing",
                "%s: width >= %d, period - width >= %d, gap - width >= %d cycles needed"
                % (where, T.MIN_WIDTH, T.MIN_LOW, T.MIN_GAP_SLACK),
            )
        lim = self.limits
        if not (
            lim["min_width_us"] * self.hz <= sm[pf.S_WMIN] * 1000000
            and sm[pf.S_WMAX] * 1000000 <= lim["max_width_us"] * self.hz
        ):
            raise FirmwareError(
                "limit",
                "%s: widths %s .. %s: allowed limits.min_width_us = %d .. max_width_us = %d us"
                % (
                    where,
                    _us(sm[pf.S_WMIN], self.hz),
                    _us(sm[pf.S_WMAX], self.hz),
                    lim["min_width_us"],
                    lim["max_width_us"],
                ),
            )
        m = sm[pf.S_IMIN]
        if self.last_gap < m:
            m = self.last_gap  # the previous piece's last gap ends at this piece's first onset
        self._check_intervals(where, m)
        if self.pulses + view.pulses > self.total:
            raise FirmwareError(
                "limit",
                "%s: %d pulses beyond the %d announced"
                % (where, self.pulses + view.pulses - self.total, self.total),
            )
        self.pulses += view.pulses
        self.last_gap = sm[pf.S_LAST]
        self.pieces.append(view)
        self.queued += len(data)
        self.received += len(data)
        self.n += 1

    def end(self):
        if self.pulses != self.total:
            raise FirmwareError(
                "limit",
                "stream end after %d of the %d pulses announced" % (self.pulses, self.total),
            )
        self.ended = True

    def __iter__(self):
        """The channel's segments: the loaded ones, then each piece's as it arrives; None while
        the next piece has not arrived (the word builder passes it on: 'nothing yet')."""
        for seg in self.head:
            yield seg
        while True:
            if self.pieces:
                view = self.pieces[0]
                for seg in view:
                    yield seg
                self.pieces.pop(0)
                self.queued -= len(view._data)
            elif self.ended:
                return
            else:
                yield None

    def __len__(self):
        return len(self.head)  # gated mode is refused: only "segment 0" matters to the words
