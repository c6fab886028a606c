"""Which guard a server serves (ALIGNMENT_GUARD_MODE=auto with ALIGNMENT_GUARD_URL): ask it, once.

`detect_guard` reads the served model id from `GET /v1/models` (vLLM, SGLang and TGI 3 answer it) and, when a
server has no such route, from TGI's `GET /info`: a Qwen3Guard model is judged with `Qwen3GuardClient`, a
Llama Guard model with `LlamaGuardClient`; any other model is a configuration error that names the settings.
`AutoGuard` asks at its first verdict, not at start-up: the bots start before the guard server is up (compose
starts it after Dolphin), and until it answers, the layer's failure mode decides. ALIGNMENT_GUARD_MODEL (or
an explicit ALIGNMENT_GUARD_MODE) skips the question (core/alignment/moderator.py `resolve_guard`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Literal

import httpx

from core.alignment.guard import GuardError, GuardModel, GuardVerdict, LlamaGuardClient
from core.alignment.policy import GuardLayer
from core.alignment.qwen3guard import Qwen3GuardClient

ServedGuard = Literal["qwen3guard", "llama-guard"]


class UnknownGuardModel(GuardError):
    """The server answers, but serves neither Qwen3Guard nor Llama Guard."""


def mode_for_model(model_id: str) -> ServedGuard | None:
    """The judge a model id calls for: `qwen3guard` for Qwen3Guard-Gen, `llama-guard` for Llama Guard."""
    name = model_id.lower().replace("_", "-")
    if "qwen3guard-gen" in name or "qwen3-guard-gen" in name:
        return "qwen3guard"
    if "llama-guard" in name or "llamaguard" in name:
        return "llama-guard"
    return None


@dataclass(frozen=True, slots=True)
class DetectedGuard:
    mode: ServedGuard
    model_id: str


async def detect_guard(http: httpx.AsyncClient, url: str) -> DetectedGuard:
    """Ask the server at `url` what it serves. Raises `GuardError` when it does not answer, and
    `UnknownGuardModel` when it serves another model."""
    base = url.rstrip("/")
    model_id: str | None = None
    try:
        resp = await http.get(f"{base}/v1/models")
        if resp.status_code == 200:
            model_id = str(resp.json()["data"][0]["id"])
        elif resp.status_code in (404, 405):  # a TGI older than the OpenAI routes
            info = await http.get(f"{base}/info")
            info.raise_for_status()
            model_id = str(info.json()["model_id"])
        else:
            raise GuardError(f"GET /v1/models: HTTP {resp.status_code}")
    except httpx.HTTPError as exc:
        raise GuardError(f"{type(exc).__name__}: {exc}") from None
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise GuardError(f"cannot read the served model: {type(exc).__name__}") from None
    mode = mode_for_model(model_id)
    if mode is None:
        raise UnknownGuardModel(
            f"the guard server serves {model_id}, neither Qwen3Guard nor Llama Guard: point "
            "ALIGNMENT_GUARD_URL at one, or set ALIGNMENT_GUARD_MODE"
        )
    return DetectedGuard(mode, model_id)


class AutoGuard(GuardModel):
    """Asks the server what it serves at the first verdict (and again after a failed question), then
    delegates every verdict, its cache and its concurrency limit to the judge for that model."""

    def __init__(
        self,
        *,
        http: httpx.AsyncClient,
        url: str,
        layer: GuardLayer,
        llama_guard_categories: Mapping[str, str],
    ) -> None:
        super().__init__(layer=layer)
        self._http = http
        self._url = url
        self._llama_guard_categories = dict(llama_guard_categories)
        self._judge_for: GuardModel | None = None
        self._lock = asyncio.Lock()
        self.detected: DetectedGuard | None = None

    async def classify(
        self, *, user: str, agent: str | None = None, categories: Collection[str] | None = None
    ) -> GuardVerdict:
        judge = self._judge_for or await self._detect()
        return await judge.classify(user=user, agent=agent, categories=categories)

    async def _detect(self) -> GuardModel:
        try:
            async with asyncio.timeout(self.layer.timeout_s), self._lock:
                if self._judge_for is None:
                    self.detected = await detect_guard(self._http, self._url)
                    self._judge_for = self._build(self.detected)
                return self._judge_for
        except TimeoutError:
            raise GuardError(f"no answer from the guard server within {self.layer.timeout_s:g} s") from None

    def _build(self, detected: DetectedGuard) -> GuardModel:
        if detected.mode == "qwen3guard":
            return Qwen3GuardClient(http=self._http, url=self._url, layer=self.layer, model=detected.model_id)
        return LlamaGuardClient(
            http=self._http,
            url=self._url,
            layer=self.layer,
            categories=self._llama_guard_categories,
            model_id=detected.model_id,
        )
