# Board hard limits (boards/<name>.json "limits"), checked when a program is loaded. Pure.
# Times compare exactly as rationals: cycles * 1e6 against microseconds * sysclk_hz.
import plan
from fwerror import FirmwareError


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
    tick(): called every 1024 onsets (the engine feeds the watchdog: 100 000 pulses take
    seconds on a Pico)."""
    hz = prog.sysclk_hz
    total = prog.pulses()
    if total > limits["max_pulses"]:
        _refuse("pulses", total, "above", "max_pulses", limits["max_pulses"], " pulses")
    min_w = limits["min_width_us"]
    max_w = limits["max_width_us"]
    min_i = limits["min_interval_us"]
    for ci in range(len(prog.channels)):
        ch = prog.channels[ci]
        for si in range(len(ch.segments)):
            count, width, period, gap, flags = ch.segments[si]
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
