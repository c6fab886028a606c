"""The loopback fake of TGI, vLLM and SGLang the tests use: the one people run (`dolphin-relay fake-model`),
which lives in the package (bots/fake_model.py) so that it works from a fresh clone and an installed wheel."""

from __future__ import annotations

from bots.fake_model import (
    MODEL_ID,
    FakeReply,
    FakeTGI,
    echo_responder,
    fake_token_count,
    fake_tokenize,
    file_answers,
    fixed_answer,
    printing,
)

__all__ = [
    "MODEL_ID",
    "FakeReply",
    "FakeTGI",
    "echo_responder",
    "fake_token_count",
    "fake_tokenize",
    "file_answers",
    "fixed_answer",
    "printing",
]
