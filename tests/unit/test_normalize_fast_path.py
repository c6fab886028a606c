"""The normalizer's ASCII fast path is exact: for ASCII text the Unicode folding is `lower()`."""

from __future__ import annotations

import string

from hypothesis import given
from hypothesis import strategies as st

from core.alignment.normalize import fold_unicode


@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=300))
def test_unicode_folding_of_ascii_is_lower(text: str) -> None:
    assert fold_unicode(text) == text.lower()


def test_every_ascii_character() -> None:
    every = "".join(map(chr, range(128)))
    assert fold_unicode(every) == every.lower()
    assert fold_unicode(string.ascii_uppercase) == string.ascii_lowercase
