"""Slack payloads → whose workspace, what to answer, IncomingMessage; model Markdown → mrkdwn that can never
notify anyone (example-based and property-based)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bots.slack.translate import (
    MrkdwnRenderer,
    addressed_to_others,
    clean_text,
    installation_space,
    is_from_bot,
    neutralize,
    to_incoming,
)

BOT = "UBOT"
RENDERER = MrkdwnRenderer()
# Every `<` that reaches Slack must open a plain web or mail link.
_UNSAFE = re.compile(r"<(?!(?:https?://|mailto:)[^\s|<>]+(?:\|[^<>]*)?>)")


@pytest.mark.parametrize(
    ("body", "space"),
    [
        ({"team_id": "T1", "event": {"team": "T1"}}, "T1"),
        # a shared channel: the poster's team is another org's; the installation is T1
        ({"team_id": "T9", "event": {"team": "T9"}, "authorizations": [{"team_id": "T1"}]}, "T1"),
        # an org-wide install on Enterprise Grid: keyed by the org
        (
            {
                "team_id": "T2",
                "enterprise_id": "E1",
                "authorizations": [{"team_id": None, "enterprise_id": "E1", "is_enterprise_install": True}],
            },
            "E1",
        ),
        # slash command payloads are form fields: "true"/"false" strings
        ({"team_id": "T2", "enterprise_id": "E1", "is_enterprise_install": "true"}, "E1"),
        ({"team_id": "T2", "enterprise_id": "E1", "is_enterprise_install": "false"}, "T2"),
        ({"event": {"team": "T3"}}, "T3"),
    ],
)
def test_installation_space(body: dict[str, object], space: str) -> None:
    assert installation_space(body) == space


@pytest.mark.parametrize(
    ("event", "ignored"),
    [
        ({"user": "U1", "text": "hi"}, False),
        ({"user": "U1", "text": "hi", "subtype": "file_share"}, False),
        ({"user": "U1", "text": "hi", "subtype": "thread_broadcast"}, False),
        ({"user": "U1", "subtype": "message_changed"}, True),
        ({"user": "U1", "subtype": "message_deleted"}, True),
        ({"user": "U1", "subtype": "channel_join"}, True),
        ({"user": "U1", "subtype": "a_subtype_slack_adds_later"}, True),
        ({"user": "U2", "text": "beep", "bot_id": "B2"}, True),
        ({"user": BOT, "text": "me"}, True),
        ({"text": "no user"}, True),
    ],
)
def test_what_is_not_a_person_talking(event: dict[str, str], ignored: bool) -> None:
    assert is_from_bot(event, BOT) is ignored


def test_addressed_to_others() -> None:
    assert addressed_to_others("<@U2> what do you think?", BOT)
    assert not addressed_to_others(f"<@U2> and <@{BOT}> what do you think?", BOT)
    assert not addressed_to_others("what do you think?", BOT)


def test_incoming_markup_is_readable() -> None:
    text = clean_text(
        f"<@{BOT}> ask <@U2|bob> and <@U3> in <#C9|general> see <https://x.y|site> &lt;tag&gt; <!here> "
        "<!date^1700000000^{date}|Nov 14>",
        bot_user_id=BOT,
        names={"U3": "Cy"},
    )
    assert text == "ask @bob and @Cy in #general see site <tag> @here Nov 14"


def test_keys_per_thread_in_channels_and_per_dm() -> None:
    mention = {"user": "U1", "text": "hi", "ts": "1.1", "channel": "C1", "channel_type": "channel"}
    assert to_incoming(mention, team="T1", event_id="E", bot_user_id=BOT).key.thread == "1.1"
    reply = {**mention, "ts": "1.2", "thread_ts": "1.1"}
    assert to_incoming(reply, team="T1", event_id="E", bot_user_id=BOT).key.thread == "1.1"
    dm = {"user": "U1", "text": "hi", "ts": "2.1", "channel": "D1", "channel_type": "im"}
    msg = to_incoming(dm, team="T1", event_id="E", bot_user_id=BOT, names={"U1": "Ann"})
    assert msg.key.thread is None and msg.is_direct and msg.author_name == "Ann"


@pytest.mark.parametrize(
    ("markdown", "mrkdwn"),
    [
        ("**bold** and *it* and ~~gone~~", "*bold* and _it_ and ~gone~"),
        ("Use `f(*args, **kwargs)` and `a * b * c`", "Use `f(*args, **kwargs)` and `a * b * c`"),
        ("> a quote with <!here>\n> more", "> a quote with &lt;!here&gt;\n> more"),
        ("# Title\n- one\n- two", "*Title*\n• one\n• two"),
        (
            "```python\nif a < b and c > d & e:\n    pass\n```",
            "```\nif a &lt; b and c &gt; d &amp; e:\n    pass\n```",
        ),
        ("[docs](https://docs.example/?a=1&b=2)", "<https://docs.example/?a=1&amp;b=2|docs>"),
        ("[www.bank.example](https://evil.example/login)", "www.bank.example (<https://evil.example/login>)"),
        ("[bank.example](https://www.bank.example/x)", "<https://www.bank.example/x|bank.example>"),
        (
            "[x](!here) ![i](!channel) <@U1> <#C1> <!subteam^S1>",
            "&lt;!here|x&gt; &lt;!channel&gt; &lt;@U1&gt; &lt;#C1&gt; &lt;!subteam^S1&gt;",
        ),
        ("<https://ok.example|<!channel>>", "&lt;https://ok.example|&lt;!channel&gt;&gt;"),
        ("&lt;!channel&gt;", "&amp;lt;!channel&amp;gt;"),
    ],
)
def test_rendering(markdown: str, mrkdwn: str) -> None:
    assert RENDERER.render(markdown) == mrkdwn


def test_tables_become_aligned_code_blocks_with_pings_escaped() -> None:
    out = RENDERER.render("| who | what |\n|---|---|\n| <!here> | [x](https://a.example) |")
    assert out.startswith("```\n") and out.endswith("\n```")
    assert "&lt;!here&gt;" in out and not _UNSAFE.search(out)


_MARKUP = st.sampled_from(
    [
        "<!channel>", "<!here>", "<!everyone>", "<@U1>", "<@W1|x>", "<#C1>", "<!subteam^S1>", "<!date^1^{d}|x>",
        "[a](!here)", "![a](!channel)", "[a](https://x.example|<!here>)", "<https://x.example|<!here>>",
        "[<!here>](https://x.example)", "```", "`", "**", "*", "_", "~~", "> ", "\n", "|", "&", "<", ">", "[", "](",
        ")", "https://x.example", "mailto:a@b.example", " ", "# ", "- ", "| a | b |\n|---|---|\n| c | d |\n",
    ]
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(_MARKUP, st.text(max_size=12)), max_size=30))
def test_no_markdown_can_make_a_ping(parts: list[str]) -> None:
    out = RENDERER.render("".join(parts))
    assert not _UNSAFE.search(out), out


@given(st.text(max_size=200))
def test_neutralize_escapes_everything_but_links_and_quotes(text: str) -> None:
    out = neutralize(text)
    assert not _UNSAFE.search(out)
    assert "&" not in re.sub(r"&(amp|lt|gt);", "", out)
