"""`tmspio selftest --emulator` end to end: the verb, the printed lines and the certificate file."""

from tmspio import cli, selftest


def test_selftest_verb_on_the_emulated_board(tmp_path, capsys):
    out = tmp_path / "cert.json"
    assert cli.main(["selftest", "--emulator", "--out", str(out)]) == 0
    cert = selftest.load_certificate(str(out))
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("loopback: trigger[0] GPIO")
    assert lines[-2] == "certificate: %s" % out
    assert lines[-1] == cert["summary"]
    assert cert["board"] == "emulated"
    assert cert["port"].startswith("/dev/")
    assert (cert["verdict"], cert["jitter_cycles"], cert["jitter_ns"]) == ("pass", 0, 0.0)
    assert cert["summary"].startswith("selftest PASS: board emulated, firmware ")
