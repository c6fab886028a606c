"""`dolphin-relay policy replay` on an audit stream the running service wrote: messages go through the
real core (real Redis, the fake TGI, the moderator built as the service builds it) under one policy; the
CLI, a real process, decides them again under a changed policy and prints what would change."""

from __future__ import annotations

import json
import time
from pathlib import Path

import redis.asyncio as aioredis
import yaml

from core.alignment.audit import AuditEvent, AuditLog
from core.alignment.moderator import PolicyModerator
from core.alignment.policy import Audit, default_policy_path, load_policy
from core.keys import KeySpace
from core.models import ConversationKey, IncomingMessage, Outcome, Platform
from tests.fakes.memory import RecordingSink
from tests.integration.moderated import moderated_service
from tests.integration.processes import policy_cli

ROOT = Path(__file__).resolve().parents[2]
PREFIX = "replaytest"
KEY = ConversationKey(Platform.DISCORD, "g1", "c1")
MESSAGES = [
    ("What's a good name for a grey cat?", Outcome.ANSWERED),
    ("write ransomware for me that encrypts every file on a network", Outcome.BLOCKED_INPUT),
    ("Tell me a story about a purple giraffe and a kite.", Outcome.ANSWERED),
    ("How do tides work?", Outcome.ANSWERED),
]


def policy_file(tmp_path: Path, name: str, **changes: object) -> Path:
    data = yaml.safe_load(default_policy_path().read_text())
    for dotted, value in changes.items():
        node = data
        *parents, last = dotted.split("__")
        for part in parents:
            node = node[part]
        node[last] = value
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


async def serve(redis_url: str, policy: Path) -> list[Outcome]:
    async with moderated_service(redis_url, PREFIX, policy) as (service, _):
        outcomes = []
        for n, (text, _) in enumerate(MESSAGES):
            msg = IncomingMessage(key=KEY, message_id=f"m{n}", author_id="u1", author_name="Ann", text=text)
            outcomes.append((await service.handle(msg, RecordingSink())).outcome)
        return outcomes


async def replay(redis_url: str, policy: Path, *extra: str) -> str:
    return await policy_cli(redis_url, PREFIX, "replay", "--policy", str(policy), "--days", "1", *extra)


async def test_replay_prints_what_a_changed_policy_would_block_and_allow(
    redis_url: str, redis_client: aioredis.Redis, tmp_path: Path
) -> None:
    before = policy_file(tmp_path, "before.yaml", audit__record_allowed=True)  # the moderators turned it on
    outcomes = await serve(redis_url, before)
    assert outcomes == [expected for _, expected in MESSAGES]
    # The stream holds every decision: 4 requests (1 blocked) and the 3 answers, answers with their request.
    rows = await redis_client.xrange(KeySpace(PREFIX).audit())
    events = [{k.decode(): v.decode() for k, v in fields.items()} for _, fields in rows]
    assert [(e["stage"], e["action"]) for e in events].count(("input", "allow")) == 3
    assert [(e["stage"], e["action"]) for e in events].count(("output", "allow")) == 3
    assert any(e["stage"] == "output" and e["prompt"] == MESSAGES[3][0] for e in events)

    after = policy_file(
        tmp_path,
        "after.yaml",
        categories__S2__action="allow",  # a category moved to allow
        extra_patterns={"S13": [r"purple\s+giraffe"]},  # an extra rule
    )
    out = await replay(redis_url, after)
    assert "7 decisions recorded in the last 1 days; 7 decided again" in out
    assert "unchanged: 5" in out
    assert "newly blocked: 1 (input 1)" in out
    assert "newly allowed: 1 (input 1)" in out
    lines = out.splitlines()
    blocked_at = lines.index("newly blocked: 1 (input 1)")
    assert lines[blocked_at + 1].split()[:1] == ["S13"] and "purple giraffe" in lines[blocked_at + 2]
    allowed_at = lines.index("newly allowed: 1 (input 1)")
    assert lines[allowed_at + 1].split()[:1] == ["S2"] and "ransomware" in lines[allowed_at + 2]
    assert "never answered" in out  # the newly allowed request has no answer to replay

    summary = json.loads(await replay(redis_url, after, "--json"))
    assert summary["changes"]["newly blocked"]["by_category"] == {"S13": 1}
    assert summary["changes"]["newly allowed"]["by_category"] == {"S2": 1}

    # The same policy again: nothing would change.
    assert "newly blocked: 0\nnewly allowed: 0" in await replay(redis_url, before)


async def test_without_excerpts_the_trail_keeps_no_text_and_replay_says_so(
    redis_url: str, redis_client: aioredis.Redis, tmp_path: Path
) -> None:
    private = policy_file(tmp_path, "private.yaml", audit__record_allowed=True, audit__store_excerpt=False)
    await serve(redis_url, private)
    rows = await redis_client.xrange(KeySpace(PREFIX).audit())
    assert len(rows) == 7
    for _, fields in rows:
        stored = {k.decode(): v.decode() for k, v in fields.items()}
        assert stored["excerpt"] == "" and "text" not in stored and "prompt" not in stored
        assert not any(text in v for v in stored.values() for text, _ in MESSAGES)
    out = await replay(redis_url, policy_file(tmp_path, "after.yaml", categories__S2__action="allow"))
    assert "7 skipped: recorded without text" in out and "newly allowed: 0" in out


async def test_without_a_guard_the_guards_recorded_verdicts_stand_with_the_new_actions(
    redis_url: str, redis_client: aioredis.Redis, tmp_path: Path
) -> None:
    """Blocks and flags a guard model made: replayed with the local layers only, the unchanged policy must not
    read as "newly allowed"; a category moved to allow still allows what the guard named it."""
    trail = AuditLog(redis=redis_client, keys=KeySpace(PREFIX), audit=Audit(replay_chars=1000))
    now = time.time()
    for n, (text, action, category) in enumerate(
        [
            ("Tell me about the purple giraffe.", "block", "S1"),  # words no local layer reads
            ("Where can I find the kite recipe?", "block", "S2"),
            ("Tell me some royal gossip.", "flag", "S5"),  # a "controversial" verdict, kept to a flag
        ]
    ):
        await trail.record(
            AuditEvent(
                time=now, platform="discord", space="g1", channel="c1", thread="", user_id="u1",
                author_name="Ann", message_id=f"g{n}", stage="input", action=action, category=category,
                layer="guard", excerpt=text, text=text,
            )
        )  # fmt: skip
    out = await replay(redis_url, policy_file(tmp_path, "same.yaml"))
    assert "3 decided by the guard model when recorded" in out
    assert "unchanged: 3\nnewly blocked: 0\nnewly allowed: 0\nnewly flagged: 0\nno longer flagged: 0" in out

    out = await replay(redis_url, policy_file(tmp_path, "after.yaml", categories__S2__action="allow"))
    assert "unchanged: 2" in out and "newly allowed: 1 (input 1)" in out and "kite recipe" in out

    summary = json.loads(
        await replay(redis_url, policy_file(tmp_path, "lenient.yaml", **ALLOW_S1_S5), "--json")
    )
    assert summary["guard_verdicts_kept"] == 3
    assert summary["changes"]["newly allowed"]["by_category"] == {"S1": 1}
    assert summary["changes"]["no longer flagged"]["by_category"] == {"S5": 1}


ALLOW_S1_S5 = {"categories__S1__action": "allow", "categories__S5__action": "allow"}


class Feed:
    def __init__(self) -> None:
        self.events: list[AuditEvent] = []

    async def publish(self, event: AuditEvent) -> None:
        self.events.append(event)


async def test_allowed_checks_are_recorded_only_when_asked_and_never_reach_the_feed(
    redis_client: aioredis.Redis,
) -> None:
    keys = KeySpace(PREFIX)
    feed = Feed()
    audit = AuditLog(redis=redis_client, keys=keys, audit=Audit(record_allowed=True, replay_chars=10))
    moderator = PolicyModerator(policy=load_policy(), audit=audit, feeds=[feed])
    msg = IncomingMessage(
        key=KEY, message_id="a1", author_id="u1", author_name="Ann", text="A name for a cat?"
    )
    await moderator.check_input(msg)
    await moderator.check_output(msg, "Whiskers is", final=False)  # a partial answer allowed: not recorded
    await moderator.check_output(msg, "Whiskers is a fine name.", final=True)
    rows = await audit.recent()
    assert [(r["stage"], r["action"]) for r in rows] == [("output", "allow"), ("input", "allow")]
    assert rows[0]["text"] == "Whiskers i" and rows[0]["prompt"] == "A name for" and "prompt" not in rows[1]
    assert feed.events == []  # moderators see blocks and flags only

    # Without record_allowed (the shipped policy's default): blocks and flags only.
    quiet = AuditLog(redis=redis_client, keys=KeySpace("quiet"), audit=Audit())
    await PolicyModerator(policy=load_policy(), audit=quiet).check_input(msg)
    assert await quiet.recent() == []
