"""The built-in library against the published numbers (tms-domain.md §1)."""

import itertools
import tomllib
from fractions import Fraction

import pytest
from tmspio import compiler
from tmspio.protocols import library, resolve

# name: (pulses per channel, channels, exact last onset of channel 0 in s, segments per channel);
# a list where the channels differ (protocols with conditions: each channel pulses only in the
# trials of the conditions that list it)
PUBLISHED = {
    "itbs": (600, 1, Fraction("191.84"), 200),
    "threed-itbs": (600, 1, Fraction("191.84"), 200),
    "ctbs600": (600, 1, Fraction("39.84"), 200),
    "ctbs300": (300, 1, Fraction("19.84"), 100),
    "imtbs": (600, 1, Fraction("109.84"), 200),
    "saint": (1800, 1, Fraction("591.84"), 600),
    "rtms-10hz": (3000, 1, Fraction("2223.9"), 75),
    # 11 s counted from each train's last pulse: 75 x 3.9 s + 74 x 11 s, "18 min 26 s"
    "rtms-10hz-short-iti": (3000, 1, Fraction("1106.5"), 75),
    "rtms-1hz": (900, 1, Fraction(899), 1),
    "rtms-0.9hz": (810, 1, Fraction(809) / Fraction("0.9"), None),
    "rtms-20hz": (40, 1, Fraction("1.95"), 1),
    "rtms-5hz": (50, 1, Fraction("9.8"), 1),
    # four stimulators (QPS) and two (iTMS), one pulse each per burst; channel 0's last onset
    "qps5": (360, 4, Fraction(1795), 1),
    "qps50": (360, 4, Fraction(1795), 1),
    "itms": (180, 2, Fraction(895), 1),
    "pas25": (90, 2, Fraction(89 * 20), 90),
    "pas10": (90, 2, Fraction(89 * 20), 90),
    # 10 test-alone trials and 10 of each conditioned ISI: cond 20 pulses, test 30
    "sici": ([20, 30], 2, None, [20, 30]),
    "icf": ([20, 30], 2, None, [20, 30]),
    "lici": ([10, 20], 2, None, [10, 20]),
    "sai": ([10, 20], 2, None, [10, 20]),  # nerve in the 10 sai trials, tms in all 20
    "ccpas": (90, 2, Fraction(890), 90),  # one pair every 10 s
    "tms-eeg": (100, 1, None, None),
}


def test_library_holds_exactly_the_published_entries():
    assert library.names() == sorted(PUBLISHED)


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_entry_matches_published_numbers(name):
    pulses, channels, last, segments = PUBLISHED[name]
    p = resolve(name)
    c = compiler.compile_protocol(p)
    assert p.name == name
    assert p.citation and p.methods and p.title
    assert len(p.channels) == channels
    pulses = pulses if isinstance(pulses, list) else [pulses] * channels
    assert [len(t) for t in c.channel_times] == pulses
    assert c.first_onset() == 0
    if last is not None:
        assert c.channel_times[0][-1] == last
    if segments is not None:
        segments = segments if isinstance(segments, list) else [segments] * channels
        assert [len(ch.segments) for ch in c.program.channels] == segments


def test_itbs_last_pulse_and_duration():
    c = compiler.compile_protocol(resolve("itbs"))
    assert c.pulses() == 600
    assert c.last_onset() == Fraction("191.84")
    assert c.duration() == Fraction("191.841")  # last onset + 1 ms pulse
    assert c.max_rounding_error() == 0


def test_chen_0_9_hz_last_pulse_is_809_over_0_9():
    c = compiler.compile_protocol(resolve("rtms-0.9hz"))
    assert c.pulses() == 810
    assert c.last_onset() == Fraction(8090, 9)
    assert round(float(c.last_onset()), 3) == 898.889


def test_qps_is_1440_pulses_in_360_bursts_every_5_s():
    for name, ipi in (("qps5", Fraction(5, 1000)), ("qps50", Fraction(50, 1000))):
        c = compiler.compile_protocol(resolve(name))
        # four stimulators, each one pulse per burst at offsets 0, ipi, 2 ipi, 3 ipi
        onsets = sorted(t for ch in c.channel_times for t in ch)
        assert [c.channel_times[k][0] for k in range(4)] == [k * ipi for k in range(4)]
        assert len(onsets) == 1440
        firsts = onsets[::4]
        assert len(firsts) == 360
        assert all(b - a == 5 for a, b in zip(firsts, firsts[1:]))
        assert all(
            onsets[4 * k + j] - onsets[4 * k] == j * ipi for k in range(360) for j in range(4)
        )


def test_pas_tms_channel_follows_the_nerve_shock():
    for name, offset, last in (
        ("pas25", Fraction(25, 1000), Fraction("1780.025")),
        ("pas10", Fraction(10, 1000), Fraction("1780.01")),
    ):
        c = compiler.compile_protocol(resolve(name))
        nerve, tms = c.channel_times
        assert [p.name for p in c.protocol.channels] == ["nerve", "tms"]
        assert all(t - n == offset for n, t in zip(nerve, tms))
        assert tms[-1] == last
        assert c.program.channels[1].delay == offset * compiler.DEFAULT_SYSCLK


# the balanced random order of seed 1993 (the first 8 of 30 trials), its conditioned ISIs (ms)
ORDER_1993 = ["B", "test-alone", "B", "test-alone", "test-alone", "C", "test-alone", "B"]


@pytest.mark.parametrize(
    "name, isis",
    [("sici", {"sici-2ms": 2, "sici-3ms": 3}), ("icf", {"icf-10ms": 10, "icf-15ms": 15})],
)
def test_paired_pulse_interleaves_test_alone_and_conditioned_trials(name, isis):
    c = compiler.compile_protocol(resolve(name))
    b, cc = sorted(isis, key=isis.get)
    names = [t.condition for t in c.trials]
    assert names[:8] == [{"B": b, "C": cc}.get(x, x) for x in ORDER_1993]
    assert sorted(names) == sorted(["test-alone", b, cc] * 10)  # balanced
    runs = [len(list(g)) for _, g in itertools.groupby(names)]
    assert max(runs) == 2  # max_run = 2, reached
    cond, test = c.channel_times
    onsets = [t.onset for t in c.trials]
    isi = {n: Fraction(isis.get(n, 0), 1000) for n in names}
    assert test == [o + isi[n] for o, n in zip(onsets, names)]  # the test pulse in every trial
    assert cond == [o for o, n in zip(onsets, names) if n != "test-alone"]
    gaps = [y - x for x, y in zip(onsets, onsets[1:])]
    assert len(gaps) == 29 and all(10 <= g <= 15 for g in gaps)
    assert [d.value for d in c.schedule.draws] == gaps
    assert {d.field for d in c.schedule.draws} == {"trials.interval"}
    intensities = (
        {i.intensity["percent"] for i in c.pulse_info[0]},
        {i.intensity["percent"] for i in c.pulse_info[1]},
    )
    assert intensities == ({80.0}, {120.0})


def test_sai_and_ccpas_channels_follow_their_conditions():
    c = compiler.compile_protocol(resolve("sai"))
    nerve, tms = c.channel_times
    sai = [t.onset for t in c.trials if t.condition == "sai"]
    assert nerve == sai and [t for t in tms if t - Fraction(22, 1000) in sai] == [
        s + Fraction(22, 1000) for s in sai
    ]
    assert any("N20" in f and "per subject" in f for f in c.protocol.unverified)
    c = compiler.compile_protocol(resolve("ccpas"))
    pmv, m1 = c.channel_times
    assert pmv == [10 * k for k in range(90)]
    assert m1 == [10 * k + Fraction(8, 1000) for k in range(90)]


def test_tms_eeg_intervals_are_drawn_in_range_and_reported():
    c = compiler.compile_protocol(resolve("tms-eeg"))
    onsets = c.channel_times[0]
    gaps = [b - a for a, b in zip(onsets, onsets[1:])]
    assert all(Fraction("1.1") <= g <= Fraction("1.4") for g in gaps)
    assert [d.value for d in c.schedule.draws] == gaps
    assert [d.index for d in c.schedule.draws] == list(range(99))
    assert len(set(gaps)) > 90  # really drawn, not one repeated value
    again = compiler.compile_protocol(resolve("tms-eeg"))
    assert again.channel_times == c.channel_times  # the seed makes it reproducible


def test_unverified_flags_follow_the_reference():
    # Values marked UNVERIFIED/UNKNOWN in tms-domain.md stay flagged in the library.
    assert any("80% AMT" in f for f in resolve("itbs").unverified)
    assert any("5 s on / 10 s off" in f for f in resolve("imtbs").unverified)
    assert any("UNKNOWN" in f for f in resolve("rtms-20hz").unverified)
    assert any("UNKNOWN" in f for f in resolve("rtms-5hz").unverified)
    assert any("1800/30" in f or "60 trains" in f for f in resolve("saint").unverified)
    assert any("0.05 Hz" in f for f in resolve("pas25").unverified)
    assert resolve("rtms-10hz").unverified == []


def test_library_files_carry_a_citation_comment_and_methods_sentence():
    for name in library.names():
        path = library.path_of(name)
        with open(path, "rb") as f:
            data = tomllib.load(f)
        assert data["methods"].endswith(".")
        assert data["methods"].count(". ") == 0  # one sentence
        with open(path, encoding="utf-8") as f:
            assert f.readline().startswith("# ")


def test_library_lookup_is_case_insensitive():
    assert resolve("iTBS").name == "itbs"
    assert library.path_of("nope") is None
