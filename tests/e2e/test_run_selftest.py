"""tmspio run --selftest: a stored timing certificate is checked against the connected board
before anything is loaded or written, then kept byte-identical with the run and named in its
provenance and summary; without it the run says so once. Emulated board, real firmware."""

import datetime
import hashlib
import json

import pytest
from tmspio import cli, logs, session

SUMMARY = (
    "selftest PASS: board emulated, firmware 0.3.0, 125000000 Hz, 40/40 edges, "
    "latency 0..0 cycles (0..0 ns), jitter 0 cycles (0 ns)"
)


def _run(capsys, *argv):
    rc = cli.main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    path = tmp_path_factory.mktemp("cert") / "selftest.json"
    assert cli.main(["selftest", "--emulator", "--out", str(path)]) == 0
    return path


@pytest.fixture
def protocol(tmp_path):
    path = tmp_path / "three.toml"
    path.write_text(
        'name = "three"\ntitle = "selftest run"\nfamily = "rtms"\npulse_width = "100 us"\n'
        'channels = [ { name = "tms", polarity = "active-high" } ]\n'
        'intensity = { percent = 50, reference = "RMT" }\n\n'
        '[timing]\ninter_pulse_interval = "10 Hz"\npulses_in_burst = 3\n'
    )
    return str(path)


def _variant(tmp_path, certificate, **fields):
    cert = json.loads(certificate.read_text())
    cert.update(fields)
    path = tmp_path / "variant.json"
    path.write_text(json.dumps(cert))
    return str(path)


def test_the_certificate_is_stored_and_named_in_provenance_and_summary(
    capsys, tmp_path, certificate, protocol
):
    data = certificate.read_bytes()
    cert = json.loads(data)
    assert cert["summary"] == SUMMARY
    out_dir = tmp_path / "run"
    rc, out, err = _run(
        capsys,
        "run",
        protocol,
        "--emulator",
        "--quiet",
        "--selftest",
        str(certificate),
        "--out",
        str(out_dir),
    )
    assert rc == 0, err
    assert session.NO_CERTIFICATE_NOTICE not in err
    assert (out_dir / "selftest.json").read_bytes() == data
    sha = hashlib.sha256(data).hexdigest()
    provenance = logs.read_events(str(out_dir / "events.jsonl"))[0]
    assert provenance["event"] == "provenance"
    assert provenance["selftest"] == {
        "source": str(certificate),
        "sha256": sha,
        "verdict": "pass",
        "created_utc": cert["created_utc"],
        "summary": SUMMARY,
    }
    summary = json.loads((out_dir / "summary.json").read_text())
    age = summary["selftest"].pop("age_s")
    assert summary["selftest"] == {"file": "selftest.json", "sha256": sha, "verdict": "pass"}
    made = datetime.datetime.strptime(cert["created_utc"], "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.UTC
    )
    now = datetime.datetime.now(datetime.UTC)
    assert 0 <= age <= (now - made).total_seconds()
    assert summary["pulses_delivered"] == 3


def test_without_a_certificate_provenance_says_null_and_run_says_so_once(
    capsys, tmp_path, protocol
):
    out_dir = tmp_path / "run"
    (out_dir).mkdir()
    (out_dir / "selftest.json").write_text("{}")  # a stale copy from an earlier run goes
    rc, out, err = _run(capsys, "run", protocol, "--emulator", "--quiet", "--out", str(out_dir))
    assert rc == 0, err
    assert err.splitlines().count(session.NO_CERTIFICATE_NOTICE) == 1
    assert session.NO_CERTIFICATE_NOTICE == (
        "notice: no timing certificate is stored with this run (give --selftest FILE, "
        "written by `tmspio selftest --out FILE`)"
    )
    assert not (out_dir / "selftest.json").exists()
    assert logs.read_events(str(out_dir / "events.jsonl"))[0]["selftest"] is None
    assert json.loads((out_dir / "summary.json").read_text())["selftest"] is None


def _refused(capsys, tmp_path, protocol, cert_path, *extra):
    out_dir = tmp_path / "runs" / "r"
    rc, out, err = _run(
        capsys,
        "run",
        protocol,
        "--emulator",
        "--quiet",
        "--selftest",
        cert_path,
        "--out",
        str(out_dir),
        *extra,
    )
    assert rc == 2
    assert not (tmp_path / "runs").exists()
    return err


def test_a_certificate_for_another_board_is_refused(capsys, tmp_path, certificate, protocol):
    path = _variant(tmp_path, certificate, board="pico2")
    err = _refused(capsys, tmp_path, protocol, path)
    assert err == (
        f"tmspio: error: --selftest {path}: it certifies board 'pico2', not 'emulated'\n"
    )


def test_a_certificate_for_other_firmware_is_refused(capsys, tmp_path, certificate, protocol):
    path = _variant(tmp_path, certificate, firmware_version="0.0.9")
    err = _refused(capsys, tmp_path, protocol, path)
    assert err == (
        f"tmspio: error: --selftest {path}: it was made with firmware '0.0.9', "
        "the board runs '0.3.0'\n"
    )


def test_a_failed_certificate_is_refused(capsys, tmp_path, certificate, protocol):
    failed = SUMMARY.replace("PASS", "FAIL") + "; GPIO2->GPIO11: edge 3 not captured"
    path = _variant(tmp_path, certificate, verdict="fail", summary=failed)
    err = _refused(capsys, tmp_path, protocol, path)
    assert err == f"tmspio: error: --selftest {path}: the self-test failed: {failed}\n"


def test_a_certificate_older_than_the_limit_is_refused(capsys, tmp_path, certificate, protocol):
    made = datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=30)
    path = _variant(tmp_path, certificate, created_utc=made.strftime("%Y-%m-%dT%H:%M:%SZ"))
    err = _refused(capsys, tmp_path, protocol, path)
    head = f"tmspio: error: --selftest {path}: it is "
    assert err.startswith(head) and err.endswith(" s old (limit 86400 s)\n")
    assert 30 * 3600 <= int(err[len(head) :].split()[0]) <= 30 * 3600 + 60
    # --selftest-max-age widens it
    rc, out, err = _run(
        capsys,
        "run",
        protocol,
        "--emulator",
        "--quiet",
        "--selftest",
        path,
        "--selftest-max-age",
        "31",
        "--out",
        str(tmp_path / "ok"),
    )
    assert rc == 0, err
    assert (
        json.loads((tmp_path / "ok" / "summary.json").read_text())["selftest"]["age_s"]
        >= 30 * 3600
    )


def test_max_age_zero_refuses_a_certificate_older_than_now(
    capsys, tmp_path, certificate, protocol
):
    made = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=5)
    path = _variant(tmp_path, certificate, created_utc=made.strftime("%Y-%m-%dT%H:%M:%SZ"))
    err = _refused(capsys, tmp_path, protocol, path, "--selftest-max-age", "0")
    head = f"tmspio: error: --selftest {path}: it is "
    assert err.startswith(head) and err.endswith(" s old (limit 0 s)\n")
    assert 5 <= int(err[len(head) :].split()[0]) <= 60


def test_a_missing_certificate_is_refused(capsys, tmp_path, protocol):
    path = str(tmp_path / "nope.json")
    err = _refused(capsys, tmp_path, protocol, path)
    assert err == (
        f"tmspio: error: --selftest {path}: not a readable self-test certificate: "
        "No such file or directory\n"
    )


def test_a_file_that_is_not_json_is_refused(capsys, tmp_path, protocol):
    path = tmp_path / "notes.json"
    path.write_text("selftest passed, trust me\n")
    err = _refused(capsys, tmp_path, protocol, str(path))
    assert err == (
        f"tmspio: error: --selftest {path}: not a readable self-test certificate: "
        "Expecting value: line 1 column 1 (char 0)\n"
    )


def test_json_that_is_not_a_certificate_is_refused(capsys, tmp_path, protocol):
    path = tmp_path / "other.json"
    path.write_text('{"format": "tmspio-run/1"}')
    err = _refused(capsys, tmp_path, protocol, str(path))
    assert err == (
        f"tmspio: error: --selftest {path}: format: 'tmspio-run/1' is not a "
        "self-test certificate (expected 'tmspio-selftest/1')\n"
    )


def test_a_malformed_certificate_time_is_refused(capsys, tmp_path, certificate, protocol):
    path = _variant(tmp_path, certificate, created_utc="yesterday")
    err = _refused(capsys, tmp_path, protocol, path)
    assert err == (
        f"tmspio: error: --selftest {path}: created_utc = 'yesterday': expected UTC "
        "time as YYYY-MM-DDTHH:MM:SSZ\n"
    )


@pytest.mark.parametrize("hours", ["-1", "nan", "a day"])
def test_a_bad_max_age_is_refused(capsys, tmp_path, certificate, protocol, hours):
    err = _refused(capsys, tmp_path, protocol, str(certificate), "--selftest-max-age", hours)
    assert err == (
        f"tmspio: error: --selftest-max-age = {hours!r}: a number of hours, 0 or more\n"
    )
