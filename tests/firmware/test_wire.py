"""firmware/wire.py: frames round-trip, and MicroPython produces the very same bytes."""

import os
import subprocess

import wire
from hypothesis import given, settings
from hypothesis import strategies as st
from tmspio.emulator import runner

FIRMWARE = os.path.dirname(wire.__file__)


def test_frame_layout_is_documented_bytes():
    f = wire.frame(wire.STATUS, 7, b"ab")
    assert f[:6] == bytes([0xA5, 2, 0, wire.STATUS, 7]) + b"a"
    assert f[-4:] == (wire.crc32(f[1:-4]) & 0xFFFFFFFF).to_bytes(4, "little")
    assert len(f) == wire.HEADER_SIZE + wire.CRC_SIZE + 2


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 255), st.integers(0, 255), st.binary(max_size=wire.MAX_PAYLOAD)),
        max_size=5,
    ),
    st.integers(1, 64),
)
def test_frames_round_trip_in_any_split(msgs, step):
    data = b"".join(wire.frame(t, s, p) for t, s, p in msgs)
    d = wire.Decoder()
    items = []
    for i in range(0, len(data), step):
        items += d.feed(data[i : i + step])
    assert items == [("frame", t, s, p) for t, s, p in msgs]


def test_events_payload_round_trip():
    recs = [(0, 1, 2**63 + 5), (wire.SRC_CONFIRM, 0, 12)]
    assert wire.parse_events(wire.events(41, recs)) == (41, recs)


MPY_SCRIPT = """
import binascii, wire
out = []
out.append(binascii.hexlify(wire.frame(wire.EVENTS, 0, wire.events(3, [(1, 1, 2**40 + 7)]))))
d = wire.Decoder()
junk = b"xx" + wire.frame(wire.HELLO, 1, b"\\x01\\x00")[:-1] + b"\\x00" + wire.frame(wire.BYE, 2)
for item in d.feed(junk):
    out.append(repr(item))
print(out)
"""


def test_micropython_agrees_with_cpython():
    r = subprocess.run(
        [runner.micropython_exe(), "-c", MPY_SCRIPT],
        capture_output=True,
        text=True,
        env=dict(os.environ, MICROPYPATH=FIRMWARE),
        timeout=30,
    )
    assert r.returncode == 0, r.stderr
    d = wire.Decoder()
    junk = b"xx" + wire.frame(wire.HELLO, 1, b"\x01\x00")[:-1] + b"\x00" + wire.frame(wire.BYE, 2)
    expected = [wire.frame(wire.EVENTS, 0, wire.events(3, [(1, 1, 2**40 + 7)])).hex().encode()]
    expected += [repr(i) for i in d.feed(junk)]
    assert r.stdout.strip() == repr(expected)
