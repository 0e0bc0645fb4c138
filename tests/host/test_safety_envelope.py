"""Every envelope rule with a passing and a failing case; findings name rule, value, limit and
source."""

from fractions import Fraction

import pytest
from proto_helpers import protocol, tbs
from tmspio import safety, stimulators
from tmspio.errors import InputError, SafetyRefused
from tmspio.protocols import resolve

RMT = "RMT"


def at(percent, reference=RMT):
    return safety.Declared(percent, reference)


def rule(findings, name):
    (found,) = [f for f in findings if f.rule == name]
    return found


def outcomes(findings, prefix):
    return [(f.rule, f.outcome) for f in findings if f.rule.startswith(prefix)]


def rtms(n, ipi, iti=None, trains=1):
    timing = {"inter_pulse_interval": ipi, "pulses_in_burst": n}
    if trains > 1:
        timing.update(inter_train_interval=iti, trains_in_protocol=trains)
    return protocol(timing=timing)


# ---- Wassermann single-train table --------------------------------------------------------


def test_10_hz_depression_at_130_percent_is_refused_4_s_against_2_9_s():
    f = rule(safety.check(resolve("rtms-10hz"), at(130)), "wassermann-train-duration")
    assert f.outcome == "refuse"
    assert f.value == "train 4 s at 10 Hz, 130% RMT"
    assert f.limit == "2.9 s"
    assert f.source.startswith("Wassermann 1998 via Rossi 2009 Table 3; UNVERIFIED")
    assert str(f) == (
        "REFUSE wassermann-train-duration: train 4 s at 10 Hz, 130% RMT; limit "
        "2.9 s [Wassermann 1998 via Rossi 2009 Table 3; UNVERIFIED: transcribed "
        "from memory of Rossi 2009 Table 3]"
    )


def test_10_hz_depression_at_120_percent_passes_under_4_2_s():
    f = rule(safety.check(resolve("rtms-10hz"), at(120)), "wassermann-train-duration")
    assert (f.outcome, f.limit) == ("pass", "4.2 s")


@pytest.mark.parametrize(
    "freq, percent, limit",
    [
        (10, 120, Fraction("4.2")),
        (10, 125, Fraction("2.9")),  # between columns: the stricter neighbour
        (15, 120, Fraction("1.0")),  # between rows 10 and 20 Hz: the stricter neighbour
        (15, 155, Fraction("0.25")),  # between rows and columns: min of four cells
        (Fraction(9, 10), 100, Fraction(1800)),  # below 1 Hz: the 1 Hz row
        (10, 80, Fraction(5)),  # below 90%: the 90% column
        (1, 110, Fraction(360)),  # '>360' is taken as the limit
        (25, 220, Fraction("0.08")),
    ],
)
def test_table_lookup_is_conservative(freq, percent, limit):
    assert safety.wassermann_limit(Fraction(freq), Fraction(percent)) == limit


def test_table_does_not_extrapolate():
    assert safety.wassermann_limit(Fraction(26), Fraction(100)) is None
    assert safety.wassermann_limit(Fraction(10), Fraction(221)) is None
    f = rule(safety.check(rtms(10, "30 Hz"), at(100)), "wassermann-train-duration")
    assert (f.outcome, f.limit) == ("refuse", "table covers 1-25 Hz and 90-220% MT")


def test_train_duration_uses_pulses_over_frequency():
    f = rule(safety.check(rtms(40, "10 Hz"), at(100)), "wassermann-train-duration")
    assert (f.outcome, f.value, f.limit) == ("pass", "train 4 s at 10 Hz, 100% RMT", "5 s")
    f = rule(safety.check(rtms(60, "10 Hz"), at(100)), "wassermann-train-duration")
    assert (f.outcome, f.value) == ("refuse", "train 6 s at 10 Hz, 100% RMT")


def test_amt_is_treated_as_percent_mt():
    f = rule(safety.check(resolve("rtms-10hz"), at(130, "AMT")), "wassermann-train-duration")
    assert (f.outcome, f.detail) == ("refuse", "AMT treated as %MT (conservative)")


def test_rtms_patterns_outside_the_table_are_refused():
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
    f = rule(safety.check(bursts, at(100)), "wassermann-train-duration")
    assert (f.outcome, f.value) == ("refuse", "pattern not plain trains")
    jitter = rtms(10, {"uniform": ["100 ms", "200 ms"], "seed": 1})
    assert rule(safety.check(jitter, at(100)), "wassermann-train-duration").outcome == "refuse"


# ---- Chen 1997 -----------------------------------------------------------------------------


def test_chen_pause_between_trains_above_100_percent():
    short = rtms(20, "10 Hz", "6 s", 5)  # 2 s trains, 4 s pause
    f = rule(safety.check(short, at(110)), "chen-inter-train-interval")
    assert (f.outcome, f.value, f.limit) == (
        "refuse",
        "pause 4 s between trains at 110% RMT",
        "5 s above 100% MT",
    )
    ok = rtms(20, "10 Hz", "7 s", 5)
    assert rule(safety.check(ok, at(110)), "chen-inter-train-interval").outcome == "pass"
    low = rule(safety.check(short, at(100)), "chen-inter-train-interval")
    assert (low.outcome, low.detail) == ("pass", "applies above 100% MT only")


def test_chen_shortening_is_a_warning():
    f = rule(safety.check(resolve("rtms-10hz"), at(120)), "chen-train-shortening")
    assert (f.outcome, f.limit) == ("warn", "3.15 s (0.75 of 4.2 s)")
    f = rule(safety.check(rtms(30, "10 Hz"), at(120)), "chen-train-shortening")
    assert f.outcome == "pass"


# ---- families -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, percent, reference",
    [
        ("itbs", 80, "AMT"),
        ("itbs", 70, RMT),
        ("threed-itbs", 120, RMT),
        ("saint", 90, RMT),
        ("ctbs600", 80, "AMT"),
        ("ctbs300", 80, "AMT"),
        ("imtbs", 80, "AMT"),
    ],
)
def test_published_theta_burst_passes(name, percent, reference):
    found = safety.check(resolve(name), at(percent, reference))
    assert outcomes(found, "family") == [
        ("family-theta-burst", "pass"),
        ("family-intensity", "pass"),
    ]


def test_100_hz_bursts_are_refused():
    f = rule(safety.check(tbs(ipi="10 ms"), at(80, "AMT")), "family-theta-burst")
    assert f.outcome == "refuse"
    assert f.value == "inter_pulse_interval 10 ms"
    assert f.limit == "inter_pulse_interval 20 ms"
    assert f.detail == "nearest published variant: Huang 2005 iTBS"


def test_doubled_pulse_counts_are_refused():
    doubled = tbs(bursts=400, trains=1)  # cTBS1200 (Gamboa 2010 reverses the effect)
    f = rule(safety.check(doubled, at(80, "AMT")), "family-theta-burst")
    assert (f.outcome, f.value, f.limit) == ("refuse", "pulses 1200", "pulses at most 600")
    saint_x2 = tbs(trains=120)
    assert rule(safety.check(saint_x2, at(90)), "family-theta-burst").outcome == "refuse"


def test_theta_burst_intensity_above_published_is_refused():
    f = rule(safety.check(resolve("itbs"), at(90, "AMT")), "family-intensity")
    assert (f.outcome, f.value, f.limit) == ("refuse", "90% AMT", "80% AMT")
    f = rule(safety.check(resolve("saint"), at(121)), "family-intensity")
    assert (f.outcome, f.limit) == ("refuse", "90% RMT")  # 1800 pulses: only SAINT matches
    f = rule(safety.check(resolve("ctbs600"), at(70)), "family-intensity")
    assert f.outcome == "refuse"
    assert f.detail == "no published intensity in % RMT for this pattern"


def test_qps_family():
    found = safety.check(resolve("qps5"), at(90, "AMT"))
    assert outcomes(found, "family") == [("family-qps", "pass"), ("family-intensity", "warn")]
    six = protocol(
        family="qps",
        timing={
            "inter_pulse_interval": "5 ms",
            "pulses_in_burst": 6,
            "inter_burst_interval": "5 s",
            "bursts_in_train": 10,
        },
    )
    f = rule(safety.check(six, at(90, "AMT")), "family-qps")
    assert (f.outcome, f.value, f.limit) == ("refuse", "pulses_in_burst 6", "pulses_in_burst 4")
    fast = protocol(
        family="qps",
        timing={
            "inter_pulse_interval": "1 ms",
            "pulses_in_burst": 4,
            "inter_burst_interval": "5 s",
            "bursts_in_train": 10,
        },
        pulse_width="0.5 ms",
    )
    f = rule(safety.check(fast, at(90, "AMT")), "family-qps")
    assert (f.value, f.limit) == ("inter_pulse_interval 1 ms", "inter_pulse_interval 1.5-1250 ms")


def test_paired_pulse_family():
    assert rule(safety.check(resolve("sici"), at(120)), "family-paired-pulse").outcome == "pass"
    assert rule(safety.check(resolve("itms"), at(100)), "family-paired-pulse").outcome == "pass"
    fast = protocol(
        family="paired-pulse",
        channels=[
            {"name": "c", "polarity": "active-high"},
            {"name": "t", "polarity": "active-high", "offset": "3 ms"},
        ],
        timing={"inter_train_interval": "2 s", "trains_in_protocol": 10},
    )
    f = rule(safety.check(fast, at(120)), "family-paired-pulse")
    assert (f.outcome, f.value, f.limit) == (
        "refuse",
        "shortest interval 2000 ms",
        "shortest interval at least 5000 ms",
    )
    far = protocol(
        family="paired-pulse",
        channels=[
            {"name": "c", "polarity": "active-high"},
            {"name": "t", "polarity": "active-high", "offset": "40 ms"},
        ],
        timing={"inter_train_interval": "6 s", "trains_in_protocol": 10},
    )
    f = rule(safety.check(far, at(120)), "family-paired-pulse")
    assert (f.outcome, f.value) == ("refuse", "channels.1.offset 40 ms")


def test_pas_family():
    assert rule(safety.check(resolve("pas25"), at(120)), "family-pas").outcome == "pass"
    assert rule(safety.check(resolve("pas10"), at(120)), "family-pas").outcome == "pass"
    wrong = protocol(
        family="pas",
        channels=[
            {"name": "n", "polarity": "active-high"},
            {"name": "t", "polarity": "active-high", "offset": "30 ms"},
        ],
        timing={"inter_train_interval": "20 s", "trains_in_protocol": 90},
    )
    f = rule(safety.check(wrong, at(120)), "family-pas")
    assert (f.outcome, f.value, f.limit) == (
        "refuse",
        "channels.1.offset 30 ms",
        "channels.1.offset 25 ms",
    )


def test_single_pulse_family():
    found = safety.check(resolve("tms-eeg"), at(110))
    assert outcomes(found, "family") == [
        ("family-single-pulse", "pass"),
        ("family-pulse-count", "warn"),
        ("family-intensity", "warn"),
    ]
    fast = protocol(
        family="single-pulse",
        timing={
            "inter_pulse_interval": {"uniform": ["0.5 s", "0.9 s"], "seed": 3},
            "pulses_in_burst": 20,
        },
    )
    f = rule(safety.check(fast, at(110)), "family-single-pulse")
    assert f.outcome == "refuse" and f.limit == "shortest interval at least 1100 ms"


def test_custom_patterns_need_an_override():
    f = rule(safety.check(protocol(family="custom"), at(100)), "family-custom")
    assert (f.outcome, f.detail) == ("refuse", "no published table or variant covers this pattern")


# ---- stimulator profile ---------------------------------------------------------------------


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
    assert (
        f.source == "Magstim Rapid² (single power supply) profile: S20, S43, S44, see "
        "tmspio stimulators magstim-rapid2"
    )
    f = rule(
        safety.check(resolve("itbs"), at(80, "AMT"), "magventure-magpro"),
        "stimulator-min-interval",
    )
    assert (f.outcome, f.limit) == ("warn", "UNKNOWN")


def test_max_rate_counts_pulses_in_any_1_s_window():
    found = safety.check(resolve("itbs"), at(80, "AMT"), profile(max_rate_hz=15))
    f = rule(found, "stimulator-max-rate")
    assert (f.outcome, f.value, f.limit) == ("pass", "15 pulses in 1 s", "15 pulses in any 1 s")
    f = rule(
        safety.check(resolve("itbs"), at(80, "AMT"), profile(max_rate_hz=14)),
        "stimulator-max-rate",
    )
    assert f.outcome == "refuse"
    fifty = rtms(100, "50 Hz")  # 50 pulses in every half-open 1 s window
    assert (
        rule(safety.check(fifty, at(80), "magstim-rapid2"), "stimulator-max-rate").outcome
        == "pass"
    )


def test_min_width():
    f = rule(safety.check(resolve("itbs"), at(80, "AMT"), "magstim-200"), "stimulator-min-width")
    assert (f.outcome, f.value, f.limit) == ("pass", "1 ms", "at least 0.01 ms")
    narrow = protocol(pulse_width="5 us")
    f = rule(safety.check(narrow, at(100), "magstim-200"), "stimulator-min-width")
    assert (f.outcome, f.value) == ("refuse", "0.005 ms")
    f = rule(safety.check(narrow, at(100), "magstim-rapid2"), "stimulator-min-width")
    assert (f.outcome, f.limit) == ("warn", "UNKNOWN")


def test_polarity():
    low = protocol(channels=[{"name": "tms", "polarity": "active-low"}])
    assert (
        rule(
            safety.check(low, at(100), profile(polarity="active-low")), "stimulator-polarity"
        ).outcome
        == "pass"
    )
    f = rule(safety.check(low, at(100), profile(polarity="active-high")), "stimulator-polarity")
    assert (f.outcome, f.value, f.limit) == ("refuse", "channel 0 (tms) active-low", "active-high")
    assert (
        rule(safety.check(low, at(100), "magstim-rapid2"), "stimulator-polarity").outcome == "pass"
    )  # either
    assert (
        rule(safety.check(low, at(100), "deymed-duomag"), "stimulator-polarity").outcome == "warn"
    )  # unknown


def test_default_stimulator_is_the_protocols_then_generic():
    p = protocol(stimulator="magstim-200")
    assert "Magstim 200²" in rule(safety.check(p, at(100)), "stimulator-min-width").source
    assert "Generic TTL" in rule(safety.check(protocol(), at(100)), "stimulator-min-width").source


# ---- intensity declaration and enforcement --------------------------------------------------


def test_declared_intensity():
    assert str(safety.declared_intensity(resolve("itbs"))) == "80% AMT"
    assert str(safety.declared_intensity(resolve("itbs"), 75)) == "75% AMT"
    assert str(safety.declared_intensity(resolve("qps5"), 90)) == "90% RMT"
    assert str(safety.declared_intensity(resolve("qps5"), 90, "AMT")) == "90% AMT"
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
    assert (
        safety.enforce(bad, "  patient-specific IRB approval 2026-17 ")
        == "patient-specific IRB approval 2026-17"
    )
    with pytest.raises(InputError) as e:
        safety.enforce(bad, "  ")
    assert str(e.value) == "--override = '  ': a written reason (not empty)"


def test_every_finding_names_rule_value_limit_and_source():
    for name in ("itbs", "rtms-10hz", "qps5", "sici", "pas25", "tms-eeg"):
        for f in safety.check(resolve(name), at(100), "magstim-rapid2"):
            assert f.rule and f.value and f.limit and f.source
            assert f.outcome in ("pass", "warn", "refuse")
            assert set(f.as_dict()) == {"rule", "outcome", "value", "limit", "source", "detail"}


def test_gated_protocols_are_checked_in_their_densest_case():
    timing = {"inter_pulse_interval": "10 Hz", "pulses_in_burst": 20, "trains_in_protocol": 10}
    tight = protocol(start={"mode": "gated", "refractory": "4 s"}, timing=timing)
    f = rule(safety.check(tight, at(110)), "chen-inter-train-interval")
    assert (f.outcome, f.value) == ("refuse", "pause 2 s between trains at 110% RMT")
    loose = protocol(start={"mode": "gated", "refractory": "7 s"}, timing=timing)
    assert rule(safety.check(loose, at(110)), "chen-inter-train-interval").outcome == "pass"
    pas = protocol(
        family="pas",
        start={"mode": "gated", "refractory": "20 s"},
        channels=[
            {"name": "n", "polarity": "active-high"},
            {"name": "t", "polarity": "active-high", "offset": "25 ms"},
        ],
        timing={"trains_in_protocol": 90},
    )
    assert rule(safety.check(pas, at(120)), "family-pas").outcome == "pass"


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
    single = safety.check(resolve("itbs"), at(80, "AMT"), "magstim-rapid2")
    assert [f.value for f in single if f.rule == "stimulator-min-width"] == ["1 ms"]
