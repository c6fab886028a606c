"""The guard-model layer: Llama Guard 3 served by TGI, in Llama Guard's own prompt format.

The category list is part of the prompt, so the policy decides which categories are sent (those not set to
`allow`). The verdict is read from the generated text (`safe`, or `unsafe` and a line of codes) and, when
the server returns top tokens, from the probability of the first token `unsafe` against a threshold.
Bounded concurrency, a timeout, and a short cache keyed by the text's hash.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass

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


class GuardError(Exception):
    """The guard model could not give a verdict (timeout, HTTP error, unreadable answer)."""


@dataclass(frozen=True, slots=True)
class GuardVerdict:
    unsafe: bool
    categories: tuple[str, ...]
    score: float  # probability of "unsafe" (1.0/0.0 when the server gives no probabilities)


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


def parse_answer(generated: str, first_token_logprobs: Mapping[str, float] | None = None) -> GuardVerdict:
    lines = [line.strip() for line in generated.strip().splitlines() if line.strip()]
    if not lines or lines[0].lower() not in ("safe", "unsafe"):
        raise GuardError(f"unexpected guard answer {generated[:40]!r}")
    unsafe = lines[0].lower() == "unsafe"
    codes = (
        tuple(c.strip().upper() for c in lines[1].split(",") if c.strip())
        if unsafe and len(lines) > 1
        else ()
    )
    score = 1.0 if unsafe else 0.0
    if first_token_logprobs:
        p_unsafe = sum(
            math.exp(lp) for tok, lp in first_token_logprobs.items() if tok.strip().lower() == "unsafe"
        )
        p_safe = sum(
            math.exp(lp) for tok, lp in first_token_logprobs.items() if tok.strip().lower() == "safe"
        )
        if p_unsafe + p_safe > 0:
            score = p_unsafe / (p_unsafe + p_safe)
    return GuardVerdict(unsafe, codes, score)


class LlamaGuardClient:
    def __init__(
        self, *, http: httpx.AsyncClient, url: str, layer: GuardLayer, categories: Mapping[str, str]
    ) -> None:
        self._http = http
        self._url = url.rstrip("/")
        self.layer = layer
        self._categories = dict(categories)
        self._gate = asyncio.Semaphore(layer.max_concurrency)
        self._cache: OrderedDict[str, tuple[float, GuardVerdict]] = OrderedDict()

    async def classify(self, *, user: str, agent: str | None = None) -> GuardVerdict:
        key = hashlib.sha256(f"{user}\x00{agent}".encode("utf-8", "replace")).hexdigest()
        hit = self._cache.get(key)
        now = time.monotonic()
        if hit is not None and hit[0] > now:
            return hit[1]
        prompt = build_prompt(user=user, agent=agent, categories=self._categories)
        body = {
            "inputs": prompt,
            "parameters": {"max_new_tokens": 10, "do_sample": False, "details": True, "top_n_tokens": 5},
        }
        try:
            async with asyncio.timeout(self.layer.timeout_s), self._gate:
                resp = await self._http.post(f"{self._url}/generate", json=body)
        except TimeoutError:
            raise GuardError(f"no verdict within {self.layer.timeout_s:g} s") from None
        except httpx.HTTPError as exc:
            raise GuardError(f"{type(exc).__name__}: {exc}") from None
        if resp.status_code != 200:
            raise GuardError(f"HTTP {resp.status_code}")
        try:
            data = resp.json()
            generated = str(data["generated_text"])
            logprobs = _first_top_tokens(data.get("details"))
        except (ValueError, KeyError, TypeError) as exc:
            raise GuardError(f"unreadable answer: {exc}") from None
        verdict = parse_answer(generated, logprobs)
        if self.layer.cache_ttl_s > 0:
            self._cache[key] = (now + self.layer.cache_ttl_s, verdict)
            if len(self._cache) > 4096:
                self._cache.popitem(last=False)
        return verdict


def _first_top_tokens(details: object) -> dict[str, float] | None:
    if not isinstance(details, dict):
        return None
    top = details.get("top_tokens")
    if not isinstance(top, list) or not top or not isinstance(top[0], list):
        return None
    return {str(t.get("text", "")): float(t.get("logprob", -100.0)) for t in top[0] if isinstance(t, dict)}
