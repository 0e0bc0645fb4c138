"""The load check can fail (issue 9 item 2): the board echoes the SHA-256 of the bytes it stored,
so a program changed on the way — one bit, two segments swapped, a segment cut off — is caught
by the host before anything is armed, even when every frame CRC, the announced CRC32 and the
program's own trailer CRC were made to match (a corrupting adapter, a host buffer bug).

The board is the emulated one with the real firmware and engine; between the host's Link and the
port sits an interposer that rewrites the program in flight and fixes every checksum."""

import hashlib
import struct

import progformat as pf
import pytest
import wire
from tmspio import link
from tmspio.emulator.serial_board import SerialBoard

pytestmark = pytest.mark.timeout(120)

HZ = 125_000_000
MS = HZ // 1000


def _program():
    return pf.encode(
        pf.Program(
            HZ,
            [
                pf.Channel(
                    0,
                    0,
                    0,
                    [
                        (3, 1 * MS, 100 * MS, 300 * MS, 0),
                        (2, 2 * MS, 200 * MS, 500 * MS, 0),
                    ],
                )
            ],
        )
    )


def _refit(body):
    """A well-formed program again: the trailer CRC over the changed body."""
    return body + struct.pack("<I", pf.crc32(body) & 0xFFFFFFFF)


SEG0 = pf.HEADER_SIZE + pf.CHANNEL_SIZE  # offset of channel 0's first segment record


def one_bit(data):
    body = bytearray(data[:-4])
    body[SEG0] ^= 0x01  # segment 0 count 3 -> 2
    return _refit(bytes(body))


def swapped(data):
    body = bytearray(data[:-4])
    a = bytes(body[SEG0 : SEG0 + pf.SEGMENT_SIZE])
    body[SEG0 : SEG0 + pf.SEGMENT_SIZE] = body[SEG0 + pf.SEGMENT_SIZE : SEG0 + 2 * pf.SEGMENT_SIZE]
    body[SEG0 + pf.SEGMENT_SIZE : SEG0 + 2 * pf.SEGMENT_SIZE] = a
    return _refit(bytes(body))


def truncated(data):
    body = bytearray(data[: -4 - pf.SEGMENT_SIZE])  # the last segment cut off
    struct.pack_into("<I", body, pf.HEADER_SIZE + pf.CHANNEL_SIZE - 4, 1)  # n_segments = 1
    return _refit(bytes(body))


class Interposer:
    """A serial object that forwards every frame but replaces the program being loaded with
    `forged`, announcing its length and CRC32 and framing it with valid CRCs."""

    def __init__(self, ser, forged):
        self.ser = ser
        self.forged = forged
        self.sent = []  # message types written to the board
        self._decoder = wire.Decoder()

    def __getattr__(self, name):
        return getattr(self.ser, name)

    def write(self, data):
        for item in self._decoder.feed(data):
            if item[0] != "frame":
                continue
            mtype, seq, payload = item[1], item[2], item[3]
            self.sent.append(mtype)
            bad = self.forged
            if mtype == wire.LOAD_BEGIN:
                payload = wire.load_begin(len(bad), wire.crc32(bad))
            elif mtype == wire.LOAD_DATA:
                # the test programs fit one chunk: the whole program goes in its place
                assert wire.parse_load_data(payload)[0] == 0
                payload = wire.load_data(0, bad)
            self.ser.write(wire.frame(mtype, seq, payload))
        return len(data)


@pytest.fixture(scope="module")
def board():
    with SerialBoard(speed="max") as b:
        yield b


def test_the_tampered_programs_are_well_formed_and_distinct():
    data = _program()
    forged = [one_bit(data), swapped(data), truncated(data)]
    for bad in forged:
        pf.decode(bad)  # the board's format check alone would accept each
    assert len({hashlib.sha256(d).hexdigest() for d in [data] + forged}) == 4
    # what the old check compared: a CRC-32 over bytes ending in their own CRC is a constant
    assert {pf.crc32(d) & 0xFFFFFFFF for d in [data] + forged} == {0x2144DF1C}


@pytest.mark.parametrize("tamper", [one_bit, swapped, truncated])
def test_a_changed_program_is_caught_before_arm(board, tamper):
    data = _program()
    bad = tamper(data)
    ser = link.open_port(board.path)
    spy = Interposer(ser, bad)
    conn = link.Link(spy, board.path)
    try:
        conn.hello(20)
        with pytest.raises(link.LinkError) as e:
            conn.load(data)
        assert str(e.value) == (
            f"the board stored a different program: {len(bad)} bytes with sha256 "
            f"{hashlib.sha256(bad).hexdigest()}, sent {len(data)} bytes with sha256 "
            f"{hashlib.sha256(data).hexdigest()}; nothing was armed (a corrupting link or "
            "adapter?)"
        )
        assert wire.ARM not in spy.sent and wire.START_RUN not in spy.sent
    finally:
        conn.close()


def test_an_unchanged_program_loads_and_the_echo_is_its_sha256(board):
    data = _program()
    with link.connect(board.path, hello_timeout=20) as conn:
        assert conn.load(data) == hashlib.sha256(data).hexdigest()


def test_interposer_passes_an_honest_load(board):
    # the interposer itself is transparent when it changes nothing
    ser = link.open_port(board.path)
    conn = link.Link(Interposer(ser, _program()), board.path)
    try:
        conn.hello(20)
        assert conn.load(_program()) == hashlib.sha256(_program()).hexdigest()
    finally:
        conn.close()
