"""An incremental `text/event-stream` parser over bytes (WHATWG HTML, "Interpreting an event stream").

Fed the chunks of a response body as they arrive, it returns the events each chunk completes. Lines end
with CRLF, LF or CR (a CRLF may be split across two chunks); a
leading UTF-8 BOM is skipped; comment lines (`:` keep-alives) and unknown fields are ignored; an event
is dispatched at a blank line when it has at least one `data` line, its data lines joined with LF; an
unterminated last event is dropped, as the standard says. Data is decoded as UTF-8 with replacement.

Written here rather than taken from a library because the model client reads one event per token and
this is its inner loop: it splits whole chunks at once instead of going line by line through a text
decoder. tests/unit/test_sse.py checks it against httpx-sse's decoder on generated streams.
"""

from __future__ import annotations

from typing import NamedTuple

_BOM = b"\xef\xbb\xbf"


class ServerSentEvent(NamedTuple):
    """One event. A named tuple, made with `tuple.__new__` in C: the stream makes one per token."""

    data: str
    event: str = "message"
    id: str = ""
    retry: int | None = None


_new = tuple.__new__


class SSEDecoder:
    __slots__ = ("_after_cr", "_data", "_event", "_last_id", "_pending", "_retry", "_started")

    def __init__(self) -> None:
        self._pending = b""  # an incomplete line
        self._after_cr = False  # the last chunk ended with CR: an LF starting the next one belongs to it
        self._started = False  # past a possible BOM
        self._data: list[bytes] = []
        self._event = b""
        self._last_id = ""
        self._retry: int | None = None

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        if self._after_cr and chunk:  # the LF of a CRLF whose CR ended the previous chunk
            self._after_cr = False
            if chunk[0] == 0x0A:
                chunk = chunk[1:]
        buf = self._pending + chunk if self._pending else chunk
        if not self._started:
            if len(buf) < len(_BOM) and _BOM.startswith(buf):
                self._pending = buf
                return []
            self._started = True
            if buf.startswith(_BOM):
                buf = buf[len(_BOM) :]
        if b"\r" in buf:
            self._after_cr = buf.endswith(b"\r")
            buf = buf.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        lines = buf.split(b"\n")
        self._pending = lines.pop()
        events: list[ServerSentEvent] = []
        data = self._data
        for line in lines:
            if not line:
                if data:
                    events.append(self._dispatch())
                    data = self._data
                else:
                    self._event = b""
            elif line[:5] == b"data:":  # the field of nearly every line: read here, not in `_field`
                data.append(line[6:] if line[5:6] == b" " else line[5:])
            elif line[0] != 0x3A:  # ":" starts a comment
                self._field(line)
        return events

    def _field(self, line: bytes) -> None:
        name, _, value = line.partition(b":")
        if value[:1] == b" ":
            value = value[1:]
        if name == b"data":
            self._data.append(value)
        elif name == b"event":
            self._event = value
        elif name == b"id":
            if b"\0" not in value:
                self._last_id = value.decode("utf-8", "replace")
        elif name == b"retry" and value.isdigit():
            self._retry = int(value)

    def _dispatch(self) -> ServerSentEvent:
        data = self._data[0] if len(self._data) == 1 else b"\n".join(self._data)
        event = _new(
            ServerSentEvent,
            (
                data.decode("utf-8", "replace"),
                self._event.decode("utf-8", "replace") if self._event else "message",
                self._last_id,
                self._retry,
            ),
        )
        self._data = []
        self._event = b""
        return event
