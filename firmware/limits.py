# Board hard limits (boards/<name>.json "limits"), checked when a program is loaded. Pure.
# Times compare exactly as rationals: cycles * 1e6 against microseconds * sysclk_hz.
import plan
from fwerror import FirmwareError
from progformat import _BIG, S_IMIN, S_WMAX, S_WMIN, START_GATED, SegView, records


def _refuse(where, value, relation, limit_name, limit, unit):
    raise FirmwareError(
        "limit",
        "%s = %s is %s limits.%s = %d%s" % (where, value, relation, limit_name, limit, unit),
    )


def _us(cycles, hz):
    return "%d cycles (%d.%03d us)" % (
        cycles,
        cycles * 1000000 // hz,
        cycles * 1000000000 // hz % 1000,
    )


def check(prog, limits, tick=None):
    """Raise FirmwareError("limit", ...) naming the first limit the program breaks.

    First a bound made once per record (an interval block is one record): if every width is in
    range, the smallest onset-to-onset interval m of each channel is at least min_interval_us
    and max_rate_hz * max_rate_window_s intervals of m span the whole window, no limit can be
    broken and the check ends there, however many pulses the program has. Otherwise (a program
    near or beyond a limit, or gated) every onset is walked as below, which names the first
    offending one; tick(): called every 1024 onsets of that walk (the engine feeds the
    watchdog: 100 000 pulses take seconds on a Pico)."""
    if _bound_ok(prog, limits):
        return
    hz = prog.sysclk_hz
    total = prog.pulses()
    if total > limits["max_pulses"]:
        _refuse("pulses", total, "above", "max_pulses", limits["max_pulses"], " pulses")
    min_w = limits["min_width_us"]
    max_w = limits["max_width_us"]
    min_i = limits["min_interval_us"]
    for ci in range(len(prog.channels)):
        ch = prog.channels[ci]
        si = -1
        for count, width, period, gap, flags in ch.segments:
            si += 1
            where = "channels[%d].segments[%d]" % (ci, si)
            if width * 1000000 < min_w * hz:
                _refuse(where + ".width", _us(width, hz), "below", "min_width_us", min_w, " us")
            if width * 1000000 > max_w * hz:
                _refuse(where + ".width", _us(width, hz), "above", "max_width_us", max_w, " us")
            if count > 1 and period * 1000000 < min_i * hz:
                _refuse(
                    where + ".period", _us(period, hz), "below", "min_interval_us", min_i, " us"
                )
        _check_sequence(prog, ci, limits, tick)


def _bound_ok(prog, limits):
    """True if no limit can be broken, from one step per record (see check)."""
    if prog.start_mode == START_GATED or prog.pulses() > limits["max_pulses"]:
        return False
    hz = prog.sysclk_hz
    min_w = limits["min_width_us"] * hz
    max_w = limits["max_width_us"] * hz
    k = limits["max_rate_hz"] * limits["max_rate_window_s"]
    window = limits["max_rate_window_s"] * hz
    for ch in prog.channels:
        segs = ch.segments
        if isinstance(segs, SegView):  # the one pass at decode gathered what this needs
            sm = segs.summary
            if not (min_w <= sm[S_WMIN] * 1000000 and sm[S_WMAX] * 1000000 <= max_w):
                return False
            m = sm[S_IMIN]
            if m >= _BIG:
                continue  # one pulse
            if m * 1000000 < limits["min_interval_us"] * hz or k * m < window:
                return False
            continue
        m = None  # a lower bound of every onset-to-onset interval (cycles)
        last = None
        for rec in records(ch.segments):
            count, width, period, gap, flags, block = rec
            if not min_w <= width * 1000000 <= max_w:
                return False
            if count > 1:  # within the record: its period, or a block's gaps (all >= `gap`)
                inner = period if block is None else gap
                if m is None or inner < m:
                    m = inner
            if last is not None and (m is None or last[3] < m):
                m = last[3]  # the previous record's gap ends at this record's first onset
            last = rec
        if m is None:
            continue  # one pulse
        if m * 1000000 < limits["min_interval_us"] * hz or k * m < window:
            return False
    return True


def _check_sequence(prog, ci, limits, tick):
    # Onsets in the densest case (gated: a trigger every refractory interval); checks the
    # interval between segments and the sustained rate over any window.
    hz = prog.sysclk_hz
    triggers = ()
    if prog.start_mode != 0:
        n = len(prog.channels[ci].segments)
        triggers = [j * prog.refractory for j in range(n)]
    k = limits["max_rate_hz"] * limits["max_rate_window_s"]
    window = limits["max_rate_window_s"] * hz
    # onset i against onset i - k, read by a second generator k onsets behind: O(1) RAM
    lag = plan.iter_onsets(prog, ci, 0, triggers)
    prev = None
    i = 0
    for t, width, marker in plan.iter_onsets(prog, ci, 0, triggers):
        if prev is not None and (t - prev) * 1000000 < limits["min_interval_us"] * hz:
            _refuse(
                "channels[%d] onset %d interval" % (ci, i),
                _us(t - prev, hz),
                "below",
                "min_interval_us",
                limits["min_interval_us"],
                " us",
            )
        if i >= k and t - next(lag)[0] < window:
            raise FirmwareError(
                "limit",
                "channels[%d]: %d pulses within %d s (onsets %d..%d) exceed "
                "limits.max_rate_hz = %d over limits.max_rate_window_s = %d"
                % (
                    ci,
                    k + 1,
                    limits["max_rate_window_s"],
                    i - k,
                    i,
                    limits["max_rate_hz"],
                    limits["max_rate_window_s"],
                ),
            )
        prev = t
        i += 1
        if tick is not None and not i & 1023:
            tick()
