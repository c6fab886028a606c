"""Prompt building: the system turn (persona or CHAT_SYSTEM_PROMPT), the newest exchanges that fit the model's
context (core/window.py), the new user turn, all as ChatML (core/chatml.py), and the generation parameters
that fit what is left of the context.

`PromptBuilder.build` is step 4 of the pipeline (core/service.py); it raises `MessageTooLong` when even the
system turn and the new message leave no room for an answer. `PromptBuilder.assistant_turn` is the answer as
it is stored: as generated, so that the next prompt repeats this one and its answer token for token (what
the server's prefix cache holds).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from core import chatml
from core.errors import MessageTooLong
from core.llm import GenerationParams, ModelInfo
from core.models import Exchange, IncomingMessage, Role, Turn
from core.settings import ChatSettings, TGISettings
from core.tokens import TokenCounter
from core.window import stable_window

# Room kept free besides the counted tokens: per-segment counts are summed, and a tokenizer may join the
# segments a little differently from the whole prompt.
TOKEN_MARGIN = 8
_COUNT_CACHE_SIZE = 256


@dataclass(frozen=True, slots=True, kw_only=True)
class Prompt:
    """What is sent to the model for one message, and what is stored of it afterwards."""

    text: str  # the whole ChatML prompt, ending in the assistant header
    params: GenerationParams
    user_turn: Turn  # the new turn as it is stored (markers neutralized, tokens counted)
    history_exchanges: int  # stored exchanges in the prompt
    input_tokens: int  # counted tokens of `text`, the BOS and the margin included


class PromptBuilder:
    """Builds each message's prompt within the model's context; counts repeated segments once."""

    def __init__(self, *, counter: TokenCounter, chat: ChatSettings, tgi: TGISettings) -> None:
        self._counter = counter
        self._chat = chat
        self._tgi = tgi
        self._count_cache: dict[str, int] = {}

    async def build(
        self, msg: IncomingMessage, *, persona: str | None, history: Sequence[Exchange], info: ModelInfo
    ) -> Prompt:
        """The prompt for `msg` (its text already cleaned) after `history` (oldest first), speaking as
        `persona` when one is set, else as CHAT_SYSTEM_PROMPT. In a shared channel every user turn carries
        its author's name, and the system turn says that several people speak."""
        shared = not msg.is_direct
        system = chatml.system_content(
            persona or self._chat.system_prompt, shared=shared, bot_name=self._chat.bot_name
        )
        user_turn = Turn(
            Role.USER, chatml.neutralize(msg.text), 0, author_id=msg.author_id, author_name=msg.author_name
        )
        user_tokens = await self._counter.count(chatml.render_turn(user_turn, shared=shared))
        user_turn = replace(user_turn, tokens=user_tokens)
        fixed = (
            1  # BOS, added by the server
            + TOKEN_MARGIN
            + await self._count_once(chatml.render_segment(Role.SYSTEM, system))
            + user_tokens
            + await self._count_once(chatml.ASSISTANT_HEADER)
        )
        input_limit = min(info.max_input_tokens, info.max_total_tokens - self._chat.min_answer_tokens)
        if fixed > input_limit:
            raise MessageTooLong(
                notice="That message is too long for the model's context window. "
                "Please shorten it or split it into parts.",
                notice_id="too_long.context",
            )
        # A window whose start stays put, so the server's prefix cache keeps the previous prompt's work.
        window, window_tokens = stable_window(history, input_limit - fixed)
        input_tokens = fixed + window_tokens
        turns = [t for ex in window for t in (ex.user, ex.assistant)]
        turns.append(user_turn)
        params = GenerationParams(
            max_new_tokens=min(self._tgi.max_new_tokens, info.max_total_tokens - input_tokens),
            temperature=self._tgi.temperature,
            top_p=self._tgi.top_p,
            repetition_penalty=self._tgi.repetition_penalty,
            stop=chatml.STOP_SEQUENCES,
        )
        return Prompt(
            text=chatml.render_prompt(system, turns, shared=shared),
            params=params,
            user_turn=user_turn,
            history_exchanges=len(window),
            input_tokens=input_tokens,
        )

    async def assistant_turn(self, answer: str) -> Turn:
        """The answer as stored: as generated (not trimmed), with its token count."""
        stored = chatml.stored_answer(answer)
        tokens = await self._counter.count(chatml.render_segment(Role.ASSISTANT, stored))
        return Turn(Role.ASSISTANT, stored, tokens)

    async def _count_once(self, text: str) -> int:
        """Token count of a text that repeats across messages (system prompt, assistant header)."""
        cached = self._count_cache.get(text)
        if cached is None:
            if len(self._count_cache) > _COUNT_CACHE_SIZE:
                self._count_cache.clear()
            cached = self._count_cache[text] = await self._counter.count(text)
        return cached
