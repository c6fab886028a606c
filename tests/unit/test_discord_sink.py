"""The Discord reply (`StreamingReply` over `DiscordTransport`) against a recording fake channel (no sockets), alone and under the real ChatService:
cadence, rollover with balanced fences, no pings, replies, never empty, withheld answers across several
messages, and Discord's refusals (403, 404, 5xx) as outcomes rather than tracebacks."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import time
from types import SimpleNamespace
from typing import Any

import discord
import pytest
import redis.asyncio as aioredis
from structlog.testing import capture_logs

from bots.discord.sink import (
    MAX_EDIT_AGE_S,
    REMOVED,
    DeliveryFailed,
    DiscordTransport,
    answer_budget,
    discord_notice,
)
from core.alignment.base import Moderator
from core.builder import build_service, code_settings
from core.errors import Muted, RateLimited, RelayError
from core.keys import KeySpace
from core.models import ALLOW, Action, ConversationKey, IncomingMessage, Outcome, Platform, Verdict
from core.observability import Metrics
from core.reply import StreamingReply
from core.service import ChatService
from core.settings import DiscordSettings
from core.streaming import Coalescer
from core.write_budget import WriteBudget
from tests.fakes.discord_payloads import World
from tests.fakes.memory import MemoryGate, MemoryStore, Script, ScriptedGenerator, WordCounter


def http_error(kind: type[discord.HTTPException], status: int, code: int) -> discord.HTTPException:
    return kind(SimpleNamespace(status=status, reason="x"), {"code": code, "message": "refused"})


class FakeMessage:
    def __init__(self, channel: FakeChannel, content: str) -> None:
        self.channel = channel
        self.content = content
        self.deleted = False

    async def edit(self, **kwargs: Any) -> FakeMessage:
        self.channel.maybe_fail("edit")
        self.channel.calls.append(("edit", kwargs["content"], kwargs))
        self.channel.write_times.append((id(self), time.monotonic()))
        self.content = kwargs["content"]
        return self

    async def delete(self) -> None:
        self.channel.maybe_fail("delete")
        self.deleted = True
        self.channel.calls.append(("delete", self.content, {}))


class FakeChannel:
    """Records sends, edits, deletes and typing; `errors[action]` are raised by the next such calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []
        self.messages: list[FakeMessage] = []
        self.typing_entered = 0
        self.typing_exited_at: int | None = None  # len(calls) when the typing indicator stopped
        self.errors: dict[str, list[BaseException]] = {}
        self.write_times: list[tuple[int, float]] = []  # (message, when) of every send and edit

    def maybe_fail(self, action: str) -> None:
        pending = self.errors.get(action)
        if pending:
            raise pending.pop(0)

    async def send(self, content: str, **kwargs: Any) -> FakeMessage:
        assert content.strip(), "Discord rejects empty messages (50006)"
        assert len(content) <= 2000, "Discord rejects content over 2,000 characters (50035)"
        self.calls.append(("attempt", content, kwargs))
        self.maybe_fail("send")
        self.calls.append(("send", content, kwargs))
        message = FakeMessage(self, content)
        self.write_times.append((id(message), time.monotonic()))
        self.messages.append(message)
        return message

    @contextlib.asynccontextmanager
    async def typing(self):  # type: ignore[no-untyped-def]
        self.typing_entered += 1
        try:
            yield
        finally:
            self.typing_exited_at = len(self.calls)

    def writes(self) -> list[tuple[str, str, dict[str, Any]]]:
        return [c for c in self.calls if c[0] in ("send", "edit")]

    def visible(self) -> list[str]:
        return [m.content for m in self.messages if not m.deleted]


def fences_balanced(text: str) -> bool:
    return len(re.findall(r"^```", text, re.MULTILINE)) % 2 == 0


def no_pings(kwargs: dict[str, Any]) -> bool:
    m = kwargs["allowed_mentions"]
    return not (m.everyone or m.users or m.roles or m.replied_user)


@pytest.fixture
def asker() -> discord.Message:
    return World().message("q")


def sink_for(channel: FakeChannel, asker: discord.Message | None, **kw: Any) -> StreamingReply[Any]:
    """The reply the bot builds for a message: the core's `StreamingReply` over `DiscordTransport`."""
    gate = kw.pop("notice_gate", None)
    transport: Any = DiscordTransport(
        channel=channel, reply_to=asker, edit_interval_s=kw.pop("interval", 0.0), **kw
    )
    if asker is not None:
        transport._reply_channel = lambda: channel  # the fake is the asker's channel
    return StreamingReply(transport, notice_gate=gate)


async def test_burst_of_500_tokens_is_edited_at_most_once_per_interval(asker: discord.Message) -> None:
    channel = FakeChannel()
    interval = 0.1
    sink = sink_for(channel, asker, interval=interval)
    await sink.typing()
    coalescer = Coalescer(sink.update, min_interval_s=sink.limits.min_edit_interval_s)
    text = ""
    started = time.monotonic()
    for i in range(500):
        text += f" tok{i}"
        coalescer.push(text.strip())
        if i % 25 == 0:
            await asyncio.sleep(0.01)
    elapsed = time.monotonic() - started
    await coalescer.aclose()
    streamed = list(channel.write_times)
    await sink.finish(text.strip())
    # 500 tokens (two messages' worth), yet each message is written at most once per interval while
    # streaming, then once more with the final text
    assert len(channel.visible()) == 2
    for message in {m for m, _ in streamed}:
        times = [t for m, t in streamed if m == message]
        assert len(times) <= elapsed / interval + 2  # counted over the burst: a slow write only widens it
    assert len(channel.writes()) <= len(streamed) + 2
    assert channel.typing_entered == 1
    assert channel.typing_exited_at is not None and channel.typing_exited_at <= 1  # stopped at the first text
    assert " ".join(channel.visible()) == text.strip()


async def test_a_7000_character_answer_with_code_becomes_balanced_messages(asker: discord.Message) -> None:
    channel = FakeChannel()
    sink = sink_for(channel, asker)
    code = "\n".join(f"print('line {i}')  # {'x' * 20}" for i in range(150))
    answer = "Here you go:\n\n```python\n" + code + "\n```\n\n" + "Explanation sentence. " * 60
    assert len(answer) > 7000
    for cut in range(500, len(answer), 700):  # streamed, then final
        await sink.update(answer[:cut])
    await sink.finish(answer)
    shown = channel.visible()
    assert len(shown) >= 4 and all(0 < len(m) <= 2000 for m in shown)
    assert all(fences_balanced(m) for m in shown)
    assert "".join(shown).count("print('line 149')") == 1
    # every send and every edit: no pings, and every message sent is a reply to the asker (not only the first)
    assert all(no_pings(kw) for _kind, _text, kw in channel.writes())
    sends = [kw for kind, _text, kw in channel.calls if kind == "send"]
    assert sends and all(
        kw["reference"].message_id == asker.id and kw["mention_author"] is False for kw in sends
    )


async def test_nothing_empty_is_ever_sent(asker: discord.Message) -> None:
    channel = FakeChannel()
    sink = sink_for(channel, asker)
    await sink.update("   ")
    await sink.update("\n\n")
    await sink.finish("")
    await sink.fail("   ")  # even a blank notice becomes text
    assert [c[1] for c in channel.calls if c[0] == "send"] == ["Something went wrong."]


async def test_a_final_split_with_fewer_messages_removes_the_extra_ones(asker: discord.Message) -> None:
    channel = FakeChannel()
    sink = sink_for(channel, asker)
    await sink.update("word " * 700)  # 3,500 characters: two messages
    assert len(channel.visible()) == 2
    await sink.finish("A short final answer.")
    assert channel.visible() == ["A short final answer."]


@pytest.mark.parametrize("age_s", [60.0, MAX_EDIT_AGE_S - 1, MAX_EDIT_AGE_S + 1])
async def test_a_final_text_already_shown_costs_no_write_whatever_the_messages_age(
    asker: discord.Message, redis_client: aioredis.Redis, age_s: float
) -> None:
    """The bot's write budget (DISCORD_WRITES_PER_S, the channel's edits) is spent on writes only: a final text
    the messages already show is neither edited in again nor continued in a new message, near Discord's edit
    window or past it (nothing else rides on Discord's last message: "Report answer" is a message command)."""
    channel = FakeChannel()
    metrics = Metrics()
    budget = answer_budget(
        WriteBudget(redis=redis_client, metrics=metrics),
        keys=KeySpace(f"final-{os.urandom(4).hex()}"),
        settings=DiscordSettings(),
        bot_id=1,
        channel_id=lambda: 2,
    )
    transport = DiscordTransport(channel=channel, reply_to=asker, edit_interval_s=0.0)
    transport._reply_channel = lambda: channel  # type: ignore[method-assign]
    transport.budget = budget
    now = 0.0
    sink = StreamingReply(transport, budget=budget, clock=lambda: now)
    await sink.typing()
    await sink.update("word " * 500)  # 2,500 characters: two messages
    await sink.update(("word " * 500).strip() + " end.")
    shown = channel.visible()
    writes = len(channel.writes())
    now = age_s
    await sink.finish(("word " * 500).strip() + " end.")
    assert channel.visible() == shown and len(channel.writes()) == writes
    spent = [
        s.labels for m in metrics.registry.collect() for s in m.samples
        if s.name == "dolphin_relay_platform_writes_total" and s.labels["priority"] == "final"
    ]  # fmt: skip
    assert spent == []


async def test_a_withheld_answer_becomes_one_notice_and_its_other_messages_go(asker: discord.Message) -> None:
    channel = FakeChannel()
    sink = sink_for(channel, asker)
    await sink.update("part " * 1100)  # 5,500 characters: three messages
    assert len(channel.visible()) == 3
    await sink.fail("Answer withheld.")
    assert channel.visible() == ["Answer withheld."]  # the 2nd and 3rd messages are deleted
    assert [c[0] for c in channel.calls[-3:]] == ["delete", "delete", "edit"]


async def test_when_deleting_is_refused_the_extra_messages_are_blanked(asker: discord.Message) -> None:
    channel = FakeChannel()
    sink = sink_for(channel, asker)
    await sink.update("part " * 1100)
    channel.errors["delete"] = [http_error(discord.Forbidden, 403, 50013) for _ in range(2)]
    await sink.fail("Answer withheld.")
    assert channel.visible() == ["Answer withheld.", REMOVED, REMOVED]
    assert all(no_pings(kw) for _k, _t, kw in channel.writes())


async def test_a_reply_refused_for_read_message_history_is_sent_as_a_plain_message(
    asker: discord.Message,
) -> None:
    channel = FakeChannel()
    sink = sink_for(channel, asker)
    channel.errors["send"] = [http_error(discord.Forbidden, 403, 50013)]
    await sink.finish("Hello!")
    attempts = [kw for kind, _t, kw in channel.calls if kind == "attempt"]
    assert "reference" in attempts[0] and "reference" not in attempts[1]
    assert channel.visible() == ["Hello!"]


async def test_no_permission_to_send_stops_the_answer_quietly(asker: discord.Message) -> None:
    channel = FakeChannel()
    sink = sink_for(channel, asker)
    channel.errors["send"] = [http_error(discord.Forbidden, 403, 50013) for _ in range(2)]
    with capture_logs() as logs, pytest.raises(DeliveryFailed) as failed:
        await sink.update("some text " * 20)
    assert failed.value.fatal and sink.dead
    await sink.fail("Sorry")  # nothing more is attempted there
    assert [c for c in channel.calls if c[0] != "attempt"] == []
    warning = next(e for e in logs if e["event"] == "discord.missing_permissions")
    assert warning["code"] == 50013 and "Send Messages" in warning["fix"] and "exc_info" not in warning


async def test_an_answer_deleted_mid_stream_stops_without_reposting(asker: discord.Message) -> None:
    channel = FakeChannel()
    sink = sink_for(channel, asker)
    await sink.update("first part of the answer")
    channel.errors["edit"] = [http_error(discord.NotFound, 404, 10008)]
    with pytest.raises(DeliveryFailed):
        await sink.update("first part of the answer, and more")
    await sink.fail("Sorry")
    assert [c[0] for c in channel.calls if c[0] != "attempt"] == ["send"]


async def test_a_failing_edit_mid_stream_is_skipped_and_the_final_text_still_lands(
    asker: discord.Message,
) -> None:
    channel = FakeChannel()
    sink = sink_for(channel, asker)
    await sink.update("first part")
    channel.errors["edit"] = [http_error(discord.DiscordServerError, 503, 0)]
    await sink.update("first part, second")  # skipped
    await sink.finish("first part, second, third.")
    assert channel.visible() == ["first part, second, third."]


async def test_cooldown_notices_say_when_and_are_shown_once() -> None:
    shown: set[str] = set()

    async def once(error: RelayError) -> bool:
        kind = type(error).__name__
        first = kind not in shown
        shown.add(kind)
        return first

    now = time.time()
    text = discord_notice(RateLimited(retry_after_s=42), now=now)
    assert text == f"You're sending messages faster than I can answer. Try again <t:{int(now + 42)}:R>."
    assert "<t:" in (discord_notice(Muted(until=now + 600)) or "")
    # in the language of the member's message (set by the core before the notice is rendered)
    japanese = RateLimited(retry_after_s=42)
    japanese.language = "ja"
    assert discord_notice(japanese, now=now) == (
        f"メッセージの送信が速すぎて、回答が追いつきません。<t:{int(now + 42)}:R>にもう一度お試しください。"
    )
    german = Muted(until=now + 600)
    german.language = "de"
    assert (discord_notice(german) or "").startswith("Du bist hier stummgeschaltet; du kannst <t:")
    channel = FakeChannel()
    for _ in range(3):
        sink = sink_for(channel, World().message("spam"), notice_gate=once)
        error = RateLimited(retry_after_s=30)
        await sink.notify(error, sink.render_notice(error) or error.notice)
    sent = [c[1] for c in channel.calls if c[0] == "send"]
    assert len(sent) == 1 and "<t:" in sent[0] and sent[0].endswith(":R>.")


# ---------------------------------------------------------------- under the real ChatService


class BlockWhenLong(Moderator):
    """Blocks the answer once it is long (it was already streamed over several messages by then)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit

    async def check_input(self, msg: IncomingMessage) -> Verdict:
        return ALLOW

    async def check_output(self, msg: IncomingMessage, text: str, *, final: bool) -> Verdict:
        if len(text) > self.limit:
            return Verdict(Action.BLOCK, category="test", notice="I can't continue that answer here.")
        return ALLOW


def service(
    generator: ScriptedGenerator, moderator: Any = None
) -> tuple[ChatService, MemoryStore, MemoryGate]:
    store, gate = MemoryStore(), MemoryGate()
    svc = build_service(
        code_settings(),
        store=store,
        gate=gate,
        generator=generator,
        counter=WordCounter(),
        moderator=moderator or BlockWhenLong(10**9),
    )
    return svc, store, gate


KEY = ConversationKey(Platform.DISCORD, "2000", "3001")


def incoming(text: str = "tell me a long story", mid: str = "9001") -> IncomingMessage:
    return IncomingMessage(key=KEY, message_id=mid, author_id="5001", author_name="Ally", text=text)


async def test_an_answer_blocked_mid_stream_across_three_messages_leaves_only_the_notice(
    asker: discord.Message,
) -> None:
    generator = ScriptedGenerator()
    generator.enqueue(Script([f"word{i} " for i in range(1500)], delay_s=0.0005))
    svc, store, _gate = service(generator, BlockWhenLong(5000))
    channel = FakeChannel()
    sink = sink_for(channel, asker, interval=0.05)
    result = await svc.handle(incoming(), sink)
    assert result.outcome is Outcome.BLOCKED_OUTPUT
    assert len([c for c in channel.calls if c[0] == "send"]) >= 3  # it was streamed over 3 messages
    assert channel.visible() == ["I can't continue that answer here."]
    assert store.data == {}  # nothing stored


async def test_a_long_answer_streams_strictly_over_several_messages_and_arrives_whole(
    asker: discord.Message,
) -> None:
    """Strict streaming (the service's default) with an answer that rolls over into further messages."""
    generator = ScriptedGenerator()
    words = [f"word{i} " for i in range(1500)]
    generator.enqueue(Script(words, delay_s=0.0005))
    svc, store, _gate = service(generator)
    channel = FakeChannel()
    result = await svc.handle(incoming(), sink_for(channel, asker, interval=0.05))
    assert result.outcome is Outcome.ANSWERED
    assert len([c for c in channel.calls if c[0] == "send"]) >= 3
    assert " ".join(channel.visible()).split() == "".join(words).split()
    assert len(store.data[KEY]) == 1


async def test_discord_refusing_every_message_is_a_warning_not_a_traceback(asker: discord.Message) -> None:
    generator = ScriptedGenerator()
    generator.enqueue(Script(["word "] * 200, delay_s=0.001))
    svc, store, _gate = service(generator)
    channel = FakeChannel()
    channel.errors["send"] = [http_error(discord.Forbidden, 403, 50013) for _ in range(10)]
    with capture_logs() as logs:
        result = await svc.handle(incoming(), sink_for(channel, asker))
    assert result.outcome is Outcome.FAILED and store.data == {}
    assert not [e for e in logs if e.get("exc_info") or e["log_level"] in ("error", "critical")]
    assert any(e["event"] == "message.failed" and e["error"] == "DeliveryFailed" for e in logs)
    assert len([c for c in channel.calls if c[0] == "attempt"]) == 2  # once as a reply, once without


async def test_the_core_asks_the_sink_to_word_the_cooldown_notice(asker: discord.Message) -> None:
    svc, _store, gate = service(ScriptedGenerator())
    channel = FakeChannel()
    assert (await svc.handle(incoming(mid="1"), sink_for(channel, asker))).outcome is Outcome.ANSWERED
    gate.limited[incoming().user_id] = 42.0
    assert (await svc.handle(incoming(mid="2"), sink_for(channel, asker))).outcome is Outcome.RATE_LIMITED
    assert re.fullmatch(
        r"You're sending messages faster than I can answer\. Try again <t:\d+:R>\.", channel.visible()[-1]
    )
