"""A text dataset's fitted vectorizer, kept so that a saved model can hash raw text.

Saved as JSON (kind, settings, vocabulary in column order, idf): no pickle, readable, and rebuilt
into the same scikit-learn vectorizer, which gives identical features. Two kinds (docs/method.md §5):
``tfidf`` (x = TF-IDF, 20 Newsgroups and CSV corpora) and ``log-tf`` (x = log(1 + term counts),
web Snippets).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

KINDS = ("tfidf", "log-tf")
FIT_ONLY = ("max_features", "min_df", "max_df")  # settings that choose the vocabulary, not use it


def snippet_tokens(text: str) -> list[str]:
    """Whitespace tokens stripped of ``-``/``_``, longer than 2 characters, not starting with a digit."""
    tokens = (token.strip("-_") for token in text.split())
    return [token for token in tokens if len(token) > 2 and not token[0].isdigit()]


@dataclass(frozen=True)
class TextPipeline:
    """Raw texts → the model input x, as the model was trained on it."""

    kind: str
    settings: dict
    vocabulary: tuple
    idf: tuple | None = None

    @classmethod
    def fit(cls, kind: str, settings: dict, texts) -> "TextPipeline":
        """Fits a vectorizer of ``kind`` on ``texts``."""
        vectorizer = _vectorizer(kind, settings)
        try:
            vectorizer.fit(texts)
        except ValueError as error:  # scikit-learn: "empty vocabulary"
            raise ValueError(f"no words are left in the training texts once stop words are removed ({error})") from None
        vocabulary = tuple(vectorizer.get_feature_names_out().tolist())
        idf = tuple(float(v) for v in vectorizer.idf_) if kind == "tfidf" else None
        return cls(kind, dict(settings), vocabulary, idf)

    @property
    def n_features(self) -> int:
        return len(self.vocabulary)

    def vectorizer(self):
        """The fitted scikit-learn vectorizer, rebuilt from the saved vocabulary (and idf)."""
        settings = {k: v for k, v in self.settings.items() if k not in FIT_ONLY}
        vectorizer = _vectorizer(self.kind, {**settings, "vocabulary": {t: i for i, t in enumerate(self.vocabulary)}})
        if self.kind == "tfidf":
            vectorizer.idf_ = np.asarray(self.idf, dtype=np.float32)
        return vectorizer

    def vectorize(self, texts) -> sp.csr_matrix:
        """The vectorizer's output (TF-IDF weights, or term counts for ``log-tf``), float32 CSR."""
        return sp.csr_matrix(self.vectorizer().transform(texts), dtype=np.float32)

    def transform(self, texts) -> sp.csr_matrix:
        """The model input x (float32 CSR, one row per text) of ``texts``."""
        return self.to_input(self.vectorize(texts))

    def to_input(self, vectorized: sp.csr_matrix) -> sp.csr_matrix:
        """x from the vectorizer's output: as is for ``tfidf``, log(1 + counts) for ``log-tf``."""
        return vectorized.log1p() if self.kind == "log-tf" else vectorized

    def digest(self) -> str:
        """A fingerprint of what maps text to features (kind, settings, vocabulary)."""
        described = json.dumps([self.kind, self.settings, self.vocabulary], sort_keys=True)
        return hashlib.sha256(described.encode()).hexdigest()[:16]

    def to_json(self) -> str:
        return json.dumps({"kind": self.kind, "settings": self.settings,
                           "vocabulary": list(self.vocabulary), "idf": self.idf})

    @classmethod
    def from_json(cls, text: str) -> "TextPipeline":
        fields = json.loads(text)
        settings = {k: tuple(v) if isinstance(v, list) else v for k, v in fields["settings"].items()}
        idf = tuple(fields["idf"]) if fields.get("idf") is not None else None
        return cls(fields["kind"], settings, tuple(fields["vocabulary"]), idf)

    def save(self, path) -> Path:
        from ssb_vae.files import replacing

        path = Path(path)
        with replacing(path, suffix=".json") as temporary:
            temporary.write_text(self.to_json())
        return path

    @classmethod
    def load(cls, path) -> "TextPipeline":
        path = Path(path)
        try:
            return cls.from_json(path.read_text())
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise ValueError(f"{path} is not a readable text pipeline ({type(error).__name__}: {error})") from None


def _vectorizer(kind: str, settings: dict):
    if kind == "tfidf":
        return TfidfVectorizer(**settings, dtype=np.float32)
    if kind == "log-tf":
        return CountVectorizer(**settings, tokenizer=snippet_tokens, token_pattern=None, dtype=np.float32)
    raise ValueError(f"unknown text pipeline kind {kind!r}; known kinds: {', '.join(KINDS)}")


def pipeline_path(model_path) -> Path:
    """Where the text pipeline of a saved model lives: beside it, ``<model>.pipeline.json``."""
    model_path = Path(model_path)
    return model_path.with_name(model_path.name.removesuffix(".keras") + ".pipeline.json")
