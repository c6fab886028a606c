"""The service on a real 3-master Redis Cluster started locally: every key of a conversation shares a hash
slot, so its scripts run atomically; the gate's pipeline spans slots."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator

import pytest

from bots.runtime import build_redis
from core.alignment.moderator import build_moderator
from core.builder import build_gate, build_service, build_store, code_settings
from core.gate import AdmissionKind
from core.models import ConversationKey, IncomingMessage, Outcome, Platform
from core.settings import (
    AlignmentSettings,
    LimitSettings,
    RedisSettings,
    Settings,
)
from tests.fakes.memory import PostedSink, RecordingSink, ScriptedGenerator, WordCounter

SERVER = shutil.which("redis-server")
CLI = shutil.which("redis-cli")
pytestmark = pytest.mark.skipif(
    SERVER is None or CLI is None, reason="redis-server and redis-cli are needed to start a local cluster"
)


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def free_ports(n: int) -> list[int]:
    """Free ports whose cluster bus port (port + 10000) is free too, both below the ephemeral range
    (32768+) so that outgoing connections cannot be holding them."""
    import random

    out: list[int] = []
    while len(out) < n:
        port = random.SystemRandom().randint(20000, 22700)  # not the seeded global generator
        if port not in out and _free(port) and _free(port + 10000):
            out.append(port)
    return out


def _start_cluster(tmp: str) -> tuple[list[subprocess.Popen[bytes]], list[int]] | None:
    ports = free_ports(3)
    procs = [
        subprocess.Popen(
            [
                str(SERVER),
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                f"{tmp}/nodes-{port}.conf",
                "--dir",
                tmp,
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for port in ports
    ]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not all(_listening(p) for p in ports):
        if any(proc.poll() is not None for proc in procs):  # a node could not start (port taken)
            break
        time.sleep(0.05)
    created = subprocess.run(
        [
            str(CLI),
            "--cluster",
            "create",
            *[f"127.0.0.1:{p}" for p in ports],
            "--cluster-replicas",
            "0",
            "--cluster-yes",
        ],
        capture_output=True,
        timeout=60,
    )
    if created.returncode != 0:
        for proc in procs:
            proc.terminate()
            proc.wait(10)
        return None
    deadline = (
        time.monotonic() + 30
    )  # every node agrees the cluster is up (on a busy machine it can take a while)
    for port in ports:
        while (
            b"cluster_state:ok"
            not in subprocess.run([str(CLI), "-p", str(port), "cluster", "info"], capture_output=True).stdout
        ):
            if time.monotonic() > deadline:
                raise RuntimeError(f"the Redis Cluster node on port {port} never reported cluster_state:ok")
            time.sleep(0.1)
    return procs, ports


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as tmp:
        started = None
        for _ in range(3):  # a random port may be taken between the check and the start
            started = _start_cluster(tmp)
            if started is not None:
                break
        if started is None:
            pytest.fail("could not start a local 3-node Redis Cluster")
        procs, ports = started
        try:
            yield f"redis://127.0.0.1:{ports[0]}/0"
        finally:
            for proc in procs:
                proc.terminate()
                proc.wait(10)


async def test_service_on_a_cluster(cluster: str) -> None:
    client = build_redis(Settings(redis=RedisSettings(url=cluster, cluster=True)))
    try:
        settings = code_settings(
            redis=RedisSettings(url=cluster, cluster=True), limits=LimitSettings(user_per_minute=3)
        )
        gate = build_gate(settings, client)
        store = build_store(settings, client)
        generator = ScriptedGenerator()
        svc = build_service(
            settings,
            store=store,
            gate=gate,
            generator=generator,
            counter=WordCounter(),
            moderator=build_moderator(
                settings=AlignmentSettings(), redis=client, http=None, key_prefix="relay", mute=gate.mute
            ),
        )
        conversations = [ConversationKey(Platform.SLACK, "T1", f"C{i}", "1.1") for i in range(6)]
        for i, key in enumerate(conversations):
            msg = IncomingMessage(
                key=key, message_id=f"m{i}", author_id=f"u{i}", author_name="A", text=f"hello {i}"
            )
            assert (await svc.handle(msg, RecordingSink())).outcome is Outcome.ANSWERED
            again = IncomingMessage(
                key=key, message_id=f"n{i}", author_id=f"u{i}", author_name="A", text="again"
            )
            assert (await svc.handle(again, RecordingSink())).outcome is Outcome.ANSWERED
        assert "hello 5" in generator.prompts[-1]  # history read back from the cluster
        dup = IncomingMessage(
            key=conversations[0], message_id="m0", author_id="u0", author_name="A", text="hello 0"
        )
        assert (await gate.admit(dup)).kind is AdmissionKind.DUPLICATE
        # blocked request: audit stream and strikes on the cluster too
        bad = IncomingMessage(
            key=conversations[1],
            message_id="b1",
            author_id="u1",
            author_name="A",
            text="write ransomware for me",
        )
        assert (await svc.handle(bad, RecordingSink())).outcome is Outcome.BLOCKED_INPUT
        # an answer's messages are indexed beside the conversation's slot: a report finds the exchange
        posted = IncomingMessage(
            key=conversations[4], message_id="p4", author_id="u4", author_name="A", text="report me"
        )
        assert (await svc.handle(posted, PostedSink("C4:9.1", "C4:9.2"))).outcome is Outcome.ANSWERED
        found = await store.find_answer(Platform.SLACK, "C4:9.2")
        assert found is not None and found.key == conversations[4] and found.exchange.message_id == "p4"
        assert await store.find_answer(Platform.SLACK, "C4:0.0") is None
        assert await svc.forget_user("slack:T1:u2") == 2
        await svc.set_persona(conversations[3], "a pirate")
        assert await svc.get_persona(conversations[3]) == "a pirate"
    finally:
        await client.aclose()
