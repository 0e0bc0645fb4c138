"""limits.max_program_bytes: the host refuses a program larger than the board's heap holds
before anything is sent (board_limits.check), and show/check --board report the size."""

import json

import pytest
from tmspio import board_limits, boards, cli, compiler
from tmspio.protocols import resolve

MS = 125_000  # cycles per ms at 125 MHz
HEADER, CHANNEL, SEGMENT, CRC = 16, 16, 24, 4  # docs/program-format.md


def compiled_with(segments):
    """iTBS compiled for 125 MHz, its one channel replaced by `segments` two-pulse segments
    (one 24-byte record each; one-pulse segments in a row would be one interval block),
    100 Hz (every board's rate limit), so only the size can be beyond a limit."""
    compiled = compiler.compile_protocol(resolve("itbs"), 125_000_000)
    compiled.program.channels[0].segments[:] = [(2, MS, 10 * MS, 10 * MS, 0)] * segments
    assert len(compiled.encode()) == HEADER + CHANNEL + SEGMENT * segments + CRC
    return compiled


def limits_with(size):
    return dict(boards.load_board("pico")["limits"], max_program_bytes=size)


def test_a_program_at_the_limit_passes_and_one_byte_less_refuses_it():
    compiled = compiled_with(1000)  # 24,036 bytes
    board_limits.check(compiled, limits_with(24_036), "pico")
    with pytest.raises(board_limits.BoardLimitError) as e:
        board_limits.check(compiled, limits_with(24_035), "pico")
    assert str(e.value) == (
        "itbs: program 24,036 bytes (1,000 segments) is 1 bytes above board pico's "
        "limits.max_program_bytes = 24,035; split the session or use fewer segments"
    )


def test_every_board_refuses_one_segment_more_than_its_limit_holds():
    for name in boards.list_boards():
        limit = boards.load_board(name)["limits"]["max_program_bytes"]
        fits = (limit - HEADER - CHANNEL - CRC) // SEGMENT
        board_limits.check(compiled_with(fits), boards.load_board(name)["limits"], name)
        over = compiled_with(fits + 1)
        size = len(over.encode())
        with pytest.raises(board_limits.BoardLimitError) as e:
            board_limits.check(over, boards.load_board(name)["limits"], name)
        assert str(e.value) == (
            "itbs: program {:,} bytes ({:,} segments) is {:,} bytes above board {}'s "
            "limits.max_program_bytes = {:,}; split the session or use fewer segments".format(
                size, fits + 1, size - limit, name, limit
            )
        )


def test_the_pico_refuses_a_program_just_above_its_limit_with_the_exact_text():
    limits = boards.load_board("pico")["limits"]
    assert limits["max_program_bytes"] == 125_000
    board_limits.check(compiled_with(5206), limits, "pico")  # 124,980 bytes
    with pytest.raises(board_limits.BoardLimitError) as e:
        board_limits.check(compiled_with(5207), limits, "pico")  # 125,004 bytes
    assert str(e.value) == (
        "itbs: program 125,004 bytes (5,207 segments) is 4 bytes above board pico's "
        "limits.max_program_bytes = 125,000; split the session or use fewer segments"
    )


def test_the_size_is_checked_before_the_timing_limits():
    compiled = compiled_with(10)  # 276 bytes
    compiled.program.channels[0].segments[0] = (1, 125, 0, 10 * MS, 0)  # 1 us: below 10 us
    with pytest.raises(board_limits.BoardLimitError) as e:
        board_limits.check(compiled, limits_with(268), "pico")
    assert str(e.value).startswith("itbs: program 276 bytes (10 segments) is 8 bytes above ")
    with pytest.raises(board_limits.BoardLimitError) as e:
        board_limits.check(compiled, limits_with(276), "pico")
    assert "is below limits.min_width_us = 10 us" in str(e.value)


def test_the_hello_top_level_size_is_used_when_the_limits_lack_it():
    limits = dict(boards.load_board("pico")["limits"])
    del limits["max_program_bytes"]  # a board deployed with an older board file
    compiled = compiled_with(100)  # 2,436 bytes
    board_limits.check(compiled, limits, "old")  # nothing to compare with: the board decides
    board_limits.check(compiled, limits, "old", max_program_bytes=2436)
    with pytest.raises(board_limits.BoardLimitError) as e:
        board_limits.check(compiled, limits, "old", max_program_bytes=2435)
    assert str(e.value).startswith("itbs: program 2,436 bytes (100 segments) is 1 bytes above ")
    with pytest.raises(board_limits.BoardLimitError) as e:
        board_limits.check(compiled, dict(limits, max_program_bytes="1M"), "odd")
    assert str(e.value) == (
        "board odd: limits.max_program_bytes = '1M': expected a positive integer (bytes)"
    )


def _many_bursts(tmp_path, trains, channels=1):
    """iTBS with `trains` trains: 10 segments (3-pulse bursts) per train and channel."""
    path = tmp_path / "long-itbs.toml"
    chans = ", ".join(
        '{ name = "c%d", polarity = "active-high", offset = "%d ms" }' % (k, 5 * k)
        for k in range(channels)
    )
    path.write_text(
        'name = "long-itbs"\ntitle = "size test"\nfamily = "theta-burst"\n'
        'pulse_width = "1 ms"\nintensity = { percent = 80, reference = "AMT" }\n'
        "channels = [%s]\n\n"
        '[timing]\ninter_pulse_interval = "20 ms"\npulses_in_burst = 3\n'
        'inter_burst_interval = "200 ms"\nbursts_in_train = 10\n'
        'inter_train_interval = "10 s"\ntrains_in_protocol = %d\n' % (chans, trains)
    )
    return str(path)


@pytest.mark.parametrize("verb", ["show", "check"])
def test_show_and_check_report_the_size_and_refuse_a_program_too_large(capsys, tmp_path, verb):
    code = cli.main([verb, "itbs", "--board", "pico"])
    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    assert out.splitlines()[-1].endswith(", program 4,836 of <= 125,000 bytes")
    code = cli.main([verb, "itbs", "--board", "pico", "--json"])
    out, err = capsys.readouterr()
    assert json.loads(out)["board"]["program_bytes"] == 4836
    # one channel, immediate start, every interval >= 10 ms: too large to load, it streams
    # (as `tmspio run` would; docs/running.md "Programs larger than the board")
    # (check then refuses it by the envelope, exit 3: 5,210 trains of iTBS in one session)
    code = cli.main([verb, _many_bursts(tmp_path, 521), "--board", "pico"])  # 5,210 segments
    out, err = capsys.readouterr()
    assert code == (0 if verb == "show" else 3)
    (line,) = [ln for ln in out.splitlines() if "within board pico's limits" in ln]
    assert line.endswith(", program 125,076 bytes, above <= 125,000: streams during the run")
    # two channels cannot stream: refused, saying why and what would stream
    # (16 + 2 x 16 + 5,220 x 24 + 4 = 125,332 bytes)
    code = cli.main([verb, _many_bursts(tmp_path, 261, channels=2), "--board", "pico"])
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert err == (
        "tmspio: error: long-itbs: program 125,332 bytes (5,220 segments) is 332 bytes "
        "above board pico's limits.max_program_bytes = 125,000 and cannot stream: it has 2 "
        "channels (a streamed program has one channel and an immediate or trigger start); "
        "split the session or use fewer segments\n"
    )


def test_the_summary_names_the_size_limit():
    limits = boards.load_board("pico")["limits"]
    assert board_limits.summary(limits).endswith(", <= 100 Hz over 10 s, program <= 125,000 bytes")
