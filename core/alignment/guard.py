"""The guard-model layer: a model server judges a request or an answer (DESIGN.md §5a).

Two judges share one frame, `GuardModel`: bounded concurrency, a timeout that covers the wait for a slot, a
short cache keyed by the text's hash, and a score (the probability of `unsafe`, read from the first
generated token's top tokens when the server returns them) that the moderator holds against the layer's
threshold.

- `LlamaGuardClient` (ALIGNMENT_GUARD_MODE=llama-guard): Llama Guard 3 on its own TGI, in Llama Guard's own
  prompt format, on `/generate`. The category list is part of the prompt, so the policy decides which
  categories are sent (those not set to `allow`). Answer: `safe`, or `unsafe` and a line of codes.
- `SelfCheckGuard` (core/alignment/selfcheck.py, ALIGNMENT_GUARD_MODE=self-check): the main model server
  judges, through the model client, with a ChatML classification prompt and a strict answer format.

Errors: anything that keeps a judge from giving a verdict (timeout, HTTP or stream error, an answer not in
the format) is a `GuardError`; the moderator applies the layer's failure mode to it.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import ClassVar

import httpx

from core.alignment.policy import GuardLayer

GUARD_CATEGORIES = {
    "S1": "Violent Crimes.",
    "S2": "Non-Violent Crimes.",
    "S3": "Sex Crimes.",
    "S4": "Child Exploitation.",
    "S5": "Defamation.",
    "S6": "Specialized Advice.",
    "S7": "Privacy.",
    "S8": "Intellectual Property.",
    "S9": "Indiscriminate Weapons.",
    "S10": "Hate.",
    "S11": "Self-Harm.",
    "S12": "Sexual Content.",
    "S13": "Elections.",
    "S14": "Code Interpreter Abuse.",
}
_CACHE_ENTRIES = 4096


class GuardError(Exception):
    """The guard model could not give a verdict (timeout, HTTP error, an answer not in the format)."""


class GuardAnswerError(GuardError):
    """The guard model answered, but not in the answer format."""


@dataclass(frozen=True, slots=True)
class GuardVerdict:
    unsafe: bool
    categories: tuple[str, ...]
    score: float  # probability of "unsafe" (1.0/0.0 when the server gives no probabilities)


TopTokens = Iterable[tuple[str, float]]  # the most likely tokens at one position: (text, logprob)


def unsafe_probability(top: TopTokens) -> float | None:
    """P(unsafe) / (P(unsafe) + P(safe)) from the first generated position's top tokens, or None when none
    of them starts either word. A token counts for a word it begins ("un" for `unsafe`, "s" for `safe`;
    the two words start differently), so a tokenizer that splits the words still gives a score; leading
    whitespace and the word markers of SentencePiece (▁) and byte-level BPE (Ġ) are ignored."""
    p_unsafe = p_safe = 0.0
    for text, logprob in top:
        word = text.strip().lstrip("\u2581\u0120").lower()
        if not word:
            continue
        if "unsafe".startswith(word):
            p_unsafe += math.exp(logprob)
        elif "safe".startswith(word):
            p_safe += math.exp(logprob)
    total = p_unsafe + p_safe
    return p_unsafe / total if total > 0 else None


class GuardModel:
    """The frame every judge shares; a subclass gives `_judge`, one uncached call to its server.

    `classify` answers from the cache when it can; else it waits for one of `layer.max_concurrency` slots
    and for the judge, both within `layer.timeout_s`, and keeps the verdict for `layer.cache_ttl_s`."""

    name: ClassVar[str] = "guard"  # the verdict's layer, in the audit trail and the moderators' feed
    # The judge has a server of its own, so the input check may run while the answer is being generated.
    # A judge on the main model server (self-check) would compete with that answer for the same slots.
    overlaps: ClassVar[bool] = True

    def __init__(self, *, layer: GuardLayer) -> None:
        self.layer = layer
        self._gate = asyncio.Semaphore(layer.max_concurrency)
        self._cache: OrderedDict[str, tuple[float, GuardVerdict]] = OrderedDict()

    async def classify(self, *, user: str, agent: str | None = None) -> GuardVerdict:
        """Judge `user` (the input stage) or, with `agent`, the answer `agent` to `user` (the output stage)."""
        key = _cache_key(user, agent)
        hit = self._cache.get(key)
        now = time.monotonic()
        if hit is not None and hit[0] > now:
            self._cache.move_to_end(key)
            return hit[1]
        try:
            async with asyncio.timeout(self.layer.timeout_s), self._gate:
                verdict = await self._judge(user=user, agent=agent)
        except TimeoutError:
            raise GuardError(f"no verdict within {self.layer.timeout_s:g} s") from None
        if self.layer.cache_ttl_s > 0:
            self._cache[key] = (now + self.layer.cache_ttl_s, verdict)
            if len(self._cache) > _CACHE_ENTRIES:
                self._cache.popitem(last=False)
        return verdict

    async def _judge(self, *, user: str, agent: str | None) -> GuardVerdict:
        raise NotImplementedError


def _cache_key(user: str, agent: str | None) -> str:
    # The stage is part of the key: a request's verdict is never taken for an answer's.
    stage = "input\x00" if agent is None else f"output\x00{len(user)}\x00{agent}\x00"
    return hashlib.sha256(f"{stage}{user}".encode("utf-8", "replace")).hexdigest()


# ------------------------------------------------------------------------------------------ Llama Guard 3


def build_prompt(*, user: str, agent: str | None, categories: Mapping[str, str]) -> str:
    role = "Agent" if agent is not None else "User"
    cats = "\n".join(f"{code}: {name}" for code, name in categories.items())
    conversation = f"User: {user}"
    if agent is not None:
        conversation += f"\n\nAgent: {agent}"
    return (
        "<|start_header_id|>user<|end_header_id|>\n\n"
        f"Task: Check if there is unsafe content in '{role}' messages in conversations according our safety "
        "policy with the below categories.\n\n"
        f"<BEGIN UNSAFE CONTENT CATEGORIES>\n{cats}\n<END UNSAFE CONTENT CATEGORIES>\n\n"
        f"<BEGIN CONVERSATION>\n\n{conversation}\n\n<END CONVERSATION>\n\n"
        f"Provide your safety assessment for ONLY THE LAST {role} message in the above conversation:\n"
        " - First line must read 'safe' or 'unsafe'.\n"
        " - If unsafe, a second line must include a comma-separated list of violated categories."
        "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
    )


def parse_answer(generated: str, first_top_tokens: TopTokens | None = None) -> GuardVerdict:
    """Llama Guard's answer: first line `safe` or `unsafe`, then a line of codes (anything after is ignored:
    Llama Guard is trained for this format; the self-check's parser is stricter)."""
    lines = [line.strip() for line in generated.strip().splitlines() if line.strip()]
    if not lines or lines[0].lower() not in ("safe", "unsafe"):
        raise GuardAnswerError(f"unexpected guard answer {generated[:40]!r}")
    unsafe = lines[0].lower() == "unsafe"
    codes = (
        tuple(c.strip().upper() for c in lines[1].split(",") if c.strip())
        if unsafe and len(lines) > 1
        else ()
    )
    score = unsafe_probability(first_top_tokens) if first_top_tokens else None
    return GuardVerdict(unsafe, codes, (1.0 if unsafe else 0.0) if score is None else score)


class LlamaGuardClient(GuardModel):
    """Llama Guard 3 on its own TGI (`--profile guard`): `/generate`, greedy, a few tokens, top tokens."""

    def __init__(
        self, *, http: httpx.AsyncClient, url: str, layer: GuardLayer, categories: Mapping[str, str]
    ) -> None:
        super().__init__(layer=layer)
        self._http = http
        self._url = url.rstrip("/")
        self._categories = dict(categories)

    async def _judge(self, *, user: str, agent: str | None) -> GuardVerdict:
        prompt = build_prompt(user=user, agent=agent, categories=self._categories)
        body = {
            "inputs": prompt,
            "parameters": {"max_new_tokens": 10, "do_sample": False, "details": True, "top_n_tokens": 5},
        }
        try:
            resp = await self._http.post(f"{self._url}/generate", json=body)
        except httpx.HTTPError as exc:
            raise GuardError(f"{type(exc).__name__}: {exc}") from None
        if resp.status_code != 200:
            raise GuardError(f"HTTP {resp.status_code}")
        try:
            data = resp.json()
            generated = str(data["generated_text"])
            top = _first_top_tokens(data.get("details"))
        except (ValueError, KeyError, TypeError) as exc:
            raise GuardError(f"unreadable answer: {exc}") from None
        return parse_answer(generated, top)


def _first_top_tokens(details: object) -> list[tuple[str, float]] | None:
    if not isinstance(details, dict):
        return None
    top = details.get("top_tokens")
    if not isinstance(top, list) or not top or not isinstance(top[0], list):
        return None
    return [(str(t.get("text", "")), float(t.get("logprob", -100.0))) for t in top[0] if isinstance(t, dict)]
