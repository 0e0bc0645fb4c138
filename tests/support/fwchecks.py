"""Exact comparisons of an emulated run with the plan computed from the program."""

import capture
import plan


def after(trace, start):
    return [tuple(e) for e in trace if e[0] >= start]


def check_run(prog, r, cfg, triggers=()):
    """Every pad edge equals the plan to the cycle; every captured edge equals the capture of
    the planned edges; the marker and the confirm loopback too. Returns the planned edges."""
    s = r["starts"]["gen"]
    c0 = r["starts"]["cap"]
    pins = cfg["pins"]
    planned = {}
    for ci, ch in enumerate(prog.channels):
        exp = plan.pad_edges(plan.channel_onsets(prog, ci, s, triggers), ch.idle_level)
        pin = pins["trigger"][ch.index]
        assert after(r["traces"][pin], s) == exp, "channel %d pad trace" % ch.index
        got = [(c, lv) for src, lv, c in r["edges"] if src == "ch%d" % ch.index]
        want = [(c - c0, lv) for c, lv in capture.expected(exp, c0, ch.idle_level)]
        assert got == want, "channel %d capture" % ch.index
        planned[ch.index] = exp
    if pins["marker"] in r["traces"]:
        assert after(r["traces"][pins["marker"]], s) == plan.marker_edges(prog, s, triggers)
    if "trigger_in" in r["status"]["captured"] and pins["trigger_in"] in r["traces"]:
        # trigger and gated starts capture it too (when the test traced its pad)
        idle = 1 if cfg["polarity"]["trigger_in"] == "falling" else 0
        pad = [e for e in after(r["traces"][pins["trigger_in"]], c0)]
        got = [(c, lv) for src, lv, c in r["edges"] if src == "trigger_in"]
        assert got == [(c - c0, lv) for c, lv in capture.expected(pad, c0, idle)], "trigger_in"
    if 0 in planned and "confirm" in r["status"]["captured"]:
        got = [(c, lv) for src, lv, c in r["edges"] if src == "confirm"]
        assert got == [(c - c0, lv) for c, lv in capture.expected(planned[0], c0, 0)]
    return planned
