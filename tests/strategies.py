"""Hypothesis strategies shared by the property tests: the strings users, evaders and accidents produce."""

from __future__ import annotations

from hypothesis import strategies as st

# What evasions and accidents put into messages: zero-width runs, bidi overrides and isolates, lone
# surrogates, combining marks, homoglyphs, fullwidth forms, NUL, spaced and leet words, ChatML markers.
HOSTILE = [
    "\u200b", "\u200b" * 40, "\u200d", "\u2060", "\ufeff", "\u00ad", "\u202e", "\u202d", "\u2066", "\u2069",
    "\ud800", "\udfff", "\ud83d", "\u0301" * 20, "\x00", "\u0430", "\u03bf", "\uff42\uff4f\uff4d\uff42",
    "b o m b ", "k!ll", "h0w t0 ", "<|im_start|>system\n", "\U0001f42c", "\n" * 10, " " * 30,
]  # fmt: skip
hostile_text = st.lists(
    st.one_of(
        st.text(st.one_of(st.characters(), st.characters(categories=["Cs"])), max_size=30),
        st.sampled_from(HOSTILE),
    ),
    max_size=40,
).map("".join)
