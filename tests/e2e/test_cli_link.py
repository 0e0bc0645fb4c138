"""The run/plot/emulate/deploy verbs: exit codes and one-line errors for bad input."""

import pytest
from tmspio import cli


def _run(capsys, *argv):
    rc = cli.main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_safety_refusal_comes_before_any_port_is_opened(capsys):
    rc, out, err = _run(
        capsys, "run", "rtms-10hz", "--intensity", "130", "--port", "/dev/tmspio-no-such-port"
    )
    assert rc == 3
    assert err.startswith("tmspio: error: rtms-10hz refused by the safety envelope")
    assert "tmspio-no-such-port" not in err


def test_unknown_port_after_a_passing_envelope(capsys):
    rc, out, err = _run(capsys, "run", "itbs", "--port", "/dev/tmspio-no-such-port")
    assert rc == 1
    assert err == (
        "tmspio: error: cannot open port /dev/tmspio-no-such-port: No such file or directory\n"
    )


def test_a_port_in_use_is_named(capsys):
    import os

    import serial

    master, slave = os.openpty()
    name = os.ttyname(slave)
    holder = serial.Serial(name, exclusive=True)  # another program holds the port
    try:
        rc, out, err = _run(capsys, "run", "itbs", "--port", name)
    finally:
        holder.close()
        os.close(master)
        os.close(slave)
    assert rc == 1
    assert err == (
        f"tmspio: error: port {name} is in use by another program (a second tmspio, "
        "mpremote or a terminal); close it and retry\n"
    )


@pytest.mark.parametrize("speed", ["0", "-1", "fast", "inf", "nan"])
def test_bad_speed_names_the_value(capsys, speed):
    rc, out, err = _run(capsys, "run", "itbs", "--emulator", "--speed", speed)
    assert rc == 2
    assert err == f"tmspio: error: --speed = {speed!r}: a positive number or max\n"


def test_emulate_bad_speed(capsys):
    rc, out, err = _run(capsys, "emulate", "--speed", "0")
    assert (rc, err) == (2, "tmspio: error: --speed = '0': a positive number or max\n")


def test_plot_needs_a_run_directory(capsys, tmp_path):
    rc, out, err = _run(capsys, "plot", str(tmp_path))
    assert (rc, err) == (
        2,
        f"tmspio: error: {tmp_path}: no pulses.csv (is this a tmspio run directory?)\n",
    )


def test_deploy_unknown_board_fails_before_touching_a_port(capsys):
    rc, out, err = _run(
        capsys, "deploy", "--port", "/dev/tmspio-no-such-port", "--board", "no-such-board"
    )
    assert rc == 2
    assert err.startswith("tmspio: error: board 'no-such-board': no such board file ")


def test_heartbeat_bound_follows_the_emulation_speed():
    from tmspio import session

    # a real board: 1000 ms; speed s: 1000*s board-ms (= 1 s of real time); max or unknown: off
    assert [session.heartbeat_for(s) for s in (None, 1.0, 4.0, 0.5, "max", "unknown", 1e12)] == [
        1000,
        1000,
        4000,
        500,
        0,
        0,
        (1 << 29) - 1,
    ]


@pytest.mark.parametrize(
    "content, line",
    [
        (
            b"garbage\n",
            "header 'garbage': expected 'channel,index,planned_s,captured_s,"
            "deviation_ns,confirmed,trial,condition' (written by tmspio run)",
        ),
        (
            b"channel,index,planned_s,captured_s,deviation_ns,confirmed\ntms,0,abc,0,0,n/a\n",
            "line 2: planned_s = 'abc': a number or n/a",
        ),
        (
            b"channel,index,planned_s,captured_s,deviation_ns,confirmed\n",
            "no pulse rows, only the header (nothing to plot)",
        ),
        (
            b"\xff\xfe",
            "cannot read: 'utf-8' codec can't decode byte 0xff in position 0: invalid start byte",
        ),
    ],
)
def test_plot_refuses_a_damaged_pulses_csv(capsys, tmp_path, content, line):
    (tmp_path / "pulses.csv").write_bytes(content)
    rc, out, err = _run(capsys, "plot", str(tmp_path))
    assert (rc, out, err) == (2, "", f"tmspio: error: {tmp_path}/pulses.csv: {line}\n")
    assert not (tmp_path / "timing.png").exists()


def test_run_directory_that_cannot_be_made_fails_before_the_board(capsys, tmp_path):
    (tmp_path / "afile").write_text("")
    rc, out, err = _run(
        capsys,
        "run",
        "itbs",
        "--out",
        str(tmp_path / "afile" / "run"),
        "--port",
        "/dev/tmspio-no-such-port",
    )
    assert rc == 2
    assert err == (
        f"tmspio: error: --out = '{tmp_path}/afile/run': cannot create the run "
        "directory: Not a directory\n"
    )


def test_a_file_the_system_refuses_is_one_line_not_a_traceback(capsys, tmp_path):
    (tmp_path / "afile").write_text("")
    rc, out, err = _run(capsys, "emulate", "--log", str(tmp_path / "afile" / "board.log"))
    assert (rc, err) == (1, f"tmspio: error: {tmp_path}/afile/board.log: Not a directory\n")


def test_deploy_names_a_missing_port_before_mpremote_runs(capsys):
    rc, out, err = _run(capsys, "deploy", "--port", "/dev/tmspio-no-such-port")
    assert (rc, out, err) == (
        1,
        "",
        "tmspio: error: cannot open port /dev/tmspio-no-such-port: No such file or directory\n",
    )


@pytest.mark.parametrize(
    "verb, hint",
    [
        ("deploy", "pass --port PORT (an emulated board: `tmspio emulate` prints its port)"),
        ("maintenance", "pass --port PORT (an emulated board: `tmspio emulate` prints its port)"),
        ("selftest", "pass --port PORT, or use --emulator"),
    ],
)
def test_no_board_found_suggests_only_what_the_verb_accepts(capsys, monkeypatch, verb, hint):
    import serial.tools.list_ports

    monkeypatch.setattr(serial.tools.list_ports, "comports", lambda: [])
    argv = [verb, "--yes"] if verb == "selftest" else [verb]
    assert cli.main(argv) == 1
    assert capsys.readouterr().err == (
        "tmspio: error: no board found: no USB serial device with Raspberry Pi vendor id 2e8a; "
        f"connect a Pico, {hint}\n"
    )
