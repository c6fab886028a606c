"""The TGI client against the loopback fake TGI: real SSE, real HTTP, every error path."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator

import aiohttp
import pytest
from structlog.testing import capture_logs

from core.errors import Busy, GenerationFailed, GenerationTimeout, ModelUnavailable, StreamCutOff
from core.llm import GenerationParams, StreamEvent, TGIClient, build_model_session, map_tgi_error
from core.settings import TGISettings
from core.tokens import SentencePieceCounter, TGITokenCounter, build_counter
from tests.fakes.tgi import FakeReply, FakeTGI
from tests.polling import until
from tests.ports import refused_port

PARAMS = GenerationParams(max_new_tokens=200)
PROMPT = "<|im_start|>system\nsys<|im_end|>\n<|im_start|>user\nhello there<|im_end|>\n<|im_start|>assistant\n"


@pytest.fixture
async def tgi() -> AsyncIterator[FakeTGI]:
    async with FakeTGI() as fake:
        yield fake


def client_for(url: str | list[str], **settings: object) -> tuple[TGIClient, aiohttp.ClientSession]:
    cfg = TGISettings(**{"retry_backoff_s": 0.01, **settings})  # type: ignore[arg-type]
    http = build_model_session(cfg)
    return TGIClient(http=http, settings=cfg, base_url=url), http


async def collect(client: TGIClient, prompt: str = PROMPT) -> list[StreamEvent]:
    return [e async for e in client.stream(prompt, PARAMS)]


def closed_port_url() -> str:
    return f"http://127.0.0.1:{refused_port()}"


async def test_stream_builds_text_from_non_special_tokens(tgi: FakeTGI) -> None:
    client, http = client_for(tgi.url)
    async with http:
        events = await collect(client)
    text = "".join(e.text for e in events)
    assert text == "You said: hello there"
    assert "<|im_end|>" not in text
    assert events[-1].finish_reason == "eos_token"
    body = tgi.requests[-1]["body"]
    assert body["inputs"] == PROMPT
    assert body["parameters"]["stop"] == ["<|im_end|>"]
    assert 0 < body["parameters"]["top_p"] < 1
    assert body["parameters"]["details"] is True


async def test_keepalive_comments_are_ignored(tgi: FakeTGI) -> None:
    tgi.enqueue(FakeReply(text=" ".join(["word"] * 40), keepalive_comments=True))
    client, http = client_for(tgi.url)
    async with http:
        text = "".join(e.text for e in await collect(client))
    assert text == " ".join(["word"] * 40)


@pytest.mark.parametrize(
    ("error_type", "expected", "kind"),
    [
        ("validation", GenerationFailed, "validation"),
        ("generation", GenerationFailed, "generation"),
        ("incomplete_generation", GenerationFailed, "incomplete_generation"),
    ],
)
async def test_in_stream_errors_with_http_200_are_mapped(tgi: FakeTGI, error_type, expected, kind) -> None:
    tgi.enqueue(FakeReply(error_type=error_type, error_after_tokens=0))
    client, http = client_for(tgi.url)
    async with http:
        with pytest.raises(expected) as err:
            await collect(client)
    assert err.value.error_type == kind
    assert len(tgi.prompts) == 1  # not retried


async def test_overload_is_retried_then_succeeds(tgi: FakeTGI) -> None:
    tgi.enqueue(FakeReply(error_type="overloaded"), FakeReply(error_type="overloaded"))
    client, http = client_for(tgi.url, retries=3)
    async with http:
        text = "".join(e.text for e in await collect(client))
    assert text == "You said: hello there"
    assert len(tgi.prompts) == 3


async def test_overload_storm_ends_as_busy(tgi: FakeTGI) -> None:
    tgi.enqueue(*[FakeReply(error_type="overloaded") for _ in range(4)])
    client, http = client_for(tgi.url, retries=3, retry_backoff_s=0.04)
    async with http:
        with capture_logs() as logs, pytest.raises(Busy):
            await collect(client)
    assert len(tgi.prompts) == 4
    # backing off: each wait planned between half of 0.04 s × 2^n (jitter) and the whole, and waited out
    delays = [e["delay_s"] for e in logs if e["event"] == "tgi.retry"]
    assert len(delays) == 3
    at = [r["at"] for r in tgi.requests if r["path"] == "/generate_stream"]
    for n, ((a, b), delay) in enumerate(zip(itertools.pairwise(at), delays, strict=True)):
        assert 0.02 * 2**n <= delay <= 0.04 * 2**n and b - a >= delay, (n, delay, b - a)


async def test_http_429_on_stream_route_is_overload(tgi: FakeTGI) -> None:
    tgi.enqueue(FakeReply(http_status=429, error_type="overloaded"))
    client, http = client_for(tgi.url, retries=1)
    async with http:
        events = await collect(client)
    assert events and len(tgi.prompts) == 2


async def test_dropped_connection_after_tokens_is_a_cut_off(tgi: FakeTGI) -> None:
    tgi.enqueue(FakeReply(text="one two three four five", drop_after_tokens=3))
    client, http = client_for(tgi.url)
    seen: list[str] = []
    async with http:
        with pytest.raises(StreamCutOff) as err:
            async for event in client.stream(PROMPT, PARAMS):
                seen.append(event.text)
    assert "".join(seen) == "one two three"
    assert err.value.partial == "one two three"
    assert len(tgi.prompts) == 1  # never retried after the first token


async def test_dropped_connection_before_any_token_is_retried(tgi: FakeTGI) -> None:
    tgi.enqueue(FakeReply(drop_after_tokens=0))
    client, http = client_for(tgi.url)
    async with http:
        text = "".join(e.text for e in await collect(client))
    assert text == "You said: hello there" and len(tgi.prompts) == 2


async def test_silent_server_times_out_before_first_token(tgi: FakeTGI) -> None:
    tgi.enqueue(FakeReply(hang=True))
    client, http = client_for(tgi.url, first_token_timeout_s=0.3, retries=0)
    async with http:
        with pytest.raises(GenerationTimeout):  # the server never answers: only the client's timeout ends it
            await collect(client)
        assert len(tgi.prompts) == 1
        # the connection was closed at once (the pool still open): the server can free the request's slot
        for _ in range(50):
            if not tgi.in_flight:
                break
            await asyncio.sleep(0.02)
        assert tgi.in_flight == 0 and tgi.disconnects == 1


async def test_long_steady_stream_is_not_cut(tgi: FakeTGI) -> None:
    # 60 tokens at 20 ms: 1.2 s in all, well past the 0.3 s between-token timeout.
    tgi.enqueue(FakeReply(text=" ".join(["tok"] * 60), token_delay_s=0.02))
    client, http = client_for(tgi.url, token_timeout_s=0.3, first_token_timeout_s=0.3)
    async with http:
        text = "".join(e.text for e in await collect(client))
    assert text.count("tok") == 60


async def test_connection_refused_is_model_unavailable() -> None:
    client, http = client_for(closed_port_url(), retries=1)
    async with http:
        with pytest.raises(ModelUnavailable):
            await collect(client)
        with pytest.raises(ModelUnavailable):
            await client.info()


async def test_info_accepts_new_and_old_field_names() -> None:
    for legacy in (False, True):
        async with FakeTGI(max_input_tokens=1000, max_total_tokens=2000, legacy_info=legacy) as fake:
            client, http = client_for(fake.url)
            async with http:
                info = await client.info()
        assert (info.max_input_tokens, info.max_total_tokens) == (1000, 2000)
        assert info.max_concurrent_requests == 128


async def test_tokenize_and_its_absence() -> None:
    async with FakeTGI() as fake:  # Dolphin: the bundled SentencePiece model, no round trip per turn
        client, http = client_for(fake.url)
        async with http:
            assert isinstance(await build_counter("auto", client), SentencePieceCounter)
    async with FakeTGI(model_id="Qwen/Qwen2.5-0.5B-Instruct") as fake:
        client, http = client_for(fake.url)
        async with http:
            assert await client.count_tokens("hello there") == 3  # BOS + 2 pieces
            assert isinstance(await build_counter("auto", client), TGITokenCounter)
    async with FakeTGI(model_id="Qwen/Qwen2.5-0.5B-Instruct", tokenize=False) as fake:
        client, http = client_for(fake.url)
        async with http:
            with pytest.raises(NotImplementedError):
                await client.count_tokens("hello")
            assert not isinstance(await build_counter("auto", client), TGITokenCounter)


async def test_consumer_stopping_closes_the_upstream_request(tgi: FakeTGI) -> None:
    # 200 tokens at 50 ms: the fake would stream for 10 s; it sees the client leave mid-stream (a disconnect
    # is counted only for a stream cut before its end).
    tgi.enqueue(FakeReply(text=" ".join(["x"] * 200), token_delay_s=0.05))
    client, http = client_for(tgi.url)
    async with http:
        stream = client.stream(PROMPT, PARAMS)
        async for _ in stream:
            break
        await stream.aclose()  # type: ignore[attr-defined]
        await until(lambda: tgi.disconnects == 1)
        assert tgi.in_flight == 0
        assert await collect(client)  # the client still works afterwards


async def test_silence_between_tokens_is_a_cut_off_with_the_partial_text(tgi: FakeTGI) -> None:
    # first token after 0.1 s (within the 2 s first-token timeout), then 0.1 s per token > 0.05 s allowed
    tgi.enqueue(FakeReply(text="alpha beta gamma", token_delay_s=0.1))
    client, http = client_for(tgi.url, first_token_timeout_s=2.0, token_timeout_s=0.05)
    async with http:
        with pytest.raises(StreamCutOff) as err:
            await collect(client)
    assert err.value.partial == "alpha"
    assert len(tgi.prompts) == 1


async def test_gate_sized_from_info_queues_a_crowd_without_overloading_tgi() -> None:
    # No TGI_MAX_CONCURRENT_REQUESTS: the gate takes /info's 4. Past 4 in flight the fake answers
    # `overloaded`, which the client would have to retry (more prompts than requests) or turn into Busy.
    async with FakeTGI(max_concurrent_requests=4, token_delay_s=0.002) as fake:
        client, http = client_for(fake.url, retries=0)
        async with http:
            results = await asyncio.gather(*(collect(client) for _ in range(100)))
        assert all("".join(e.text for e in r) == "You said: hello there" for r in results)
        assert len(fake.prompts) == 100
        assert fake.max_in_flight_seen == 4


async def test_health_follows_the_server() -> None:
    async with FakeTGI() as fake:
        client, http = client_for(fake.url)
        async with http:
            assert await client.healthy()
            fake.healthy = False
            assert not await client.healthy()
    client, http = client_for(closed_port_url())
    async with http:
        assert not await client.healthy()


async def test_http_errors_on_the_stream_route(tgi: FakeTGI) -> None:
    client, http = client_for(tgi.url, retries=1)
    async with http:
        tgi.enqueue(FakeReply(http_status=422, error_type="validation"))
        with pytest.raises(GenerationFailed) as failed:
            await collect(client)
        assert failed.value.error_type == "validation"
        tgi.enqueue(FakeReply(http_status=503), FakeReply(http_status=503))
        with pytest.raises(ModelUnavailable):
            await collect(client)
    assert len(tgi.prompts) == 3  # 422 once; 503 tried twice (retries=1)


async def test_prompt_over_the_window_is_a_validation_error_from_the_server() -> None:
    async with FakeTGI(max_input_tokens=50, max_total_tokens=300) as fake:
        client, http = client_for(fake.url)
        async with http:
            with pytest.raises(GenerationFailed) as failed:
                await collect(client, PROMPT + "word " * 60)
            assert failed.value.error_type == "validation"
            with pytest.raises(GenerationFailed):  # 10 input tokens + 400 new > 300 total
                [e async for e in client.stream(PROMPT, GenerationParams(max_new_tokens=400))]
        assert len(fake.prompts) == 2  # validation is never retried


async def test_length_limit_and_eos_sent_as_text(tgi: FakeTGI) -> None:
    tgi.enqueue(FakeReply(text="one two three four five six"))
    client, http = client_for(tgi.url)
    async with http:
        events = [e async for e in client.stream(PROMPT, GenerationParams(max_new_tokens=3))]
        assert "".join(e.text for e in events) == "one two three"
        assert events[-1].finish_reason == "length" and events[-1].generated_tokens == 3
        tgi.enqueue(FakeReply(text="all done", eos_as_text=True))
        events = await collect(client)
        assert "".join(e.text for e in events) == "all done"


async def test_concurrency_gate_queues_requests(tgi: FakeTGI) -> None:
    tgi.token_delay_s = 0.005
    client, http = client_for(tgi.url, max_concurrent_requests=4)
    async with http:
        results = await asyncio.gather(*(collect(client) for _ in range(12)))
    assert all(r for r in results)
    assert tgi.max_in_flight_seen <= 4


async def test_requests_go_to_the_least_busy_endpoint_and_skip_a_dead_one() -> None:
    async with FakeTGI(token_delay_s=0.01) as a, FakeTGI(token_delay_s=0.01) as b:
        client, http = client_for([a.url, b.url])
        async with http:
            await asyncio.gather(*(collect(client) for _ in range(8)))
        assert len(a.prompts) == 4 and len(b.prompts) == 4
    async with FakeTGI() as alive:
        client, http = client_for([closed_port_url(), alive.url])
        async with http:
            for _ in range(3):
                assert await collect(client)
        assert len(alive.prompts) == 3


def test_error_mapping_is_total() -> None:
    assert map_tgi_error(None, "x", status=503).retryable
    assert map_tgi_error("validation", "x").error_type == "validation"  # type: ignore[attr-defined]
    assert map_tgi_error(None, "x", status=422).error_type == "validation"  # type: ignore[attr-defined]


async def test_openai_compatible_backend_streams_the_same_chatml() -> None:
    from core.llm import build_generator

    async with FakeTGI() as fake:
        cfg = TGISettings(
            backend="openai", url=fake.url, retry_backoff_s=0.01, max_input_tokens=1000, max_total_tokens=2000
        )
        async with build_model_session(cfg) as http:
            client = build_generator(http=http, settings=cfg, urls=[fake.url])
            assert client.dialect.name == "openai"
            info = await client.info()
            assert info.model_id == fake.model_id and info.max_total_tokens == 2000
            events = [e async for e in client.stream(PROMPT, PARAMS)]
            assert "".join(e.text for e in events) == "You said: hello there"
            assert events[-1].finish_reason == "eos_token"
            body = fake.requests[-1]["body"]
            assert body["prompt"] == PROMPT and body["stop"] == ["<|im_end|>"] and body["stream"] is True
            assert body["model"] == fake.model_id
            fake.enqueue(FakeReply(http_status=429), FakeReply())
            assert [e async for e in client.stream(PROMPT, PARAMS)]
            fake.enqueue(FakeReply(text="a b c d e", drop_after_tokens=2))
            with pytest.raises(StreamCutOff):
                async for _ in client.stream(PROMPT, PARAMS):
                    pass
            assert await client.healthy()


async def test_finished_streams_reuse_one_connection(tgi: FakeTGI) -> None:
    client, http = client_for(tgi.url)
    async with http:
        for _ in range(5):
            assert "".join(e.text for e in await collect(client)) == "You said: hello there"
    assert len(tgi.prompts) == 5 and len(tgi.connections) == 1


async def test_failing_health_check_takes_an_endpoint_out_and_a_passing_one_brings_it_back() -> None:
    async with FakeTGI() as a, FakeTGI() as b:
        client, http = client_for([a.url, b.url], health_check_interval_s=0.05)
        async with http, client:
            # the client's view of each server, as its health checks left it (waited for, not slept on)
            seen = lambda: [e.healthy for e in client._pool.endpoints]  # noqa: E731
            a.healthy = False  # e.g. TGI restarting: /health is 503 although it still accepts connections
            await until(lambda: seen() == [False, True])
            await asyncio.gather(*(collect(client) for _ in range(6)))
            assert len(a.prompts) == 0 and len(b.prompts) == 6
            a.healthy = True
            await until(lambda: seen() == [True, True])
            await asyncio.gather(*(collect(client) for _ in range(6)))
            assert len(a.prompts) == 3 and len(b.prompts) == 9
            a.healthy = b.healthy = False  # none healthy: still try rather than refuse everyone
            await asyncio.sleep(0.3)
            assert await collect(client)


async def test_openai_backend_skips_a_server_that_went_away() -> None:
    from core.llm import build_generator

    async with FakeTGI() as a, FakeTGI() as b:
        cfg = TGISettings(backend="openai", url=f"{a.url},{b.url}", health_check_interval_s=0.05)
        http = build_model_session(cfg)
        async with http, build_generator(http=http, settings=cfg, urls=[a.url, b.url]) as client:
            await a.close()  # a is gone entirely
            await asyncio.sleep(0.3)
            for _ in range(3):
                assert [e async for e in client.stream(PROMPT, PARAMS)]
        assert [r["path"] for r in b.requests].count("/v1/completions") == 3
