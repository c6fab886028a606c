"""Each dialect against payloads in the shapes the engines' own server code sends (tests/data/dialects/):
the request body for given parameters, the limits, token counts, stream events and errors it reads, and
the notice each error reaches the user with."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.dialects import (
    DIALECTS,
    SGLANG,
    VLLM,
    GenerationParams,
    Limits,
    OpenAIDialect,
    Overloaded,
    StreamEvent,
    TGIDialect,
)
from core.errors import Busy, GenerationFailed, ModelUnavailable, UpstreamError
from core.sse import SSEDecoder

DATA = Path(__file__).resolve().parents[1] / "data" / "dialects"
PROMPT = "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
MODEL = "cognitivecomputations/dolphin-2.1-mistral-7b"


def load(name: str) -> object:
    return json.loads((DATA / name).read_text())


def events(name: str) -> list[str]:
    return [e.data for e in SSEDecoder().feed((DATA / name).read_bytes())]


def parse_all(dialect: TGIDialect | OpenAIDialect, name: str) -> list[tuple[StreamEvent | None, bool]]:
    return [dialect.parse_event(data) for data in events(name)]


@pytest.mark.parametrize("name", ["tgi", "vllm", "sglang", "openai"])
def test_request_body_for_each_dialect(name: str) -> None:
    params = GenerationParams(max_new_tokens=256)
    assert DIALECTS[name].request_body(PROMPT, params, model=MODEL) == load(f"{name}_request.json")


def test_greedy_and_top_tokens_requests() -> None:
    params = GenerationParams(max_new_tokens=8, greedy=True, top_n_tokens=5)
    tgi = DIALECTS["tgi"].request_body(PROMPT, params)["parameters"]
    assert tgi["do_sample"] is False and tgi["top_n_tokens"] == 5 and "temperature" not in tgi
    body = VLLM.request_body(PROMPT, params, model=MODEL)
    assert body["temperature"] == 0 and body["logprobs"] == 5
    assert "top_p" not in body and "repetition_penalty" not in body


def test_tgi_limits_stream_and_errors() -> None:
    info = TGIDialect().parse_info(load("tgi_info.json"), Limits())  # type: ignore[arg-type]
    assert (info.max_input_tokens, info.max_total_tokens, info.engine) == (7168, 8192, "TGI")
    parsed = parse_all(TGIDialect(), "tgi_stream.sse")
    assert [e.text for e, _ in parsed if e] == ["Hello", "!", ""]
    last, complete = parsed[-1]
    assert complete and last is not None and last.finish_reason == "eos_token" and last.generated_tokens == 3
    with pytest.raises(Overloaded):
        parse_all(TGIDialect(), "tgi_stream_overloaded.sse")
    error = TGIDialect().error(422, (DATA / "tgi_error_422.json").read_text())
    assert isinstance(error, GenerationFailed) and error.error_type == "validation"


@pytest.mark.parametrize(
    ("dialect", "models", "total"), [(VLLM, "vllm_models.json", 4096), (SGLANG, "sglang_models.json", 8192)]
)
def test_limits_come_from_max_model_len_unless_the_operator_set_them(
    dialect: OpenAIDialect, models: str, total: int
) -> None:
    data = load(models)
    info = dialect.parse_info(data, Limits())  # type: ignore[arg-type]
    assert info.model_id == MODEL and info.max_total_tokens == total and info.max_input_tokens == total - 1
    assert info.limits_from == "server" and info.engine == dialect.engine
    mine = dialect.parse_info(data, Limits(max_total_tokens=2048, max_input_tokens=1500))  # type: ignore[arg-type]
    assert (mine.max_input_tokens, mine.max_total_tokens, mine.limits_from) == (1500, 2048, "settings")


def test_a_server_that_reports_no_limit_gets_the_documented_defaults() -> None:
    info = OpenAIDialect().parse_info(
        {"object": "list", "data": [{"id": "llama", "object": "model"}]}, Limits()
    )
    assert (info.max_input_tokens, info.max_total_tokens, info.limits_from) == (7168, 8192, "default")


def test_generic_openai_dialect_recognises_vllm_and_sglang() -> None:
    generic = OpenAIDialect()
    assert generic.refine(load("vllm_models.json")) is VLLM  # type: ignore[arg-type]
    assert generic.refine(load("sglang_models.json")) is SGLANG  # type: ignore[arg-type]
    assert generic.refine({"data": [{"id": "x", "owned_by": "llamacpp"}]}) is generic
    assert VLLM.health_path == SGLANG.health_path == "/health" and generic.health_path == "/v1/models"
    assert (VLLM.tokenize_path, SGLANG.tokenize_path, generic.tokenize_path) == (
        "/tokenize",
        "/v1/tokenize",
        None,
    )


def test_token_counts() -> None:
    assert VLLM.parse_token_count(load("vllm_tokenize.json")) == 6
    assert SGLANG.parse_token_count(load("sglang_tokenize.json")) == 6
    assert VLLM.tokenize_body("hi", model=MODEL) == {
        "prompt": "hi",
        "add_special_tokens": True,
        "model": MODEL,
    }
    with pytest.raises(ValueError):
        VLLM.parse_token_count({"detail": "Not Found"})


def test_vllm_stream_finish_then_usage_then_done() -> None:
    parsed = parse_all(VLLM, "vllm_stream.sse")
    texts = [(e.text, e.finish_reason, e.generated_tokens) if e else None for e, _ in parsed]
    assert texts == [("Hello", None, None), ("!", None, None), ("", "eos_token", None), ("", None, 3), None]
    assert [complete for _, complete in parsed] == [False, False, False, False, True]
    stop = parse_all(VLLM, "vllm_stream_stop.sse")
    assert stop[1][0] is not None and stop[1][0].finish_reason == "stop_sequence"


def test_sglang_stream_matched_stop_token_is_the_end_of_sequence() -> None:
    parsed = parse_all(SGLANG, "sglang_stream.sse")
    assert parsed[1][0] == StreamEvent("!", finish_reason="eos_token")
    assert parsed[2][0] is not None and parsed[2][0].generated_tokens == 3 and parsed[3][1]


@pytest.mark.parametrize(
    ("dialect", "stream", "error_class"),
    [(VLLM, "vllm_stream_error.sse", GenerationFailed), (SGLANG, "sglang_stream_error.sse", Overloaded)],
)
def test_errors_inside_the_stream(
    dialect: OpenAIDialect, stream: str, error_class: type[UpstreamError]
) -> None:
    datas = events(stream)
    with pytest.raises(error_class) as caught:
        for data in datas:
            dialect.parse_event(data)
    if error_class is GenerationFailed:
        assert caught.value.retryable  # an engine failure (500) is retried before the first token


@pytest.mark.parametrize("body", ["vllm_error_400.json", "vllm_old_error_400.json", "sglang_error_400.json"])
def test_context_length_errors_reach_the_user_as_tgi_validation_errors_do(body: str) -> None:
    text = (DATA / body).read_text()
    error = VLLM.error(400, text)
    tgi = TGIDialect().error(422, (DATA / "tgi_error_422.json").read_text())
    assert isinstance(error, GenerationFailed) and error.error_type == "validation"
    assert error.notice == tgi.notice and not error.retryable
    assert "maximum context length" in str(error) or "context length" in str(error)


def test_statuses_map_like_tgis() -> None:
    assert isinstance(VLLM.error(429, "{}"), Overloaded) and Busy.notice  # retried, then Busy
    assert isinstance(VLLM.error(503, "Service Unavailable"), ModelUnavailable)
    assert VLLM.error(500, '{"error":{"message":"x","type":"InternalServerError","code":500}}').retryable
    not_found = VLLM.error(404, (DATA / "vllm_error_404.json").read_text())
    assert isinstance(not_found, GenerationFailed) and not_found.error_type == "model_not_found"
    assert "dolphin" in str(not_found)
