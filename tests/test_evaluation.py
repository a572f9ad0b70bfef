"""Retrieval metrics (SPEC §6): hand-computed cases, a randomized reference, invariances, errors."""

import numpy as np
import pytest

import reference
from ssb_vae import evaluate


def test_hand_computed_single_label_with_ties():
    # Query 0000. Distances: db0=2, db1=1, db2=1, db3=0, db4=2 → stable order 3, 1, 2, 0, 4.
    db = np.array([[1, 1, 0, 0], [1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 0], [0, 0, 1, 1]])
    db_labels = np.array([1, 0, 1, 0, 1])
    query, query_labels = np.zeros((1, 4), dtype=int), np.array([1])
    # relevance in rank order: db3 no, db1 no, db2 yes, db0 yes, db4 yes
    scores = evaluate(db, query, db_labels, query_labels, ks=(1, 3, 4, 10))
    assert scores["p@1"] == 0 and scores["map@1"] == 0 and scores["r@1"] == 0
    assert scores["p@3"] == pytest.approx(1 / 3)
    assert scores["r@3"] == pytest.approx(1 / 3)  # R_q = 3 items of class 1
    assert scores["map@3"] == pytest.approx(1 / 3)  # one hit, at rank 3: precision 1/3
    assert scores["map@4"] == pytest.approx((1 / 3 + 2 / 4) / 2)
    # K = 10 is clipped to the 5 database items
    assert scores["p@10"] == pytest.approx(3 / 5)
    assert scores["r@10"] == pytest.approx(1.0)
    assert scores["map@10"] == pytest.approx((1 / 3 + 2 / 4 + 3 / 5) / 3)


def test_hand_computed_multilabel_and_query_without_relevant_items():
    db = np.array([[0, 0], [0, 1], [1, 1]])
    db_labels = np.array([[1, 0, 0], [1, 1, 0], [0, 1, 0]])
    queries = np.array([[0, 0], [1, 1]])
    query_labels = np.array([[0, 1, 0], [0, 0, 1]])  # the second shares no class with anything
    scores = evaluate(db, queries, db_labels, query_labels, ks=(2,))
    # query 0 order: db0 (no), db1 (yes); R_q = 2 items carry class 1
    assert scores["p@2"] == pytest.approx((1 / 2 + 0) / 2)
    assert scores["r@2"] == pytest.approx((1 / 2 + 0) / 2)
    assert scores["map@2"] == pytest.approx((1 / 2 + 0) / 2)


def test_multilabel_recall_denominator_sums_over_the_query_classes():
    db = np.zeros((3, 2), dtype=int)
    db_labels = np.array([[1, 1], [1, 0], [0, 1]])
    scores = evaluate(db, np.zeros((1, 2), dtype=int), db_labels, np.array([[1, 1]]), ks=(3,))
    assert scores["r@3"] == pytest.approx(3 / 4)  # 3 relevant found, R_q = 2 + 2


@pytest.mark.parametrize("multilabel", [False, True])
def test_matches_reference_on_random_cases_with_heavy_ties(multilabel):
    rng = np.random.default_rng(7)
    for _ in range(40):
        n_db, n_q, bits = rng.integers(1, 80), rng.integers(1, 12), rng.integers(1, 9)
        db, queries = rng.integers(0, 2, (n_db, bits)), rng.integers(0, 2, (n_q, bits))
        if multilabel:
            db_labels, query_labels = rng.integers(0, 2, (n_db, 5)), rng.integers(0, 2, (n_q, 5))
        else:
            db_labels, query_labels = rng.integers(0, 4, n_db), rng.integers(0, 5, n_q)
        ks = (1, int(rng.integers(1, 40)), 100)
        got = evaluate(db, queries, db_labels, query_labels, ks=ks)
        expected = reference.retrieval(db, queries, db_labels, query_labels, ks)
        assert got == pytest.approx(expected, abs=1e-12)


def test_long_codes_and_small_blocks(monkeypatch):
    import ssb_vae.evaluation as evaluation

    monkeypatch.setattr(evaluation, "BLOCK_ELEMENTS", 50)  # forces many query blocks
    rng = np.random.default_rng(3)
    db, queries = rng.integers(0, 2, (60, 70)), rng.integers(0, 2, (9, 70))
    db_labels, query_labels = rng.integers(0, 3, 60), rng.integers(0, 3, 9)
    got = evaluate(db, queries, db_labels, query_labels, ks=(5, 50))
    assert got == pytest.approx(reference.retrieval(db, queries, db_labels, query_labels, (5, 50)))


def test_default_ks_give_the_seven_reported_figures():
    rng = np.random.default_rng(0)
    scores = evaluate(rng.integers(0, 2, (50, 8)), rng.integers(0, 2, (5, 8)),
                      rng.integers(0, 3, 50), rng.integers(0, 3, 5))
    assert {"p@100", "r@100", "p@1000", "p@5000", "map@100", "map@1000", "map@5000"} <= set(scores)


def test_invariant_to_code_dtype_and_label_type():
    rng = np.random.default_rng(5)
    db, queries = rng.integers(0, 2, (40, 6)), rng.integers(0, 2, (7, 6))
    db_labels, query_labels = rng.integers(0, 3, 40), rng.integers(0, 3, 7)
    names = np.array(["cat", "dog", "eel"])
    baseline = evaluate(db, queries, db_labels, query_labels, ks=(5, 20))
    for dtype in (bool, np.uint8, np.int64):
        assert evaluate(db.astype(dtype), queries.astype(dtype), db_labels, query_labels, ks=(5, 20)) == baseline
    assert evaluate(db, queries, names[db_labels], names[query_labels], ks=(5, 20)) == baseline


@pytest.mark.parametrize(
    "change, message",
    [
        ({"queries": np.zeros((2, 5), dtype=int)}, "db_codes have 4 bits but query_codes have 5"),
        ({"db": np.full((3, 4), 2)}, "db_codes must hold only 0 and 1"),
        ({"db_labels": np.zeros(2, dtype=int)}, "db_labels has 2 entries but there are 3 codes"),
        ({"db": np.zeros((0, 4), dtype=int), "db_labels": np.zeros(0, dtype=int)}, "db_codes is empty"),
        ({"queries": np.zeros((0, 4), dtype=int), "query_labels": np.zeros(0, dtype=int)}, "query_codes is empty"),
        ({"ks": (0,)}, "every K must be at least 1"),
    ],
)
def test_bad_input(change, message):
    arguments = {"db": np.zeros((3, 4), dtype=int), "queries": np.zeros((2, 4), dtype=int),
                 "db_labels": np.zeros(3, dtype=int), "query_labels": np.zeros(2, dtype=int), "ks": (1,)}
    arguments.update(change)
    with pytest.raises(ValueError, match=message):
        evaluate(arguments["db"], arguments["queries"], arguments["db_labels"],
                 arguments["query_labels"], ks=arguments["ks"])
