"""From a token stream to what a platform shows.

- `Coalescer` turns a stream of growing texts into visible updates at most once per interval, publishing
  from its own task so that reading the model's stream never waits on a chat platform.
- `split_message` splits a final answer over a platform's length limit (characters, and bytes where the
  platform counts bytes), at paragraph, line, sentence or word boundaries, closing a code fence at the end
  of a chunk and reopening it (with its language) at the start of the next.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable

_NEWLINES = re.compile(r"\r\n?|[\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
_FENCE = re.compile(r"^[ \t]*(?:(`{3,})([^\n`]*)|(~{3,})([^\n]*))$", re.MULTILINE)


class Coalescer:
    def __init__(
        self,
        publish: Callable[[str], Awaitable[None]],
        *,
        min_interval_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._publish = publish
        self._interval = min_interval_s
        self._clock = clock
        self._latest: str | None = None  # newest text not yet published
        self._last_start = float("-inf")
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._publishing = False
        self.error: BaseException | None = None
        self.published = 0

    def push(self, text_so_far: str) -> None:
        """Offer the newest text; cheap and synchronous."""
        if self._closed or self.error is not None:
            return
        self._latest = text_so_far
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="coalescer")
        self._wakeup.set()

    async def _run(self) -> None:
        while not self._closed:
            await self._wakeup.wait()
            self._wakeup.clear()
            wait = self._last_start + self._interval - self._clock()
            if wait > 0:
                await asyncio.sleep(wait)
            text, self._latest = self._latest, None
            if text is None or self._closed:
                continue
            self._last_start = self._clock()
            self._publishing = True
            try:
                await self._publish(text)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.error = exc
                return
            finally:
                self._publishing = False
            self.published += 1
            if self._has_pending():  # newer text arrived while publishing
                self._wakeup.set()

    def _has_pending(self) -> bool:
        return self._latest is not None

    async def aclose(self) -> None:
        """Publish nothing more; wait for an update in flight to finish."""
        if self._closed:
            return
        self._closed = True
        task, self._task = self._task, None
        if task is None:
            return
        # A task waiting or sleeping out the interval is cancelled; one publishing is let finish (the
        # loop ends after it because `_closed` is set).
        if not self._publishing:
            task.cancel()
        self._wakeup.set()
        try:
            await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise


def _utf8_len(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def _fits(text: str, max_chars: int, max_bytes: int | None) -> bool:
    return len(text) <= max_chars and (max_bytes is None or _utf8_len(text) <= max_bytes)


def _open_fence(text: str) -> tuple[str, str] | None:
    """The fence (marker, info string) left open at the end of `text`, if any."""
    open_: tuple[str, str] | None = None
    for m in _FENCE.finditer(text):
        marker = m.group(1) or m.group(3)
        info = (m.group(2) if m.group(1) else m.group(4)).strip()
        if open_ is None:
            open_ = (marker, info)
        elif marker[0] == open_[0][0] and len(marker) >= len(open_[0]) and not info:
            open_ = None
    return open_


_BREAKS = (re.compile(r"\n\s*\n"), re.compile(r"\n"), re.compile(r"(?<=[.!?])\s+"), re.compile(r"\s+"))


def _cut(text: str, limit: int, max_bytes: int | None) -> int:
    """Index at which to cut `text` so the head fits `limit` chars (and bytes): a natural break if any."""
    hi = min(len(text), limit)
    if max_bytes is not None:
        while hi > 0 and _utf8_len(text[:hi]) > max_bytes:
            # shrink proportionally, then step
            over = _utf8_len(text[:hi]) - max_bytes
            hi -= max(1, over // 4)
    hi = max(hi, 1)
    window = text[:hi]
    if hi >= len(text):
        return hi
    floor = hi // 3  # do not cut absurdly early for a nicer break
    for pattern in _BREAKS:
        best = -1
        for m in pattern.finditer(window):
            if m.start() > floor:
                best = m.start()
        if best > 0:
            return best
    return hi


_FENCE_MARKER = re.compile(r"`+|~+")


def _room_for_fence(fence_line: str, max_chars: int, max_bytes: int | None) -> bool:
    """Whether reopening and closing this fence leaves at least half of a chunk for content."""
    need = 2 * len(fence_line) + 2
    return need <= max_chars // 2 and (max_bytes is None or 2 * _utf8_len(fence_line) + 2 <= max_bytes // 2)


def split_message(text: str, *, max_chars: int, max_bytes: int | None = None) -> list[str]:
    """Split `text` into chunks that each fit the limits, with balanced code fences in every chunk."""
    if max_chars < 1 or (max_bytes is not None and max_bytes < 4):
        raise ValueError("limits too small")
    text = _NEWLINES.sub("\n", text).strip()
    if not text:
        return []
    unclosed = _open_fence(text)
    if unclosed is not None:  # an answer that never closed its code block: close it
        text = f"{text}\n{unclosed[0]}"
    if _fits(text, max_chars, max_bytes):
        return [text]
    chunks: list[str] = []
    reopen = ""  # fence line to put in front of the next chunk
    rest = text
    while rest:
        prefix = f"{reopen}\n" if reopen else ""
        candidate = prefix + rest
        if _fits(candidate, max_chars, max_bytes) and _open_fence(candidate) is None:
            chunks.append(candidate)
            break
        if reopen and not _room_for_fence(reopen, max_chars, max_bytes):
            reopen = _FENCE_MARKER.match(reopen).group(0)  # type: ignore[union-attr]  # drop the info string
            if not _room_for_fence(reopen, max_chars, max_bytes):  # limits too small for fences
                reopen = ""
            prefix = f"{reopen}\n" if reopen else ""
        limit = max_chars - len(prefix)
        byte_limit = None if max_bytes is None else max(1, max_bytes - _utf8_len(prefix))
        cut = _cut(rest, limit, byte_limit)
        head = prefix + rest[:cut].rstrip()
        fence = _open_fence(head)
        if fence is not None and not _room_for_fence(fence[0], max_chars, max_bytes):
            fence = None
        if fence is not None:  # cut again, leaving room to close the fence
            room = len(fence[0]) + 1
            cut = _cut(rest, max(1, limit - room), None if byte_limit is None else max(1, byte_limit - room))
            head = prefix + rest[:cut].rstrip()
            fence = _open_fence(head)
        if fence is not None:
            head = f"{head}\n{fence[0]}"
            reopen = f"{fence[0]}{fence[1]}"
        else:
            reopen = ""
        if head.strip() and head.strip() != prefix.strip():
            chunks.append(head)
        rest = rest[cut:].lstrip("\n ") if fence is None else rest[cut:].lstrip("\n")
        if not rest.strip():
            break
    return [c for c in chunks if c.strip()]
