"""The `tmspio selftest` verb's own checks (the run itself is covered in tests/hw)."""

import pytest
from tmspio import cli
from tmspio.boards import load_board
from tmspio.commands import selftest as command
from tmspio.errors import InputError


def test_hardware_selftest_needs_confirmation_without_a_terminal(monkeypatch):
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    with pytest.raises(InputError) as e:
        command._confirm_stimulator_disconnected(load_board("pico_w"), yes=False)
    assert str(e.value) == (
        "the self-test pulses GPIO2 = GP2 (pin 4): disconnect or disarm the stimulator, "
        "then pass --yes"
    )
    command._confirm_stimulator_disconnected(load_board("pico_w"), yes=True)


def test_interactive_answer_other_than_yes_cancels(monkeypatch):
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    asked = []
    monkeypatch.setattr("builtins.input", lambda q: asked.append(q) or "n")
    with pytest.raises(InputError) as e:
        command._confirm_stimulator_disconnected(load_board("feather_rp2040"), yes=False)
    assert str(e.value) == "self-test cancelled: the stimulator may still be connected"
    assert asked == [
        "The self-test pulses GPIO7 = D5. Is the stimulator disconnected or disarmed? [y/N] "
    ]
    monkeypatch.setattr("builtins.input", lambda q: "yes")
    command._confirm_stimulator_disconnected(load_board("feather_rp2040"), yes=False)


def test_bad_arguments_exit_2_with_one_line(capsys):
    assert cli.main(["selftest", "--emulator", "--tolerance", "-1"]) == 2
    assert capsys.readouterr().err == (
        "tmspio: error: --tolerance = '-1': a whole number of cycles, 0 or more\n"
    )
    assert cli.main(["selftest", "--port", "loop://", "--board", "nosuch"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tmspio: error: board 'nosuch': no such board file ")
    assert cli.main(["selftest", "--port", "x", "--emulator"]) == 2
    assert capsys.readouterr().err == (
        "tmspio: error: selftest: argument --emulator: not allowed with argument --port "
        "(see `tmspio selftest --help`)\n"
    )
    assert cli.main(["selftest", "--emulator", "--tolerance", "2.5"]) == 2
    assert capsys.readouterr().err == (
        "tmspio: error: --tolerance = '2.5': a whole number of cycles, 0 or more\n"
    )
