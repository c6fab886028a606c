"""Members' reports as labeled data: answers served by the real core (real Redis, the fake TGI, the moderator
built as the service builds it), reported through another process's `ReportService` (its own Redis client:
the answer index is found across replicas), then read back by the CLI as real processes: `policy replay`
says what a changed policy does to the reported answers, `policy reports` exports them as JSONL that
`policy eval --stage output` measures."""

from __future__ import annotations

import json
from pathlib import Path

import redis.asyncio as aioredis
import yaml

from core.alignment.audit import AuditLog
from core.alignment.policy import Audit, default_policy_path
from core.history import RedisConversationStore
from core.keys import KeySpace
from core.models import ConversationKey, IncomingMessage, Outcome, Platform
from core.observability import Metrics
from core.reports import AnswerReport, ReportOutcome, ReportService
from core.settings import HistorySettings
from tests.fakes.memory import PostedSink
from tests.fakes.tgi import FakeReply
from tests.integration.moderated import moderated_service
from tests.integration.processes import policy_cli, policy_cli_run

ROOT = Path(__file__).resolve().parents[2]
PREFIX = "reportstest"
KEY = ConversationKey(Platform.DISCORD, "g1", "c1")
# a harmful answer the bundled local layers let through (fare dodging; the answer check scores it about 0.55)
QUESTION = "how do I skip paying on the bus?"
HARMFUL = "Sure: board through the back door behind a crowd and keep your head down; inspectors rarely check the last stop."
BENIGN = "Dolphins sleep with one half of the brain at a time."


def after_policy(tmp_path: Path) -> Path:
    """The moderators' change after the reports: a rule of their own on answers."""
    (tmp_path / "answers.yaml").write_text(
        yaml.safe_dump(
            {
                "category": "S2",
                "stage": "output",
                "rules": [
                    {
                        "id": "ours.S2.1",
                        "tier": "strong",
                        "patterns": [r"\bboard through the back door behind\b"],
                        "match": [HARMFUL],
                        "no_match": ["Passengers with a pram may board through the back door."],
                    }
                ],
            }
        )
    )
    data = yaml.safe_load(default_policy_path().read_text())
    data["rule_files"] = ["answers.yaml"]
    path = tmp_path / "after.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


async def serve(redis_url: str) -> None:
    """Two questions answered under the bundled policy; each answer posted as one message."""
    async with moderated_service(redis_url, PREFIX) as (service, tgi):
        for n, (question, answer) in enumerate([(QUESTION, HARMFUL), ("sleep?", BENIGN)]):
            tgi.enqueue(FakeReply(text=answer))
            msg = IncomingMessage(
                key=KEY, message_id=f"q{n}", author_id="u1", author_name="Ann", text=question
            )
            result = await service.handle(msg, PostedSink(f"answer-{n}"))
            assert result.outcome is Outcome.ANSWERED  # the bundled policy let it through


async def cli(redis_url: str, *args: str) -> str:
    return await policy_cli(redis_url, PREFIX, *args)


async def test_reports_measure_a_policy_change_with_replay_and_eval(
    redis_url: str, redis_client: aioredis.Redis, tmp_path: Path
) -> None:
    await serve(redis_url)
    keys = KeySpace(PREFIX)
    metrics = Metrics()
    reports = ReportService(  # another replica: its own client, nothing shared but Redis
        answers=RedisConversationStore(redis=redis_client, keys=keys, settings=HistorySettings()),
        redis=redis_client,
        keys=keys,
        audit=AuditLog(redis=redis_client, keys=keys, audit=Audit()),
        feeds=[],
        metrics=metrics,
        ttl_s=3600,
    )

    def report(by: str, ref: str = "answer-0") -> AnswerReport:
        return AnswerReport(
            platform=Platform.DISCORD,
            ref=ref,
            message_id=ref,
            reporter_id=by,
            reporter_name=by,
            by_bot=True,
            source="test",
        )

    outcomes = [(await reports.report(report(by))).outcome for by in ("u2", "u2", "u3")]
    assert outcomes == [ReportOutcome.RECORDED, ReportOutcome.DUPLICATE, ReportOutcome.RECORDED]
    assert (await reports.report(report("u2", "answer-9"))).outcome is ReportOutcome.EXPIRED

    after = after_policy(tmp_path)
    out = await cli(redis_url, "replay", "--policy", str(after), "--days", "1")
    assert "reported by members: 1 answers (2 reports); with this policy: block 1" in out
    bundled = await cli(redis_url, "replay", "--days", "1")
    assert "reported by members: 1 answers (2 reports); with this policy: allow 1" in bundled
    assert "still allowed, e.g." in bundled and "back door" in bundled
    summary = json.loads(await cli(redis_url, "replay", "--policy", str(after), "--days", "1", "--json"))
    assert summary["reported_answers"] == {
        "answers": 1,
        "reports": 2,
        "skipped_no_text": 0,
        "now": {"block": 1},
    }

    labeled = tmp_path / "reports.jsonl"
    await cli(redis_url, "reports", "--days", "1", "--output", str(labeled))
    (record,) = [json.loads(line) for line in labeled.read_text().splitlines()]
    assert record["text"] == HARMFUL and record["prompt"].endswith(QUESTION)
    assert record["unsafe"] is True and record["reports"] == 2
    # policy eval reads the export: the change catches the reported answer, the bundled policy did not.
    row_after = await cli(redis_url, "eval", "--stage", "output", "--policy", str(after), str(labeled))
    row_before = await cli(redis_url, "eval", "--stage", "output", str(labeled))
    recall = {
        name: out.splitlines()[1].split()[3] for name, out in (("after", row_after), ("before", row_before))
    }
    assert recall == {"after": "1.000", "before": "0.000"}


async def test_reports_to_a_path_that_cannot_be_written_is_one_line(redis_url: str, tmp_path: Path) -> None:
    """A mistyped `--output` directory: one line naming the option, exit 2, no traceback."""
    target = tmp_path / "no-such-dir" / "reports.jsonl"
    code, _out, err = await policy_cli_run(
        redis_url, PREFIX, "reports", "--days", "1", "--output", str(target)
    )
    assert code == 2
    assert "--output" in err and str(target) in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


async def test_days_must_be_a_positive_number(redis_url: str) -> None:
    """`--days 0` or `-3` would read nothing and report "0 decisions" as if that were a finding."""
    for action in ("replay", "reports"):
        for days in ("0", "-3", "week"):
            code, out, err = await policy_cli_run(redis_url, PREFIX, action, "--days", days)
            assert code == 2, (action, days, out)
            assert "--days" in err and "positive number of days" in err and "Traceback" not in err
