"""The protocols of docs/method.md §5 and §9: which items a run fits on and is scored on."""

import dataclasses

import numpy as np
import pytest

from ssb_vae.protocols import comparable_k, protocol_parts


def test_the_test_protocol_is_the_study(digits):
    parts = protocol_parts(digits, 0.3, seed=20)
    supervised = digits.with_supervision(0.3, seed=20)
    np.testing.assert_array_equal(parts.labelled, supervised.labelled)
    assert parts.database is digits.database and parts.queries is digits.test and parts.fit is digits.database


def test_full_labels_scores_validation_against_the_training_part(digits):
    parts = protocol_parts(digits, 0.3, seed=20, protocol="full-labels")
    assert parts.fit is digits.train and parts.database is digits.train and parts.queries is digits.validation
    np.testing.assert_array_equal(parts.labelled, digits.with_supervision(0.3, seed=20).labelled[:len(digits.train)])


def test_realistic_keeps_only_the_labelled_items_and_hides_the_rest(digits):
    level, seed = 0.3, 20
    parts = protocol_parts(digits, level, seed, protocol="realistic")
    mask = digits.with_supervision(level, seed=seed).labelled
    in_train, in_validation = mask[:len(digits.train)], mask[len(digits.train):]
    np.testing.assert_array_equal(parts.database.labels, digits.train.labels[in_train])
    np.testing.assert_array_equal(parts.queries.labels, digits.validation.labels[in_validation])
    assert (parts.fit.labels[~in_train] == 0).all()
    np.testing.assert_array_equal(parts.fit.labels[in_train], digits.train.labels[in_train])
    assert comparable_k(100, parts, digits) == round(100 * in_train.sum() / len(digits.database))


def test_realistic_reads_no_test_item_and_no_hidden_label(digits):
    """Every array a realistic run sees is the same when the test part and the hidden labels change."""
    level, seed = 0.2, 144
    mask = digits.with_supervision(level, seed=seed).labelled
    n_train = len(digits.train)
    shuffled = np.random.default_rng(0).permutation
    changed = dataclasses.replace(
        digits,
        test=dataclasses.replace(digits.test, x=digits.test.x[::-1] * 0.5, labels=shuffled(digits.test.labels)),
        train=dataclasses.replace(digits.train, labels=np.where(mask[:n_train], digits.train.labels,
                                                                (digits.train.labels + 1) % 10)),
        validation=dataclasses.replace(digits.validation, labels=np.where(
            mask[n_train:], digits.validation.labels, (digits.validation.labels + 3) % 10)),
    )
    original, other = (protocol_parts(d, level, seed, protocol="realistic") for d in (digits, changed))
    for name in ("fit", "database", "queries"):
        for field in ("x", "target", "labels"):
            np.testing.assert_array_equal(getattr(getattr(original, name), field), getattr(getattr(other, name), field))


def test_bad_protocols_and_empty_validation_are_refused(digits):
    with pytest.raises(ValueError, match="valid protocols: test, full-labels, realistic"):
        protocol_parts(digits, 0.5, seed=20, protocol="validation")
    with pytest.raises(ValueError, match="none of the .* validation items .* is labelled"):
        protocol_parts(digits, 0.001, seed=20, protocol="realistic")
