"""Which programs stream (board_limits.check(stream=...), what Session and `tmspio run` use):
one above the board's max_program_bytes streams when it can (one channel, immediate or trigger
start, every interval at least the streaming bound of firmware/stream.py); one that cannot is
refused saying why and what would stream; the whole program is judged against every limit
first, however it goes to the board (docs/running.md, "Programs larger than the board")."""

import os

import pytest
from tmspio import board_limits, boards, compiler
from tmspio.errors import InputError
from tmspio.protocols import parser

HZ = 125_000_000
LIMITS = dict(boards.load_board("emulated")["limits"], max_program_bytes=12_000)
ONE = '{ name = "tms", polarity = "active-high" }'
GATED = os.path.join(os.path.dirname(__file__), "..", "e2e", "protocols", "gated-single.toml")
TWO = ONE + ', { name = "b", polarity = "active-high", offset = "3 ms" }'


def _compiled(tmp_path, low="10 ms", pulses=6000, channels=ONE, start=""):
    path = tmp_path / "jit.toml"
    path.write_text(
        'name = "jit"\ntitle = "t"\nfamily = "rtms"\npulse_width = "1 ms"\n'
        'channels = [%s]\nintensity = { percent = 50, reference = "RMT" }\n%s\n'
        '[timing]\ninter_pulse_interval = { uniform = ["%s", "20 ms"], seed = 15 }\n'
        "pulses_in_burst = %d\n" % (channels, start, low, pulses)
    )
    return compiler.compile_protocol(parser.resolve(str(path)), HZ)


def _refusal(compiled, limits, stream):
    with pytest.raises(board_limits.BoardLimitError) as e:
        board_limits.check(compiled, limits, "small", stream=stream)
    return str(e.value)


def test_a_one_channel_program_too_large_to_load_streams_by_default_and_not_with_never(tmp_path):
    # 6,000 one-pulse segments: header 16, channel 16, the first (marked) segment 24, an
    # interval block of 5,998 (24 + 3 bytes each: draws span 1.25 M cycles), the last 24, CRC 4
    c = _compiled(tmp_path)
    assert board_limits.program_bytes(c) == 18_102
    assert board_limits.check(c, LIMITS, "small", stream="auto") == board_limits.STREAM
    assert board_limits.check(c, LIMITS, "small", stream="always") == board_limits.STREAM
    assert _refusal(c, LIMITS, "never") == (
        "jit: program 18,102 bytes (6,000 segments) is 6,102 bytes above board small's "
        "limits.max_program_bytes = 12,000; split the session or use fewer segments"
    )
    # the default of check() is "never" (what the board holds); Session and run pass "auto"
    with pytest.raises(board_limits.BoardLimitError):
        board_limits.check(c, LIMITS, "small")


def test_a_program_that_fits_is_loaded_unless_always(tmp_path):
    c = _compiled(tmp_path, pulses=400)  # 16 + 16 + 24 + (24 + 398 x 3) + 24 + 4 = 1,302 bytes
    assert board_limits.program_bytes(c) == 1_302
    assert board_limits.check(c, LIMITS, "small", stream="auto") == board_limits.LOAD
    assert board_limits.check(c, LIMITS, "small", stream="never") == board_limits.LOAD
    assert board_limits.check(c, LIMITS, "small", stream="always") == board_limits.STREAM


def test_two_channels_too_large_are_refused_saying_why_and_what_streams(tmp_path):
    # 16 + (16 + 24 + 24 + 1,998 x 3 + 24) + (16 + 24 + 1,999 x 3 + 24) + 4: channel b's
    # first segment carries no marker, so it joins the block
    c = _compiled(tmp_path, pulses=2000, channels=TWO)
    assert board_limits.program_bytes(c) == 12_163
    assert _refusal(c, LIMITS, "auto") == (
        "jit: program 12,163 bytes (4,000 segments) is 163 bytes above board small's "
        "limits.max_program_bytes = 12,000 and cannot stream: it has 2 channels (a streamed "
        "program has one channel and an immediate or trigger start); split the session or "
        "use fewer segments"
    )
    assert _refusal(c, LIMITS, "always") == (
        "jit: --stream always: it cannot stream on board small: it has 2 channels (a "
        "streamed program has one channel and an immediate or trigger start)"
    )


def test_a_gated_start_cannot_stream(tmp_path):
    c = compiler.compile_protocol(parser.resolve(GATED), HZ)
    assert board_limits.check(c, LIMITS, "small", stream="auto") == board_limits.LOAD
    assert _refusal(c, LIMITS, "always") == (
        "gated-single: --stream always: it cannot stream on board small: its start is gated "
        "(a streamed program has one channel and an immediate or trigger start)"
    )


def test_a_trigger_start_streams(tmp_path):
    c = _compiled(tmp_path, start='[start]\nmode = "trigger"\n')
    assert board_limits.check(c, LIMITS, "small", stream="auto") == board_limits.STREAM


def test_an_interval_below_the_streaming_bound_is_refused_with_the_boards_own_text(tmp_path):
    # intervals drawn from 5..20 ms: within the rate limit over any 10 s window (checked
    # whole), but the board keeps one bound for every streamed interval: 10 s / (100 Hz x
    # 10 s) = 10 ms (firmware/stream.py), since a window may span pieces long gone
    c = _compiled(tmp_path, low="5 ms")
    cycles = c.channel_cycles[0]
    least = min(b - a for a, b in zip(cycles, cycles[1:]))
    assert 625_000 <= least < 1_250_000
    us = "%d.%03d" % (least * 10**6 // HZ, least * 10**9 // HZ % 1000)
    assert _refusal(c, LIMITS, "auto") == (
        "jit: program 18,102 bytes (6,000 segments) is 6,102 bytes above board small's "
        "limits.max_program_bytes = 12,000 and cannot stream: interval = %d cycles (%s us): "
        "a streamed program keeps every interval at least limits.max_rate_window_s / "
        "(max_rate_hz * max_rate_window_s) = 1250000 cycles (10000.000 us), so no window "
        "holds more than 1000 pulses; split the session or use fewer segments" % (least, us)
    )


def test_the_whole_program_is_judged_before_it_may_stream(tmp_path):
    c = _compiled(tmp_path)
    limits = dict(LIMITS, max_pulses=5000)
    assert _refusal(c, limits, "auto") == (
        "jit: beyond board small's limits: pulses = 6000 is above limits.max_pulses = 5000 pulses"
    )


def test_an_unknown_stream_choice_is_input_error(tmp_path):
    c = _compiled(tmp_path, pulses=10)
    with pytest.raises(InputError) as e:
        board_limits.check(c, LIMITS, "small", stream="yes")
    assert str(e.value) == "--stream = 'yes': allowed auto, always, never"


def test_40000_jittered_pulses_of_a_protocol_file_load_whole_on_a_pico(tmp_path):
    # issue 15: 40,000 distinct intervals in the Pico's program buffer, from a protocol file:
    # 16 + 16 + 24 (the marked first) + (24 + 39,998 x 3) + 24 (the last) + 4 = 120,102 bytes
    c = _compiled(tmp_path, pulses=40_000)
    assert len(set(b - a for a, b in zip(c.channel_cycles[0], c.channel_cycles[0][1:]))) > 39_000
    assert board_limits.program_bytes(c) == 120_102
    pico = boards.load_board("pico")["limits"]
    assert pico["max_program_bytes"] == 125_000
    assert board_limits.check(c, pico, "pico", stream="auto") == board_limits.LOAD
