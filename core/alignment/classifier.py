"""The learned local checks: a linear model over hashed word and character n-grams, one for requests and
one for answers (which also reads the request the answer replies to).

Run time is numpy only: the features (core/alignment/features.py), a dot product and a sigmoid; a few
hundred microseconds for a short message. The weights ship as package data in core/alignment/models/ —
coefficients in `.npz` (read with `allow_pickle=False`), the feature spec, threshold and category names in
JSON — and are trained by `python -m tools.train_checks` (docs/moderation.md). A small one-vs-rest head
over the request's word features names the category of a verdict (S1–S14, JB).
"""

from __future__ import annotations

import functools
import json
import math
import zipfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from core.alignment.features import FeatureSpec, Featurizer, FloatArray

FORMAT = 1
REQUEST = "request"
ANSWER = "answer"
# The request check for languages other than English (tools/train_multilingual.py), optional.
MULTILINGUAL = "request_multilingual"


class ClassifierLoadError(Exception):
    """The weights are missing, unreadable or do not fit their metadata."""


def default_model_dir() -> Path:
    return Path(str(resources.files("core.alignment") / "models"))


@dataclass(frozen=True, slots=True)
class Score:
    probability: float
    category: str | None


class LinearCheck:
    """One trained check: `score(text, prefix=None)` → probability that the text is unsafe."""

    def __init__(
        self,
        *,
        name: str,
        spec: FeatureSpec,
        idf: FloatArray,
        coef: FloatArray,
        intercept: float,
        threshold: float,
        categories: tuple[str, ...] = (),
        category_bits: int = 0,
        category_coef: npt.NDArray[np.float32] | None = None,
        category_intercept: FloatArray | None = None,
        meta: dict[str, Any] | None = None,
        grow: bool = False,
    ) -> None:
        if coef.shape != (spec.dim,):
            raise ClassifierLoadError(
                f"{name}: coef has shape {coef.shape}, the feature spec needs ({spec.dim},)"
            )
        self.name = name
        # `grow`: texts that extend one read before are read incrementally (the answer check, called at
        # each streamed update with the whole answer so far; core/alignment/features.py)
        self.featurizer = Featurizer(spec, idf, grow=grow)
        self.coef = coef
        self.intercept = intercept
        self.threshold = threshold
        self.categories = categories
        self.category_bits = category_bits
        self.category_coef = category_coef
        self.category_intercept = category_intercept
        self.meta = meta or {}

    def margin(self, text: str, prefix: str | None = None) -> float:
        idx, val = self.featurizer.transform(text, prefix)
        return float(np.dot(self.coef[idx], val)) + self.intercept

    def score(self, text: str, prefix: str | None = None) -> float:
        return _sigmoid(self.margin(text, prefix))

    @property
    def languages(self) -> frozenset[str]:
        """The languages a multilingual check is for (empty: the English checks)."""
        return frozenset(str(code) for code in self.meta.get("languages", ()))

    def threshold_for(self, language: str) -> float:
        """The threshold stored for `language` (a multilingual check has one per language), else the check's."""
        thresholds = self.meta.get("thresholds") or {}
        return float(thresholds.get(language, self.threshold))

    def category(self, text: str) -> str | None:
        """The most likely category of an unsafe `text` (one-vs-rest over the word features), or None
        when this check has no category head."""
        if self.category_coef is None or self.category_intercept is None or not self.categories:
            return None
        idx, val = self.featurizer.transform(text)
        if (
            self.meta.get("category_features") == "all"
        ):  # word and character blocks (tools/train_multilingual.py)
            words = np.ones(len(idx), dtype=bool)
        else:
            words = idx < (1 << self.featurizer.spec.word_bits)
        cat_idx = idx[words] & ((1 << self.category_bits) - 1)
        z = self.category_coef[:, cat_idx] @ val[words] + self.category_intercept
        return self.categories[int(np.argmax(z))]


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def save_check(directory: Path, check: LinearCheck) -> None:
    """Write `<name>.npz` (arrays only) and `<name>.json` (spec, threshold, categories, metadata)."""
    directory.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, Any] = {
        "idf": check.featurizer.idf.astype(np.float16) if check.featurizer.idf is not None else None,
        "coef": check.coef.astype(np.float16),
        "intercept": np.array([check.intercept], dtype=np.float64),
    }
    if check.category_coef is not None and check.category_intercept is not None:
        arrays["category_coef"] = check.category_coef.astype(np.float16)
        arrays["category_intercept"] = check.category_intercept.astype(np.float32)
    np.savez_compressed(directory / f"{check.name}.npz", **{k: v for k, v in arrays.items() if v is not None})
    meta = {
        "format": FORMAT,
        "name": check.name,
        "features": check.featurizer.spec.to_json(),
        "threshold": check.threshold,
        "categories": list(check.categories),
        "category_bits": check.category_bits,
        **check.meta,
    }
    (directory / f"{check.name}.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")


def load_check(directory: Path, name: str) -> LinearCheck:
    """Read one check; every way it can fail raises `ClassifierLoadError` with a one-line reason."""
    npz_path, json_path = directory / f"{name}.npz", directory / f"{name}.json"
    try:
        meta = json.loads(json_path.read_text(encoding="utf-8"))
        if meta.get("format") != FORMAT:
            raise ClassifierLoadError(
                f"{json_path}: format {meta.get('format')!r}, this version reads {FORMAT}"
            )
        spec = FeatureSpec.from_json(meta["features"])
        with np.load(npz_path, allow_pickle=False) as npz:
            idf = npz["idf"].astype(np.float32)
            coef = npz["coef"].astype(np.float32)
            intercept = float(npz["intercept"][0])
            cat_coef = npz["category_coef"].astype(np.float32) if "category_coef" in npz else None
            cat_b = npz["category_intercept"].astype(np.float32) if "category_intercept" in npz else None
        categories = tuple(str(c) for c in meta.get("categories", ()))
        if cat_coef is not None and cat_coef.shape != (len(categories), 1 << int(meta["category_bits"])):
            raise ClassifierLoadError(f"{npz_path}: category_coef does not fit {json_path}")
        if not np.all(np.isfinite(coef)) or not np.all(np.isfinite(idf)):
            raise ClassifierLoadError(f"{npz_path}: weights are not finite")
        return LinearCheck(
            name=name,
            spec=spec,
            idf=idf,
            coef=coef,
            intercept=intercept,
            threshold=float(meta["threshold"]),
            categories=categories,
            category_bits=int(meta.get("category_bits", 0)),
            category_coef=cat_coef,
            category_intercept=cat_b,
            meta=meta,
            grow=name == ANSWER,
        )
    except ClassifierLoadError:
        raise
    except FileNotFoundError as exc:
        raise ClassifierLoadError(f"{exc.filename} is missing") from None
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile, EOFError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ClassifierLoadError(
            f"cannot read {npz_path.name}/{json_path.name} in {directory}: {reason}"
        ) from None


@dataclass(frozen=True, slots=True)
class LocalChecks:
    """The request check and the answer check, loaded together."""

    request: LinearCheck
    answer: LinearCheck
    # The request check for the languages it lists (`languages`), when the folder has one.
    multilingual: LinearCheck | None = None

    @classmethod
    def load(cls, directory: Path | None = None) -> LocalChecks:
        """The checks in `directory`; the shipped ones (None) are read once per process."""
        if directory is None:
            return _shipped()
        return _load(directory)

    def request_check(self, language: str) -> LinearCheck:
        """The check for a request in `language` (ISO 639): the multilingual one for its languages."""
        if self.multilingual is not None and language in self.multilingual.languages:
            return self.multilingual
        return self.request

    def score_request(self, text: str, check: LinearCheck | None = None) -> float:
        """The request check's score (`check`: the one `request_check` chose for the text's language)."""
        return (check or self.request).score(text)

    def score_answer(self, text: str, prompt: str | None) -> float:
        return self.answer.score(text, prompt)

    def category(self, text: str, prompt: str | None = None, check: LinearCheck | None = None) -> str | None:
        """An answer's category is read from the request it replies to when there is one (the request
        names the harm; GPTFuzz-style answers do not have category labels of their own). `check`: the
        request check that scored the text, when it has a category head of its own."""
        if check is not None and check.category_coef is not None:
            return check.category(prompt if prompt else text)
        return self.request.category(prompt if prompt else text)


def _load(directory: Path) -> LocalChecks:
    multilingual = None
    if (directory / f"{MULTILINGUAL}.json").exists():  # optional: folders written before it have none
        multilingual = load_check(directory, MULTILINGUAL)
    return LocalChecks(
        request=load_check(directory, REQUEST),
        answer=load_check(directory, ANSWER),
        multilingual=multilingual,
    )


@functools.cache
def _shipped() -> LocalChecks:
    return _load(default_model_dir())
