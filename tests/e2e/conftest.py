"""Fixtures shared by the end-to-end tests."""

import pytest
from tmspio import link


@pytest.fixture
def sent_types(monkeypatch):
    """The message types every Link sends during the test, in order (the sends go through)."""
    sent = []
    real_send = link.Link._send

    def recording_send(self, mtype, payload=b""):
        sent.append(mtype)
        return real_send(self, mtype, payload)

    monkeypatch.setattr(link.Link, "_send", recording_send)
    return sent
