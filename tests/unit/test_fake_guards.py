"""The guard stand-ins speak their engines' wire protocol and their models' answer format, so that the tests
that use them test something real (tests/fakes/guards.py)."""

from __future__ import annotations

import httpx
import pytest

from core.alignment import qwen3guard
from core.alignment.guard import build_prompt, parse_answer
from tests.fakes.guards import FakeOpenAIGuard, GuardReply, Rule, llama_guard_responder

RULES = [
    Rule("lockpick", "Unsafe", ("Non-violent Illegal Acts",)),
    Rule("bleach", stage="answer", categories=("Violent",)),
]


async def test_vllm_completions_models_and_health() -> None:
    async with FakeOpenAIGuard(rules=RULES) as fake, httpx.AsyncClient(base_url=fake.url) as http:
        models = (await http.get("/v1/models")).json()
        assert models["object"] == "list" and models["data"][0]["id"] == "Qwen/Qwen3Guard-Gen-0.6B"
        assert (await http.get("/health")).status_code == 200
        body = {"model": "Qwen/Qwen3Guard-Gen-0.6B", "max_tokens": 64, "temperature": 0}
        request = await http.post(
            "/v1/completions", json={**body, "prompt": qwen3guard.build_prompt(user="lockpick?", agent=None)}
        )
        data = request.json()
        assert data["object"] == "text_completion" and data["usage"]["completion_tokens"] > 0
        choice = data["choices"][0]
        assert choice["finish_reason"] == "stop"
        verdict = qwen3guard.parse_answer(choice["text"], response=False)
        assert verdict.unsafe and verdict.categories == ("S2",)
        # an answer is judged with a refusal line; a request-only rule does not apply to it
        prompt = qwen3guard.build_prompt(user="clean?", agent="use bleach")
        answer = (await http.post("/v1/completions", json={**body, "prompt": prompt})).json()
        assert answer["choices"][0]["text"] == "Safety: Unsafe\nCategories: Violent\nRefusal: No"
        fake.healthy = False
        assert (await http.get("/health")).status_code == 503


@pytest.mark.parametrize("engine", ["vllm", "sglang"])
async def test_errors_have_each_engines_shape(engine: str) -> None:
    async with FakeOpenAIGuard(engine=engine) as fake, httpx.AsyncClient(base_url=fake.url) as http:  # type: ignore[arg-type]
        fake.enqueue(GuardReply(http_status=500, error_message="boom"))
        resp = await http.post("/v1/completions", json={"model": "x", "prompt": "p"})
        assert resp.status_code == 500
        data = resp.json()
        if engine == "vllm":
            assert data == {
                "error": {"message": "boom", "type": "InternalServerError", "param": None, "code": 500}
            }
        else:
            assert data["object"] == "error" and data["message"] == "boom" and data["code"] == 500
        wrong = await http.post("/v1/completions", json={"model": "other/model", "prompt": "p"})
        # vLLM refuses a model it does not serve; SGLang ignores the name
        assert wrong.status_code == (404 if engine == "vllm" else 200)


async def test_a_long_answer_is_cut_at_max_tokens() -> None:
    async with FakeOpenAIGuard() as fake, httpx.AsyncClient(base_url=fake.url) as http:
        fake.enqueue(GuardReply(text="Safety: Safe\nCategories: None " + "more " * 50))
        body = {"model": fake.model_id, "prompt": "p", "max_tokens": 8}
        choice = (await http.post("/v1/completions", json=body)).json()["choices"][0]
    assert choice["finish_reason"] == "length" and len(choice["text"].split()) <= 8


def test_the_llama_guard_responder_names_only_listed_codes() -> None:
    respond = llama_guard_responder([Rule("steamy", categories=("S12",))])
    listed = build_prompt(user="something steamy", agent=None, categories={"S12": "Sexual Content."})
    unlisted = build_prompt(user="something steamy", agent=None, categories={"S1": "Violent Crimes."})
    assert parse_answer(respond(listed, {})).categories == ("S12",)
    assert not parse_answer(respond(unlisted, {})).unsafe
