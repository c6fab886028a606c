"""The guard-model layer: a model server judges a request or an answer (docs/moderation.md).

Every judge shares one frame, `GuardModel`: bounded concurrency, a timeout that covers the wait for a slot, a
short cache keyed by the text's hash (and by whatever else the judge puts in its prompt), and a score (the
probability of `unsafe`, read from the first generated token's top tokens when the server returns them) that
the moderator holds against the layer's threshold.

- `Qwen3GuardClient` (core/alignment/qwen3guard.py, ALIGNMENT_GUARD_MODE=qwen3guard, the default deployment):
  Qwen3Guard-Gen on vLLM or SGLang, its published chat template sent as a raw prompt to `/v1/completions`.
- `LlamaGuardClient` (ALIGNMENT_GUARD_MODE=llama-guard): Llama Guard 3 on its own TGI, the prompt of its
  published chat template, on `/generate`. The category list is part of the prompt, so each request lists
  the categories the community it comes from does not allow. Answer: `safe`, or `unsafe` and a line of codes.
- `SelfCheckGuard` (core/alignment/selfcheck.py, ALIGNMENT_GUARD_MODE=self-check): the main model server
  judges, through the model client, with a ChatML classification prompt and a strict answer format.

Errors: anything that keeps a judge from giving a verdict (timeout, HTTP or stream error, an answer not in
the format) is a `GuardError`; the moderator applies the layer's failure mode to it.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import re
import time
from collections import OrderedDict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import ClassVar

import httpx

from core import chatml
from core.alignment.policy import GuardLayer

# Llama Guard 3's category names, as its chat template lists them (docs/decisions.md, "Guard prompt formats").
# The 1B was trained on S1-S13 (its model card and template); the 8B adds S14.
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
LLAMA_GUARD_3_1B_CODES = tuple(f"S{i}" for i in range(1, 14))
_CACHE_ENTRIES = 4096


class GuardError(Exception):
    """The guard model could not give a verdict (timeout, HTTP error, an answer not in the format).

    `reason`: what an operator's log line may say of it (the message, unless the message quotes an error
    body or an answer, which may quote the judged text: then the part before that)."""

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = message if reason is None else reason


class GuardAnswerError(GuardError):
    """The guard model answered, but not in the answer format."""


@dataclass(frozen=True, slots=True)
class GuardVerdict:
    unsafe: bool
    categories: tuple[str, ...]  # the policy's codes (S1-S14, JB)
    score: float  # probability of "unsafe" (1.0/0.0 when the server gives no probabilities)
    # Qwen3Guard's third level: not explicitly harmful, risky depending on context (`unsafe` is False then);
    # the community's `controversial` setting decides what happens (core/alignment/policy.py).
    controversial: bool = False


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

    async def classify(
        self, *, user: str, agent: str | None = None, categories: Collection[str] | None = None
    ) -> GuardVerdict:
        """Judge `user` (the input stage) or, with `agent`, the answer `agent` to `user` (the output stage).
        `categories`: the policy codes the asking community acts on (None: the judge's default list); a
        judge whose prompt lists categories (Llama Guard) lists only these, one that does not ignores them."""
        variant = self.prompt_variant(categories)
        key = _cache_key(user, agent, variant)
        hit = self._cache.get(key)
        now = time.monotonic()
        if hit is not None and hit[0] > now:
            self._cache.move_to_end(key)
            return hit[1]
        try:
            async with asyncio.timeout(self.layer.timeout_s), self._gate:
                verdict = await self._judge(user=user, agent=agent, variant=variant)
        except TimeoutError:
            raise GuardError(f"no verdict within {self.layer.timeout_s:g} s") from None
        if self.layer.cache_ttl_s > 0:
            self._cache[key] = (now + self.layer.cache_ttl_s, verdict)
            if len(self._cache) > _CACHE_ENTRIES:
                self._cache.popitem(last=False)
        return verdict

    def prompt_variant(self, categories: Collection[str] | None) -> tuple[str, ...]:
        """What of `categories` this judge puts in its prompt (part of the cache key): nothing by default."""
        return ()

    async def _judge(self, *, user: str, agent: str | None, variant: tuple[str, ...]) -> GuardVerdict:
        raise NotImplementedError


def _cache_key(user: str, agent: str | None, variant: tuple[str, ...] = ()) -> str:
    # The stage is part of the key: a request's verdict is never taken for an answer's; so is whatever
    # else changes the prompt (the categories a Llama Guard prompt lists).
    stage = "input\x00" if agent is None else f"output\x00{len(user)}\x00{agent}\x00"
    listed = ",".join(variant)
    return hashlib.sha256(f"{listed}\x00{stage}{user}".encode("utf-8", "replace")).hexdigest()


# ------------------------------------------------------------------------------------------ Llama Guard 3


def build_prompt(*, user: str, agent: str | None, categories: Mapping[str, str]) -> str:
    """Llama Guard 3's prompt, as its published chat template (Llama-Guard-3-1B tokenizer_config.json) renders
    it for one user message, or a user message and the answer to it; tests/unit/test_guard_prompts.py
    renders that template with jinja2 and compares. The template's `<|begin_of_text|>` is left out: TGI
    adds the BOS token itself when it tokenizes `inputs`. The template trims each message and ends right
    after the assistant header (the 1B's template, unlike the 8B's, with no blank line after it)."""
    role = "Agent" if agent is not None else "User"
    cats = "".join(f"{code}: {name}\n" for code, name in categories.items())
    conversation = f"User: {user.strip()}\n\n"
    if agent is not None:
        conversation += f"Agent: {agent.strip()}\n\n"
    return (
        "<|start_header_id|>user<|end_header_id|>\n\n"
        f"Task: Check if there is unsafe content in '{role}' messages in conversations according our safety "
        "policy with the below categories.\n\n"
        f"<BEGIN UNSAFE CONTENT CATEGORIES>\n{cats}<END UNSAFE CONTENT CATEGORIES>\n\n"
        f"<BEGIN CONVERSATION>\n\n{conversation}<END CONVERSATION>\n\n"
        f"Provide your safety assessment for ONLY THE LAST {role} message in the above conversation:\n"
        " - First line must read 'safe' or 'unsafe'.\n"
        " - If unsafe, a second line must include a comma-separated list of violated categories. "
        "<|eot_id|><|start_header_id|>assistant<|end_header_id|>"
    )


_CODE = re.compile(r"S(?:[1-9]|1[0-4])")


def parse_answer(
    generated: str, first_top_tokens: TopTokens | None = None, *, allowed: Collection[str] | None = None
) -> GuardVerdict:
    """Llama Guard's answer, strictly: `safe`, or `unsafe` and one line of comma-separated codes (from
    `allowed`, the codes the prompt listed, when given). The model starts its answer on a new line after
    the assistant header, so whitespace around the lines is ignored; anything else is a `GuardAnswerError`
    (no verdict: the layer's failure mode decides)."""
    lines = [line.strip() for line in generated.strip().split("\n")]
    head = lines[0]
    codes: tuple[str, ...] = ()
    if head == "safe" and len(lines) == 1:
        unsafe = False
    elif head == "unsafe" and len(lines) == 2:
        codes = tuple(c.strip() for c in lines[1].split(","))
        if not all(_CODE.fullmatch(c) and (allowed is None or c in allowed) for c in codes):
            raise GuardAnswerError(f"guard named codes outside the list: {lines[1][:40]!r}")
        unsafe = True
    else:
        raise GuardAnswerError(f"unexpected guard answer {generated[:40]!r}")
    score = unsafe_probability(first_top_tokens) if first_top_tokens else None
    return GuardVerdict(unsafe, codes, (1.0 if unsafe else 0.0) if score is None else score)


def llama_guard_categories(model_id: str | None) -> dict[str, str]:
    """The categories a Llama Guard 3 model was trained on: S1-S14 for the 8B, S1-S13 for the 1B (and when
    the model is not known: the 1B is the one the deployment runs)."""
    if model_id is not None and "-8b" in model_id.lower():
        return dict(GUARD_CATEGORIES)
    return {code: GUARD_CATEGORIES[code] for code in LLAMA_GUARD_3_1B_CODES}


class LlamaGuardClient(GuardModel):
    """Llama Guard 3 on its own TGI (`--profile llama-guard`): `/generate`, greedy, a few tokens, top tokens.

    `categories`: the list a request gets when the caller names none. A caller that names the codes its
    community acts on gets those of them the model knows (never JB or JM; S14 only for the 8B)."""

    def __init__(
        self,
        *,
        http: httpx.AsyncClient,
        url: str,
        layer: GuardLayer,
        categories: Mapping[str, str],
        model_id: str | None = None,
    ) -> None:
        super().__init__(layer=layer)
        self._http = http
        self._url = url.rstrip("/")
        self._categories = dict(categories)
        self._known = llama_guard_categories(model_id)

    def prompt_variant(self, categories: Collection[str] | None) -> tuple[str, ...]:
        wanted = self._categories if categories is None else categories
        return tuple(code for code in self._known if code in wanted)

    async def _judge(self, *, user: str, agent: str | None, variant: tuple[str, ...]) -> GuardVerdict:
        listed = {code: self._categories.get(code) or self._known[code] for code in variant}
        # a control token typed into the judged text (`<|eot_id|>`, `<|start_header_id|>`) would be tokenized
        # as the real thing and could end the user turn and write the verdict: it becomes look-alike text
        user, agent = chatml.neutralize(user), None if agent is None else chatml.neutralize(agent)
        prompt = build_prompt(user=user, agent=agent, categories=listed)
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
            raise GuardError(f"unreadable answer: {exc}", reason="unreadable answer") from None
        return parse_answer(generated, top, allowed=listed)


def _first_top_tokens(details: object) -> list[tuple[str, float]] | None:
    if not isinstance(details, dict):
        return None
    top = details.get("top_tokens")
    if not isinstance(top, list) or not top or not isinstance(top[0], list):
        return None
    return [(str(t.get("text", "")), float(t.get("logprob", -100.0))) for t in top[0] if isinstance(t, dict)]
