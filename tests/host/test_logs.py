"""tmspio.logs: pairing planned and captured pulses, and the files of a run directory."""

import json
from fractions import Fraction

from tmspio import logs
from tmspio.compiler import compile_protocol
from tmspio.protocols import from_dict
from tmspio.safety.core import Declared

CLK = 125_000_000
ONE_CHANNEL = {
    "name": "one",
    "family": "single-pulse",
    "pulse_width": "1 us",
    "intensity": {"percent": 120, "reference": "RMT"},
    "channels": [{"name": "tms", "polarity": "active-high"}],
    "onsets": ["0 s", "20 us"],
}


def test_match_pulses_exact_late_missing_and_confirmed():
    planned = {0: [0, 1000, 2000], 1: [500]}
    edges = [
        (0, 1, 100),
        (5, 1, 101),
        (0, 0, 200),
        (1, 0, 600),
        (0, 1, 1104),
        (0, 0, 1200),
        (1, 1, 700),
    ]
    rows = logs.match_pulses(planned, {0: 0, 1: 1}, 100, edges, CLK, confirm_source=5)
    got = [
        (r["channel"], r["index"], r["captured_cycle"], r["deviation_ns"], r["confirmed"])
        for r in rows
    ]
    assert got == [
        (0, 0, 0, 0, True),
        (0, 1, 1004, 32, False),
        (0, 2, None, None, None),
        (1, 0, 500, 0, None),
    ]
    s = logs.summarize(rows, True, "operator")
    assert s == {
        "pulses_planned": 4,
        "pulses_delivered": 3,
        "max_abs_deviation_ns": 32,
        "aborted": True,
        "reason": "operator",
        "pulses_confirmed": 1,
        "pulses_confirmable": 2,
    }


# paired pulse on two stimulators: channel 1 fires 300 cycles after channel 0 and each
# stimulator would answer 5 cycles after its own onset; only one is wired to the confirm input.
PAIRED = {0: [0, 10_000], 1: [300, 10_300]}


def _paired_rows(tmp_path, edges, confirm_channel):
    rows = logs.match_pulses(
        PAIRED, {0: 0, 1: 0}, 0, edges, CLK, confirm_source=5, confirm_channel=confirm_channel
    )
    logs.write_pulses(str(tmp_path / "p.csv"), rows, {0: "tms", 1: "tms2"})
    return rows, (tmp_path / "p.csv").read_text().splitlines()[1:]


def test_confirmations_credit_only_the_confirm_channel_channel_0(tmp_path):
    # channel 0 wired; its second answer is missing, so tms,1 is false; channel 1 is n/a.
    edges = [(0, 1, 0), (5, 1, 5), (1, 1, 300), (0, 1, 10_000), (1, 1, 10_300)]
    rows, csv_rows = _paired_rows(tmp_path, edges, 0)
    assert csv_rows == [
        "tms,0,0.000000000,0.000000000,0,true,n/a,n/a",
        "tms,1,0.000080000,0.000080000,0,false,n/a,n/a",
        "tms2,0,0.000002400,0.000002400,0,n/a,n/a,n/a",
        "tms2,1,0.000082400,0.000082400,0,n/a,n/a,n/a",
    ]
    assert logs.summarize(rows, False, None, confirm_channel="tms")["pulses_confirmed"] == 1
    assert logs.summarize(rows, False, None, confirm_channel="tms")["confirm_channel"] == "tms"


def test_confirmations_credit_only_the_confirm_channel_channel_1(tmp_path):
    # channel 1 wired. The edge at 10_002 follows channel 0's onset (the old any-channel rule
    # credited tms,1 with it); channel 1's latest onset before it is 300, already confirmed,
    # so tms2,1 (at 10_300, no answer after it) stays false.
    edges = [(0, 1, 0), (1, 1, 300), (5, 1, 305), (0, 1, 10_000), (5, 1, 10_002), (1, 1, 10_300)]
    rows, csv_rows = _paired_rows(tmp_path, edges, 1)
    assert csv_rows == [
        "tms,0,0.000000000,0.000000000,0,n/a,n/a,n/a",
        "tms,1,0.000080000,0.000080000,0,n/a,n/a,n/a",
        "tms2,0,0.000002400,0.000002400,0,true,n/a,n/a",
        "tms2,1,0.000082400,0.000082400,0,false,n/a,n/a",
    ]
    s = logs.summarize(rows, False, None, confirm_channel="tms2")
    assert (s["pulses_confirmed"], s["pulses_confirmable"], s["confirm_channel"]) == (1, 2, "tms2")


def test_a_later_pulse_on_another_channel_does_not_take_the_answer():
    # nerve stimulator (channel 1) fires 2 cycles after the TMS pulse, before the TMS
    # stimulator's trigger-out answers at +5: the answer still belongs to channel 0.
    rows = logs.match_pulses(
        {0: [0], 1: [2]}, {0: 0, 1: 0}, 0, [(0, 1, 0), (1, 1, 2), (5, 1, 5)], CLK, confirm_source=5
    )
    assert [(r["channel"], r["confirmed"]) for r in rows] == [(0, True), (1, None)]
    assert logs.summarize(rows, False, None)["pulses_confirmed"] == 1
    # simultaneous onsets: only the confirm channel is credited
    rows = logs.match_pulses(
        {0: [0], 1: [0]}, {0: 0, 1: 0}, 0, [(0, 1, 0), (1, 1, 0), (5, 1, 7)], CLK, confirm_source=5
    )
    assert [r["confirmed"] for r in rows] == [True, None]


def test_no_confirmation_edges_means_unknown_not_false():
    rows = logs.match_pulses({0: [0]}, {0: 0}, 0, [(0, 1, 0), (0, 0, 10)], CLK, 5)
    assert rows[0]["confirmed"] is None
    assert logs.summarize(rows, False, None)["pulses_confirmed"] is None


def test_unknown_start_leaves_deviation_unknown():
    rows = logs.match_pulses({0: [0]}, {0: 0}, None, [(0, 1, 17)], CLK)
    assert (rows[0]["captured_s"], rows[0]["deviation_ns"]) == (None, None)
    assert logs.summarize(rows, False, None)["max_abs_deviation_ns"] is None


def test_fractional_nanoseconds_are_kept():
    rows = logs.match_pulses({0: [0]}, {0: 0}, 0, [(0, 1, 1)], 3)  # 3 Hz clock: 1/3 s
    assert rows[0]["deviation_ns"] == Fraction(1_000_000_000, 3)
    assert logs.summarize(rows, False, None)["max_abs_deviation_ns"] == 1e9 / 3


def test_files(tmp_path):
    rows = logs.match_pulses({0: [0, 2500]}, {0: 0}, 0, [(0, 1, 0)], CLK)
    c = compile_protocol(from_dict(ONE_CHANNEL, "one.toml"), CLK)
    meta = logs.protocol_meta(c, Declared(90, "AMT"), "generic-ttl")
    logs.annotate(rows, meta)
    logs.write_pulses(str(tmp_path / "p.csv"), rows, {0: "tms"})
    assert (tmp_path / "p.csv").read_text().splitlines() == [
        "channel,index,planned_s,captured_s,deviation_ns,confirmed,trial,condition",
        "tms,0,0.000000000,0.000000000,0,n/a,n/a,n/a",
        "tms,1,0.000020000,n/a,n/a,n/a,n/a,n/a",
    ]
    logs.write_bids(str(tmp_path / "e.tsv"), str(tmp_path / "e.json"), rows, meta)
    # no conditions: trial_type tms_pulse, trial n/a, the run's declaration (not the file's
    # 120% RMT) as the intensity the envelope judged
    assert (tmp_path / "e.tsv").read_text().splitlines() == [
        "\t".join(logs.BIDS_COLUMNS),
        "0.000000000\t0.000001000\ttms_pulse\tn/a\ttms\ttms\t0\tn/a\t90\tAMT\tn/a\t"
        "generic-ttl\t0.000000000\t0\tn/a",
    ]
    side = json.loads((tmp_path / "e.json").read_text())
    assert side["trial"] == {"Description": "Trial index (n/a: the protocol has no trials)"}
    assert side["trial_type"]["Levels"] == {
        "tms_pulse": "TTL trigger pulse delivered to the stimulator"
    }
    assert logs.summarize_plan(rows, meta) == {}  # no conditions, no trials: nothing added
    log = logs.EventLog(str(tmp_path / "ev.jsonl"))
    log.write("edge", cycle=2**63)
    log.close()
    with open(tmp_path / "ev.jsonl", "a") as f:
        f.write('{"event": "torn')  # a write cut by a kill
    assert logs.read_events(str(tmp_path / "ev.jsonl")) == [{"event": "edge", "cycle": 2**63}]
