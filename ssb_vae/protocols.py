"""What a run fits on and what it is scored on: the study's protocol (docs/method.md §5) and the two
protocols for choosing hyper-parameters on validation data (docs/method.md §9).

``test``: fit on the database (training ∪ validation) with the level's labels, score the test
queries against it. ``full-labels``: fit on the training part, score every validation item against
the whole training part with every label (for comparison only). ``realistic``: fit on the training
part, score the labelled validation items against the labelled training items; no test item and
no hidden label leaves this module.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ssb_vae.data.core import Dataset, Split

PROTOCOLS = ("test", "full-labels", "realistic")


@dataclass(frozen=True)
class Parts:
    """The items a run fits on (``fit``, with its labelled mask) and the two sides it is scored on."""

    fit: Split
    labelled: np.ndarray
    database: Split
    queries: Split


def _hide(split: Split, labelled: np.ndarray) -> Split:
    """``split`` with the labels of its unlabelled items replaced by class 0 (or an empty row), so
    that a hidden label cannot reach training, even where the loss would ignore it."""
    labels = split.labels.copy()
    labels[~labelled] = 0
    return Split(split.x, split.target, labels)


def protocol_parts(data: Dataset, level: float, seed: int, protocol: str = "test") -> Parts:
    """The parts of ``data`` that a run at ``level`` with ``seed`` uses under ``protocol``.

    The labelled items are those of ``Dataset.with_supervision(level, seed)`` in every protocol, so
    a tune at a level sees exactly the training labels that the final run at that level will have.
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; valid protocols: {', '.join(PROTOCOLS)}")
    labelled = data.with_supervision(level, seed=seed).labelled
    if protocol == "test":
        return Parts(data.database, labelled, data.database, data.test)
    n_train = len(data.train)
    in_train, in_validation = labelled[:n_train], labelled[n_train:]
    if protocol == "full-labels":
        return Parts(data.train, in_train, data.train, data.validation)
    if not in_validation.any():
        raise ValueError(
            f"at level {level:g} none of the {len(data.validation)} validation items of {data.name} is "
            "labelled, so the realistic protocol has no query; use a higher level, or a dataset with a "
            "larger validation part"
        )
    return Parts(_hide(data.train, in_train), in_train, data.train.take(np.flatnonzero(in_train)),
                 data.validation.take(np.flatnonzero(in_validation)))


def comparable_k(k: int, parts: Parts, data: Dataset) -> int:
    """K for a protocol's database, scaled so that it covers the same share of the database as K
    does on the study's database (training ∪ validation): P@100 on 15,076 items looks at the top
    0.66%, so on a realistic database of 1,130 labelled items it is P@7. Without the scaling a
    small database makes P@100 reach into other classes (at most 56 items share a class there) and
    the score measures the database's size, not the codes."""
    return max(1, round(k * len(parts.database) / len(data.database)))
