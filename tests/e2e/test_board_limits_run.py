"""tmspio run refuses a protocol beyond the connected board's limits (from its hello) before the
run directory or any log exists; the emulated board runs the real firmware."""

import hashlib

import pytest
from tmspio import cli, session


def _run(capsys, *argv):
    rc = cli.main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


def _toml(tmp_path, name, width, interval, pulses):
    path = tmp_path / (name + ".toml")
    path.write_text(
        f'name = "{name}"\ntitle = "limit test"\nfamily = "rtms"\npulse_width = "{width}"\n'
        'channels = [ { name = "tms", polarity = "active-high" } ]\n'
        'intensity = { percent = 50, reference = "RMT" }\n\n'
        f'[timing]\ninter_pulse_interval = "{interval}"\npulses_in_burst = {pulses}\n'
    )
    return str(path)


# the envelope refuses 200 Hz at 50% RMT (exit 3); its override does not lift a board limit
@pytest.mark.parametrize(
    "name,width,interval,pulses,override,verdict,text",
    [
        (
            "narrow",
            "5 us",
            "1 Hz",
            3,
            (),
            "PASS",
            "channels[0].segments[0].width = 625 cycles "
            "(5.000 us) is below limits.min_width_us = 10 us",
        ),
        (
            "fast",
            "1 ms",
            "200 Hz",
            1001,
            ("--override", "bench test"),
            "REFUSED, OVERRIDDEN",
            "channels[0]: 1001 pulses within 10 s (onsets 0..1000) exceed limits.max_rate_hz = 100 "
            "over limits.max_rate_window_s = 10",
        ),
    ],
)
def test_run_refuses_before_the_run_directory_exists(
    capsys, tmp_path, name, width, interval, pulses, override, verdict, text
):
    out_dir = tmp_path / "runs" / name
    rc, out, err = _run(
        capsys,
        "run",
        _toml(tmp_path, name, width, interval, pulses),
        "--emulator",
        "--quiet",
        "--out",
        str(out_dir),
        *override,
    )
    assert rc == 2
    assert err == f"tmspio: error: {name}: beyond board emulated's limits: {text}\n"
    assert out.splitlines()[0].startswith(f"{name} at 50% RMT on generic-ttl: {verdict} ")
    assert not (tmp_path / "runs").exists()


def test_a_file_where_the_run_directory_should_be_is_named_before_the_board(capsys, tmp_path):
    (tmp_path / "taken").write_text("")
    rc, out, err = _run(
        capsys,
        "run",
        "itbs",
        "--out",
        str(tmp_path / "taken"),
        "--port",
        "/dev/tmspio-no-such-port",
    )
    assert rc == 2
    assert err == (
        f"tmspio: error: --out = '{tmp_path}/taken': cannot create the run "
        "directory: File exists\n"
    )


def test_check_out_dir_writes_nothing(tmp_path):
    session.check_out_dir(str(tmp_path / "a" / "b" / "c"))
    assert list(tmp_path.iterdir()) == []
    session.check_out_dir(str(tmp_path))  # an existing directory is reused


def test_host_and_board_give_the_same_verdict_and_text(tmp_path):
    # the board's own check, reached by loading past the host: same limit, same words
    from tmspio import board_limits, compiler
    from tmspio.link import BoardRefused
    from tmspio.protocols import resolve

    cases = [
        ("narrow", "5 us", "1 Hz", 3),
        ("wide", "20 ms", "1 Hz", 3),
        ("close", "0.2 ms", "2000 Hz", 3),
        ("many", "1 ms", "1 Hz", 100001),
        ("fast", "1 ms", "200 Hz", 1001),
    ]
    link, board = session.open_board(None, True, "max")
    try:
        hz, limits = link.info["sysclk_hz"], link.info["limits"]
        for name, width, interval, pulses in cases:
            c = compiler.compile_protocol(
                resolve(_toml(tmp_path, name, width, interval, pulses)), hz
            )
            with pytest.raises(board_limits.BoardLimitError) as host:
                board_limits.check(c, limits, "emulated")
            with pytest.raises(BoardRefused) as dev:
                link.load(c.encode())
            host_text = str(host.value).split("beyond board emulated's limits: ", 1)[1]
            assert str(dev.value) == "board refused load-end (engine): limit: " + host_text
        c = compiler.compile_protocol(
            resolve(_toml(tmp_path, "edge", "10 us", "100 Hz", 2000)), hz
        )
        board_limits.check(c, limits, "emulated")
        data = c.encode()
        assert link.load(data) == hashlib.sha256(data).hexdigest()  # the board stored it
    finally:
        session.close_board(link, board)
