"""Model-server dialects: one per API, as pure functions (no I/O) from parameters to a request body and
from a server's answer (limits, token counts, stream events, error bodies) to values and the error tree.

    TGIDialect      Hugging Face TGI: `/generate_stream`, `/info`, `/tokenize`, `/health`; errors as
                    `{"error", "error_type"}` (in the stream with HTTP 200, or with a real status).
    OpenAIDialect   OpenAI-compatible completions (`/v1/completions`, the raw ChatML prompt, `stream: true`,
                    `stream_options.include_usage`), limits from `/v1/models` (`max_model_len`):
                    `vllm`   — `/tokenize`, `/health`; errors `{"error": {"message", "type", "param",
                               "code"}}` (vLLM ≥ 0.10; earlier releases sent the flat form below);
                    `sglang` — `/v1/tokenize`, `/health`; errors `{"object": "error", "message", "type",
                               "param", "code"}` (in the stream: `{"error": {…}}`);
                    `openai` — any other server (llama.cpp, Ollama): no tokenize route, health from
                               `/v1/models`; upgraded to `vllm` or `sglang` when `/v1/models` says
                               `owned_by` one of them.

Adding an engine means adding a dialect here (and its name to TGI_BACKEND); the streaming client
(core/llm.py) and the endpoint pool (core/endpoints.py) stay as they are. tests/unit/test_dialects.py checks
each dialect against payloads recorded in the shapes of the engines' own server code (tests/data/dialects/).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, NamedTuple

from core.errors import GenerationFailed, ModelUnavailable, UpstreamError

IM_END = "<|im_end|>"


@dataclass(frozen=True, slots=True)
class ModelInfo:
    model_id: str
    max_input_tokens: int
    max_total_tokens: int
    max_concurrent_requests: int = 128
    max_stop_sequences: int = 4
    version: str | None = None
    engine: str = "TGI"  # who said so: "TGI", "vLLM", "SGLang" or "OpenAI-compatible"
    limits_from: str = "server"  # "server" (reported), "settings" (TGI_MAX_*_TOKENS) or "default"


@dataclass(frozen=True, slots=True)
class GenerationParams:
    max_new_tokens: int
    temperature: float = 0.7
    top_p: float = 0.95
    repetition_penalty: float | None = 1.1
    stop: tuple[str, ...] = (IM_END,)
    # Greedy decoding (a classification, e.g. the guard's self-check): temperature, top_p and the
    # repetition penalty are not sent (TGI samples as soon as one is set); OpenAI servers get temperature 0.
    greedy: bool = False
    top_n_tokens: int = 0  # > 0: each event carries the most likely tokens (TGI allows at most 5)


class StreamEvent(NamedTuple):
    """One step of a stream: visible text (never special tokens); the last event has `finish_reason`.
    (A named tuple: one is made per token, and it is built in C, unlike a frozen dataclass.)"""

    text: str
    finish_reason: str | None = None  # "length" | "eos_token" | "stop_sequence" on the last event
    generated_tokens: int | None = None  # on the last event, when the server says
    # With `top_n_tokens`: the most likely tokens at this position, (text, logprob), when the server says.
    top_tokens: tuple[tuple[str, float], ...] | None = None


def _token(text: str, top_tokens: tuple[tuple[str, float], ...] | None) -> StreamEvent:
    """A token's event, `StreamEvent(text, top_tokens=top_tokens)` built by `tuple.__new__` in C (a named
    tuple's own `__new__` is a Python function): one is made per token."""
    return tuple.__new__(StreamEvent, (text, None, None, top_tokens))


@dataclass(frozen=True, slots=True)
class Limits:
    """Token limits the operator set (TGI_MAX_INPUT_TOKENS / TGI_MAX_TOTAL_TOKENS), None where unset."""

    max_input_tokens: int | None = None
    max_total_tokens: int | None = None
    max_concurrent_requests: int | None = None
    model: str | None = None


# Used only when neither the server nor the operator gives a limit (a server that reports none).
DEFAULT_MAX_TOTAL_TOKENS = 8192
DEFAULT_MAX_INPUT_TOKENS = 7168


class Overloaded(UpstreamError):
    """The server's concurrency gate is full (TGI's in-stream `overloaded`, or HTTP 429). Retried; then Busy."""

    retryable = True


def map_tgi_error(error_type: str | None, message: str, *, status: int | None = None) -> UpstreamError:
    """The one place where TGI errors (in-stream events and HTTP statuses) become the error tree."""
    if error_type == "overloaded" or status == 429:
        return Overloaded(message)
    if status == 503:
        return ModelUnavailable(message)
    if error_type == "validation" or status == 422:
        return GenerationFailed(message, error_type="validation")
    if error_type in ("generation", "incomplete_generation"):
        return GenerationFailed(message, error_type=error_type)
    if status is not None and status >= 500:
        return GenerationFailed(message, error_type=f"http_{status}", retryable=True)
    return GenerationFailed(message, error_type=error_type or f"http_{status}")


def map_openai_error(status: int | None, message: str, error_type: str | None = None) -> UpstreamError:
    """OpenAI-compatible errors (vLLM, SGLang) by HTTP status, or by the `code` of an in-stream error:
    the same classes, hence the same notices, as TGI's."""
    if status == 429:
        return Overloaded(message)
    if status == 503:
        return ModelUnavailable(message)
    if status in (400, 422):  # vLLM's and SGLang's request validation, e.g. the context length
        return GenerationFailed(message, error_type="validation")
    if status == 404:  # "The model `…` does not exist": TGI_MODEL names no served model
        return GenerationFailed(message, error_type="model_not_found")
    if status in (401, 403):
        return GenerationFailed(message, error_type="unauthorized")
    if status is not None and status >= 500:
        return GenerationFailed(message, error_type=f"http_{status}", retryable=True)
    return GenerationFailed(message, error_type=error_type or f"http_{status}")


def error_fields(text: str, status: int) -> tuple[str | None, str, int | None]:
    """An error body of any of the dialects → (type, message, code). Shapes: TGI `{"error": str,
    "error_type"}`; vLLM `{"error": {"message", "type", "param", "code"}}`; SGLang and vLLM before 0.10
    `{"object": "error", "message", "type", "param", "code"}`; anything else: its first 200 characters."""
    try:
        data = json.loads(text)
    except ValueError:
        return None, text[:200] or f"HTTP {status}", None
    if not isinstance(data, dict):
        return None, str(data)[:200], None
    error: Any = data.get("error", data)
    if isinstance(error, dict):
        code = error.get("code")
        return (
            _str_or_none(error.get("type")),
            str(error.get("message", error))[:500],
            code if isinstance(code, int) else None,
        )
    return _str_or_none(data.get("error_type")), str(error)[:500], None


def _str_or_none(value: object) -> str | None:
    return None if value is None else str(value)


# --------------------------------------------------------------------------------------------- TGI


@dataclass(frozen=True, slots=True)
class TGIDialect:
    name: str = "tgi"
    engine: str = "TGI"
    stream_path: str = "/generate_stream"
    info_path: str = "/info"
    health_path: str = "/health"
    tokenize_path: str | None = "/tokenize"
    ended_early: str = "the stream ended without a final event"

    def request_body(
        self, prompt: str, params: GenerationParams, *, model: str | None = None
    ) -> dict[str, Any]:
        parameters: dict[str, Any] = {"max_new_tokens": params.max_new_tokens}
        if params.greedy:
            parameters["do_sample"] = False
        else:
            parameters["temperature"] = params.temperature
            parameters["top_p"] = min(max(params.top_p, 1e-3), 0.999)  # TGI rejects top_p >= 1
        parameters["stop"] = list(params.stop)
        parameters["details"] = True
        if params.repetition_penalty is not None and not params.greedy:
            parameters["repetition_penalty"] = params.repetition_penalty
        if params.top_n_tokens:
            parameters["top_n_tokens"] = params.top_n_tokens
        return {"inputs": prompt, "parameters": parameters}

    def refine(self, data: dict[str, Any]) -> TGIDialect:
        return self

    def parse_info(self, data: dict[str, Any], limits: Limits) -> ModelInfo:
        """`GET /info`. TGI always reports its limits (`max_input_length` before 2.1)."""
        max_input = data.get("max_input_tokens", data.get("max_input_length"))
        if max_input is None or "max_total_tokens" not in data:
            raise GenerationFailed("GET /info lacks the token limits", error_type="info")
        return ModelInfo(
            model_id=str(data.get("model_id", "unknown")),
            max_input_tokens=int(max_input),
            max_total_tokens=int(data["max_total_tokens"]),
            max_concurrent_requests=int(data.get("max_concurrent_requests", 128)),
            max_stop_sequences=int(data.get("max_stop_sequences", 4)),
            version=data.get("version"),
            engine=self.engine,
        )

    def tokenize_body(self, text: str, *, model: str | None = None) -> dict[str, Any]:
        return {"inputs": text}

    def parse_token_count(self, data: object) -> int:
        """`POST /tokenize` → a list of tokens, BOS included."""
        if not isinstance(data, list):
            raise ValueError("/tokenize did not answer a list of tokens")
        return len(data)

    def error(self, status: int | None, text: str) -> UpstreamError:
        error_type, message, _code = error_fields(text, status or 0)
        return map_tgi_error(error_type, message, status=status)

    def parse_event(self, data: str) -> tuple[StreamEvent | None, bool]:
        """One SSE event's data → (what to yield, whether the stream is complete)."""
        if not data:
            return None, False
        event = json.loads(data)
        if not isinstance(event, dict):
            raise ValueError("an event that is not a JSON object")
        if "error" in event:
            raise map_tgi_error(event.get("error_type"), str(event["error"]))
        token = event.get("token") or {}
        text = "" if token.get("special") else str(token.get("text", ""))
        top = event.get("top_tokens")  # only with top_n_tokens: a list of tokens for this position
        top_tokens = _tgi_top_tokens(top) if top else None
        if event.get("generated_text") is not None:
            details = event.get("details") or {}
            if text.endswith(IM_END):
                text = text[: -len(IM_END)]
            final = StreamEvent(
                text,
                finish_reason=details.get("finish_reason", "eos_token"),
                generated_tokens=details.get("generated_tokens"),
                top_tokens=top_tokens,
            )
            return final, True
        if text and text != IM_END:
            return _token(text, top_tokens), False
        return None, False


# --------------------------------------------------------------------------------------------- OpenAI


@dataclass(frozen=True, slots=True)
class OpenAIDialect:
    name: str = "openai"
    engine: str = "OpenAI-compatible"
    stream_path: str = "/v1/completions"
    info_path: str = "/v1/models"
    health_path: str = "/v1/models"
    tokenize_path: str | None = None
    ended_early: str = "the stream ended without [DONE]"

    def request_body(
        self, prompt: str, params: GenerationParams, *, model: str | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": model or "default",
            "prompt": prompt,
            "max_tokens": params.max_new_tokens,
            # temperature 0 is greedy decoding on vLLM, SGLang, llama.cpp and Ollama
            "temperature": 0 if params.greedy else params.temperature,
            "stop": list(params.stop),
            "stream": True,
            # a last chunk with `usage` (prompt and completion tokens) before [DONE]
            "stream_options": {"include_usage": True},
        }
        if not params.greedy:
            body["top_p"] = min(max(params.top_p, 1e-3), 1.0)
            if params.repetition_penalty is not None and self.name in ("vllm", "sglang"):
                body["repetition_penalty"] = params.repetition_penalty  # an extra parameter of both
        if params.top_n_tokens:
            body["logprobs"] = params.top_n_tokens  # choices[0].logprobs.top_logprobs, where supported
        return body

    def refine(self, data: dict[str, Any]) -> OpenAIDialect:
        """A generic OpenAI dialect becomes vLLM's or SGLang's when `/v1/models` says whose it is."""
        if self.name != "openai":
            return self
        owner = next((m.get("owned_by") for m in _models(data)), None)
        return DIALECTS.get(str(owner), self) if owner in ("vllm", "sglang") else self  # type: ignore[return-value]

    def parse_info(self, data: dict[str, Any], limits: Limits) -> ModelInfo:
        """`GET /v1/models` (vLLM and SGLang report `max_model_len`, the prompt + answer limit). The
        operator's TGI_MAX_*_TOKENS win; without either, the defaults of docs/configuration.md."""
        models = _models(data)
        if not models:
            raise GenerationFailed("GET /v1/models lists no model", error_type="info")
        card = next((m for m in models if limits.model and m.get("id") == limits.model), models[0])
        reported = card.get("max_model_len")
        reported = reported if isinstance(reported, int) and reported > 0 else None
        if limits.max_total_tokens is not None or limits.max_input_tokens is not None:
            total = limits.max_total_tokens or reported or DEFAULT_MAX_TOTAL_TOKENS
            source = "settings"
        elif reported is not None:
            total, source = reported, "server"
        else:
            total, source = DEFAULT_MAX_TOTAL_TOKENS, "default"
        max_input = limits.max_input_tokens or (
            DEFAULT_MAX_INPUT_TOKENS if source == "default" else total - 1
        )
        return ModelInfo(
            model_id=limits.model or str(card.get("id", "unknown")),
            max_input_tokens=min(max_input, total - 1),
            max_total_tokens=total,
            max_concurrent_requests=limits.max_concurrent_requests or 128,
            engine=self.engine,
            limits_from=source,
        )

    def tokenize_body(self, text: str, *, model: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"prompt": text, "add_special_tokens": True}  # BOS counted, as TGI does
        if model:
            body["model"] = model
        return body

    def parse_token_count(self, data: object) -> int:
        """vLLM `/tokenize` and SGLang `/v1/tokenize`: `{"count", "max_model_len", "tokens"}`."""
        if isinstance(data, dict):
            count = data.get("count")
            if isinstance(count, int):
                return count
            tokens = data.get("tokens")
            if isinstance(tokens, list):
                return len(tokens)
        raise ValueError("the tokenize route answered no count")

    def error(self, status: int | None, text: str) -> UpstreamError:
        error_type, message, _code = error_fields(text, status or 0)
        return map_openai_error(status, message, error_type)

    def parse_event(self, data: str) -> tuple[StreamEvent | None, bool]:
        """A completions chunk → (what to yield, whether the stream is complete). The chunk with
        `finish_reason` comes before the usage chunk (`choices: []`), which carries `completion_tokens`;
        [DONE] ends the stream. vLLM and SGLang report errors in the stream as `{"error": {…}}`."""
        if data == "[DONE]" or data.strip() == "[DONE]":
            return None, True
        event = json.loads(data)
        if not isinstance(event, dict):
            raise ValueError("an event that is not a JSON object")
        if "error" in event or event.get("object") == "error":
            error_type, message, code = error_fields(data, 0)
            raise map_openai_error(code, message, error_type)
        choices = event.get("choices")
        if not choices:
            usage = event.get("usage")
            if isinstance(usage, dict) and isinstance(usage.get("completion_tokens"), int):
                return StreamEvent("", generated_tokens=usage["completion_tokens"]), False
            return None, False
        choice = choices[0]
        text = choice.get("text") or ""
        reason = choice.get("finish_reason")
        logprobs = choice.get("logprobs")
        top_tokens = _openai_top_tokens(logprobs) if logprobs else None
        if reason is None:
            return (_token(text, top_tokens) if text else None), False
        if reason in ("abort", "error"):  # vLLM: the engine dropped or failed the request
            raise GenerationFailed(f"the server ended the generation ({reason})", error_type="generation")
        if reason == "length":
            finish = "length"
        elif isinstance(choice.get("stop_reason", choice.get("matched_stop")), str):
            finish = (
                "stop_sequence"  # the stop string that matched (vLLM `stop_reason`, SGLang `matched_stop`)
            )
        else:
            finish = "eos_token"
        usage = event.get("usage")
        tokens = usage.get("completion_tokens") if isinstance(usage, dict) else None
        return StreamEvent(text, finish_reason=finish, generated_tokens=tokens, top_tokens=top_tokens), False


VLLM = OpenAIDialect(name="vllm", engine="vLLM", health_path="/health", tokenize_path="/tokenize")
SGLANG = OpenAIDialect(name="sglang", engine="SGLang", health_path="/health", tokenize_path="/v1/tokenize")
DIALECTS: dict[str, TGIDialect | OpenAIDialect] = {
    "tgi": TGIDialect(),
    "openai": OpenAIDialect(),
    "vllm": VLLM,
    "sglang": SGLANG,
}

Dialect = TGIDialect | OpenAIDialect


def dialect_for(backend: str) -> Dialect:
    """The dialect of TGI_BACKEND (`tgi`, `vllm`, `sglang`, or `openai` for any other such server)."""
    return DIALECTS[backend]


def _models(data: dict[str, Any]) -> list[dict[str, Any]]:
    models = data.get("data")
    if not isinstance(models, list):
        return []
    return [m for m in models if isinstance(m, dict)]


def _tgi_top_tokens(top: object) -> tuple[tuple[str, float], ...] | None:
    """TGI's `top_tokens` of one stream event: `[{"id", "text", "logprob", "special"}, …]`."""
    if not isinstance(top, list):
        return None
    return tuple(
        (str(t.get("text", "")), float(t.get("logprob", -100.0))) for t in top if isinstance(t, dict)
    )


def _openai_top_tokens(logprobs: object) -> tuple[tuple[str, float], ...] | None:
    """The first position of a completions chunk's `logprobs.top_logprobs`: `[{token: logprob}, …]`."""
    if not isinstance(logprobs, dict):
        return None
    top = logprobs.get("top_logprobs")
    if not isinstance(top, list) or not top or not isinstance(top[0], dict):
        return None
    return tuple((str(k), float(v)) for k, v in top[0].items() if isinstance(v, int | float))
