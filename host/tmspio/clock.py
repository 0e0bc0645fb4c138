"""Clock sync: the board clock (microseconds, wire SYNC) mapped to the host's
`time.perf_counter_ns()`, with a stated uncertainty.

Each exchange is (host_send_ns, board_us, host_recv_ns): the board read its clock at some host
time between the send and the receipt, so the midpoint is right to within half the round trip.
`ClockSync` keeps exchanges whose round trip is within a bound (a slow one says little), fits
host = offset + rate * board over the fastest recent ones (least squares: the rate absorbs the
two crystals' drift), and states for every mapped time an uncertainty of the largest half round
trip among the fitted exchanges plus their largest residual from the line. docs/api.md,
docs/performance.md (measured figures).
"""

from typing import NamedTuple

MAX_RTT_NS = 20_000_000  # exchanges slower than this (20 ms) are logged and not used
WINDOW = 32  # the latest kept exchanges considered
FIT = 16  # ... of which the fastest are fitted
NOMINAL_RATE = 1000.0  # host ns per board us while fewer than two exchanges are known


class Exchange(NamedTuple):
    """One SYNC round trip (host times from time.perf_counter_ns())."""

    host_send_ns: int
    board_us: int
    host_recv_ns: int

    @property
    def rtt_ns(self):
        return self.host_recv_ns - self.host_send_ns

    @property
    def host_mid_ns(self):
        return (self.host_send_ns + self.host_recv_ns) / 2


class Estimate(NamedTuple):
    """host_ns = offset_ns + rate * (board_us - board_ref_us); uncertainty_ns bounds any
    mapped time (see ClockSync)."""

    board_ref_us: int
    offset_ns: float
    rate: float  # host ns per board us (1000 = the clocks agree)
    uncertainty_ns: float
    exchanges: int  # fitted

    @property
    def drift_ppm(self):
        return (self.rate / NOMINAL_RATE - 1) * 1e6


class ClockSync:
    """Collects exchanges and maps board microseconds to host nanoseconds and back."""

    def __init__(self, max_rtt_ns=MAX_RTT_NS):
        self.max_rtt_ns = max_rtt_ns
        self.kept = []
        self.rejected = 0
        self._estimate = None

    def add(self, exchange):
        """Take one exchange; False (and not used) when its round trip is above the bound."""
        exchange = Exchange(*exchange)
        if exchange.rtt_ns < 0 or exchange.rtt_ns > self.max_rtt_ns:
            self.rejected += 1
            return False
        self.kept.append(exchange)
        if len(self.kept) > 4 * WINDOW:
            del self.kept[:-WINDOW]
        self._estimate = None
        return True

    def estimate(self):
        """The current fit (Estimate), or None before the first kept exchange."""
        if self._estimate is None and self.kept:
            self._estimate = _fit(sorted(self.kept[-WINDOW:], key=lambda e: e.rtt_ns)[:FIT])
        return self._estimate

    def host_ns(self, board_us):
        """(host perf_counter_ns, uncertainty ns) of a board-clock time; None before any
        exchange."""
        est = self.estimate()
        if est is None:
            return None
        return est.offset_ns + est.rate * (board_us - est.board_ref_us), est.uncertainty_ns

    def board_us(self, host_ns):
        """The board-clock time (us, float) of a host perf_counter_ns time; None before any
        exchange."""
        est = self.estimate()
        if est is None:
            return None
        return est.board_ref_us + (host_ns - est.offset_ns) / est.rate

    def summary(self):
        est = self.estimate()
        rtts = sorted(e.rtt_ns for e in self.kept)
        return {
            "exchanges_kept": len(self.kept),
            "exchanges_rejected": self.rejected,
            "max_rtt_ns": self.max_rtt_ns,
            "min_rtt_ns": rtts[0] if rtts else None,
            "median_rtt_ns": rtts[len(rtts) // 2] if rtts else None,
            "fitted": None if est is None else est.exchanges,
            "drift_ppm": None if est is None else round(est.drift_ppm, 3),
            "uncertainty_ns": None if est is None else round(est.uncertainty_ns),
        }


def _fit(used):
    ref = used[0].board_us
    xs = [e.board_us - ref for e in used]
    ys = [e.host_mid_ns for e in used]
    n = len(used)
    mx = sum(xs) / n
    my = sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if n < 2 or sxx == 0:
        rate = NOMINAL_RATE
    else:
        rate = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx
    offset = my - rate * mx
    residual = max(abs(y - (offset + rate * x)) for x, y in zip(xs, ys))
    half = max(e.rtt_ns for e in used) / 2
    return Estimate(ref, offset, rate, half + residual, n)
