"""One stimulation session: safety envelope, connect, load, run, log every edge, summarize.

`Session` is the one code path: `tmspio run` is a thin command around it, and experiment
scripts use it directly (docs/api.md). It also fires single pulses on command and keeps a
clock sync between the board and the host (tmspio.clock), so every pulse has a host time.

The order is fixed: the envelope runs before any port is opened, so a refused protocol never
reaches a board. A stored self-test certificate (--selftest) is checked against the connected
board before anything is loaded or written, and copied into the run directory; the self-test
itself never runs here (its pulses would reach the stimulator). events.jsonl is written as
things happen (provenance first); pulses.csv, events.tsv/json and summary.json are written at
the end, also after Ctrl-C or a lost link.
"""

import datetime
import errno
import hashlib
import os
import subprocess
import sys
import threading
import time
from fractions import Fraction
from typing import NamedTuple

from . import __version__, board_limits, compiler, envelope, logs, selftest
from .clock import ClockSync
from .errors import DeviceError, InputError, Interrupted, SafetyRefused
from .link import HEAD_BYTES, HEARTBEAT_WALL_MS, BoardRefused, LinkError, Streamer, connect, wire


class SessionError(DeviceError):
    """The run could not complete on the board."""


def heartbeat_for(speed):
    """Board-side host-silence bound in board milliseconds for a given emulation speed.

    The bound is a wall-clock promise (HEARTBEAT_WALL_MS of real silence). On hardware and at
    a fixed emulation speed s the board's clock runs s times real time; at "max" it has no fixed
    ratio ("unknown": an emulated board on a port, speed not given), so the bound cannot be
    expressed in board time and is switched off (the log records heartbeat_ms 0)."""
    if speed is None:
        return HEARTBEAT_WALL_MS
    if speed in ("max", "unknown"):
        return 0
    return min(wire.MAX_HEARTBEAT_MS, max(1, round(HEARTBEAT_WALL_MS * float(speed))))


def check_out_dir(out):
    """Raise InputError if the run directory `out` could not be created; writes nothing (the
    directory is made only after the board accepted the protocol's limits)."""
    path = os.path.abspath(out)
    probe = path
    while not os.path.lexists(probe) and os.path.dirname(probe) != probe:
        probe = os.path.dirname(probe)
    code = None
    if probe == path and not os.path.isdir(probe):
        code = errno.EEXIST
    elif not os.path.isdir(probe):
        code = errno.ENOTDIR
    elif not os.access(probe, os.W_OK | os.X_OK):
        code = errno.EACCES
    if code is not None:
        raise _out_error(out, os.strerror(code))


def make_out_dir(out):
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as e:
        raise _out_error(out, e.strerror) from None


def _out_error(out, reason):
    return InputError(f"--out = {out!r}: cannot create the run directory: {reason}")


NO_CERTIFICATE_NOTICE = (
    "notice: no timing certificate is stored with this run (give "
    "--selftest FILE, written by `tmspio selftest --out FILE`)"
)


class TimingCertificate:
    """A self-test certificate file to keep with a run: the exact bytes read, checked against
    the connected board (name, firmware, verdict, age) before the run loads anything."""

    def __init__(self, path, max_age_s):
        self.path = path
        self.max_age_s = max_age_s
        self.age_s = None
        try:
            with open(path, "rb") as f:
                self.data = f.read()
            self.cert = selftest.parse_certificate(self.data, path)
        except OSError as e:
            raise InputError(
                f"--selftest {path}: not a readable self-test certificate: {e.strerror}"
            ) from None
        except InputError as e:
            raise InputError(f"--selftest {e}") from None
        self.sha256 = hashlib.sha256(self.data).hexdigest()

    def check(self, board_name, firmware_version, now_utc):
        """Raise InputError naming the file and every reason it does not vouch for this run."""
        problems = selftest.certificate_problems(
            self.cert, board_name, firmware_version, now_utc, self.max_age_s
        )
        if problems:
            raise InputError(f"--selftest {self.path}: " + "; ".join(problems))
        # whole seconds: created_utc has 1 s resolution
        self.age_s = int((now_utc - selftest.created_at(self.cert)).total_seconds())

    def store(self, out_dir):
        with open(os.path.join(out_dir, logs.SELFTEST), "wb") as f:
            f.write(self.data)

    def provenance(self):
        c = self.cert
        return {
            "source": os.path.abspath(self.path),
            "sha256": self.sha256,
            "verdict": c["verdict"],
            "created_utc": c["created_utc"],
            "summary": c["summary"],
        }

    def summary(self):
        return {
            "file": logs.SELFTEST,
            "sha256": self.sha256,
            "verdict": self.cert["verdict"],
            "age_s": self.age_s,
        }


def _speed(speed, emulator, fire_mode):
    """The emulated board's pacing: a number > 0 or "max"; None on hardware. Default with
    emulator=True: "max" for a protocol, 1 (real time) for a fire-on-command session, whose
    pulses follow the script's clock."""
    allowed = "a positive number or max"
    if speed is None:
        if not emulator:
            return None
        return 1 if fire_mode else "max"
    if speed == "max":
        return "max"
    try:
        value = float(speed)
    except (TypeError, ValueError):
        raise InputError(f"--speed = {speed!r}: {allowed}") from None
    if not 0 < value < float("inf"):
        raise InputError(f"--speed = {speed!r}: {allowed}")
    return value


def _fire_template(channels, pulse_width, family, stimulator, intensity, reference):
    """The protocol fields of a fire-on-command session's pulses (envelope.fire_protocol)."""
    chans = []
    for i, ch in enumerate(DEFAULT_CHANNELS if channels is None else channels):
        if isinstance(ch, str):
            ch = {"name": ch, "polarity": "active-high"}
        if not isinstance(ch, dict):
            raise InputError(f"channels[{i}] = {ch!r}: a name or a dict with name and polarity")
        chans.append(dict(ch))
    if not 1 <= len(chans) <= 4:
        raise InputError(f"channels: {len(chans)} given; allowed 1..4 (one per output)")
    template = {
        "name": "fire",
        "title": "pulses on command",
        "family": family,
        "pulse_width": pulse_width,
        "channels": chans,
    }
    if stimulator is not None:
        template["stimulator"] = stimulator
    if intensity is not None:
        template["intensity"] = {"percent": float(intensity), "reference": reference or "RMT"}
    return template


def _jsonable(value):
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return str(value)


class PulseRecord(NamedTuple):
    """One pulse of a session. Board times are seconds on the board clock (its command loop's
    microsecond clock, the one SYNC reads); host times are seconds of `time.perf_counter()`,
    mapped through the clock sync, with `host_uncertainty_s` bounding them (None where unknown).
    Fire sessions have no plan: `planned_*` and `deviation_ns` are None."""

    channel: int  # output index 0..3
    # protocol runs: the pulse's condition (the protocol's conditions), else the channel's
    # name (protocol file, or Session(channels=...): fire sessions)
    condition: str
    index: int  # pulse index on its channel, from 0
    # protocol runs: the pulse's trial index (None without trials); fire sessions: what the
    # script passed to fire(trial=...)
    trial: object
    planned_board_s: float | None
    captured_board_s: float | None  # None: not delivered
    planned_host_s: float | None
    captured_host_s: float | None
    host_uncertainty_s: float | None
    deviation_ns: float | None  # captured - planned (protocol runs; docs/running.md)
    confirmed: bool | None  # the stimulator's trigger-out answered (None: n/a)

    def as_dict(self):
        return self._asdict()


class Progress(NamedTuple):
    """phase: idle | loaded | armed | waiting for trigger | running | done | aborted;
    delivered of planned pulses (fire sessions: of the fires sent); board_s: the last captured
    onset on the board clock, seconds from time zero (fire sessions: the board clock);
    streamed: a streamed run's pulses sent to the board so far (of planned), else None."""

    phase: str
    delivered: int
    planned: int
    board_s: float | None
    streamed: int | None = None


PHASES = ("idle", "loaded", "armed", "waiting for trigger", "running", "done", "aborted")
DEFAULT_CHANNELS = ({"name": "tms", "polarity": "active-high"},)
SYNC_BURST = 8  # exchanges when the session opens
SYNC_PERIOD_S = 1.0  # then one every second


class _Fire:
    """One fire's context: the edges of its run come relative to its own capture zero."""

    def __init__(self, number, channel, index, trial, host_send_ns):
        self.number = number
        self.channel = channel
        self.index = index
        self.trial = trial
        self.host_send_ns = host_send_ns
        self.started = None  # (t_request, t_before, t_after) board us
        self.pending = []  # edges that arrived before the ack was parsed
        self.confirmed = None


class Session:
    """One stimulation session on a board (or the emulated one), with the safety envelope,
    the board's hard limits, the run directory and a clock sync. `tmspio run` is this class.

    `protocol`: a library name, a protocol file, a parsed Protocol, or None for a
    fire-on-command session (`fire()`), whose pulses are described by `channels`,
    `pulse_width`, `family`, `stimulator` and `intensity`. The envelope runs in the
    constructor: a refusal raises SafetyRefused before any port is opened.

    Use it as a context manager: leaving it (also by an exception) stops whatever runs, writes
    the run directory and closes the port, so the outputs are always left idle."""

    def __init__(
        self,
        protocol=None,
        *,
        port=None,
        emulator=False,
        speed=None,
        intensity=None,
        reference=None,
        output=None,
        stimulator=None,
        policy=None,
        override=None,
        operator=None,
        out=None,
        selftest=None,
        selftest_max_age_h=24,
        timeout_scale=None,
        on_pulse=None,
        lsl=False,
        channels=None,
        pulse_width="1 ms",
        family="single-pulse",
        console=False,
        progress_bar=False,
        plots=True,
        stream="auto",
    ):
        if port is not None and emulator:
            raise InputError("port and emulator: give one of them, not both")
        if stream not in board_limits.STREAM_CHOICES:
            raise InputError(
                f"stream = {stream!r}: allowed {', '.join(board_limits.STREAM_CHOICES)}"
            )
        # a program above the board's max_program_bytes streams when it can ("auto");
        # "always" streams any program that can, "never" refuses one too large (docs/running.md)
        self.stream = stream
        self.transfer = None  # board_limits.LOAD or STREAM, once the board's limits are known
        self._streamer = None
        self._host_stopped = False  # the host asked the board to stop (abort, Ctrl-C, an error)
        self.port = port
        self.emulator = emulator
        self.speed = _speed(speed, emulator, protocol is None)
        self.timeout_scale = timeout_scale
        self.on_pulse = on_pulse  # callback(PulseRecord) from the link's reader thread
        self.console = console  # notices and faults on stderr (tmspio run)
        self.progress_bar = progress_bar  # a tqdm bar on stderr while a protocol runs
        self.plots = plots
        self.plot_files = None  # (timing.png, deviation.png) once written
        self.fire_mode = protocol is None
        # the envelope's options (docs/safety.md), as `tmspio check` and `run` take them
        self.envelope_options = {
            "intensity": intensity,
            "reference": reference,
            "output": output,
            "stimulator": stimulator,
            "policy": policy,
            "override": override,
            "operator": operator,
        }
        self.notices = []
        if self.fire_mode:
            self.template = _fire_template(
                channels, pulse_width, family, stimulator, intensity, reference
            )
            # each channel's first pulse, so a bad declaration fails before any port
            self.assessments = [
                envelope.assess(
                    envelope.fire_protocol(self.template, i, [0.0]), self._fire_options()
                )
                for i in range(len(self.template["channels"]))
            ]
            self.assessment = self.assessments[0]
            self.protocol = self.assessment.protocol
            name = "fire"
        else:
            self.assessment = envelope.assess(protocol, self.envelope_options)
            self.protocol = self.assessment.protocol
            name = self.protocol.name
        self.out = out or os.path.join("runs", f"{name}-{_utc()[:19]}".replace(":", ""))
        # before any board is touched; the directory itself is made only after the board's
        # limits passed, so a refused protocol leaves nothing behind
        check_out_dir(self.out)
        self.certificate = (
            None if selftest is None else TimingCertificate(selftest, selftest_max_age_h * 3600)
        )
        self.lsl = lsl
        self._outlet = None
        if lsl:
            from . import lsl as _lsl

            _lsl.require()  # InputError naming the extra when pylsl is missing
        self.link = None
        self.board = None  # the emulated board (SerialBoard) when emulator=True
        self.clock = ClockSync()
        self.compiled = None
        self.summary = None
        self.log = None
        self.pulses = []  # PulseRecord, in arrival order (the final list after the end)
        self._lock = threading.RLock()
        self._bar = None
        self._state = "new"  # new | open | started | finished | closed
        self._started = None
        self._zero = None
        self._onsets = {}
        self._edge_plan = None  # {output: [PulseInfo]} when the protocol has trials/conditions
        self._fires = []
        self._fire_program = None
        self._sync_stop = threading.Event()
        self._sync_thread = None
        self._hb = None
        self._board_name = "emulated" if emulator else None
        self._by_fire = {}  # fire number -> PulseRecord
        self._live_pending = []  # onsets that arrived before start()'s ack was parsed
        self._finish_lock = threading.Lock()

    # ---- the run directory and the board --------------------------------------------------

    def open(self):
        """Connect (or start the emulated board), check the certificate and the board's
        limits, create the run directory and sync the clocks. start()/fire() call it."""
        if self._state != "new":
            return self
        self.link, self.board = open_board(
            self.port, self.emulator, self.speed or "max", scale=self.timeout_scale
        )
        try:
            self._open()
        except BaseException:
            close_board(self.link, self.board)
            self.link = self.board = None
            self._state = "closed"
            raise
        self._state = "open"
        return self

    def _open(self):
        link = self.link
        info = link.info
        emulated = info.get("platform", "rp2") != "rp2"
        if not emulated and self.speed is not None and not self.emulator:
            raise InputError(
                f"--speed: the board on {link.port} is real hardware "
                f"({info.get('board')}); it runs in real time"
            )
        if emulated and self.speed is None:
            # the board says how its clock runs against real time ("max": no fixed ratio)
            self.speed = info.get("speed") or "unknown"
        if self.certificate is not None:
            self.certificate.check(
                info.get("board"), info.get("firmware"), datetime.datetime.now(datetime.UTC)
            )
        features = link.features()
        if self.fire_mode and not {"fire", "sync"} <= set(features):
            raise SessionError(
                f"firmware {info.get('firmware')} on {link.port} has no fire command "
                "(hello features: %s); run `tmspio deploy`" % (", ".join(features) or "none")
            )
        link.require_at_rest()
        hz = int(info["sysclk_hz"])
        if self.fire_mode:
            self._fire_programs = {}
            for i in range(len(self.template["channels"])):
                self._fire_programs[i] = self._compile_fire(i, hz)
            self.compiled = self._fire_programs[0]
        else:
            self.compiled = compiler.compile_protocol(self.protocol, hz)
            # the board's own limits (hello), before the run directory or any log is written;
            # the board checks them again at load (and each streamed piece) whatever the host
            # sends; the whole program is judged here, also one that streams
            self.transfer = board_limits.check(
                self.compiled,
                info.get("limits") or {},
                self._board_name or info.get("board"),
                max_program_bytes=info.get("max_program_bytes"),
                stream=self.stream,
            )
        make_out_dir(self.out)
        for name in (
            logs.EVENTS,
            logs.PULSES,
            logs.BIDS_TSV,
            logs.BIDS_JSON,
            logs.SUMMARY,
            logs.SELFTEST,
        ):
            path = os.path.join(self.out, name)
            if os.path.exists(path):
                os.remove(path)
        if self.certificate is not None:
            self.certificate.store(self.out)
        else:
            self._notice(NO_CERTIFICATE_NOTICE)
        self.log = logs.EventLog(os.path.join(self.out, logs.EVENTS))
        self._hb = heartbeat_for(self.speed)
        data = self.compiled.encode()
        self.log.write("provenance", **self._provenance(data, self._hb))
        for f in self.assessment.findings:
            self.log.write("safety", **f.as_dict())
        if "sync" in features:
            for _ in range(SYNC_BURST):
                self._sync_once()
            self._sync_thread = threading.Thread(
                target=self._sync_loop, name="tmspio-clock-sync", daemon=True
            )
            self._sync_thread.start()
        if self.lsl:
            from . import lsl as _lsl

            self._outlet = _lsl.MarkerOutlet(
                f"tmspio {self.protocol.name}", source_id=f"tmspio-{info.get('board')}-{link.port}"
            )
        link.on_state = self._on_state
        link.on_fault = self._fault
        link.on_edges = self._edges
        if self.fire_mode:  # the first channel's program is on the board before the first fire
            link.load(data)
            self._fire_program = 0

    def _compile_fire(self, channel, hz):
        """The one-pulse program of a fire on output `channel` (the envelope's template)."""
        c = compiler.compile_protocol(envelope.fire_protocol(self.template, channel, [0.0]), hz)
        ch = c.program.channels[0]
        c.program.channels[0] = type(ch)(channel, ch.idle_level, ch.delay, ch.segments)
        board_limits.check(
            c, self.link.info.get("limits") or {}, self._board_name or self.link.info.get("board")
        )
        return c

    def _notice(self, text):
        self.notices.append(text)
        if self.console:
            print(text, file=sys.stderr)

    # ---- clock sync ------------------------------------------------------------------------

    def _sync_once(self):
        try:
            ex = self.link.sync()
        except LinkError:
            return None
        kept = self.clock.add(ex)
        if self.log is not None and self.summary is None:
            self.log.write(
                "sync", host_send_ns=ex[0], board_us=ex[1], host_recv_ns=ex[2], used=kept
            )
        return ex

    def _sync_loop(self):
        while not self._sync_stop.wait(SYNC_PERIOD_S):
            self._sync_once()

    def _host(self, board_us):
        """(host perf_counter seconds, uncertainty s) of a board-clock time in us."""
        got = self.clock.host_ns(board_us)
        if got is None:
            return None, None
        return got[0] / 1e9, got[1] / 1e9

    # ---- a protocol run -------------------------------------------------------------------

    def start(self):
        """Load, verify, arm and start the protocol; returns at once (the session itself).
        The run goes on on the board; `progress`, `wait()`, `abort()`."""
        if self.fire_mode:
            raise SessionError(
                "start: a fire-on-command session (protocol None) has no "
                "program to start; use fire()"
            )
        self.open()
        if self._state != "open":
            raise SessionError(f"start: the session is {self._state}")
        if self.plots:
            from . import plot

            plot.preload()  # the imports overlap the run instead of following it
        data = self.compiled.encode()
        try:
            if self.transfer == board_limits.STREAM:
                self._stream_begin(data)
            else:
                sha = self.link.load(data)
                self.log.write(
                    "loaded",
                    bytes=len(data),
                    board_sha256=sha,
                    segments=self.compiled.program.segment_count(),
                )
            self._idle = {ch.index: ch.idle_level for ch in self.compiled.program.channels}
            # onset edges of a protocol with trials or conditions name their pulse's trial and
            # condition in events.jsonl (None: the edge records stay as they were)
            c = self.compiled
            self._edge_plan = (
                {ch.index: c.pulse_info[ci] for ci, ch in enumerate(c.program.channels)}
                if c.conditions or c.trials
                else None
            )
            self._open_bar()
            self._state = "started"
            started = self.link.run(self._hb)
            if self._streamer is not None:
                self._streamer.feed()  # the rest of the program, as the board makes room
            with self._lock:
                self._started = started
                pending, self._live_pending = self._live_pending, []
            for output, k, cycle in pending:
                self._live_pulse(output, k, cycle)
            started = (
                {}
                if self._started is None
                else dict(
                    zip(("board_us_request", "board_us_before", "board_us_after"), self._started)
                )
            )
            self.log.write("started", utc=_utc(), heartbeat_ms=self._hb, **started)
        except BaseException as e:
            self._fail(e)
            raise
        mode = self.protocol.start.mode
        if mode != "immediate" and self.progress_bar:
            print(
                f"armed: waiting for the external trigger ({mode} start) on the board's "
                "trigger input; Ctrl-C cancels",
                file=sys.stderr,
            )
        return self

    def _stream_begin(self, data):
        """Load a streamed program's start and queue what the board's look-ahead holds
        (link.Streamer); the rest goes once the run is started (feed)."""
        limit = (self.link.info.get("limits") or {}).get(board_limits.SIZE_FIELD)
        head = HEAD_BYTES if not isinstance(limit, int) else min(HEAD_BYTES, limit)
        st = Streamer(self.link, self.compiled.program, head_bytes=head)
        self._streamer = st
        sha = st.begin()
        self.log.write(
            "loaded",
            bytes=len(st.head),
            board_sha256=sha,
            segments=self.compiled.program.segment_count(),
            streamed=True,
        )
        self.log.write(
            "stream",
            program_bytes=len(data),
            sent_bytes=st.bytes,
            head_bytes=len(st.head),
            head_pulses=st.head_pulses,
            pieces=len(st.pieces),
            pulses=st.total_pulses,
            window_bytes=st.window,
            queued_pieces=st.sent,
        )

    def wait(self, timeout=None):
        """Block until the run ends (or `timeout` seconds pass: SessionError, the run goes
        on); write the run directory and return the summary dict. Ctrl-C stops the board
        first and raises Interrupted."""
        if self._state == "finished":
            return self.summary
        if self._state != "started":
            raise SessionError(f"wait: nothing was started (the session is {self._state})")
        try:
            final = self.link.wait(timeout)
            if self.summary is not None:  # abort() from another thread finished it
                return self.summary
        except KeyboardInterrupt:
            self._interrupted()
        except LinkError as e:
            if timeout is not None and str(e).startswith("program still"):
                raise SessionError(f"wait: {e}") from None
            self._fail(e)
            raise
        self._finish(final.get("state") != "done", final.get("reason"))
        return self.summary

    def run(self):
        """start() and wait(): the whole protocol, as `tmspio run` does."""
        self.start()
        return self.wait()

    def abort(self, reason="aborted by the script"):
        """Stop the board now (outputs idle), write the run directory; returns the summary."""
        if self._state in ("started",) or (self.fire_mode and self._state == "open"):
            error = self._stop(reason)
            self._finish(True, reason if error is None else f"{reason} ({error})")
        return self.summary

    @property
    def progress(self):
        """Progress(phase, delivered, planned, board_s), from the board's latest report."""
        if self.fire_mode:
            st = (self.link and self.link.last_state) or {}
            phase = {
                "running": "running",
                "armed": "armed",
                "done": "done",
                "stopped": "aborted",
            }.get(st.get("state"), "loaded" if self.link else "idle")
            if self.summary is not None:
                phase = "aborted" if self.summary.get("aborted") else "done"
            us = None if self.link is None else self._board_now_us()
            return Progress(
                phase, len(self.pulses), len(self._fires), None if us is None else us / 1e6
            )
        planned = self.compiled.pulses() if self.compiled else 0
        delivered = sum(len(v) for v in self._onsets.values())
        streamed = None if self._streamer is None else self._streamer.sent_pulses
        if self.summary is not None:
            return Progress(
                "aborted" if self.summary["aborted"] else "done",
                self.summary["pulses_delivered"],
                self.summary["pulses_planned"],
                self._board_s(),
                streamed,
            )
        if self._state != "started":
            return Progress(
                "loaded" if self._state == "open" else "idle", 0, planned, None, streamed
            )
        st = self.link.last_state or {}
        state = st.get("state", "armed")
        if state == "running":
            phase = "waiting for trigger" if st.get("waiting_trigger") else "running"
        else:
            phase = {"done": "done", "stopped": "aborted", "armed": "armed"}.get(state, state)
        return Progress(phase, delivered, planned, self._board_s(), streamed)

    def _board_s(self):
        with self._lock:
            last = max((v[-1] for v in self._onsets.values() if v), default=None)
        if last is None or self._zero is None:
            return None
        return (last - self._zero) / self.compiled.sysclk_hz

    def _board_now_us(self):
        return self.clock.board_us(time.perf_counter_ns())

    # ---- fire on command ------------------------------------------------------------------

    def fire(self, channel=0, *, trial=None):
        """One pulse now on `channel` (output index, or a channel name = condition), under
        the envelope (this channel's pulses over the whole session, checked before it is
        sent: SafetyRefused) and the board's own limits (minimum interval, rate window,
        heartbeat: BoardRefused from the board). Returns the pulse's index in `pulses`
        order; its PulseRecord arrives when the board reports the edge (wait_pulse())."""
        if not self.fire_mode:
            raise SessionError(
                "fire: this session runs a protocol; make a Session(None, ...) to fire on command"
            )
        self.open()
        if self._state != "open":
            raise SessionError(f"fire: the session is {self._state}")
        ci = self._channel(channel)
        if self._fires:
            # the previous fire's one-pulse run ends a pulse width after its onset; wait for
            # the board's report of it (the board refuses a fire while a run is active)
            self.link.wait(timeout=2)
        now_ns = time.perf_counter_ns()
        onsets = [
            r.captured_host_s
            for r in self.pulses
            if r.channel == ci and r.captured_host_s is not None
        ]
        self._check_fire(ci, onsets + [now_ns / 1e9])
        if self._fire_program != ci:
            self.link.load(self._fire_programs[ci].encode())
            self._fire_program = ci
        with self._lock:
            ctx = _Fire(
                len(self._fires),
                ci,
                sum(1 for f in self._fires if f.channel == ci),
                trial,
                time.perf_counter_ns(),
            )
            self._fires.append(ctx)
        try:
            started = self.link.fire(self._hb)
        except BoardRefused as e:
            with self._lock:
                self._fires.remove(ctx)
            self.log.write("fire_refused", channel=ci, code=e.code, text=e.text)
            raise
        self.log.write(
            "fire",
            number=ctx.number,
            channel=ci,
            condition=self.template["channels"][ci]["name"],
            trial=_jsonable(trial),
            host_send_ns=ctx.host_send_ns,
            board_us_request=started[0],
            board_us_before=started[1],
            board_us_after=started[2],
        )
        with self._lock:
            ctx.started = started
            pending, ctx.pending = ctx.pending, []
        self._fire_edges(ctx, pending)
        return ctx.number

    def wait_pulse(self, number, timeout=2.0):
        """The PulseRecord of fire `number` (fire()'s return), waiting up to `timeout` s."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                got = self._by_fire.get(number)
            if got is not None:
                return got
            time.sleep(0.005)
        raise SessionError(f"fire {number}: no pulse captured within {timeout:g} s")

    def _channel(self, channel):
        names = [c["name"] for c in self.template["channels"]]
        if isinstance(channel, str):
            if channel not in names:
                raise InputError(
                    f"fire: channel {channel!r}: allowed {', '.join(names)} or 0..{len(names) - 1}"
                )
            return names.index(channel)
        if (
            isinstance(channel, bool)
            or not isinstance(channel, int)
            or not (0 <= channel < len(names))
        ):
            raise InputError(
                f"fire: channel {channel!r}: allowed 0..{len(names) - 1} or {', '.join(names)}"
            )
        return channel

    def _check_fire(self, ci, onsets):
        proto = envelope.fire_protocol(self.template, ci, onsets)
        try:
            envelope.assess(proto, self._fire_options())
        except SafetyRefused as e:
            self.log.write(
                "fire_refused",
                channel=ci,
                code="envelope",
                text=str(e),
                findings=[f.as_dict() for f in e.findings],
            )
            raise

    def _fire_edges(self, ctx, recs):
        if not recs:
            return
        hz = self.compiled.sysclk_hz
        t_req, t_before, t_after = ctx.started
        idle = self._fire_programs[ctx.channel].program.channels[0].idle_level
        for source, level, cycle in recs:
            board_us = t_after + cycle * 1_000_000 / hz
            self.log.write(
                "edge",
                source=wire.SOURCE_NAMES.get(source, str(source)),
                level=level,
                cycle=cycle,
                fire=ctx.number,
                board_us=board_us,
            )
            if source == wire.SRC_CONFIRM and level == 1:
                ctx.confirmed = True
                continue
            if source != ctx.channel or level == idle:
                continue
            host, unc = self._host(board_us)
            bracket = (t_after - t_before) / 1e6
            rec = PulseRecord(
                ctx.channel,
                self.template["channels"][ctx.channel]["name"],
                ctx.index,
                ctx.trial,
                None,
                board_us / 1e6,
                None,
                host,
                None if unc is None else unc + bracket,
                None,
                None,
            )
            self._add_pulse(rec, fire=ctx.number)

    def _add_pulse(self, rec, fire=None):
        with self._lock:
            self.pulses.append(rec)
            if fire is not None:
                self._by_fire[fire] = rec
        if fire is not None:
            self.log.write(
                "pulse", fire=fire, **{k: _jsonable(v) for k, v in rec._asdict().items()}
            )
        if self._outlet is not None and rec.captured_host_s is not None:
            self._outlet.push(rec)
        if self.on_pulse is not None:
            self.on_pulse(rec)

    def _provenance(self, data, hb):
        info = self.link.info
        src = self.assessment.source
        sha = None
        if src and os.path.exists(src):
            with open(src, "rb") as f:
                sha = hashlib.sha256(f.read()).hexdigest()
        return {
            "tmspio_version": __version__,
            "firmware_version": info.get("firmware"),
            "wire_version": info.get("wire"),
            "board": self._board_name or info.get("board"),
            "chip": info.get("chip"),
            "port": self.link.port,
            "sysclk_hz": info.get("sysclk_hz"),
            "protocol": self.protocol.name,
            "protocol_source": src,
            "protocol_sha256": sha,
            "program_sha256": hashlib.sha256(data).hexdigest(),
            "seed": _seeds(self.protocol),
            "draws": [d.as_dict() for d in self.compiled.schedule.draws],
            "intensity": str(self.assessment.declared),
            "stimulator": self.assessment.stimulator,
            "safety_override": self.assessment.override,
            "heartbeat_ms": hb,
            "emulator_speed": self.speed,
            "selftest": None if self.certificate is None else self.certificate.provenance(),
            "mode": "fire" if self.fire_mode else "protocol",
            "fire_template": _jsonable(self.template) if self.fire_mode else None,
            "utc_start": _utc(),
            "host": {
                "python": sys.version.split()[0],
                "platform": sys.platform,
                "tmspio_git": _git_revision(),
            },
        }

    # ---- the link's callbacks (reader thread) ---------------------------------------------

    def _on_state(self, st):
        self.log.write("state", **st)

    def _edges(self, recs):
        if self.fire_mode:
            with self._lock:
                ctx = self._fires[-1] if self._fires else None
                if ctx is None:
                    return
                if ctx.started is None:
                    ctx.pending.extend(recs)
                    return
            self._fire_edges(ctx, recs)
            return
        n = 0
        c = self.compiled
        plan = self._edge_plan
        for source, level, cycle in recs:
            if not (source in self._idle and level != self._idle[source]):
                self.log.write(
                    "edge",
                    source=wire.SOURCE_NAMES.get(source, str(source)),
                    level=level,
                    cycle=cycle,
                )
                continue
            n += 1
            with self._lock:
                got = self._onsets.setdefault(source, [])
                got.append(cycle)
                k = len(got) - 1
                if self._zero is None:
                    ci = self._index_of(source)
                    self._zero = cycle - c.channel_cycles[ci][0]
            info = None
            if plan is not None and k < len(plan[source]):
                info = plan[source][k]
            if info is None:
                self.log.write(
                    "edge",
                    source=wire.SOURCE_NAMES.get(source, str(source)),
                    level=level,
                    cycle=cycle,
                )
            else:  # a protocol with trials or conditions: the onset's pulse, trial, condition
                self.log.write(
                    "edge",
                    source=wire.SOURCE_NAMES.get(source, str(source)),
                    level=level,
                    cycle=cycle,
                    pulse=k,
                    trial=info.trial,
                    condition=info.condition,
                    marker=info.marker,
                )
            self._live_pulse(source, k, cycle)
        if self._bar is not None and n:
            done = float(max(0, recs[-1][2] - self._zero) / c.sysclk_hz)
            sent = "" if self._streamer is None else f", streamed {self._streamer.sent_pulses}"
            self._bar.set_postfix_str(
                f"board {done:.1f} of {float(c.duration()):.1f} s{sent}", refresh=False
            )
            self._bar.update(n)

    def _index_of(self, output):
        for ci, ch in enumerate(self.compiled.program.channels):
            if ch.index == output:
                return ci
        return 0

    def _live_pulse(self, output, k, cycle):
        """The PulseRecord of a captured onset as it arrives (on_pulse, LSL). Immediate runs
        get their plan at once; trigger and gated runs get it at the end (wait())."""
        if self.on_pulse is None and self._outlet is None:
            return
        with self._lock:
            if self._started is None:  # the ack with the start times is still being parsed
                self._live_pending.append((output, k, cycle))
                return
        c = self.compiled
        hz = c.sysclk_hz
        ci = self._index_of(output)
        zero_us = None if self._started is None else self._started[2]
        captured = None if zero_us is None else zero_us / 1e6 + cycle / hz
        planned = dev = None
        if self.protocol.start.mode == "immediate" and k < len(c.channel_cycles[ci]):
            p = c.channel_cycles[ci][k]
            dev = (cycle - self._zero - p) * 1e9 / hz
            if zero_us is not None:
                planned = zero_us / 1e6 + (self._zero + p) / hz
        host, unc = (None, None) if captured is None else self._host(captured * 1e6)
        phost = None if planned is None else self._host(planned * 1e6)[0]
        info = c.pulse_info[ci][k] if k < len(c.pulse_info[ci]) else None
        rec = PulseRecord(
            output,
            (info and info.condition) or self.protocol.channels[ci].name,
            k,
            None if info is None else info.trial,
            planned,
            captured,
            phost,
            host,
            unc,
            dev,
            None,
        )
        if self._outlet is not None and host is not None:
            self._outlet.push(rec)
        if self.on_pulse is not None:
            self.on_pulse(rec)

    def _fault(self, fault):
        """A fault the board or the link reported: logged, and said on the console at once."""
        self.log.write("fault", **fault)
        if not self.console:
            return
        text = f"fault ({fault.get('code')}): {fault.get('text')}"
        if self._bar is not None:
            self._bar.write(text, file=sys.stderr)
        else:
            print(text, file=sys.stderr)

    def _open_bar(self):
        if not self.progress_bar:
            return
        from tqdm import tqdm

        self._bar = tqdm(
            total=self.compiled.pulses(),
            unit="pulse",
            desc=self.protocol.name,
            dynamic_ncols=True,
            leave=True,
            file=sys.stderr,
        )

    # ---- the end --------------------------------------------------------------------------

    def _interrupted(self):
        reason = "operator interrupt (Ctrl-C)"
        error = self._stop(reason)
        self._finish(True, reason)
        if error is None:
            raise Interrupted("run stopped by Ctrl-C; outputs idle; log in " + self.out) from None
        raise Interrupted(
            f"Ctrl-C: the board did not confirm the stop ({error}); "
            f"its heartbeat bound ({self._hb} ms, 0 = off) stops a run the host "
            f"left; log in {self.out}"
        ) from None

    def _fail(self, e):
        """An error while the board may be running: stop it, write what was received."""
        if self._state not in ("open", "started"):
            return
        if isinstance(e, KeyboardInterrupt):
            self._interrupted()
        reason = f"link: {e}" if isinstance(e, LinkError) else f"host: {type(e).__name__}: {e}"
        self._stop(reason)  # the link may still carry a stop (e.g. the log write failed)
        self._finish(True, reason)

    def _stop(self, reason):
        """Ask the board to stop; None when it confirmed, else the error text."""
        self._host_stopped = True
        try:
            st = self.link.stop(reason)
        except LinkError as e:
            self.log.write("stop_failed", error=str(e))
            return str(e)
        self.log.write("stopped", **st)
        return None

    def _finish(self, aborted, reason):
        with self._finish_lock:  # abort() from another thread while wait() returns
            if self.summary is not None:
                return
            self._finish_locked(aborted, reason)

    def _finish_locked(self, aborted, reason):
        self._sync_stop.set()
        if self._sync_thread is not None:
            self._sync_thread.join(5)
        self.link.on_edges = self.link.on_state = self.link.on_fault = None  # log closes below
        if self._bar is not None:
            self._bar.close()
        if self.fire_mode:
            self._finish_fires(aborted, reason)
        else:
            self._finish_run(aborted, reason)
        self.log.write("clock", **self.clock.summary())
        self.summary["clock"] = self.clock.summary()
        self.log.write("summary", **self.summary)
        self.log.close()
        logs.write_json(os.path.join(self.out, logs.SUMMARY), self.summary)
        if self._outlet is not None:
            self._outlet.close()
        self._state = "finished"

    def _finish_fires(self, aborted, reason):
        names = {i: ch["name"] for i, ch in enumerate(self.template["channels"])}
        by_fire = self._by_fire
        rows = []
        confirms = any(f.confirmed for f in self._fires)
        for f in self._fires:
            rec = by_fire.get(f.number)
            captured = None if rec is None else Fraction(round(rec.captured_board_s * 1e9), 10**9)
            rows.append(
                {
                    "channel": f.channel,
                    "index": f.index,
                    "planned_s": None,
                    "captured_s": captured,
                    "deviation_ns": None,
                    "confirmed": (
                        bool(f.confirmed) if confirms and captured is not None else None
                    ),
                    "trial": _jsonable(f.trial),
                }
            )
        meta = logs.fire_meta(
            self.template,
            self.protocol.pulse_width,
            self.assessment.declared,
            self.assessment.stimulator,
        )
        logs.annotate(rows, meta)
        logs.write_pulses(os.path.join(self.out, logs.PULSES), rows, names)
        logs.write_bids(
            os.path.join(self.out, logs.BIDS_TSV),
            os.path.join(self.out, logs.BIDS_JSON),
            rows,
            meta,
        )
        self.summary = logs.summarize(
            rows,
            aborted,
            reason,
            {
                "protocol": None,
                "mode": "fire",
                "fires": len(self._fires),
                "time_base": "board clock (s since the firmware's command loop started)",
                "faults": list(self.link.faults),
                "board_errors": [list(e) for e in self.link.board_errors],
                "out_dir": os.path.abspath(self.out),
                "selftest": None if self.certificate is None else self.certificate.summary(),
            },
        )

    def _finish_run(self, aborted, reason):
        c = self.compiled
        status = {}
        try:
            status = self.link.status()
        except LinkError as e:
            self.log.write("status_failed", error=str(e))
        start, reference = _start_cycle(status, self.link.last_state)
        edges = list(self.link.edges)
        planned, start, reference, laid = self._plan(start, reference, edges)
        rows = logs.match_pulses(
            planned,
            {ch.index: ch.idle_level for ch in c.program.channels},
            start,
            edges,
            c.sysclk_hz,
            confirm_source=wire.SRC_CONFIRM,
            confirm_channel=c.confirm_channel,
        )
        names = {i: ch.name for i, ch in enumerate(self.protocol.channels)}
        # each pulse's trial, condition, marker code, width and intensity (compiled.pulse_info)
        meta = logs.protocol_meta(c, self.assessment.declared, self.assessment.stimulator)
        logs.annotate(rows, meta)
        logs.write_pulses(os.path.join(self.out, logs.PULSES), rows, names)
        logs.write_bids(
            os.path.join(self.out, logs.BIDS_TSV),
            os.path.join(self.out, logs.BIDS_JSON),
            rows,
            meta,
        )
        extra = {
            "protocol": self.protocol.name,
            "board_pulses_delivered": status.get("pulses_delivered"),
            "start_cycle": start,
            "timing_reference": reference,
            **laid,
            "sysclk_hz": c.sysclk_hz,
            "faults": list(self.link.faults),
            "board_errors": [list(e) for e in self.link.board_errors],
            "out_dir": os.path.abspath(self.out),
            "selftest": None if self.certificate is None else self.certificate.summary(),
            # per condition and per trial (none without conditions and trials)
            **logs.summarize_plan(rows, meta),
        }
        if self._streamer is not None:
            extra["stream"] = self._stream_outcome(status)
        self.summary = logs.summarize(
            rows, aborted, reason, extra, confirm_channel=names[c.confirm_channel]
        )
        self.pulses = self._records(rows, start)

    def _stream_outcome(self, status):
        """A streamed run's end: how much was sent, and the stream's fault if it ended one
        (the board's `underrun` or `stream refused`, else a host-side error that stopped the
        feeding); logged as `stream_end` and kept in summary.json's `stream`."""
        st = self._streamer
        st.join(5 * self.link.scale)  # the feeder ends once the board is at rest
        faults = [
            f
            for f in (status.get("faults") or (self.link.last_state or {}).get("faults") or [])
            if str(f).startswith(("underrun", "stream"))
        ]
        error = faults[0] if faults else None
        if error is None and st.error is not None and not st.ended and not self._host_stopped:
            # (after the host's own stop, a piece the stopped board refuses is no fault)
            error = f"host: {st.error}"
        out = {
            "program_bytes": len(self.compiled.encode()),
            "sent_bytes": st.sent_bytes,
            "bytes": st.bytes,
            "head_bytes": len(st.head),
            "pieces_sent": st.sent,
            "pieces": len(st.pieces),
            "pulses_sent": st.sent_pulses,
            "window_bytes": st.window,
            "ended": st.ended,
            "error": error,
        }
        self.log.write("stream_end", **out)
        if st.error is not None and error != f"host: {st.error}":
            self.log.write("stream_error", error=st.error)
        return out

    def _records(self, rows, start):
        """The final PulseRecords of a protocol run (every planned pulse)."""
        hz = self.compiled.sysclk_hz
        zero = None if self._started is None or start is None else self._started[2] / 1e6
        out = []
        for r in rows:
            ci = r["channel"]
            planned = captured = ph = ch = unc = None
            if zero is not None and r["planned_cycle"] is not None:
                planned = zero + (start + r["planned_cycle"]) / hz
                ph = self._host(planned * 1e6)[0]
            if zero is not None and r["captured_cycle"] is not None:
                captured = zero + (start + r["captured_cycle"]) / hz
                ch, unc = self._host(captured * 1e6)
            out.append(
                PulseRecord(
                    self.compiled.program.channels[ci].index,
                    r["condition"] or self.protocol.channels[ci].name,
                    r["index"],
                    r["trial"],
                    planned,
                    captured,
                    ph,
                    ch,
                    unc,
                    None if r["deviation_ns"] is None else float(r["deviation_ns"]),
                    r["confirmed"],
                )
            )
        return out

    def _fire_options(self):
        """The envelope options for a fire session's pulses: the template carries the declared
        intensity and stimulator, so only the rest is passed on."""
        opts = dict(self.envelope_options)
        opts.update(intensity=None, reference=None, stimulator=None)
        return opts

    def close(self):
        """Stop anything running, write the run directory, release the port (and power the
        emulated board off), then draw the plots of a protocol run. Safe to call twice."""
        self._close(True)

    def _close(self, plots):
        if self._state == "closed":
            return
        try:
            if self._state == "started":
                self.abort("session closed before the run ended")
            elif self._state == "open":
                if self.fire_mode:
                    self._finish(False, None)
                else:
                    self._finish(True, "session closed before start")
        finally:
            self._sync_stop.set()
            if self._sync_thread is not None:
                self._sync_thread.join(5)
            close_board(self.link, self.board)
            finished = self._state == "finished"
            self._state = "closed"
            if os.path.isdir(self.out):
                # an overridden refusal: override.json here and a line in the site log
                self.assessment.record(self.out)
        # after the board is released (an emulated board stops with it)
        if finished and plots and self.plots and not self.fire_mode:
            from . import plot

            self.plot_files = plot.write_plots(self.out)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is KeyboardInterrupt and (
            self._state == "started" or (self.fire_mode and self._state == "open")
        ):
            self._stop("operator interrupt (Ctrl-C)")
            self._finish(True, "operator interrupt (Ctrl-C)")
        self._close(exc_type is None)  # no plots after an error: the error is what matters

    def _plan(self, start, reference, edges):
        """(planned onsets per channel index, their time zero on the capture clock,
        timing_reference, extra summary fields).

        Immediate start: the compiled onsets after the start event, as they are. Trigger and
        gated starts: the compiled onsets are only the densest case (one train per refractory
        interval), so the plan is laid on the accepted trigger edges instead
        (logs.trigger_plan); a pulse whose trigger never came has no planned onset."""
        c = self.compiled
        mode = self.protocol.start.mode
        if mode == "immediate":
            return (
                {ch.index: cyc for ch, cyc in zip(c.program.channels, c.channel_cycles)},
                start,
                reference,
                {},
            )
        planned, info = logs.trigger_plan(
            c.program,
            start,
            edges,
            trigger_source=wire.SRC_TRIGGER_IN,
            trigger_level=_trigger_in_level(self._board_name or self.link.info.get("board")),
        )
        # no onset captured (stopped while waiting for the trigger): no time zero at all
        zero = info.get("start_cycle")
        if start is not None and zero == start:
            reference = (
                "time zero (start_cycle, reported by the board) is its first captured "
                "onset minus that channel's delay; " + info["timing_reference"]
            )
        else:
            reference = info["timing_reference"]
        laid = {
            "start_mode": mode,
            "accepted_triggers": info["accepted_triggers"],
            "trigger_edges_captured": info["trigger_edges_captured"],
        }
        return planned, zero, reference, laid


def _trigger_in_level(board_name):
    """The wire level of an active trigger_in edge: 0 on a board whose trigger_in is
    falling-edge (board file polarity), else 1."""
    from .boards import BoardError, load_board

    try:
        polarity = load_board(board_name)["polarity"]["trigger_in"]
    except (BoardError, KeyError, TypeError):
        return 1
    return 0 if polarity == "falling" else 1


def _start_cycle(status, last_state):
    """(cycle of the start event on the capture clock, how it is known).

    The engine reports `start_cycle` once it knows it; without it the deviations stay unknown
    rather than guessed."""
    for st in (status, last_state or {}):
        if st.get("start_cycle") is not None:
            return st["start_cycle"], (
                "start_cycle reported by the board; the RP2040 engine derives it from the "
                "first captured onset (docs/architecture.md §5), so that pulse's deviation is "
                "0 by definition and every other pulse is measured against it"
            )
    return None, "start event cycle not reported by the board: deviations unknown"


def _seeds(protocol):
    seeds = []
    t = protocol.timing
    if t is not None:
        for name in ("inter_pulse_interval", "inter_burst_interval", "inter_train_interval"):
            seed = getattr(getattr(t, name, None), "seed", None)
            if seed is not None:
                seeds.append({"field": f"timing.{name}", "seed": seed})
    trials = getattr(protocol, "trials", None)
    if trials is not None:  # the trial order's seed, and the trial interval's jitter
        if trials.seed is not None:
            seeds.append({"field": "trials.seed", "seed": trials.seed})
        seed = getattr(trials.interval, "seed", None)
        if seed is not None:
            seeds.append({"field": "trials.interval", "seed": seed})
    return seeds


def _git_revision():
    """Commit of the tmspio checkout running this (with "+dirty"), or None when tmspio runs
    from an installed package: a wheel inside someone else's git repository (a venv in a lab's
    project) must not report that repository's commit as ours."""
    from . import firmware

    if firmware.SOURCE != "checkout":
        return None
    root = firmware.CHECKOUT_DIR

    def git(*args):
        return subprocess.run(
            ["git", "-C", root, *args], capture_output=True, text=True, timeout=5
        )

    try:
        top = git("rev-parse", "--show-toplevel")
        if top.returncode != 0 or os.path.realpath(top.stdout.strip()) != os.path.realpath(root):
            return None
        rev = git("rev-parse", "HEAD")
        if rev.returncode != 0:
            return None
        dirty = git("status", "--porcelain", "--", "host", "firmware", "boards")
    except (OSError, subprocess.TimeoutExpired):
        return None
    return rev.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def _utc():
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")


def open_board(
    port=None, emulator=False, speed="max", hello_timeout=None, scale=None, board_file=None
):
    """(link, emulated_board_or_None): the one way a session or a command opens a board, a
    real one on `port` (None: the one Pico attached) or, with emulator=True, the emulated
    board (`board_file`: its board file, default boards/emulated.json). The emulated board is
    powered off by close_board(). scale: factor for every link timeout (None:
    $TMSPIO_TIMEOUT_SCALE or 1)."""
    board = None
    if emulator:
        from .emulator.serial_board import SerialBoard

        board = (
            SerialBoard(speed=speed)
            if board_file is None
            else SerialBoard(speed=speed, board=board_file)
        )
        port = board.start()
    try:
        link = connect(port, hello_timeout=hello_timeout or (20 if emulator else 3), scale=scale)
    except BaseException:
        if board is not None:
            board.close()
        raise
    return link, board


def close_board(link, board):
    try:
        if link is not None:
            link.close()
    finally:
        if board is not None:
            board.close()
