"""The ingest body parsers: bounded reads and strict orjson parsing (no DB)."""

from __future__ import annotations

import io

import pytest

from events.api.parsers import loads, read_limited
from events.exceptions import PayloadInvalidError, PayloadTooLargeError


def test_read_limited_reads_a_body_at_the_limit():
    assert read_limited(io.BytesIO(b"x" * 10), 10) == b"x" * 10


def test_read_limited_never_buffers_past_the_limit():
    stream = io.BytesIO(b"x" * 1000)
    with pytest.raises(PayloadTooLargeError, match="larger than 10 bytes"):
        read_limited(stream, 10)
    assert stream.tell() == 11


def test_read_limited_without_a_stream_is_empty():
    assert read_limited(None, 10) == b""


def test_loads_parses_utf8_json():
    assert loads('{"name": "Zoë"}'.encode()) == {"name": "Zoë"}


@pytest.mark.parametrize("body", [b"", b" \n\t"])
def test_loads_empty_body(body):
    with pytest.raises(PayloadInvalidError) as err:
        loads(body)
    assert err.value.code == "empty_body"


@pytest.mark.parametrize("body", [b"{", b"NaN", b"[Infinity]", b"\xc3\x28", b"[" * 2000 + b"]" * 2000])
def test_loads_rejects_what_is_not_strict_json(body):
    with pytest.raises(PayloadInvalidError) as err:
        loads(body)
    assert err.value.code == "invalid_json"
    assert err.value.http_status == 400
