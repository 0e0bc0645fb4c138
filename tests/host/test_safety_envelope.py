"""Every envelope rule with a passing and a failing case (issue 10, points 1-8); findings name
rule, kind, value, limit, source and, when refused, the nearest change that would pass."""

from fractions import Fraction

import pytest
from proto_helpers import protocol, tbs
from tmspio import safety, stimulators
from tmspio.errors import InputError, SafetyRefused
from tmspio.protocols import resolve, schedule

RMT = "RMT"


def at(percent, reference=RMT, output=None):
    return safety.Declared(percent, reference, output)


def rule(findings, name):
    (found,) = [f for f in findings if f.rule == name]
    return found


def refusals(findings):
    return [f.rule for f in findings if f.outcome == "refuse"]


def rtms(n, ipi, iti=None, trains=1, **timing):
    t = {"inter_pulse_interval": ipi, "pulses_in_burst": n}
    if trains > 1:
        t.update(inter_train_interval=iti, trains_in_protocol=trains)
    t.update(timing)
    return protocol(timing=t)


def probe():
    """The review's 20 Hz probe: 100 trains of 40 pulses, inter_train_interval 2 s."""
    return rtms(40, "20 Hz", "2 s", 100)


# ---- point 1: trains are judged together --------------------------------------------------


@pytest.mark.parametrize("percent", [90, 100])
def test_the_20_hz_probe_is_refused_as_one_200_s_train(percent):
    found = safety.check(probe(), at(percent, "MT"))
    f = rule(found, "wassermann-train-duration")
    assert (f.outcome, f.kind) == ("refuse", "safety")
    assert (
        f.value
        == "train 200 s at 20 Hz, %d%% MT (100 trains judged as one: pauses under 5 s)" % (percent)
    )
    assert f.limit == "2.05 s"
    assert f.fix == "a pause of at least 5 s between trains (inter_train_interval at least 7 s)"
    chen = rule(found, "chen-inter-train-interval")
    assert (chen.outcome, chen.value) == ("pass", "pause 0 s between trains at %d%% MT" % percent)
    assert chen.detail == "at or below 100% MT: trains with shorter pauses are judged as one train"
    assert refusals(found) == ["wassermann-train-duration"]


def test_the_probe_with_the_stated_pause_passes():
    ok = rtms(40, "20 Hz", "7 s", 100)  # 2 s trains, 5 s pauses
    found = safety.check(ok, at(100, "MT"))
    assert refusals(found) == []
    f = rule(found, "wassermann-train-duration")
    assert (f.value, f.limit) == ("train 2 s at 20 Hz, 100% MT", "2.05 s")
    assert rule(found, "chen-inter-train-interval").value == "pause 5 s between trains at 100% MT"


def test_above_100_percent_a_short_pause_is_refused_outright():
    found = safety.check(probe(), at(110, "MT"))
    assert refusals(found) == ["wassermann-train-duration", "chen-inter-train-interval"]
    chen = rule(found, "chen-inter-train-interval")
    assert (chen.value, chen.limit) == ("pause 0 s between trains at 110% MT", "5 s above 100% MT")
    assert chen.fix == "a pause of at least 5 s between trains (inter_train_interval at least 7 s)"
    f = rule(found, "wassermann-train-duration")
    assert f.fix == (
        "at most 32 pulses per train and a pause of at least 5 s between trains "
        "(inter_train_interval at least 7 s)"
    )


def test_blocks_split_where_the_pause_reaches_5_s():
    on = [Fraction(k, 10) for k in range(10)]  # 10 pulses at 10 Hz, last at 0.9 s
    later = [t + Fraction(59, 10) for t in on]  # next train 5.9 s after the first: pause 4.9 s
    assert safety.blocks(on + later, Fraction(5)) == [(0, 20, Fraction(1, 10))]
    later = [t + 6 for t in on]  # 6 s: pause exactly 5 s
    assert safety.blocks(on + later, Fraction(5)) == [
        (0, 10, Fraction(1, 10)),
        (10, 20, Fraction(1, 10)),
    ]


# ---- the Wassermann table, its provenance (point 7) and what would pass (point 8) ----------


def test_10_hz_depression_at_130_percent_names_the_nearest_passing_change():
    f = rule(safety.check(resolve("rtms-10hz"), at(130)), "wassermann-train-duration")
    assert f.outcome == "refuse"
    assert f.value == "train 4 s at 10 Hz, 130% RMT"
    assert f.limit == "2.9 s"
    assert f.fix == "at most 29 pulses per train, or at most 120% RMT"
    assert str(f) == (
        "REFUSE safety wassermann-train-duration: train 4 s at 10 Hz, 130% RMT; limit 2.9 s "
        "[Wassermann 1998 single-train table, as carried in Rossi 2009 (Table 3; one copy "
        "calls it Table 4); UNVERIFIED: table transcribed from memory of Rossi 2009, not "
        "checked against the primary table]; would pass with: at most 29 pulses per train, or "
        "at most 120% RMT"
    )
    ok = rule(safety.check(resolve("rtms-10hz"), at(120)), "wassermann-train-duration")
    assert (ok.outcome, ok.limit, ok.fix) == ("pass", "4.2 s", "")


def test_a_refusal_with_no_lower_intensity_names_pulses_only():
    f = rule(safety.check(rtms(60, "10 Hz"), at(90, "MT")), "wassermann-train-duration")
    assert (f.outcome, f.value, f.fix) == (
        "refuse",
        "train 6 s at 10 Hz, 90% MT",
        "at most 50 pulses per train",
    )
    assert (
        rule(safety.check(rtms(50, "10 Hz"), at(90, "MT")), "wassermann-train-duration").outcome
        == "pass"
    )


@pytest.mark.parametrize(
    "freq, percent, limit",
    [
        (10, 120, Fraction("4.2")),
        (10, 125, Fraction("2.9")),  # between columns: the stricter neighbour
        (15, 120, Fraction("1.0")),  # between rows 10 and 20 Hz: the stricter neighbour
        (15, 155, Fraction("0.25")),  # between rows and columns: min of four cells
        (Fraction(9, 10), 100, Fraction(1800)),  # below 1 Hz: the 1 Hz row
        (10, 80, Fraction(5)),  # below 90%: the 90% column
        (1, 110, Fraction(360)),  # '>360' is taken as the limit (a second copy says 1800)
        (1, 120, Fraction(50)),  # the second copy says 360: the lower value is kept
        (25, 220, Fraction("0.08")),
    ],
)
def test_table_lookup_is_conservative(freq, percent, limit):
    assert safety.wassermann_limit(Fraction(freq), Fraction(percent)) == limit


def test_the_disagreeing_1_hz_cells_are_shown_in_the_finding():
    one_hz = rtms(400, "1 Hz")  # 400 s
    f = rule(safety.check(one_hz, at(110, "MT")), "wassermann-train-duration")
    assert (f.outcome, f.limit) == ("refuse", "360 s")
    assert f.detail == (
        "1 Hz at 110% MT: a second copy gives 1800 s, this table 360 s (the lower is used)"
    )
    f = rule(safety.check(one_hz, at(100, "MT")), "wassermann-train-duration")
    assert (f.outcome, f.limit, f.detail) == ("pass", "1800 s", "")


def test_reference_mt_is_the_tables_own_unit_and_amt_is_read_as_mt():
    f = rule(safety.check(resolve("rtms-10hz"), at(130, "MT")), "wassermann-train-duration")
    assert (f.value, f.detail) == ("train 4 s at 10 Hz, 130% MT", "")
    f = rule(safety.check(resolve("rtms-10hz"), at(130, "AMT")), "wassermann-train-duration")
    assert (f.outcome, f.detail) == ("refuse", "AMT treated as %MT (conservative)")
    assert f.fix == "at most 29 pulses per train, or at most 120% AMT"


def test_table_does_not_extrapolate():
    assert safety.wassermann_limit(Fraction(26), Fraction(100)) is None
    assert safety.wassermann_limit(Fraction(10), Fraction(221)) is None
    f = rule(safety.check(rtms(10, "30 Hz"), at(100)), "wassermann-train-duration")
    assert (f.outcome, f.limit, f.fix) == (
        "refuse",
        "table covers 1-25 Hz and 90-220% MT",
        "at most 25 Hz",
    )
    f = rule(safety.check(rtms(10, "10 Hz"), at(230)), "wassermann-train-duration")
    assert (f.outcome, f.fix) == ("refuse", "at most 140% RMT")  # 1 s trains: 1.3 s at 140%


def test_bursts_and_jitter_are_read_at_their_fastest_rate():
    bursts = protocol(
        timing={
            "inter_pulse_interval": "100 ms",
            "pulses_in_burst": 3,
            "inter_burst_interval": "1 s",
            "bursts_in_train": 3,
            "inter_train_interval": "10 s",
            "trains_in_protocol": 2,
        }
    )
    # 3 bursts of 3 pulses 1 s apart: one train 2.3 s long read at 10 Hz; trains 7.7 s apart
    f = rule(safety.check(bursts, at(100)), "wassermann-train-duration")
    assert (f.outcome, f.value) == ("pass", "train 2.3 s at 10 Hz, 100% RMT")
    assert rule(safety.check(bursts, at(130)), "wassermann-train-duration").outcome == "pass"
    jitter = rtms(60, {"uniform": ["100 ms", "200 ms"], "seed": 1})
    f = rule(safety.check(jitter, at(100)), "wassermann-train-duration")
    assert f.outcome == "refuse" and f.value.endswith("Hz, 100% RMT")


def test_chen_pause_between_trains_above_100_percent():
    short = rtms(20, "10 Hz", "6 s", 5)  # 2 s trains, 4 s pause
    f = rule(safety.check(short, at(110)), "chen-inter-train-interval")
    assert (f.outcome, f.value, f.limit) == (
        "refuse",
        "pause 4 s between trains at 110% RMT",
        "5 s above 100% MT",
    )
    # not "or at most 100%": at 100% the trains are joined into one 26 s train (below)
    assert f.fix == "a pause of at least 5 s between trains (inter_train_interval at least 7 s)"
    ok = rtms(20, "10 Hz", "7 s", 5)
    assert rule(safety.check(ok, at(110)), "chen-inter-train-interval").outcome == "pass"
    low = rule(safety.check(short, at(100)), "chen-inter-train-interval")
    assert (low.outcome, low.detail) == (
        "pass",
        "at or below 100% MT: trains with shorter pauses are judged as one train",
    )
    # ... and at 100% the five trains are judged as one 26 s train: refused by the table
    joined = rule(safety.check(short, at(100)), "wassermann-train-duration")
    assert (joined.outcome, joined.value) == (
        "refuse",
        "train 26 s at 10 Hz, 100% RMT (5 trains judged as one: pauses under 5 s)",
    )


def test_chen_shortening_is_a_warning():
    f = rule(safety.check(resolve("rtms-10hz"), at(120)), "chen-train-shortening")
    assert (f.outcome, f.kind, f.limit) == ("warn", "safety", "3.15 s (0.75 of 4.2 s)")
    f = rule(safety.check(rtms(30, "10 Hz"), at(120)), "chen-train-shortening")
    assert f.outcome == "pass"


# ---- point 6: the interval convention ----------------------------------------------------


def test_inter_train_interval_from_the_last_pulse():
    p = resolve("rtms-10hz-short-iti")
    onsets = schedule.expand(p).onsets
    assert onsets[40] - onsets[39] == Fraction(11)  # 11 s from the last pulse
    assert onsets[40] == Fraction("14.9")  # train period 3.9 s + 11 s
    assert onsets[-1] == Fraction("1106.5")  # 75 x 3.9 s + 74 x 11 s: 18 min 26.5 s
    assert p.train_interval() == Fraction("14.9")
    onset = protocol(
        timing={
            "inter_pulse_interval": "10 Hz",
            "pulses_in_burst": 40,
            "inter_train_interval": "11 s",
            "trains_in_protocol": 75,
        }
    )
    assert schedule.expand(onset).onsets[-1] == Fraction("817.9")  # 74 x 11 s + 3.9 s
    f = rule(safety.check(p, at(110)), "chen-inter-train-interval")
    assert (f.outcome, f.value) == ("pass", "pause 10.9 s between trains at 110% RMT")


def test_the_last_pulse_convention_names_its_fix_in_its_own_terms():
    tight = rtms(20, "10 Hz", "3 s", 5, inter_train_interval_from="last-pulse")
    f = rule(safety.check(tight, at(110)), "chen-inter-train-interval")
    assert (f.outcome, f.value) == ("refuse", "pause 2.9 s between trains at 110% RMT")
    assert f.fix.startswith(
        "a pause of at least 5 s between trains (inter_train_interval at least 5.1 s from the "
        "last pulse)"
    )
    ok = rtms(20, "10 Hz", "5.1 s", 5, inter_train_interval_from="last-pulse")
    assert refusals(safety.check(ok, at(110))) == []


def test_threed_3_min_9_s_fits_8_s_pauses_from_the_last_pulse():
    # what docs/safety.md records: THREE-D's quoted 3 min 9 s is 8 s from each train's last
    # pulse (188.8 s), not a 10 s train period (191.84 s, the shipped reading)
    read = protocol(
        family="theta-burst",
        timing={
            "inter_pulse_interval": "20 ms",
            "pulses_in_burst": 3,
            "inter_burst_interval": "200 ms",
            "bursts_in_train": 10,
            "inter_train_interval": "8 s",
            "trains_in_protocol": 20,
            "inter_train_interval_from": "last-pulse",
        },
    )
    assert schedule.expand(read).onsets[-1] == Fraction("188.8")
    assert schedule.expand(resolve("threed-itbs")).onsets[-1] == Fraction("191.84")
    assert refusals(safety.check(read, at(120))) == []


# ---- point 2: safety apart from methods ----------------------------------------------------


def sici_jittered():
    return protocol(
        family="paired-pulse",
        channels=[
            {"name": "cond", "polarity": "active-high"},
            {"name": "test", "polarity": "active-high", "offset": "3 ms"},
        ],
        timing={
            "inter_train_interval": {"uniform": ["4 s", "6 s"], "seed": 5},
            "trains_in_protocol": 40,
        },
    )


def test_a_sici_design_with_4_to_6_s_trials_warns_as_a_method_and_passes():
    found = safety.check(sici_jittered(), at(120))
    assert refusals(found) == []
    f = rule(found, "published-variant")
    assert (f.kind, f.outcome) == ("method", "warn")
    assert f.value.startswith("inter_train_interval uniform 4000-6000 ms")
    assert f.limit.startswith("inter_train_interval at least 5000 ms")
    assert f.detail.startswith("nearest published variant: Kujirai 1993 SICI/ICF")
    spacing = rule(found, "burst-spacing")
    assert (spacing.kind, spacing.outcome) == ("safety", "pass")


def test_pairs_faster_than_1_hz_are_a_safety_refusal():
    fast = protocol(
        family="paired-pulse",
        channels=[
            {"name": "c", "polarity": "active-high"},
            {"name": "t", "polarity": "active-high", "offset": "3 ms"},
        ],
        timing={"inter_train_interval": "1 s", "trains_in_protocol": 10},
    )
    f = rule(safety.check(fast, at(100)), "burst-spacing")
    assert (f.outcome, f.value, f.limit) == (
        "refuse",
        "bursts 1 s apart (onset to onset)",
        "more than 1 s",
    )
    assert f.fix == "bursts more than 1 s apart (onset to onset)"
    assert f.source.startswith("Anand & Hotson 2002")


@pytest.mark.parametrize("name", ["ctbs600", "ctbs300", "imtbs"])
@pytest.mark.parametrize("percent", [70, 80, 90])
def test_ctbs_and_imtbs_at_the_rmt_in_common_use_pass(name, percent):
    found = safety.check(resolve(name), at(percent))
    assert refusals(found) == []
    intensity = rule(found, "family-intensity")
    assert (intensity.outcome, intensity.limit) == ("pass", "120% RMT")
    method = rule(found, "published-intensity")
    assert (method.kind, method.outcome) == ("method", "warn")
    assert method.detail == "published in another reference; the two cannot be compared"


def test_itbs_at_90_percent_amt_passes_as_120_percent_rmt_does():
    found = safety.check(resolve("itbs"), at(90, "AMT"))
    assert refusals(found) == []
    f = rule(found, "family-intensity")
    assert (f.outcome, f.detail) == (
        "pass",
        "% AMT compared as % RMT (AMT is below RMT: conservative)",
    )
    m = rule(found, "published-intensity")
    assert (m.kind, m.outcome, m.limit) == ("method", "warn", "80% AMT")
    assert refusals(safety.check(resolve("itbs"), at(120))) == []


def test_method_findings_never_refuse():
    with pytest.raises(ValueError):
        safety.Finding("published-variant", "refuse", "v", "l", "s", kind="method")
    odd = tbs(ipi="25 ms", bursts=8)  # a TBS-like pattern no variant publishes
    found = safety.check(odd, at(80, "AMT"))
    assert [f.outcome for f in found if f.kind == "method"] == ["warn"]


# ---- point 3: every family has an intensity bound -------------------------------------------


# name: refusing findings (trial entries: one per condition with pulses at the head)
@pytest.mark.parametrize(
    "name, n",
    [
        ("sai", 2),
        ("qps5", 1),
        ("pas25", 1),
        ("tms-eeg", 1),
        ("itms", 1),
        ("ccpas", 1),
        ("pas10", 1),
    ],
)
def test_families_without_a_published_bound_refuse_200_percent_rmt(name, n):
    found = safety.check(resolve(name), at(200))
    assert refusals(found) == ["family-intensity"] * n
    for f in [f for f in found if f.rule == "family-intensity"]:
        assert (f.kind, f.limit, f.fix) == ("safety", "120% RMT", "at most 120% RMT")
        assert f.detail.startswith("default: no published intensity bound for this family")
        assert f.source.startswith("tmspio default (no published bound found)")
    at120 = safety.check(resolve(name), at(120))
    assert [f.outcome for f in at120 if f.rule == "family-intensity"] == ["pass"] * n


def test_theta_burst_bound_warns_above_the_confirmed_and_refuses_above_the_published():
    saint = lambda p: rule(safety.check(resolve("saint"), at(p)), "family-intensity")  # noqa: E731
    assert saint(90).outcome == "pass"
    assert saint(100).outcome == "warn"
    assert saint(100).detail.startswith("above 90% RMT (Cole 2020")
    assert (saint(121).outcome, saint(121).fix) == ("refuse", "at most 120% RMT")
    assert saint(121).source.startswith("Blumberger 2018 (THREE-D")


def test_theta_burst_envelope_bounds_the_pattern():
    fast = rule(safety.check(tbs(ipi="10 ms"), at(80, "AMT")), "burst-shape")
    assert (fast.outcome, fast.value) == ("refuse", "3 pulses per burst, shortest interval 10 ms")
    assert fast.fix == "at most 3 pulses per burst, intervals of at least 20 ms"
    five = rule(safety.check(tbs(pulses=5), at(80, "AMT")), "burst-shape")
    assert (five.outcome, five.value) == ("refuse", "5 pulses per burst, shortest interval 20 ms")
    ctbs1200 = tbs(bursts=400, trains=1)  # prolonged cTBS (Gamboa 2010)
    f = rule(safety.check(ctbs1200, at(80, "AMT")), "continuous-pulses")
    assert (f.outcome, f.value, f.fix) == (
        "refuse",
        "1200 pulses without a pause of 5 s",
        "at most 600 pulses without a pause of 5 s",
    )
    saint_x2 = tbs(trains=120)
    f = rule(safety.check(saint_x2, at(90)), "pulse-total")
    assert (f.outcome, f.value, f.limit) == ("refuse", "3600 pulses at the head", "at most 1800")
    twenty_hz = protocol(
        family="theta-burst", timing={"inter_pulse_interval": "50 ms", "pulses_in_burst": 100}
    )
    f = rule(safety.check(twenty_hz, at(80, "AMT")), "burst-spacing")  # a label is not an escape
    assert (f.outcome, f.value) == ("refuse", "bursts 0.05 s apart (onset to onset)")


def test_custom_patterns_need_an_override():
    f = rule(safety.check(protocol(family="custom"), at(100)), "family-custom")
    assert (f.outcome, f.detail) == ("refuse", "no published table or bound covers this pattern")
    assert f.fix.startswith("a family whose rules cover the pattern (rtms, theta-burst")


# ---- point 4: stimulator limits depend on output --------------------------------------------


def test_rapid2_single_supply_refuses_20_hz_at_80_percent_output():
    p = rtms(40, "20 Hz")
    f = rule(
        safety.check(p, at(90, "MT", output=80), "magstim-rapid2"), "stimulator-rate-at-output"
    )
    assert (f.outcome, f.value, f.limit) == (
        "refuse",
        "20 Hz at 80% output",
        "18 Hz up to 80% output",
    )
    assert f.fix == "at most 50% output, or intervals of at least 56 ms (18 Hz)"
    assert "Magstim Rapid² spec sheet" in f.source
    ok = rule(
        safety.check(p, at(90, "MT", output=50), "magstim-rapid2"), "stimulator-rate-at-output"
    )
    assert (ok.outcome, ok.limit) == ("pass", "30 Hz up to 50% output")
    between = rule(
        safety.check(p, at(90, "MT", output=51), "magstim-rapid2"), "stimulator-rate-at-output"
    )
    assert (between.outcome, between.limit) == ("refuse", "18 Hz up to 80% output")


def test_rate_at_output_unknown_stays_unknown_and_warns():
    p = rtms(40, "20 Hz")
    f = rule(safety.check(p, at(90, "MT"), "magstim-rapid2"), "stimulator-rate-at-output")
    assert (f.outcome, f.value, f.limit) == (
        "warn",
        "20 Hz at output UNKNOWN",
        "20 Hz reached up to 50% output",
    )
    assert f.detail == "declare the stimulator output with --output PCT to check it"
    dual = rule(
        safety.check(p, at(90, "MT", output=80), "magstim-rapid2-dual"),
        "stimulator-rate-at-output",
    )
    assert (dual.outcome, dual.limit) == ("warn", "UNKNOWN")
    assert dual.detail.startswith("UNKNOWN: dual power supplies reach 100/50/30/25 Hz")


def test_declared_output_is_checked():
    with pytest.raises(InputError) as e:
        safety.declared_intensity(resolve("itbs"), 80, "AMT", 150)
    assert str(e.value) == (
        "--output = 150: the stimulator output in % of its maximum, above 0 and at most 100"
    )


# ---- point 5: multi-stimulator protocols -------------------------------------------------------


def test_qps_from_four_stimulators_passes_each_profile():
    found = safety.check(resolve("qps5"), at(90, "AMT"), "magstim-200")
    assert refusals(found) == []
    f = rule(found, "stimulator-min-interval")
    assert (f.outcome, f.value, f.limit) == (
        "pass",
        "shortest interval 5000 ms",
        "at least 1000 ms",
    )
    assert [f.value for f in found if f.rule == "stimulator-polarity"] == [
        "channel %d (stim%d) active-high" % (k, k + 1) for k in range(4)
    ]
    assert rule(found, "burst-shape").value == "4 pulses per burst, shortest interval 5 ms"
    assert rule(found, "published-variant").outcome == "pass"


def test_qps_on_one_stimulator_is_refused_by_its_profile_and_warned_as_a_method():
    single = protocol(
        family="qps",
        timing={
            "inter_pulse_interval": "5 ms",
            "pulses_in_burst": 4,
            "inter_burst_interval": "5 s",
            "bursts_in_train": 360,
        },
    )
    found = safety.check(single, at(90, "AMT"), "magstim-200")
    f = rule(found, "stimulator-min-interval")
    assert (f.outcome, f.value) == ("refuse", "shortest interval 5 ms")
    m = rule(found, "published-variant")
    assert (m.outcome, m.value, m.limit) == ("warn", "channels 1", "channels 4")


def test_itms_from_two_stimulators_passes_and_one_is_refused():
    found = safety.check(resolve("itms"), at(100), "magstim-bistim")
    assert refusals(found) == []
    assert rule(found, "burst-shape").value == "2 pulses per burst, shortest interval 1.5 ms"
    one = protocol(
        family="paired-pulse",
        timing={
            "inter_pulse_interval": "1.5 ms",
            "pulses_in_burst": 2,
            "inter_burst_interval": "5 s",
            "bursts_in_train": 180,
        },
        pulse_width="0.5 ms",
    )
    assert refusals(safety.check(one, at(100), "magstim-bistim")) == [
        "stimulator-min-interval",
        "stimulator-max-rate",
    ]


def test_a_channel_with_its_own_profile_is_checked_against_it():
    found = safety.check(resolve("pas25"), at(120), "magstim-200")
    width = [(f.outcome, f.value, f.limit) for f in found if f.rule == "stimulator-min-width"]
    assert width == [("pass", "tms: 1 ms", "at least 0.01 ms"), ("warn", "nerve: 1 ms", "UNKNOWN")]
    polarity = [
        (f.value, f.source.split(" profile")[0]) for f in found if f.rule == "stimulator-polarity"
    ]
    assert polarity == [
        ("channel 1 (tms) active-high", "Magstim 200²"),
        ("channel 0 (nerve) active-high", "Generic TTL trigger input"),
    ]
    # the nerve channel (role other) is not at the head: 90 TMS pulses, one per pair
    assert rule(found, "pulse-total").value == "90 pulses at the head"


# ---- the other stimulator rules -------------------------------------------------------------


def profile(**changes):
    entry = dict(stimulators.get("magstim-rapid2").__dict__)
    entry.update(changes)
    return stimulators.Stimulator(entry)


def test_min_interval():
    found = safety.check(resolve("itbs"), at(80, "AMT"), "magstim-rapid2")
    f = rule(found, "stimulator-min-interval")
    assert (f.outcome, f.value, f.limit) == ("pass", "shortest interval 20 ms", "at least 20 ms")
    f = rule(
        safety.check(tbs(ipi="10 ms"), at(80, "AMT"), "magstim-rapid2"), "stimulator-min-interval"
    )
    assert (f.outcome, f.value) == ("refuse", "shortest interval 10 ms")
    assert f.source == (
        "Magstim Rapid² (single power supply) profile (tmspio stimulators magstim-rapid2): "
        "Magstim Rapid² spec sheet (SciCrunch RRID-Instruments PDF/SCR_026437.pdf)"
    )
    f = rule(
        safety.check(resolve("itbs"), at(80, "AMT"), "magventure-magpro"),
        "stimulator-min-interval",
    )
    assert (f.outcome, f.limit) == ("warn", "UNKNOWN")


def test_max_rate_counts_pulses_in_any_1_s_window():
    f = rule(
        safety.check(resolve("itbs"), at(80, "AMT"), profile(max_rate_hz=15)),
        "stimulator-max-rate",
    )
    assert (f.outcome, f.value, f.limit) == ("pass", "15 pulses in 1 s", "15 pulses in any 1 s")
    f = rule(
        safety.check(resolve("itbs"), at(80, "AMT"), profile(max_rate_hz=14)),
        "stimulator-max-rate",
    )
    assert (f.outcome, f.fix) == ("refuse", "at most 14 pulses in any 1 s")


def test_min_width():
    f = rule(safety.check(resolve("itbs"), at(80, "AMT"), "magstim-200"), "stimulator-min-width")
    assert (f.outcome, f.value, f.limit) == ("pass", "1 ms", "at least 0.01 ms")
    narrow = protocol(pulse_width="5 us")
    f = rule(safety.check(narrow, at(100), "magstim-200"), "stimulator-min-width")
    assert (f.outcome, f.value, f.fix) == ("refuse", "0.005 ms", 'pulse_width at least "0.01 ms"')
    f = rule(safety.check(narrow, at(100), "magstim-rapid2"), "stimulator-min-width")
    assert (f.outcome, f.limit) == ("warn", "UNKNOWN")


def test_polarity():
    low = protocol(channels=[{"name": "tms", "polarity": "active-low"}])
    ok = rule(safety.check(low, at(100), profile(polarity="active-low")), "stimulator-polarity")
    assert ok.outcome == "pass"
    f = rule(safety.check(low, at(100), profile(polarity="active-high")), "stimulator-polarity")
    assert (f.outcome, f.value, f.limit, f.fix) == (
        "refuse",
        "channel 0 (tms) active-low",
        "active-high",
        'channels.0.polarity = "active-high"',
    )
    assert (
        rule(safety.check(low, at(100), "deymed-duomag"), "stimulator-polarity").outcome == "warn"
    )


def test_default_stimulator_is_the_protocols_then_generic():
    p = protocol(stimulator="magstim-200")
    assert "Magstim 200²" in rule(safety.check(p, at(100)), "stimulator-min-width").source
    assert "Generic TTL" in rule(safety.check(protocol(), at(100)), "stimulator-min-width").source


# ---- declaration, enforcement, every finding ------------------------------------------------


def test_declared_intensity():
    assert str(safety.declared_intensity(resolve("itbs"))) == "80% AMT"
    assert str(safety.declared_intensity(resolve("itbs"), 75)) == "75% AMT"
    assert str(safety.declared_intensity(resolve("qps5"), 90)) == "90% RMT"
    assert str(safety.declared_intensity(resolve("qps5"), 90, "MT")) == "90% MT"
    with pytest.raises(InputError) as e:
        safety.declared_intensity(resolve("qps5"))
    assert str(e.value) == "qps5: intensity: not declared in the protocol; give --intensity PCT"
    with pytest.raises(InputError) as e:
        safety.declared_intensity(resolve("qps5"), 400)
    assert str(e.value) == "--intensity = 400: a percentage above 0 and at most 300"


def test_enforce():
    ok = safety.check(resolve("rtms-10hz"), at(120))
    assert safety.enforce(ok) is None
    bad = safety.check(resolve("rtms-10hz"), at(130))
    with pytest.raises(SafetyRefused) as e:
        safety.enforce(bad, name="rtms-10hz")
    assert e.value.exit_code == 3
    assert [f.rule for f in e.value.findings] == ["wassermann-train-duration"]
    assert str(e.value) == (
        "rtms-10hz refused by the safety envelope (1 rule); --override "
        '"reason" runs it anyway and logs the reason'
    )
    assert safety.enforce(bad, "  IRB approval 2026-17 ") == "IRB approval 2026-17"
    with pytest.raises(InputError) as e:
        safety.enforce(bad, "  ")
    assert str(e.value) == "--override = '  ': a written reason (not empty)"


def test_every_finding_names_rule_kind_value_limit_and_source():
    for name in ("itbs", "rtms-10hz", "qps5", "sici", "pas25", "tms-eeg", "itms"):
        for f in safety.check(resolve(name), at(100), "magstim-rapid2"):
            assert f.rule and f.value and f.limit and f.source
            assert f.outcome in ("pass", "warn", "refuse")
            assert f.kind in ("safety", "method")
            assert (f.outcome == "refuse") == bool(f.fix)
            assert set(f.as_dict()) == {
                "rule", "rule_kind", "outcome", "value", "limit", "source", "detail", "fix"
            }  # fmt: skip
            assert "tms-domain" not in f.source and "safety.json" not in f.source


def test_gated_protocols_are_checked_in_their_densest_case():
    timing = {"inter_pulse_interval": "10 Hz", "pulses_in_burst": 20, "trains_in_protocol": 10}
    tight = protocol(start={"mode": "gated", "refractory": "4 s"}, timing=timing)
    f = rule(safety.check(tight, at(110)), "chen-inter-train-interval")
    assert (f.outcome, f.value) == ("refuse", "pause 2 s between trains at 110% RMT")
    assert f.fix == "pauses of at least 5 s between trains"  # joined at 100%: 38 s, refused
    loose = protocol(start={"mode": "gated", "refractory": "7 s"}, timing=timing)
    assert rule(safety.check(loose, at(110)), "chen-inter-train-interval").outcome == "pass"


def test_the_interval_convention_is_refused_where_it_means_nothing():
    from tmspio.errors import InputError as Bad

    with pytest.raises(Bad) as e:
        rtms(40, "10 Hz", inter_train_interval_from="last-pulse")
    assert str(e.value) == (
        't.toml: timing.inter_train_interval_from = "last-pulse": "onset" unless '
        "inter_train_interval is given"
    )
    with pytest.raises(Bad) as e:
        rtms(40, "10 Hz", "1 ms", 3, inter_train_interval_from="last-pulse")
    assert str(e.value) == (
        't.toml: timing.inter_train_interval = "1 ms": longer than pulse_width (1 ms): it '
        "counts from the train's last pulse"
    )
    with pytest.raises(Bad) as e:
        rtms(40, "10 Hz", "3.9 s", 3)  # onset to onset: must clear the whole train
    assert str(e.value) == (
        't.toml: timing.inter_train_interval = "3.9 s": longer than one train plus pulse_width '
        "(3.901 s)"
    )


def test_large_protocols_are_judged_in_seconds():
    import time

    big = rtms(50, "10 Hz", "8 s", 2000)  # 100,000 pulses, 3 s pauses
    start = time.process_time()
    found = safety.check(big, at(200, "MT"))
    assert refusals(found) == ["wassermann-train-duration", "chen-inter-train-interval"]
    assert time.process_time() - start < 30


@pytest.mark.parametrize(
    "p, declared",
    [
        (rtms(40, "20 Hz", "2 s", 100), at(230, "MT")),  # above the table, trains joined
        (rtms(2000, "20 Hz"), at(230, "MT")),
        (rtms(10, "30 Hz", "1 s", 10), at(100)),
        (rtms(60, {"uniform": ["100 ms", "200 ms"], "seed": 1}), at(100)),
        (rtms(5, "10 Hz", "1 s", 50, inter_train_interval_from="last-pulse"), at(150)),
        (tbs(ipi="10 ms", bursts=400, trains=1), at(150)),
        (protocol(family="custom"), at(100)),
    ],
)
def test_every_refusal_names_a_change_that_would_pass(p, declared):
    """(The first case's fix: 'at most 220% MT and at most 2 pulses without a pause of 5 s'.)"""
    bad = [f for f in safety.check(p, declared, "magstim-rapid2") if f.outcome == "refuse"]
    assert bad
    assert all(f.fix for f in bad), [str(f) for f in bad if not f.fix]


def pair(offset, iti="5 s"):
    return protocol(
        family="paired-pulse",
        channels=[
            {"name": "c", "polarity": "active-high"},
            {"name": "t", "polarity": "active-high", "offset": offset},
        ],
        timing={"inter_train_interval": iti, "trains_in_protocol": 20},
    )


def test_a_40_ms_pair_is_a_method_warning_and_a_60_ms_pair_two_pulses_60_ms_apart():
    lihi = safety.check(pair("40 ms"), at(120))
    assert refusals(lihi) == []
    f = rule(lihi, "published-variant")
    assert (f.outcome, f.value, f.limit) == (
        "warn",
        "inter_pulse_interval 40 ms",
        "inter_pulse_interval 1-15 ms",
    )
    wide = safety.check(pair("60 ms"), at(120))
    assert refusals(wide) == ["burst-spacing"]
    assert rule(wide, "burst-spacing").value == "bursts 0.06 s apart (onset to onset)"


def test_simultaneous_tms_pulses_are_refused_not_divided_by_zero():
    two = protocol(
        channels=[
            {"name": "a", "polarity": "active-high"},
            {"name": "b", "polarity": "active-high", "offset": "0 s"},
        ]
    )
    f = rule(safety.check(two, at(100)), "wassermann-train-duration")
    assert (f.outcome, f.value) == (
        "refuse",
        "two pulses at the same instant at the head (TMS channels with equal offsets)",
    )
    other = protocol(
        channels=[
            {"name": "a", "polarity": "active-high"},
            {"name": "b", "polarity": "active-high", "offset": "0 s", "role": "other"},
        ]
    )
    assert refusals(safety.check(other, at(100))) == []
    single = protocol(
        family="single-pulse",
        channels=two.model_dump()["channels"],
        timing={"trains_in_protocol": 5, "inter_train_interval": "2 s"},
    )
    assert refusals(safety.check(single, at(100))) == ["burst-shape"]
