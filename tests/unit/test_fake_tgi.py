"""The fake TGI's fast token count agrees with its tokenizer (validation relies on it)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tests.fakes.tgi import fake_token_count, fake_tokenize

_PARTS = st.sampled_from(
    ["<|im_start|>", "<|im_end|>", "<|im_", "|>", "<", "|", " ", "  ", "\n", "\t", "\u00a0", "\u2028", "\x1c"]
)


@given(st.lists(st.one_of(_PARTS, st.text(max_size=4)), max_size=20))
def test_fast_count_matches_the_tokenizer(parts: list[str]) -> None:
    text = "".join(parts)
    memo: dict[str, int] = {}
    assert fake_token_count(text) == fake_token_count(text, memo) == len(fake_tokenize(text))
    assert fake_token_count(text, memo) == len(fake_tokenize(text))  # from the memo


def test_fast_count_on_a_chatml_prompt() -> None:
    prompt = "<|im_start|>system\nYou are Dolphin.<|im_end|>\n<|im_start|>user\nAnn: a <b> c \n<|im_end|>\n"
    assert fake_token_count(prompt) == len(fake_tokenize(prompt)) == 17
