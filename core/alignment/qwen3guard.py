"""Qwen3Guard-Gen as the guard model (ALIGNMENT_GUARD_MODE=qwen3guard; the compose deployment's default).

Qwen3Guard-Gen (Apache-2.0, 0.6B/4B/8B) is served by vLLM or SGLang. Its prompt is the model's published chat
template (tokenizer_config.json of Qwen/Qwen3Guard-Gen-0.6B), rendered here for one user message (prompt
moderation) or a user message and the answer to it (response moderation) and sent as a raw prompt to the
OpenAI-compatible `/v1/completions`: the same bytes on both engines, with no server-side template in
between (docs/decisions.md, "Guard prompt formats"). tests/unit/test_guard_prompts.py renders the published
template with jinja2 and compares.

Its answer, parsed strictly (anything else is no verdict, and the layer's failure mode decides):

    Safety: Safe|Unsafe|Controversial
    Categories: None | <name>, <name>, …
    Refusal: Yes|No                         (response moderation only)

The category names map to the policy's codes (`CATEGORY_CODES` below); the template lists Jailbreak for
requests only. The template's category list is fixed, so unlike Llama Guard's the prompt does not change
with the community: its verdict is mapped, and the community's actions decide (core/alignment/moderator.py).
"""

from __future__ import annotations

import re
from collections.abc import Collection

import httpx

from core import chatml
from core.alignment.guard import GuardAnswerError, GuardError, GuardModel, GuardVerdict
from core.alignment.policy import GuardLayer

# Qwen3Guard-Gen's categories (as its template lists them) → the policy's codes (docs/moderation.md):
# Qwen's "Unethical Acts" covers bias, discrimination, hate speech, harassment and insults, closest to S10;
# "Politically Sensitive Topics" is false information about governments, history or public figures, S5's
# "deliberate disinformation". Qwen3Guard has no code of its own for weapons of mass destruction (Violent),
# sexual content involving minors (Sexual Content or Sexual Acts) or elections; the rules cover those.
CATEGORY_CODES = {
    "Violent": "S1",
    "Non-violent Illegal Acts": "S2",
    "Sexual Content or Sexual Acts": "S12",
    "PII": "S7",
    "Suicide & Self-Harm": "S11",
    "Unethical Acts": "S10",
    "Politically Sensitive Topics": "S5",
    "Copyright Violation": "S8",
    "Jailbreak": "JB",
}
PROMPT_CATEGORIES = tuple(CATEGORY_CODES)  # the template's list for a user message
RESPONSE_CATEGORIES = tuple(c for c in CATEGORY_CODES if c != "Jailbreak")  # … and for an answer
MAX_TOKENS = 64  # the longest answer (three lines, all eight response categories) is about 50 tokens

_PROMPT_TASK = (
    "# Task:\n"
    "1) Evaluate whether THE LAST USER's query belongs to safe or unsafe content based on our safety policy.\n"
    "2) Identify the category of unsafe content found.\n"
    "\n"
    "<BEGIN SAFETY POLICY>\n"
    "**Safety: Safe**: The USER's query does not contain any prohibited content or content that could lead "
    "to prohibited content.\n"
    "**Safety: Unsafe**: The USER's query contains prohibited content.\n"
    "**Safety: Controversial**: The USER's query does not explicitly contain prohibited content, but its "
    "intent, context, or potential responses could be misinterpreted, misused, or exploited to generate "
    "unsafe content under certain conditions.\n"
    "<END SAFETY POLICY>\n"
)
_RESPONSE_TASK = (
    "# Task:\n"
    "1) Evaluate whether THE LAST ASSISTANT's response belongs to safe or unsafe content based on our safety "
    "policy.\n"
    "2) Identify the category of unsafe content found.\n"
    "3) Determine if THE LAST ASSISTANT's response is a refusal to the USER's query.\n"
    "\n"
    "<BEGIN SAFETY POLICY>\n"
    "**Safety: Safe**: The ASSISTANT's response does not contain any prohibited content or content that "
    "could lead to prohibited content.\n"
    "**Safety: Unsafe**: The ASSISTANT's response contains prohibited content.\n"
    "**Safety: Controversial**: The ASSISTANT's response is not explicitly harmful, but could become risky "
    "or offensive depending on context or audience.\n"
    "<END SAFETY POLICY>\n"
)
_REFUSAL_POLICY = (
    "<BEGIN REFUSAL POLICY>\n"
    "**Refusal: Yes**: The ASSISTANT refused to answer or did not comply with the USER's request.\n"
    "**Refusal: No**: The ASSISTANT directly answered or complied with the USER's request.\n"
    "<END REFUSAL POLICY>\n"
    "\n"
)
_FORMAT = (
    " - The first line must be one of: 'Safety: Safe', 'Safety: Unsafe', 'Safety: Controversial'.\n"
    " - The second line should start with 'Categories:' followed by a list of any unsafe content categories, "
    "separated by commas. If the content is safe, use 'Categories: None'."
)
_ASSISTANT = "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"


def _categories(names: tuple[str, ...]) -> str:
    listed = "".join(f"{name}.\n" for name in names)
    return f"<BEGIN UNSAFE CONTENT CATEGORIES>\n{listed}<END UNSAFE CONTENT CATEGORIES>\n\n"


def build_prompt(*, user: str, agent: str | None) -> str:
    """The published chat template rendered for [user] or [user, assistant] (the texts are not trimmed:
    the template does not trim them)."""
    if agent is None:
        return (
            f"<|im_start|>user\n{_PROMPT_TASK}\n{_categories(PROMPT_CATEGORIES)}"
            f"<BEGIN CONVERSATION>\n\nUSER: {user}\n\n<END CONVERSATION>\n\n"
            "Provide your safety assessment for ONLY THE LAST **USER's query** in the above conversation:\n"
            f"{_FORMAT}{_ASSISTANT}"
        )
    return (
        f"<|im_start|>user\n{_RESPONSE_TASK}\n{_categories(RESPONSE_CATEGORIES)}{_REFUSAL_POLICY}"
        f"<BEGIN CONVERSATION>\n\nUSER: {user}\n\nASSISTANT: {agent}\n\n<END CONVERSATION>\n\n"
        "Provide your safety assessment for ONLY THE LAST **ASSISTANT's response** in the above conversation:\n"
        f"{_FORMAT}\n - The third line must be one of: 'Refusal: Yes', 'Refusal: No'.{_ASSISTANT}"
    )


_SAFETY = re.compile(r"Safety: (Safe|Unsafe|Controversial)")
_CATEGORIES = re.compile(r"Categories: (.+)")
_REFUSAL = re.compile(r"Refusal: (Yes|No)")


def parse_answer(generated: str, *, response: bool) -> GuardVerdict:
    """Exactly the published format: two lines for a request, three for an answer; category names from the
    template's list for that stage (or `None`), separated by commas. Raises `GuardAnswerError` otherwise."""
    lines = generated.strip().split("\n")
    if len(lines) != (3 if response else 2):
        raise GuardAnswerError(f"Qwen3Guard answer not in the format: {generated[:60]!r}")
    safety = _SAFETY.fullmatch(lines[0].strip())
    listed = _CATEGORIES.fullmatch(lines[1].strip())
    if safety is None or listed is None or (response and _REFUSAL.fullmatch(lines[2].strip()) is None):
        raise GuardAnswerError(f"Qwen3Guard answer not in the format: {generated[:60]!r}")
    known = RESPONSE_CATEGORIES if response else PROMPT_CATEGORIES
    names = [n.strip() for n in listed.group(1).split(",")]
    if names == ["None"]:
        names = []
    elif any(n not in known for n in names):
        raise GuardAnswerError(f"Qwen3Guard named a category outside its list: {listed.group(1)[:60]!r}")
    level = safety.group(1)
    codes = tuple(dict.fromkeys(CATEGORY_CODES[n] for n in names)) if level != "Safe" else ()
    return GuardVerdict(
        unsafe=level == "Unsafe",
        categories=codes,
        score=1.0 if level == "Unsafe" else 0.0,
        controversial=level == "Controversial",
    )


class Qwen3GuardClient(GuardModel):
    """Qwen3Guard-Gen on vLLM or SGLang: `/v1/completions`, greedy, non-streaming.

    `model`: the served model id the request names (vLLM checks it); None asks `/v1/models` once."""

    def __init__(
        self, *, http: httpx.AsyncClient, url: str, layer: GuardLayer, model: str | None = None
    ) -> None:
        super().__init__(layer=layer)
        self._http = http
        self._url = url.rstrip("/")
        self._model = model

    @property
    def model(self) -> str | None:
        return self._model

    def prompt_variant(self, categories: Collection[str] | None) -> tuple[str, ...]:
        return ()  # the template's list is fixed: the verdict does not depend on the community

    async def _judge(self, *, user: str, agent: str | None, variant: tuple[str, ...]) -> GuardVerdict:
        if self._model is None:
            self._model = await served_model(self._http, self._url)
        body = {
            "model": self._model,
            "prompt": build_prompt(
                user=judged_text(user), agent=None if agent is None else judged_text(agent)
            ),
            "max_tokens": MAX_TOKENS,
            "temperature": 0,
            "stream": False,
        }
        try:
            resp = await self._http.post(f"{self._url}/v1/completions", json=body)
        except httpx.HTTPError as exc:
            raise GuardError(f"{type(exc).__name__}: {exc}") from None
        if resp.status_code != 200:
            raise GuardError(
                f"HTTP {resp.status_code}: {_error_message(resp)}", reason=f"HTTP {resp.status_code}"
            )
        try:
            choice = resp.json()["choices"][0]
            text, finish = str(choice["text"]), choice.get("finish_reason")
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise GuardError(f"unreadable answer: {type(exc).__name__}", reason="unreadable answer") from None
        if finish == "length":
            raise GuardAnswerError(f"Qwen3Guard answer cut at {MAX_TOKENS} tokens: {text[:60]!r}")
        return parse_answer(text, response=agent is not None)


_THINK = re.compile(r"<(/?think)>")


def judged_text(text: str) -> str:
    """The judged text as inert data: a control token typed into it (`<|im_end|>`, `<|im_start|>`) or a
    think tag would be tokenized as the real thing in a raw prompt and could close the user turn and write
    the verdict; they become look-alike text (core/chatml.py), as in the main model's prompt."""
    return _THINK.sub(f"{chatml.NEUTRAL_OPEN}\\1{chatml.NEUTRAL_CLOSE}", chatml.neutralize(text))


async def served_model(http: httpx.AsyncClient, url: str) -> str:
    """The model id an OpenAI-compatible server serves (`GET /v1/models`, the first entry)."""
    try:
        resp = await http.get(f"{url.rstrip('/')}/v1/models")
        resp.raise_for_status()
        return str(resp.json()["data"][0]["id"])
    except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as exc:
        raise GuardError(f"cannot read the served model from /v1/models: {type(exc).__name__}") from None


def _error_message(resp: httpx.Response) -> str:
    """The message of vLLM's (`{"error": {"message": …}}`) or SGLang's (`{"message": …}`) error body."""
    try:
        data = resp.json()
        err = data.get("error", data)
        return str(err.get("message", ""))[:120] if isinstance(err, dict) else str(err)[:120]
    except (ValueError, AttributeError):
        return ""
