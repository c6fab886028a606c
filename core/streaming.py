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
import unicodedata
from collections.abc import Awaitable, Callable
from dataclasses import dataclass


class Coalescer:
    """Publishes the newest of a stream of growing texts at most once per `min_interval_s`.

    `push()` is synchronous and never waits on the platform: a background task publishes the latest text
    as soon as the interval since the last publish *started* has passed (a timer, so a burst followed by
    a stall still shows its last text about one interval later). At most one publish is in flight;
    texts pushed meanwhile are skipped except the newest. If `publish` raises, publishing stops and the
    exception is kept in `error` for the caller. `aclose()` cancels the timer, lets a publish in flight
    finish and publishes nothing more: the final text is the caller's to deliver (`sink.finish`).
    """

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


class CheckAhead:
    """Strict streaming: text becomes visible only after a check saw it and `lookahead_chars` more.

    `push()` offers the answer so far (synchronous, cheap). A background task checks it in chunks: the
    first check once the text is a quarter chunk longer than the look-ahead, then every `chunk_chars` new
    characters (or, when a check takes longer than a chunk takes to stream, the whole text that arrived
    meanwhile: one check at a time, never one per token). While check k runs, the text of chunk k+1
    streams in. When `check(text)` returns, `show(visible)` gets the checked text minus its last
    `lookahead_chars` characters, cut at a sentence or line end near that point (else at a space): every
    shown text is a prefix of a checked text, and a check always saw what follows the shown text. Shown
    texts only grow. If `check` raises (a block, a layer failing closed), checking stops and the
    exception is kept in `error`. `aclose()` cancels a check in flight: the caller checks the whole answer
    itself before showing the rest.

    The suspicion hold: when `check` returns true (allowed, but suspicious), nothing more is shown until a
    later check returns false, or until the text checked has grown `hold_max_chars` beyond where the hold
    began (0: no cap); then showing resumes as above, and that answer is not held again.
    """

    def __init__(
        self,
        check: Callable[[str], Awaitable[bool]],
        show: Callable[[str], None],
        *,
        lookahead_chars: int,
        chunk_chars: int,
        hold_max_chars: int = 0,
    ) -> None:
        self._check = check
        self._show = show
        self._lookahead = lookahead_chars
        self._chunk = chunk_chars
        self._latest = ""
        self._checked = ""  # the newest text a check allowed
        self._shown = ""
        # the length that makes the next check due
        self._next_at = first_check_chars(lookahead_chars, chunk_chars)
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._hold_max = hold_max_chars
        self._held_at: int | None = None  # length of the text checked when the current hold began
        self._hold_capped = False
        self.error: BaseException | None = None
        self.checks = 0
        self.holds = 0  # checks that held

    @property
    def held(self) -> bool:
        """Whether the newest check held (showing nothing more for now)."""
        return self._held_at is not None

    @property
    def shown(self) -> str:
        return self._shown

    def push(self, text_so_far: str) -> None:
        if self._closed or self.error is not None:
            return
        self._latest = text_so_far
        if len(text_so_far) >= self._next_at and (self._task is None or self._task.done()):
            self._task = asyncio.get_running_loop().create_task(self._run(), name="check-ahead")

    async def _run(self) -> None:
        while not self._closed and len(self._latest) >= self._next_at:
            target = self._latest
            self._next_at = len(target) + self._chunk
            try:
                hold = await self._check(target)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.error = exc
                return
            self.checks += 1
            self._checked = target
            if hold and not self._hold_capped:
                if self._held_at is None:
                    self._held_at = len(target)
                if not self._hold_max or len(target) - self._held_at < self._hold_max:
                    self.holds += 1
                    continue
                self._hold_capped = True  # held long enough: show as checked, and hold this answer no more
            self._held_at = None
            visible = visible_part(target, self._lookahead, window=self._chunk // 2)
            if len(visible) > len(self._shown) and not self._closed:
                self._shown = visible
                self._show(visible)

    async def aclose(self) -> None:
        """Check and show nothing more; a check in flight is cancelled (its verdict is superseded)."""
        self._closed = True
        task, self._task = self._task, None
        if task is None or task.done():
            return
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise


def first_check_chars(lookahead_chars: int, chunk_chars: int) -> int:
    """How long an answer is at `CheckAhead`'s first check: a quarter chunk longer than the look-ahead."""
    return lookahead_chars + max(1, chunk_chars // 4)


_SENTENCE_END = re.compile(r"(?:[.!?…:;]|[。！？])(?=\s)|\n")


def visible_part(text: str, lookahead_chars: int, *, window: int) -> str:
    """`text` without its last `lookahead_chars` characters, cut at the last sentence or line end within
    `window` characters before that point, else at the last space before it (never inside a word)."""
    limit = len(text) - lookahead_chars
    if limit <= 0:
        return ""
    if limit >= len(text):
        return text.rstrip()
    best = -1
    for m in _SENTENCE_END.finditer(text, max(0, limit - window), limit):
        best = m.end()
    if best <= 0:  # no sentence end near: the last space (or the cut itself, when a space follows it)
        space = max(text.rfind(" ", 0, limit), text.rfind("\n", 0, limit))
        best = limit if text[limit].isspace() else space
    return text[: max(best, 0)].rstrip()


# ---------------------------------------------------------------------------------------------- splitting


@dataclass(frozen=True, slots=True)
class Fence:
    """An open code fence: its marker (```` ``` ````, ``~~~``, or longer) and its info string (language)."""

    marker: str
    info: str = ""

    @property
    def opener(self) -> str:
        return f"{self.marker}{self.info}"


_FENCE_LINE = re.compile(r"^[ \t]*(?:(`{3,})([^\n`]*)|(~{3,})([^\n]*))$", re.MULTILINE)
_NEWLINES = re.compile(r"\r\n?|[\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
# Natural places to cut, best first: paragraph break, line break, sentence end, any whitespace.
_BREAKS = (
    re.compile(r"\n[ \t]*\n"),
    re.compile(r"\n"),
    re.compile(r"(?<=[.!?…])\s|(?<=[。！？])"),
    re.compile(r"\s"),
)
_ZWJ = "\u200d"


def normalize_newlines(text: str) -> str:
    """``\\r\\n``, ``\\r`` and the other Unicode line separators become ``\\n`` (what chat platforms show)."""
    return _NEWLINES.sub("\n", text)


def fence_state(text: str, state: Fence | None = None) -> Fence | None:
    """The fence left open after `text`, starting from `state` (CommonMark: a fence closes with a line of
    the same character, at least as long, and no info string; a backtick info string has no backtick)."""
    for m in _FENCE_LINE.finditer(text):
        marker = m.group(1) or m.group(3)
        info = (m.group(2) if m.group(1) is not None else m.group(4)).strip()
        if state is None:
            state = Fence(marker, info)
        elif marker[0] == state.marker[0] and len(marker) >= len(state.marker) and not info:
            state = None
    return state


def _utf8_len(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def _fits(text: str, max_chars: int, max_bytes: int | None) -> bool:
    return len(text) <= max_chars and (max_bytes is None or _utf8_len(text) <= max_bytes)


def _is_extender(char: str) -> bool:
    """A character that belongs to the one before it (combining mark, joiner, variation selector)."""
    return (
        unicodedata.combining(char) != 0
        or char == _ZWJ
        or "\ufe00" <= char <= "\ufe0f"
        or "\U0001f3fb" <= char <= "\U0001f3ff"  # skin tones
        or "\U000e0020" <= char <= "\U000e007f"  # tag characters (flags)
    )


def _cut(text: str, max_chars: int, max_bytes: int | None) -> int:
    """Where to cut `text` so that `text[:cut]` fits: at the best natural break in the second half of
    the window, else as late as possible without separating a character from its combining marks.
    Always at least 1 (a single character always fits a valid limit)."""
    hi = min(len(text), max_chars)
    if max_bytes is not None and _utf8_len(text[:hi]) > max_bytes:
        used = 0
        for i, char in enumerate(text[:hi]):
            used += _utf8_len(char)
            if used > max_bytes:
                hi = i
                break
    hi = max(hi, 1)
    if hi >= len(text):
        return len(text)
    floor = hi // 2
    for pattern in _BREAKS:
        best = -1
        for m in pattern.finditer(text, floor + 1, hi + 1):
            if m.start() <= hi:
                best = m.start()
        if best > floor:
            return best
    space = _last_space(text, hi)
    if space > 0:  # a short chunk rather than a cut word
        return space
    cut = hi
    while cut > floor and (_is_extender(text[cut]) or text[cut - 1] == _ZWJ):
        cut -= 1
    return cut if cut > floor else hi


def _last_space(text: str, hi: int) -> int:
    for i in range(hi, 0, -1):
        if text[i].isspace():
            return i
    return -1


def _fences_fit(opener: str, closer: str, max_chars: int, max_bytes: int | None) -> bool:
    """Fence lines may take at most half of a chunk: below that, limits win over balanced fences."""
    overhead = f"{opener}\n\n{closer}" if opener else f"\n{closer}"
    return len(overhead) <= max_chars // 2 and (max_bytes is None or _utf8_len(overhead) <= max_bytes // 2)


def _reopen_line(state: Fence | None, max_chars: int, max_bytes: int | None) -> str:
    """The fence line that starts a chunk continuing a code block (the language dropped if too long)."""
    if state is None:
        return ""
    for opener in (state.opener, state.marker):
        if _fences_fit(opener, state.marker, max_chars, max_bytes):
            return opener
    return ""


def _skip_separator(text: str, pos: int) -> int:
    """Skip the whitespace at a cut: up to the last line break (keeping the next line's indentation),
    or all of it when the cut was inside a line."""
    end = pos
    while end < len(text) and text[end].isspace():
        end += 1
    newline = text.rfind("\n", pos, end)
    return newline + 1 if newline >= 0 and end < len(text) else end


def split_message(text: str, *, max_chars: int, max_bytes: int | None = None) -> list[str]:
    """Split `text` into chunks of at most `max_chars` characters (and `max_bytes` UTF-8 bytes).

    Cuts at paragraph breaks, then line breaks, then sentence ends, then spaces; inside a word only when
    one word is longer than a chunk. A code block cut in two is closed at the end of one chunk and
    reopened, with its language, at the start of the next; the added fence lines count within the limits.
    An answer that never closed its code block gets it closed. Line endings become ``\\n``; whitespace at
    the cuts and around the text is dropped. Never returns an empty chunk; ``[]`` for blank text. When a
    limit is so small that fence lines would take more than half a chunk, limits win over balanced fences.
    """
    if max_chars < 1 or (max_bytes is not None and max_bytes < 4):
        raise ValueError("max_chars must be >= 1 and max_bytes >= 4")
    text = normalize_newlines(text).strip()
    if not text:
        return []
    unclosed = fence_state(text)
    if unclosed is not None:
        text = f"{text}\n{unclosed.marker}"
    if _fits(text, max_chars, max_bytes):
        return [text]

    chunks: list[str] = []
    state: Fence | None = None  # the fence open where the rest of the text starts
    pos = 0
    while pos < len(text):
        opener = _reopen_line(state, max_chars, max_bytes)
        body, cut, state, closer = _next_chunk(text[pos:], state, opener, max_chars, max_bytes)
        if body.strip():
            prefix = f"{opener}\n" if opener else ""
            chunks.append(f"{prefix}{body}{closer}")
        pos = _skip_separator(text, pos + cut)
    return chunks


_OWN_CLOSER = re.compile(r"\s*\n[ \t]*(`{3,}|~{3,})[ \t]*(?=\n|$)")


def _next_chunk(
    rest: str, state: Fence | None, opener: str, max_chars: int, max_bytes: int | None
) -> tuple[str, int, Fence | None, str]:
    """The next chunk of `rest`: its body (``rest[:cut]`` without trailing whitespace), the cut, the fence
    state after it, and the closing fence line it needs (empty if none)."""
    prefix = f"{opener}\n" if opener else ""
    budget_chars = max_chars - len(prefix)
    budget_bytes = None if max_bytes is None else max_bytes - _utf8_len(prefix)
    while budget_chars >= 1 and (budget_bytes is None or budget_bytes >= 4):
        cut = _cut(rest, budget_chars, budget_bytes)
        body = rest[:cut].rstrip()
        after = fence_state(body, state)
        if after is not None:  # the text's own closing line follows and fits: take it instead of adding one
            own = _OWN_CLOSER.match(rest, cut)
            if own and own.group(1)[0] == after.marker[0] and len(own.group(1)) >= len(after.marker):
                longer = rest[: own.end()].rstrip()
                if _fits(prefix + longer, max_chars, max_bytes):
                    cut, body, after = own.end(), longer, fence_state(longer, state)
        closer = ""
        if after is not None and _fences_fit(opener, after.marker, max_chars, max_bytes):
            closer = f"\n{after.marker}"
        chunk = f"{prefix}{body}{closer}"
        over_chars = len(chunk) - max_chars
        over_bytes = 0 if max_bytes is None else _utf8_len(chunk) - max_bytes
        if over_chars <= 0 and over_bytes <= 0:
            return body, cut, after, closer
        budget_chars -= max(over_chars, 1)
        if budget_bytes is not None:
            budget_bytes -= max(over_bytes, 1)
    # Unreachable while fence lines take at most half a chunk; stay within the limits regardless.
    cut = _cut(rest, max_chars - len(prefix), None if max_bytes is None else max_bytes - _utf8_len(prefix))
    body = rest[:cut].rstrip()
    return body, cut, fence_state(body, state), ""
