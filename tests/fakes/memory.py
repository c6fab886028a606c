"""In-memory stand-ins for unit tests of the pipeline (no sockets): a recording sink, a scripted generator,
an in-memory store and gate, and a word-counting token counter. Integration tests use the real Redis
implementations and the loopback fake TGI instead."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from core.errors import UpstreamError
from core.gate import Admission, AdmissionKind
from core.llm import GenerationParams, ModelInfo, StreamEvent
from core.models import ConversationKey, Exchange, IncomingMessage, Platform, ReplySink, SinkLimits


class RecordingSink(ReplySink):
    """Records every call the core makes, in order."""

    def __init__(self, *, max_chars: int = 2000, min_edit_interval_s: float = 0.0) -> None:
        self.limits = SinkLimits(max_chars=max_chars, min_edit_interval_s=min_edit_interval_s)
        self.events: list[tuple[str, str]] = []

    async def typing(self) -> None:
        self.events.append(("typing", ""))

    async def update(self, text_so_far: str) -> None:
        self.events.append(("update", text_so_far))

    async def finish(self, text: str) -> None:
        self.events.append(("finish", text))

    async def fail(self, notice: str) -> None:
        self.events.append(("fail", notice))

    def of(self, kind: str) -> list[str]:
        return [text for k, text in self.events if k == kind]

    @property
    def visible(self) -> str:
        """What the user sees last: the final text or notice."""
        for kind, text in reversed(self.events):
            if kind in ("finish", "fail", "update"):
                return text
        return ""


class PostedSink(RecordingSink):
    """A recording sink whose answer the platform shows as the messages `refs` (`ReplySink.answer_refs`)."""

    def __init__(self, *refs: str) -> None:
        super().__init__()
        self.refs = refs

    def answer_refs(self) -> tuple[str, ...]:
        return self.refs


@dataclass
class Script:
    """One scripted generation: pieces of text, then optionally an error."""

    pieces: Sequence[str]
    error: UpstreamError | None = None
    finish_reason: str = "eos_token"
    delay_s: float = 0.0


class ScriptedGenerator:
    def __init__(self, *, info: ModelInfo | None = None) -> None:
        self.model_info = info or ModelInfo("fake", max_input_tokens=7168, max_total_tokens=8192)
        self.scripts: list[Script] = []
        self.prompts: list[str] = []
        self.params: list[GenerationParams] = []
        self.default = Script(["Hello", " there", "!"])

    def enqueue(self, *scripts: Script) -> None:
        self.scripts.extend(scripts)

    async def info(self) -> ModelInfo:
        return self.model_info

    async def count_tokens(self, text: str) -> int:
        raise NotImplementedError

    async def healthy(self) -> bool:
        return True

    async def stream(self, prompt: str, params: GenerationParams) -> AsyncIterator[StreamEvent]:
        self.prompts.append(prompt)
        self.params.append(params)
        script = self.scripts.pop(0) if self.scripts else self.default
        for piece in script.pieces:
            if script.delay_s:
                await asyncio.sleep(script.delay_s)
            yield StreamEvent(piece)
        if script.error is not None:
            raise script.error
        yield StreamEvent("", finish_reason=script.finish_reason, generated_tokens=len(script.pieces))


class WordCounter:
    """Counts whitespace-separated words (+1), so budgets in tests are easy to reason about."""

    async def count(self, text: str) -> int:
        return len(text.split()) + 1


@dataclass
class _Session:
    store: MemoryStore
    key: ConversationKey
    exchanges: list[Exchange]
    persona: str | None
    committed: bool = False

    async def commit(self, exchange: Exchange) -> None:
        assert not self.committed, "commit() twice in one session"
        self.committed = True
        self.store.data.setdefault(self.key, []).append(exchange)
        del self.store.data[self.key][: -self.store.max_turns]


@dataclass
class MemoryStore:
    max_turns: int = 50
    data: dict[ConversationKey, list[Exchange]] = field(default_factory=dict)
    personas: dict[ConversationKey, str] = field(default_factory=dict)
    locks: dict[ConversationKey, asyncio.Lock] = field(default_factory=dict)

    @asynccontextmanager
    async def open(self, key: ConversationKey) -> AsyncIterator[_Session]:
        async with self.locks.setdefault(key, asyncio.Lock()):
            yield _Session(self, key, list(self.data.get(key, [])), self.personas.get(key))

    async def clear(self, key: ConversationKey) -> None:
        self.data.pop(key, None)

    async def get_persona(self, key: ConversationKey) -> str | None:
        return self.personas.get(key)

    async def set_persona(self, key: ConversationKey, persona: str | None) -> None:
        if persona is None:
            self.personas.pop(key, None)
        else:
            self.personas[key] = persona

    async def forget_user(self, user_id: str) -> int:
        removed = 0
        for key, exchanges in self.data.items():
            keep = [
                ex for ex in exchanges if f"{key.platform.value}:{key.space}:{ex.user.author_id}" != user_id
            ]
            removed += len(exchanges) - len(keep)
            self.data[key] = keep
        return removed

    async def forget_author(self, platform: Platform, author_id: str) -> int:
        users = {f"{k.platform.value}:{k.space}:{author_id}" for k in self.data if k.platform is platform}
        return sum([await self.forget_user(u) for u in sorted(users)])


@dataclass
class MemoryGate:
    seen: set[str] = field(default_factory=set)
    paused: set[str] = field(default_factory=set)
    muted: dict[str, float] = field(default_factory=dict)
    limited: dict[str, float] = field(default_factory=dict)  # user_id -> retry_after_s

    async def admit(self, msg: IncomingMessage) -> Admission:
        seen_key = f"{msg.key.platform.value}:{msg.message_id}"
        if seen_key in self.seen:
            return Admission(AdmissionKind.DUPLICATE)
        self.seen.add(seen_key)
        if msg.key.channel_id in self.paused:
            return Admission(AdmissionKind.PAUSED)
        until = self.muted.get(msg.user_id, 0.0)
        if until > time.time():
            return Admission(AdmissionKind.MUTED, until=until)
        if msg.user_id in self.limited:
            return Admission(AdmissionKind.RATE_LIMITED, retry_after_s=self.limited[msg.user_id])
        return Admission(AdmissionKind.OK)

    async def set_paused(self, key: ConversationKey, paused: bool) -> None:
        (self.paused.add if paused else self.paused.discard)(key.channel_id)

    async def is_paused(self, key: ConversationKey) -> bool:
        return key.channel_id in self.paused

    async def mute(self, user_id: str, seconds: float) -> float:
        self.muted[user_id] = time.time() + seconds
        return self.muted[user_id]

    async def unmute(self, user_id: str) -> None:
        self.muted.pop(user_id, None)


def pieces(text: str) -> Iterable[str]:
    """Split text into word-ish stream pieces."""
    words = text.split(" ")
    return [w if i == 0 else " " + w for i, w in enumerate(words)]
