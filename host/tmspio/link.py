"""The host end of the wire protocol: open a port, handshake, load, arm, start, stream edges.

Also the small API for experiment scripts (PsychoPy and the like)::

    from tmspio import link
    with link.connect("/dev/ttyACM0") as board:     # or connect() to find a Pico by USB id
        board.load(program)                          # progformat.Program or its bytes
        board.run()                                  # arm + start; returns at once
        status = board.wait()                        # until the program ends; edges in board.edges
        board.stop("participant moved")              # abort to safe outputs at any time

Ports are opened only through serial.serial_for_url (a device path, socket://, loop://) with
exclusive=True, so a second host on the same port gets a clear error instead of half the bytes.
A reader thread decodes every frame; a heartbeat thread keeps the board's host-silence bound
satisfied while a session is open. docs/wire-protocol.md is the protocol reference.
"""

import hashlib
import json
import os
import struct
import threading
import time

import serial
import serial.tools.list_ports

from . import __version__
from .errors import DeviceError
from .firmware import progformat as _progformat
from .firmware import wire as _wire

wire = _wire()
progformat = _progformat()

RASPBERRY_PI_VID = 0x2E8A
BAUD = 115200  # ignored by USB CDC and ptys; set for real UARTs
REPLY_TIMEOUT_S = 3.0  # silence after a request (a PROGRESS frame from the board restarts it)
HEARTBEAT_PERIOD_S = 0.1  # times the timeout scale, at most 0.5 s: heartbeat_period()
HEARTBEAT_WALL_MS = 1000  # host silence bound enforced by the board, in real milliseconds
TIMEOUT_SCALE_ENV = "TMSPIO_TIMEOUT_SCALE"
CHUNK = wire.MAX_PAYLOAD - 4
HEAD_BYTES = 4096  # a streamed program's loaded start, at most (Streamer)
COMPATIBLE_FIRMWARE = ("0.3.",)  # firmware versions this host speaks to
_REPLY = {
    wire.HELLO: wire.HELLO_R,
    wire.STATUS: wire.STATUS_R,
    wire.LOAD_BEGIN: wire.ACK,
    wire.LOAD_DATA: wire.ACK,
    wire.LOAD_END: wire.LOADED,
    wire.ARM: wire.ACK,
    wire.START_RUN: wire.ACK,
    wire.STOP: wire.STATUS_R,
    wire.BYE: wire.ACK,
    wire.MAINTENANCE: wire.ACK,
    wire.SYNC: wire.SYNC_R,
    wire.FIRE: wire.ACK,
    wire.STREAM_BEGIN: wire.ACK,
    wire.STREAM_DATA: wire.ACK,
    wire.STREAM_END: wire.ACK,
}


def heartbeat_period(scale):
    """Seconds between the host's heartbeats: HEARTBEAT_PERIOD_S times the timeout scale, at
    most half the board's bound (HEARTBEAT_WALL_MS), which holds even for a board at real time.

    A board N times slower than real time receives N times more heartbeats per second of its
    own time; the real MicroPython image in rp2040py (about 40x slower) fell behind on 0.1 s
    heartbeats (each 9-byte frame costs its command loop well over a millisecond) until a
    STATUS request waited more than a minute behind them (docs/emulator.md, "The real port")."""
    return min(HEARTBEAT_PERIOD_S * scale, HEARTBEAT_WALL_MS / 2000)


def timeout_scale(value=None):
    """The factor every wait on the link is multiplied by: `value`, else $TMSPIO_TIMEOUT_SCALE,
    else 1. A board or link slower than a Pico on USB (an RP2040 emulator, a radio link) needs
    more than 1."""
    text = os.environ.get(TIMEOUT_SCALE_ENV) if value is None else value
    if text is None or text == "":
        return 1.0
    try:
        scale = float(text)
    except (TypeError, ValueError):
        scale = float("nan")
    if not 0 < scale < float("inf"):
        where = "--timeout-scale" if value is not None else TIMEOUT_SCALE_ENV
        from .errors import InputError

        raise InputError(f"{where} = {text!r}: a number > 0 (1 = a Pico on USB)")
    return scale


class LinkError(DeviceError):
    """The port, the link or the board's firmware failed."""


class BoardRefused(LinkError):
    """The board answered a request with an error reply."""

    def __init__(self, code, request, text):
        name = wire.ERROR_NAMES.get(code, str(code))
        what = wire.NAMES.get(request, "frame") if request else "frame"
        super().__init__(f"board refused {what} ({name}): {text}")
        self.code = code
        self.text = text


def find_board(emulator_option=True):
    """The port of the one Raspberry Pi USB device attached (VID 0x2E8A). emulator_option: the
    verb has --emulator, so the error may suggest it."""
    found = [p.device for p in serial.tools.list_ports.comports() if p.vid == RASPBERRY_PI_VID]
    if not found:
        hint = (
            "pass --port PORT, or use --emulator"
            if emulator_option
            else "pass --port PORT (an emulated board: `tmspio emulate` prints its port)"
        )
        raise LinkError(
            "no board found: no USB serial device with Raspberry Pi vendor id 2e8a; "
            "connect a Pico, " + hint
        )
    if len(found) > 1:
        raise LinkError(f"{len(found)} boards found ({', '.join(found)}): pass --port PORT")
    return found[0]


def open_port(port):
    """serial_for_url with exclusive access; errors say which port and why."""
    try:
        ser = serial.serial_for_url(
            port, baudrate=BAUD, timeout=0.05, do_not_open=True, exclusive=True
        )
        ser.open()
        ser.reset_input_buffer()  # bytes left from an earlier session are not ours
    except serial.SerialException as e:
        text = str(e)
        if "exclusively lock" in text or "Resource temporarily unavailable" in text:
            raise LinkError(
                f"port {port} is in use by another program (a second tmspio, "
                "mpremote or a terminal); close it and retry"
            ) from None
        code = e.args[0] if e.args and isinstance(e.args[0], int) else None
        reason = os.strerror(code) if code is not None else text  # not pyserial's repetition
        raise LinkError(f"cannot open port {port}: {reason}") from None
    except ValueError as e:
        raise LinkError(f"cannot open port {port}: {e}") from None
    return ser


class Link:
    """One session with the board over an open serial object.

    Every reply timeout is multiplied by `scale` (timeout_scale()), and counts silence: a
    PROGRESS frame for the awaited request starts it again."""

    def __init__(self, ser, port="?", scale=None):
        self.ser = ser
        self.port = port
        self.scale = timeout_scale(scale)
        self.decoder = wire.Decoder()
        self.info = None
        self.edges = []  # (source, level, cycle) in arrival order
        self.states = []  # every STATE report
        self.faults = []  # every FAULT report
        self.board_errors = []  # errors the board reported about our frames (seq 0)
        self.on_edges = None  # callback(list of edges) from the reader thread
        self.on_state = None  # callback(status dict)
        self.on_fault = None  # callback(fault dict)
        self.last_state = None
        self.raw_tail = b""  # last bytes that were not frames (REPL banner, traceback)
        self._replies = {}
        self._rx_ns = {}  # seq -> perf_counter_ns() when its reply was decoded (<= 255 kept)
        self._cond = threading.Condition()
        self._seq = 0
        self._write_lock = threading.Lock()
        self._closed = threading.Event()
        self._heartbeat = threading.Event()
        self._next_edge = 0
        self._session_open = False  # hello answered: EVENTS before it are an earlier session's
        self._progress = {}  # seq -> (done, total) of the latest PROGRESS frame
        self.on_progress = None  # callback(done, total) while the board works on a request
        self._rx_error = None
        self._callback_error = None  # the reader thread survives it; wait() reports it
        self._reader = threading.Thread(target=self._read_loop, name="tmspio-link-rx", daemon=True)
        self._reader.start()
        self._beater = threading.Thread(target=self._beat_loop, name="tmspio-link-hb", daemon=True)
        self._beater.start()

    # ---- plumbing ----

    def _send(self, mtype, payload=b""):
        with self._write_lock:
            self._seq = self._seq % 255 + 1
            seq = self._seq
            with self._cond:
                self._replies.pop(seq, None)
            try:
                self.ser.write(wire.frame(mtype, seq, payload))
            except (serial.SerialException, OSError) as e:
                raise LinkError(f"write to {self.port} failed: {e}") from None
        return seq

    def request(self, mtype, payload=b"", timeout=REPLY_TIMEOUT_S):
        """Send one request and return (reply_type, payload); an ERROR reply raises.
        `timeout`: seconds of silence allowed (times self.scale)."""
        return self._await(self._send(mtype, payload), mtype, timeout)

    def _await(self, seq, mtype, timeout=REPLY_TIMEOUT_S):
        """The reply to request `seq`. A frame with that seq but of another kind is a leftover
        of an earlier session (replies a killed host never read) and is skipped."""
        timeout = timeout * self.scale
        deadline = time.monotonic() + timeout
        stray = None
        seen = None
        while True:
            with self._cond:
                while seq not in self._replies:
                    got = self._progress.get(seq)
                    if got is not seen:  # the board is still working on it: silence restarts
                        seen = got
                        deadline = time.monotonic() + timeout
                    left = deadline - time.monotonic()
                    if left <= 0 or self._rx_error:
                        break
                    self._cond.wait(min(left, 0.1))
                reply = self._replies.pop(seq, None)
                self._progress.pop(seq, None)
            if reply is None:
                if stray is not None and not self._rx_error:
                    raise LinkError(
                        f"{self.port} answered {wire.NAMES[mtype]} with {stray}: "
                        "not a tmspio board (a loopback or echoing port?)"
                    )
                raise LinkError(self._silence(wire.NAMES[mtype], timeout))
            rtype, body = reply
            if rtype == wire.ERROR:
                code, req, text = wire.parse_error(body)
                if req == mtype:
                    raise BoardRefused(code, req, text)
            elif rtype == _REPLY[mtype]:
                return rtype, body
            stray = wire.NAMES.get(rtype, hex(rtype))

    def _silence(self, what, timeout):
        if self._rx_error:
            return f"link to {self.port} lost: {self._rx_error}"
        msg = f"no reply to {what} from {self.port} within {timeout:g} s"
        tail = self.raw_tail.decode("utf-8", "replace").strip()
        if tail:
            msg += (
                f"; the board printed {tail[-200:]!r} (is the tmspio firmware running? "
                "try `tmspio deploy`)"
            )
        else:
            msg += (
                f"; for a slower board or link raise every timeout with --timeout-scale N "
                f"or {TIMEOUT_SCALE_ENV}=N (now {self.scale:g})"
            )
        return msg

    def _read_loop(self):
        while not self._closed.is_set():
            try:
                data = self.ser.read(self.ser.in_waiting or 1)
            except (serial.SerialException, OSError, TypeError, AttributeError) as e:
                if not self._closed.is_set():
                    self._rx_error = str(e) or type(e).__name__
                    with self._cond:
                        self._cond.notify_all()
                return
            if not data:
                continue
            junk_before = self.decoder.junk
            items = self.decoder.feed(data)
            if self.decoder.junk > junk_before or any(i[0] == "error" for i in items):
                self.raw_tail = (self.raw_tail + data)[-512:]
            for item in items:
                if item[0] == "frame":
                    try:
                        self._dispatch(item[1], item[2], item[3])
                    except Exception as e:  # a bad payload or a failing callback (log, UI)
                        self._callback_error = f"{type(e).__name__}: {e}"
                        with self._cond:
                            self._cond.notify_all()

    def _dispatch(self, mtype, seq, payload):
        if mtype == wire.EVENTS:
            if not self._session_open:
                return  # an earlier session's edges, still in flight when this one opened
            first, recs = wire.parse_events(payload)
            if first != self._next_edge:  # the board numbers edges from 0 at hello and arm
                self._fault(
                    {
                        "code": "link",
                        "text": f"edges {self._next_edge}..{first - 1} lost on the link",
                    }
                )
            self._next_edge = first + len(recs)
            self.edges.extend(recs)
            if self.on_edges:
                self.on_edges(recs)
            return
        if mtype == wire.STATE:
            st = json.loads(payload)
            self.states.append(st)
            self.last_state = st
            if self.on_state:
                self.on_state(st)
            with self._cond:
                self._cond.notify_all()
            return
        if mtype == wire.FAULT:
            self._fault(json.loads(payload))
            return
        if mtype == wire.PROGRESS:
            done, total = wire.parse_progress(payload)
            with self._cond:
                self._progress[seq] = (done, total)
                self._cond.notify_all()
            if self.on_progress:
                self.on_progress(done, total)
            return
        if mtype == wire.HELLO_R:
            self._session_open = True
            self._next_edge = 0
        if seq == 0 and mtype == wire.ERROR:
            self.board_errors.append(wire.parse_error(payload))
            return
        with self._cond:
            self._rx_ns[seq] = time.perf_counter_ns()
            self._replies[seq] = (mtype, payload)
            self._cond.notify_all()

    def _fault(self, fault):
        self.faults.append(fault)
        if self.on_fault:
            self.on_fault(fault)

    def _beat_loop(self):
        period = heartbeat_period(self.scale)
        while not self._closed.wait(period):
            if self._heartbeat.is_set():
                try:
                    self._send(wire.HEARTBEAT)
                except LinkError:
                    return

    # ---- the session ----

    def hello(self, timeout=REPLY_TIMEOUT_S):
        rtype, body = self.request(wire.HELLO, struct.pack("<H", wire.WIRE_VERSION), timeout)
        info = json.loads(body)
        fw = str(info.get("firmware"))
        if not fw.startswith(COMPATIBLE_FIRMWARE):
            raise LinkError(
                f"firmware {fw} on {self.port} is not supported by tmspio "
                f"{__version__} (needs {' or '.join(COMPATIBLE_FIRMWARE)}x); "
                "run `tmspio deploy`"
            )
        self.info = info
        self._heartbeat.set()
        return info

    def status(self):
        return json.loads(self.request(wire.STATUS)[1])

    def require_at_rest(self):
        """Refuse a board still armed or running a program of an earlier session (a host that
        died with the heartbeat off): never load over it."""
        state = self.status().get("state")
        if state in ("armed", "running"):
            raise LinkError(
                f"the board on {self.port} is {state} from an earlier session; wait "
                "for it to finish or reset the board (replug it, or restart "
                "`tmspio emulate`)"
            )

    def load(self, program, progress=None):
        """Upload a progformat.Program (or its bytes). The board checks length and CRC32,
        loads it, and echoes the SHA-256 of the bytes it stored: any difference from what was
        meant to be sent raises LinkError here, before anything can be armed. Returns that
        SHA-256 (hex)."""
        data = program if isinstance(program, bytes | bytearray) else progformat.encode(program)
        data = bytes(data)
        sha = hashlib.sha256(data).digest()
        crc = wire.crc32(data) & 0xFFFFFFFF
        self.request(wire.LOAD_BEGIN, wire.load_begin(len(data), crc))
        # Stop-and-wait: sending 4 or 8 chunks ahead measured no faster (bench/bench_link.py):
        # the board's byte-at-a-time decoding, not the round trip, sets the rate.
        for off in range(0, len(data), CHUNK):
            self.request(wire.LOAD_DATA, wire.load_data(off, data[off : off + CHUNK]))
            if progress:
                progress(min(off + CHUNK, len(data)), len(data))
        # the board decodes and checks the whole program now; PROGRESS frames keep us waiting
        rtype, body = self.request(wire.LOAD_END, timeout=REPLY_TIMEOUT_S + len(data) / 20000)
        length, echo = wire.parse_loaded(body)
        if (length, echo) != (len(data), sha):
            raise LinkError(
                f"the board stored a different program: {length} bytes with "
                f"sha256 {echo.hex()}, sent {len(data)} bytes with sha256 "
                f"{sha.hex()}; nothing was armed (a corrupting link or "
                "adapter?)"
            )
        return sha.hex()

    def stream(self, program, heartbeat_ms=None, head_bytes=HEAD_BYTES, piece_bytes=CHUNK):
        """Run a one-channel program of any length (docs/program-format.md §8): load its start
        (at most `head_bytes`), announce the total (STREAM_BEGIN), queue pieces of at most
        `piece_bytes` while the board's look-ahead window has room, arm and start, then keep
        sending pieces from a thread as room frees up (flow control: each STREAM_DATA
        acknowledgement carries the room left; an empty one asks). Returns at once after the
        start; wait() as for run(). A piece the board refuses, or one that comes too late,
        stops the run on the board (fault `stream refused` / `underrun`); a host-side error
        ends the thread and is in `stream_error`. Streamer is the same in steps (Session)."""
        streamer = Streamer(self, program, head_bytes, piece_bytes)
        streamer.begin()
        self.arm(heartbeat_ms)
        self.start()
        return streamer.feed()

    def arm(self, heartbeat_ms=None):
        """heartbeat_ms: board-side host-silence bound (0 = off, None = the board's default)."""
        payload = b"" if heartbeat_ms is None else wire.u32(heartbeat_ms)
        seq = self._send(wire.ARM, payload)
        # the board numbers the run's edges from 0 once it handles arm; none can come before
        # its ACK, and the reader handles frames in order
        self.edges.clear()
        self._next_edge = 0
        self._await(seq, wire.ARM)

    def start(self):
        """Start the armed program. Returns (t_request, t_before, t_after): the board clock
        (us, see sync()) when the board handled it and around engine.start(), whose last writes
        start the capture clock; None from a firmware without the sync feature."""
        return wire.parse_started(self.request(wire.START_RUN)[1])

    def run(self, heartbeat_ms=None):
        self.arm(heartbeat_ms)
        return self.start()

    def stop(self, reason="host stop"):
        return json.loads(self.request(wire.STOP, reason.encode())[1])

    def wait(self, timeout=None, poll_s=0.25, check_s=1.0):
        """Block until the board reports a state at rest; returns that status.

        Besides the STATE frames it asks for the status every `check_s`, so a lost frame or a
        board that restarted (watchdog, power: its session is gone) is noticed."""
        deadline = None if timeout is None else time.monotonic() + timeout
        next_check = time.monotonic() + check_s
        while True:
            st = self.last_state
            if st is not None and st.get("state") not in wire.ACTIVE_STATES:
                return st
            if self._rx_error:
                raise LinkError(f"link to {self.port} lost: {self._rx_error}")
            if self._callback_error:
                raise LinkError(
                    f"handling a message from {self.port} failed: {self._callback_error}"
                )
            if deadline is not None and time.monotonic() > deadline:
                raise LinkError(f"program still {st and st.get('state')} after {timeout:g} s")
            if time.monotonic() >= next_check:
                next_check = time.monotonic() + check_s
                try:
                    polled = self.status()
                except BoardRefused as e:
                    if e.code == wire.E_ORDER:
                        raise LinkError(
                            f"the board on {self.port} restarted during the run "
                            f"(its session is gone: {e.text})"
                        ) from None
                    raise
                if polled.get("state") not in wire.ACTIVE_STATES:
                    self.last_state = polled
                    continue
            with self._cond:
                self._cond.wait(poll_s)

    def features(self):
        """What the connected firmware offers beyond wire version 2's first set (hello)."""
        return tuple((self.info or {}).get("features") or ())

    def sync(self):
        """One clock exchange: (host_send_ns, board_us, host_recv_ns). host_*: time.perf_counter_ns()
        just before the request was written and when the reply was decoded; board_us: the board
        clock (microseconds since its command loop started) while it handled the request."""
        with self._write_lock:  # the send time is taken under the lock: no other frame between
            self._seq = self._seq % 255 + 1
            seq = self._seq
            with self._cond:
                self._replies.pop(seq, None)
            sent = time.perf_counter_ns()
            try:
                self.ser.write(wire.frame(wire.SYNC, seq))
            except (serial.SerialException, OSError) as e:
                raise LinkError(f"write to {self.port} failed: {e}") from None
        rtype, body = self._await(seq, wire.SYNC)
        with self._cond:
            received = self._rx_ns.pop(seq)
        return sent, wire.parse_u64(body, "sync-reply"), received

    def fire(self, heartbeat_ms):
        """Arm and start the loaded one-pulse program in one request. The board refuses it
        (BoardRefused, code wire.E_LIMIT) outside its own limits: minimum interval and rate
        window since the previous fires, host silence above `heartbeat_ms` before the request,
        a program of more than one pulse. Returns (t_request, t_before, t_after) as start()."""
        # the board numbers this run's edges from 0 (as at arm); its frames come after the ack
        self.edges.clear()
        self._next_edge = 0
        self.last_state = None
        seq = self._send(wire.FIRE, wire.u32(heartbeat_ms))
        return wire.parse_started(self._await(seq, wire.FIRE)[1])

    def maintenance(self, timeout=REPLY_TIMEOUT_S):
        """Stop the firmware (outputs idle; refused while armed or running) and hand the port
        to MicroPython's REPL. Returns once the REPL prompt is seen."""
        self._heartbeat.clear()
        seq = wire.MAINTENANCE_SEQ
        with self._write_lock:
            with self._cond:
                self._replies.pop(seq, None)
            self.raw_tail = b""
            try:
                self.ser.write(wire.maintenance_frame())
            except (serial.SerialException, OSError) as e:
                raise LinkError(f"write to {self.port} failed: {e}") from None
        try:
            self._await(seq, wire.MAINTENANCE, timeout)
        except LinkError:
            if self.info is not None:
                self._heartbeat.set()  # refused (a run is going): the session goes on
            raise
        self.info = None  # no session left to close
        deadline = time.monotonic() + timeout * self.scale
        while b">>> " not in self.raw_tail:
            if time.monotonic() > deadline:
                raise LinkError(
                    f"the firmware on {self.port} stopped, but no REPL prompt "
                    f"came within {timeout * self.scale:g} s"
                )
            time.sleep(0.02)

    def bye(self):
        self._heartbeat.clear()
        self.request(wire.BYE)

    def close(self):
        """End the session politely if the link still works, then release the port."""
        self._heartbeat.clear()
        if self.info is not None and not self._rx_error:
            try:
                self.bye()
            except LinkError:
                pass
        self._closed.set()
        try:
            self.ser.close()
        except (serial.SerialException, OSError):
            pass
        self._reader.join(1)
        self._beater.join(1)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Streamer:
    """One streamed run of a one-channel program (Link.stream, in steps): begin() loads the
    start and queues what the board's window holds, feed() sends the rest from a thread once
    the run is started. The program's segments are sent as compiled (the compiler already
    makes a jittered train one-pulse segments, which pack into interval blocks).

    `sent_pulses` of `total_pulses` have reached the board (the loaded start, then each
    acknowledged piece); `on_progress(sent_pulses, total_pulses)` after each piece; `error`:
    a host-side error that ended the feeding (also in the link's `stream_error`); `ended`:
    STREAM_END acknowledged."""

    def __init__(self, link, program, head_bytes=None, piece_bytes=CHUNK):
        if len(program.channels) != 1:
            raise LinkError(f"stream: {len(program.channels)} channels; one channel streams")
        self.link = link
        head_bytes = HEAD_BYTES if head_bytes is None else head_bytes
        ch = program.channels[0]
        segs = list(ch.segments)
        self.total_pulses = sum(seg[0] for seg in segs)

        def head(n):
            return progformat.encode(
                progformat.Program(
                    program.sysclk_hz,
                    [progformat.Channel(ch.index, ch.idle_level, ch.delay, segs[:n])],
                    program.start_mode,
                    program.refractory,
                )
            )

        n = len(segs)
        while n > 1 and len(head(n)) > head_bytes:
            n //= 2
        self.head = head(n)
        self.head_pulses = sum(seg[0] for seg in segs[:n])
        self.pieces = []  # (bytes, pulses)
        i = n
        while i < len(segs):
            k = max(1, piece_bytes // 4)
            while True:
                part = progformat.encode_records(segs[i : i + k], i + k >= len(segs))
                if len(part) <= piece_bytes or k == 1:
                    break
                k = max(1, k * piece_bytes // len(part) - 1)
            self.pieces.append((part, sum(seg[0] for seg in segs[i : i + k])))
            i += k
        self.bytes = len(self.head) + sum(len(p) for p, _ in self.pieces)
        self.sent = 0  # pieces acknowledged
        self.sent_pulses = 0
        self.sent_bytes = 0
        self.window = None
        self.error = None
        self.ended = False
        self.on_progress = None
        self.thread = None
        self._room = 0

    def begin(self):
        """Load the start, announce the total and queue what fits; returns the load's SHA-256
        (hex). Before arm."""
        link = self.link
        sha = link.load(self.head)
        self.sent_pulses = self.head_pulses
        self.sent_bytes = len(self.head)
        _, body = link.request(wire.STREAM_BEGIN, wire.u32(self.total_pulses))
        self.window = self._room = struct.unpack("<I", body[1:5])[0]
        self._prefill()
        if self.sent == len(self.pieces):
            self._end()
        link.stream_error = None
        link.last_state = None  # the feeder stops at a state at rest: not an earlier run's
        return sha

    def _send(self, piece):
        _, ack = self.link.request(wire.STREAM_DATA, piece)
        self._room = struct.unpack("<I", ack[5:9])[0]

    def _prefill(self):
        while self.sent < len(self.pieces) and len(self.pieces[self.sent][0]) <= self._room:
            data, pulses = self.pieces[self.sent]
            self._send(data)
            self.sent += 1
            self.sent_pulses += pulses
            self.sent_bytes += len(data)
            if self.on_progress:
                self.on_progress(self.sent_pulses, self.total_pulses)

    def _end(self):
        self.link.request(wire.STREAM_END)
        self.ended = True

    def _feeder(self):
        link = self.link
        try:
            while self.sent < len(self.pieces):
                st = link.last_state
                if st is not None and st.get("state") not in wire.ACTIVE_STATES:
                    return  # the run ended (a fault, a stop): nothing more to send
                before = self.sent
                self._prefill()
                if self.sent == before:
                    time.sleep(0.005)
                    self._send(b"")  # how much room now
            self._end()
        except LinkError as e:
            self.error = link.stream_error = str(e)

    def feed(self):
        """After the start: the thread that sends the rest (not started when all is sent)."""
        self.thread = threading.Thread(target=self._feeder, name="tmspio-link-stream", daemon=True)
        if not self.ended:
            self.thread.start()
        return self.thread

    def join(self, timeout=None):
        if self.thread is not None and self.thread.is_alive():
            self.thread.join(timeout)


def connect(port=None, hello_timeout=REPLY_TIMEOUT_S, scale=None):
    """Open `port` (auto-detect a Pico when None), handshake and return a Link."""
    port = port or find_board()
    link = Link(open_port(port), port, scale)
    try:
        link.hello(hello_timeout)
    except BaseException:
        link._closed.set()
        link.ser.close()
        raise
    return link
