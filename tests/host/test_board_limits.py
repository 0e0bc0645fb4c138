"""The host's board-limit check (firmware/limits.py run on the host) and check/show --board."""

import json
import sys

import pytest
from tmspio import board_limits, boards, cli, compiler
from tmspio.protocols import resolve

PICO = "pulse width 10..10000 us, interval >= 1000 us, <= 100000 pulses, <= 100 Hz over 10 s"


def size_phrase(board, size="4,836"):
    return (
        "program %s of <= {:,} bytes".format(
            boards.load_board(board)["limits"]["max_program_bytes"]
        )
        % size
    )


def cli_run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def toml(tmp_path, name, width, interval, pulses):
    """A one-channel rTMS train as a user protocol file."""
    path = tmp_path / (name + ".toml")
    path.write_text(
        f'name = "{name}"\ntitle = "board limit test"\nfamily = "rtms"\n'
        f'pulse_width = "{width}"\n'
        'channels = [ { name = "tms", polarity = "active-high" } ]\n'
        'intensity = { percent = 50, reference = "RMT" }\n\n'
        f'[timing]\ninter_pulse_interval = "{interval}"\npulses_in_burst = {pulses}\n'
    )
    return str(path)


# (name, width, interval, pulses, the firmware's wording after "beyond board pico's limits: ")
BEYOND = [
    (
        "narrow",
        "5 us",
        "1 Hz",
        3,
        "channels[0].segments[0].width = 625 cycles (5.000 us) is "
        "below limits.min_width_us = 10 us",
    ),
    (
        "wide",
        "20 ms",
        "1 Hz",
        3,
        "channels[0].segments[0].width = 2500000 cycles "
        "(20000.000 us) is above limits.max_width_us = 10000 us",
    ),
    (
        "close",
        "0.2 ms",
        "2000 Hz",
        3,
        "channels[0].segments[0].period = 62500 cycles "
        "(500.000 us) is below limits.min_interval_us = 1000 us",
    ),
    (
        "many",
        "1 ms",
        "100 Hz",
        100001,
        "pulses = 100001 is above limits.max_pulses = 100000 pulses",
    ),
    (
        "fast",
        "1 ms",
        "200 Hz",
        1001,
        "channels[0]: 1001 pulses within 10 s (onsets 0..1000) "
        "exceed limits.max_rate_hz = 100 over limits.max_rate_window_s = 10",
    ),
]


@pytest.mark.parametrize("verb", ["show", "check"])
@pytest.mark.parametrize("name,width,interval,pulses,text", BEYOND)
def test_a_protocol_beyond_a_limit_is_one_line_exit_2(
    capsys, tmp_path, verb, name, width, interval, pulses, text
):
    path = toml(tmp_path, name, width, interval, pulses)
    code, out, err = cli_run(capsys, verb, path, "--board", "pico")
    assert (code, out) == (2, "")
    assert err == f"tmspio: error: {name}: beyond board pico's limits: {text}\n"


@pytest.mark.parametrize("verb", ["show", "check"])
def test_without_board_the_limits_are_not_checked(capsys, tmp_path, verb):
    code, out, err = cli_run(capsys, verb, toml(tmp_path, "narrow", "5 us", "1 Hz", 3))
    assert (code, err) == (0, "")
    assert "within board" not in out


def test_exactly_at_every_limit_passes(capsys, tmp_path):
    # 10 us wide at 100 Hz: onset i is exactly 10 s after onset i - 1000, never within 10 s
    path = toml(tmp_path, "edge", "10 us", "100 Hz", 2000)
    code, out, err = cli_run(capsys, "show", path, "--board", "pico")
    assert (code, err) == (0, "")
    assert out.splitlines()[-1] == (
        f"  within board pico's limits: {PICO}, " + size_phrase("pico", "60")
    )
    faster = toml(tmp_path, "edge2", "10 us", "9.999 ms", 1001)
    code, out, err = cli_run(capsys, "show", faster, "--board", "pico")
    assert (code, out) == (2, "")
    assert err == (
        "tmspio: error: edge2: beyond board pico's limits: channels[0]: 1001 pulses "
        "within 10 s (onsets 0..1000) exceed limits.max_rate_hz = 100 over "
        "limits.max_rate_window_s = 10\n"
    )


def test_narrower_than_one_cycle_below_the_minimum_is_refused():
    # 10 us at 150 MHz is 1500 cycles; 1499 cycles is below it
    board = boards.load_board("pico2")
    compiled = compiler.compile_protocol(resolve("itbs"), board["sysclk_hz"])
    compiled.program.channels[0].segments[0] = (3, 1499) + compiled.program.channels[0].segments[
        0
    ][2:]
    with pytest.raises(board_limits.BoardLimitError) as e:
        board_limits.check(compiled, board["limits"], "pico2")
    assert str(e.value) == (
        "itbs: beyond board pico2's limits: channels[0].segments[0].width "
        "= 1499 cycles (9.993 us) is below limits.min_width_us = 10 us"
    )


def test_show_compiles_for_the_boards_clock(capsys):
    code, out, err = cli_run(capsys, "show", "itbs", "--board", "pico2")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[3] == "  compiled for 150000000 Hz: 200 segments, largest rounding error 0.000 ns"
    assert lines[-1] == f"  within board pico2's limits: {PICO}, " + size_phrase("pico2")


def test_show_sysclk_must_match_the_board(capsys):
    code, out, err = cli_run(capsys, "show", "itbs", "--board", "pico2", "--sysclk", "125000000")
    assert (code, out) == (2, "")
    assert err == (
        "tmspio: error: --sysclk = '125000000': board pico2 runs at 150000000 Hz "
        "(leave --sysclk out with --board)\n"
    )
    code, out, err = cli_run(capsys, "show", "itbs", "--board", "pico2", "--sysclk", "150000000")
    assert (code, err) == (0, "")


def test_check_reports_the_board_after_the_envelope(capsys):
    code, out, err = cli_run(capsys, "check", "itbs", "--board", "pico")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].startswith("itbs at 80% AMT on generic-ttl: PASS")
    assert lines[-1] == f"  within board pico's limits: {PICO}, " + size_phrase("pico")


def test_json_names_the_board_and_its_limits(capsys):
    limits = boards.load_board("pico")["limits"]
    for verb in ("show", "check"):
        code, out, err = cli_run(capsys, verb, "itbs", "--board", "pico", "--json")
        assert (code, err) == (0, "")
        assert json.loads(out)["board"] == {
            "name": "pico",
            "limits": limits,
            "program_bytes": 4836,
            "within_limits": True,
        }
        code, out, err = cli_run(capsys, verb, "itbs", "--json")
        assert "board" not in json.loads(out)


def test_a_board_limit_comes_before_the_envelope_and_no_override_lifts_it(capsys, tmp_path):
    path = toml(tmp_path, "narrow", "5 us", "1 Hz", 3)
    code, out, err = cli_run(
        capsys, "check", path, "--board", "pico", "--intensity", "130", "--override", "tested"
    )
    assert (code, out) == (2, "")
    assert err.startswith("tmspio: error: narrow: beyond board pico's limits: ")


def test_a_board_file_by_path_with_its_own_limits(capsys, tmp_path):
    board = boards.load_board("pico")
    board["name"] = "slow_rig"
    board["limits"] = dict(board["limits"], max_rate_hz=5, min_width_us=2000, min_interval_us=5000)
    path = tmp_path / "slow_rig.json"
    path.write_text(json.dumps(board))
    code, out, err = cli_run(capsys, "show", "itbs", "--board", str(path))
    assert (code, out) == (2, "")
    assert err == (
        "tmspio: error: itbs: beyond board slow_rig's limits: "
        "channels[0].segments[0].width = 125000 cycles (1000.000 us) is below "
        "limits.min_width_us = 2000 us\n"
    )


def test_an_unknown_board_names_the_known_ones(capsys):
    code, out, err = cli_run(capsys, "check", "itbs", "--board", "nope")
    assert (code, out) == (2, "")
    assert err.startswith("tmspio: error: board 'nope': no such board file ")
    assert err.endswith("(known boards: %s)\n" % ", ".join(boards.list_boards()))


def test_limits_a_board_does_not_report_are_refused_not_skipped():
    compiled = compiler.compile_protocol(resolve("itbs"))
    with pytest.raises(board_limits.BoardLimitError) as e:
        board_limits.check(compiled, {"min_width_us": 10}, "bare")
    assert str(e.value) == (
        "board bare: its limits lack max_width_us, min_interval_us, max_pulses, max_rate_hz, "
        "max_rate_window_s, so no program can be checked against them (limits given: "
        "{'min_width_us': 10})"
    )


def test_the_host_runs_the_firmwares_own_check_without_leaking_bare_module_names():
    board_limits._firmware_limits()
    fw = sys.modules["tmspio._fw.limits"]
    assert fw.__file__.endswith("firmware/limits.py")
    for name in ("plan", "timing", "fwerror", "progformat"):
        assert sys.modules.get(name) is None or "tmspio._fw" not in sys.modules[name].__name__
