"""core/sse.py: the event-stream rules of the WHATWG standard, and agreement with httpx-sse's decoder on
generated streams cut into arbitrary chunks."""

from __future__ import annotations

from httpx_sse._decoders import SSEDecoder as ReferenceDecoder
from httpx_sse._decoders import SSELineDecoder as ReferenceLines
from hypothesis import given
from hypothesis import strategies as st

from core.sse import ServerSentEvent, SSEDecoder


def parse(*chunks: bytes) -> list[ServerSentEvent]:
    decoder = SSEDecoder()
    return [event for chunk in chunks for event in decoder.feed(chunk)]


def test_tgi_stream_with_keepalive_comments() -> None:
    events = parse(b': keep-alive\n\ndata:{"token":1}\n\n', b'data:{"token":2}\n\n: keep-alive\n\n')
    assert [e.data for e in events] == ['{"token":1}', '{"token":2}']
    assert all(e.event == "message" for e in events)


def test_line_endings_crlf_cr_lf_and_a_crlf_split_across_chunks() -> None:
    assert [e.data for e in parse(b"data: a\r\n\r\ndata: b\r\rdata: c\n\n")] == ["a", "b", "c"]
    # "\r" ends one chunk, "\n" starts the next: one line break, not two (no spurious empty event)
    assert [e.data for e in parse(b"data: a\r", b"\ndata: b\r", b"\n\r\n")] == ["a\nb"]
    # a CR at the very end is a line end at once: the last event is not held back waiting for an LF
    assert [e.data for e in parse(b"data: last\r\r")] == ["last"]


def test_fields() -> None:
    (event,) = parse(b"event: delta\nid: 7\nretry: 1500\ndata: one\ndata:two\ndata\nunknown: x\n\n")
    assert event == ServerSentEvent(data="one\ntwo\n", event="delta", id="7", retry=1500)
    (event,) = parse(b"id: bad\0id\nretry: soon\ndata: x\n\n")  # ignored: NUL in id, non-digit retry
    assert (event.id, event.retry) == ("", None)
    (event,) = parse(b"data:  two spaces\n\n")  # only one space after the colon is dropped
    assert event.data == " two spaces"


def test_no_data_no_event_and_an_unterminated_last_event_is_dropped() -> None:
    assert parse(b"event: ping\n\n: comment\n\n\n\n") == []
    assert [e.data for e in parse(b"data: kept\n\ndata: never dispatched")] == ["kept"]
    assert [e.event for e in parse(b"event: ping\n\ndata: x\n\n")] == ["message"]  # type reset


def test_bom_utf8_and_bytes_split_inside_a_character() -> None:
    text = "data: héllo 🐬\n\n".encode()
    cut = text.index("🐬".encode()) + 2
    assert [e.data for e in parse(b"\xef\xbb", b"\xbf" + text[:cut], text[cut:])] == ["héllo 🐬"]
    assert [e.data for e in parse(b"data: \xff\n\n")] == ["\ufffd"]  # invalid UTF-8 is replaced


def reference(stream: str) -> list[tuple[str, str]]:
    lines, decoder, out = ReferenceLines(), ReferenceDecoder(), []
    for line in [*lines.decode(stream), *lines.flush()]:
        event = decoder.decode(line)
        if event is not None:
            out.append((event.event or "message", event.data))
    return out


_LINE = st.one_of(
    st.builds(lambda v: f"data:{v}", st.text(alphabet="ab :é🐬", max_size=6)),
    st.builds(lambda v: f"data: {v}", st.text(alphabet="xyz", max_size=3)),
    st.builds(lambda v: f"event: {v}", st.sampled_from(["delta", "done"])),
    st.just(": keep-alive"),
    st.just("id: 1"),
    st.just(""),
)


@given(
    lines=st.lists(_LINE, max_size=25),
    ending=st.sampled_from(["\n", "\r\n", "\r"]),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=6),
)
def test_agrees_with_httpx_sse_on_any_chunking(lines: list[str], ending: str, cuts: list[int]) -> None:
    stream = "".join(line + ending for line in lines) + ending  # ends with a blank line: all dispatched
    raw = stream.encode()
    points = sorted({min(c, len(raw)) for c in cuts})
    chunks = [raw[a:b] for a, b in zip([0, *points], [*points, len(raw)], strict=True)]
    ours = [(e.event, e.data) for e in parse(*chunks)]
    # httpx-sse also dispatches an event without data lines (data ""), which the standard does not.
    assert [e for e in ours if e[1]] == [e for e in reference(stream) if e[1]]
    assert len(ours) <= len(reference(stream))
