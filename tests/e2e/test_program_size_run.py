"""limits.max_program_bytes on the emulated board (the real firmware): `tmspio run --stream
never` refuses a program above the board file's limit before any LOAD_BEGIN is sent (by default
such a one-channel program streams: tests/e2e/test_stream_session.py), and a program at the limit
loads, arms and runs without MemoryError, also in a heap shaped like a Pico's."""

import importlib.util
import os

import pytest
from tmspio import board_limits, boards, cli, compiler, firmware, session
from tmspio.protocols import resolve

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
LIMIT = boards.load_board("emulated")["limits"]["max_program_bytes"]
SEGMENT, FIXED = 24, 16 + 16 + 4  # bytes per segment; header + one channel + crc
_wire = firmware.wire()


def _bursts_toml(tmp_path, trains):
    """iTBS with `trains` trains of 10 three-pulse bursts: 10 segments per train."""
    path = tmp_path / "long-itbs.toml"
    path.write_text(
        'name = "long-itbs"\ntitle = "size test"\nfamily = "theta-burst"\n'
        'pulse_width = "1 ms"\nintensity = { percent = 80, reference = "AMT" }\n'
        'channels = [{ name = "tms", polarity = "active-high" }]\n\n'
        '[timing]\ninter_pulse_interval = "20 ms"\npulses_in_burst = 3\n'
        'inter_burst_interval = "200 ms"\nbursts_in_train = 10\n'
        'inter_train_interval = "10 s"\ntrains_in_protocol = %d\n' % trains
    )
    return str(path)


def test_run_refuses_a_program_above_the_limit_before_any_load_begin(capsys, tmp_path, sent_types):
    trains = (LIMIT - FIXED) // (10 * SEGMENT) + 1  # the first whole train beyond the limit
    segments = 10 * trains
    size = FIXED + SEGMENT * segments
    assert size > LIMIT
    out_dir = tmp_path / "runs" / "big"
    # the envelope refuses this many pulses in one session; its override lifts no board limit
    rc = cli.main(
        [
            "run",
            _bursts_toml(tmp_path, trains),
            "--emulator",
            "--quiet",
            "--out",
            str(out_dir),
            "--override",
            "size test",
            "--stream",
            "never",
        ]
    )
    out, err = capsys.readouterr()
    assert rc == 2
    assert err == (
        "tmspio: error: long-itbs: program {:,} bytes ({:,} segments) is {:,} bytes above board "
        "emulated's limits.max_program_bytes = {:,}; split the session or use fewer "
        "segments\n".format(size, segments, size - LIMIT, LIMIT)
    )
    assert _wire.HELLO in sent_types  # the limit came from the board's own hello ...
    assert not {_wire.LOAD_BEGIN, _wire.LOAD_DATA, _wire.STREAM_BEGIN} & set(
        sent_types
    )  # ... none sent
    assert not (tmp_path / "runs").exists()


def test_the_board_reports_its_file_limit_in_hello_and_loads_a_program_at_it(tmp_path):
    ln, board = session.open_board(None, True, "max")
    try:
        assert ln.info["limits"]["max_program_bytes"] == LIMIT
        c = compiler.compile_protocol(resolve("itbs"), ln.info["sysclk_hz"])
        fits = (LIMIT - FIXED) // SEGMENT
        c.program.channels[0].segments[:] = [
            (2, 125_000, 1_250_000, 1_250_000, 0)
        ] * fits  # 100 Hz
        data = c.encode()
        assert LIMIT - SEGMENT < len(data) <= LIMIT
        board_limits.check(c, ln.info["limits"], "emulated")
        ln.load(data)  # a MemoryError on the board would be a BoardRefused here
    finally:
        session.close_board(ln, board)


def _bench():
    spec = importlib.util.spec_from_file_location(
        "bench_firmware", os.path.join(REPO, "bench", "bench_firmware.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("channels", [1, 4])
def test_a_program_at_the_limit_loads_arms_runs_and_is_replaced_in_a_pico_shaped_heap(
    tmp_path, channels
):
    # the bench's session: the real command loop and engine take the program in LOAD_DATA
    # frames, load, arm and run it to the end, with the emulated board's largest free block cut
    # to what the real MicroPython image has free once the engine is built (docs/performance.md)
    bench = _bench()
    n = (LIMIT - 16 - 4 - 16 * channels) // SEGMENT
    assert LIMIT - SEGMENT < len(bench.session_program(n, channels)) <= LIMIT
    # two sessions: the second replaces the first, the engine keeping it until verified
    # (each run is stopped after 50 polls, 1 s of board time: its working set is built by
    # then, and 10,000 pulses at 100 Hz would take minutes of wall time per session)
    ok, out = bench._emulated_session(
        n, 2, bench.PICO_BLOCK, str(tmp_path), channels=channels, ticks=50
    )
    assert ok, out
    assert "MemoryError" not in out
    heap = [line for line in out.splitlines() if line.startswith("HEAP")]
    assert int(heap[0].split()[2]) <= bench.PICO_BLOCK
    assert "RUN 0 stopped" in out and "RUN 1 stopped" in out


def test_40000_jittered_intervals_load_arm_and_run_twice_in_a_pico_shaped_heap(tmp_path):
    # a fully jittered train (intervals drawn from 10..20 ms) is one 3-byte interval per pulse:
    # 40,000 of them, through the real command loop and engine, load, arm and run in a heap
    # shaped like the real image's (largest free block 160,464 bytes), and a second session
    # replacing the first does too (engine.unload at load-begin, no copy in engine.load); the
    # harness stops each run after 50 polls (the program lasts 10 minutes)
    bench = _bench()
    data = bench.jittered_program(40_001)
    assert len(data) == 16 + 16 + 24 + 40_000 * 3 + 24 + 4
    ok, out = bench._emulated_session(40_001, 2, bench.PICO_BLOCK, str(tmp_path), jittered=True)
    assert ok, out
    assert "MemoryError" not in out
    assert "RUN 0 stopped 40001 harness stop" in out, out
    assert "RUN 1 stopped 40001 harness stop" in out, out
