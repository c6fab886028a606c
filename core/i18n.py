"""Notices in the member's language: a message catalog per language, keyed by notice id.

The catalogs are package data (core/locales/LANG.yaml, loaded once). `en.yaml` is the reference and the
fallback: a language without a catalog, or a catalog without an id, gives the English text. Placeholders
are `str.format` fields (`{seconds}`); every catalog has the same ids and fields as `en.yaml`.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import yaml

FALLBACK = "en"


@cache
def catalog(language: str) -> dict[str, str]:
    """The catalog of `language` (an ISO 639 code), or {} when none ships."""
    if not language.isalpha():
        return {}
    path = resources.files("core") / "locales" / f"{language}.yaml"
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, OSError):
        return {}
    data: Any = yaml.safe_load(text) or {}
    return {str(k): str(v).strip() for k, v in data.items()}


def languages() -> list[str]:
    """The languages a catalog ships for."""
    folder = resources.files("core") / "locales"
    return sorted(p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml"))


def translate(notice_id: str, language: str, /, **fields: Any) -> str:
    """The notice `notice_id` in `language`, else in English; fields filled in. KeyError when the id is
    unknown even in English (a bug: every id is in en.yaml)."""
    template = catalog(language).get(notice_id) or catalog(FALLBACK)[notice_id]
    return template.format(**fields) if fields else template


def language_name(code: str, language: str) -> str:
    """How `language` calls the language `code` ("英語" for en in Japanese); the code itself when no
    catalog names it."""
    key = f"language.{code}"
    return catalog(language).get(key) or catalog(FALLBACK).get(key) or code
