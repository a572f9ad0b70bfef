"""Retrieval metrics (docs/method.md §6): the tie-aware default against the average over database
orderings, the position rule against its reference, hand-computed cases, invariances, errors."""

import itertools

import numpy as np
import pytest

import reference
from ssb_vae.evaluation import evaluate

# Query 0000. Distances: db0=2, db1=1, db2=1, db3=0, db4=2 → groups {db3}, {db1, db2}, {db0, db4}.
HAND_DB = np.array([[1, 1, 0, 0], [1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 0], [0, 0, 1, 1]])
HAND_DB_LABELS = np.array([1, 0, 1, 0, 1])


def test_hand_computed_single_label_ties_by_position():
    # stable order 3, 1, 2, 0, 4; relevance in rank order: no, no, yes, yes, yes
    db, db_labels = HAND_DB, HAND_DB_LABELS
    query, query_labels = np.zeros((1, 4), dtype=int), np.array([1])
    scores = evaluate(db, query, db_labels, query_labels, ks=(1, 3, 4, 10), ties="index")
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
    scores = evaluate(db, queries, db_labels, query_labels, ks=(2,), ties="index")
    # query 0 order: db0 (no), db1 (yes); R_q = 2 items carry class 1
    assert scores["p@2"] == pytest.approx((1 / 2 + 0) / 2)
    assert scores["r@2"] == pytest.approx((1 / 2 + 0) / 2)
    assert scores["map@2"] == pytest.approx((1 / 2 + 0) / 2)


def test_multilabel_recall_denominator_sums_over_the_query_classes():
    db = np.zeros((3, 2), dtype=int)
    db_labels = np.array([[1, 1], [1, 0], [0, 1]])
    scores = evaluate(db, np.zeros((1, 2), dtype=int), db_labels, np.array([[1, 1]]), ks=(3,))
    assert scores["r@3"] == pytest.approx(3 / 4)  # 3 relevant found, R_q = 2 + 2


def test_hand_computed_expected_values():
    # groups {db3: no}, {db1: no, db2: yes}, {db0: yes, db4: yes}; R_q = 3
    scores = evaluate(HAND_DB, np.zeros((1, 4), dtype=int), HAND_DB_LABELS, np.array([1]), ks=(1, 2, 4))
    assert scores["p@1"] == 0 and scores["map@1"] == 0
    # rank 2 is db1 or db2 with probability ½ each
    assert scores["p@2"] == pytest.approx(0.5 / 2)
    assert scores["r@2"] == pytest.approx(0.5 / 3)
    assert scores["map@2"] == pytest.approx(0.5 * (1 / 2))
    # top 4 = db3, {db1, db2} in some order, then one of {db0, db4}: always 2 hits
    assert scores["p@4"] == pytest.approx(2 / 4)
    # db2 at rank 2 or 3 (½ each), then the rank-4 hit: AP = ((1/2 + 2/4) + (1/3 + 2/4)) / 2 / 2
    assert scores["map@4"] == pytest.approx(((1 / 2 + 2 / 4) + (1 / 3 + 2 / 4)) / 2 / 2)


def all_orderings_case(rng, multilabel):
    n_db, n_q, bits = int(rng.integers(1, 8)), int(rng.integers(1, 4)), int(rng.integers(1, 4))
    db, queries = rng.integers(0, 2, (n_db, bits)), rng.integers(0, 2, (n_q, bits))
    if multilabel:
        return db, queries, rng.integers(0, 2, (n_db, 3)), rng.integers(0, 2, (n_q, 3))
    return db, queries, rng.integers(0, 3, n_db), rng.integers(0, 4, n_q)  # class 3: R_q = 0


@pytest.mark.parametrize("multilabel", [False, True])
def test_expected_equals_the_average_over_all_orderings_of_tiny_databases(multilabel):
    rng = np.random.default_rng(11 + multilabel)
    ks = (1, 2, 3, 5, 9)  # 9 > N always
    for _ in range(25):
        db, queries, db_labels, query_labels = all_orderings_case(rng, multilabel)
        orderings = itertools.permutations(range(len(db)))
        expected = reference.mean_over_orderings(db, queries, db_labels, query_labels, ks, orderings)
        assert evaluate(db, queries, db_labels, query_labels, ks) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(
    "db, db_labels, query_labels",
    [
        # every item its own group (distances 0, 1, 2 from the query 000)
        ([[0, 0, 0], [1, 0, 0], [1, 1, 0]], [0, 1, 0], [0]),
        # no relevant item at all: R_q = 0
        ([[0, 0, 0], [0, 0, 0], [1, 1, 0]], [1, 1, 1], [0]),
        # one group of seven, three relevant: K cuts it at every size
        ([[0, 1, 0]] * 7, [0, 1, 0, 1, 1, 0, 0], [1]),
        # multi-label, a query sharing no class with anything, and one sharing two classes
        ([[0, 0, 0], [0, 0, 1], [0, 0, 1], [1, 1, 1], [0, 0, 0]],
         [[1, 0, 1], [0, 1, 0], [1, 1, 0], [0, 0, 1], [1, 0, 0]], [[0, 0, 0]]),
        ([[0, 0, 0], [0, 0, 1], [0, 0, 1], [1, 1, 1], [0, 0, 0]],
         [[1, 0, 1], [0, 1, 0], [1, 1, 0], [0, 0, 1], [1, 0, 0]], [[1, 1, 0]]),
    ],
)
def test_expected_on_edge_cases_equals_the_average_over_all_orderings(db, db_labels, query_labels):
    db, db_labels, query_labels = np.array(db), np.array(db_labels), np.array(query_labels)
    queries = np.zeros((1, db.shape[1]), dtype=int)
    ks = tuple(range(1, len(db) + 3))
    orderings = itertools.permutations(range(len(db)))
    expected = reference.mean_over_orderings(db, queries, db_labels, query_labels, ks, orderings)
    assert evaluate(db, queries, db_labels, query_labels, ks) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("multilabel", [False, True])
def test_random_orderings_converge_to_the_expected_value_on_heavy_ties(multilabel):
    rng = np.random.default_rng(3)
    n_db, n_q, bits = 400, 6, 3  # 400 items on at most 8 codes
    db, queries = rng.integers(0, 2, (n_db, bits)), rng.integers(0, 2, (n_q, bits))
    if multilabel:
        db_labels, query_labels = rng.integers(0, 2, (n_db, 4)), rng.integers(0, 2, (n_q, 4))
    else:
        db_labels, query_labels = rng.integers(0, 4, n_db), rng.integers(0, 4, n_q)
    ks = (10, 75, 250)
    expected = evaluate(db, queries, db_labels, query_labels, ks)
    draws = [evaluate(db, queries, db_labels, query_labels, ks, ties="random", seed=s) for s in range(1500)]
    for key, value in expected.items():
        samples = np.array([draw[key] for draw in draws])
        standard_error = samples.std() / np.sqrt(len(samples))
        assert abs(samples.mean() - value) <= 4 * standard_error + 1e-12, key
    assert len({draw["p@10"] for draw in draws}) > 1  # the orderings did differ


@pytest.mark.parametrize("multilabel", [False, True])
def test_the_default_does_not_depend_on_the_database_order(multilabel):
    rng = np.random.default_rng(8)
    db, queries = rng.integers(0, 2, (300, 4)), rng.integers(0, 2, (20, 4))
    if multilabel:
        db_labels, query_labels = rng.integers(0, 2, (300, 5)), rng.integers(0, 2, (20, 5))
    else:
        db_labels, query_labels = np.sort(rng.integers(0, 5, 300)), rng.integers(0, 5, 20)  # class order
    ks = (1, 30, 100, 1000)
    baseline = evaluate(db, queries, db_labels, query_labels, ks)
    for seed in range(3):
        order = np.random.default_rng(seed).permutation(300)
        assert evaluate(db[order], queries, db_labels[order], query_labels, ks) == baseline
    by_position = evaluate(db, queries, db_labels, query_labels, ks, ties="index")
    shuffled = np.random.default_rng(0).permutation(300)
    assert by_position != evaluate(db[shuffled], queries, db_labels[shuffled], query_labels, ks, ties="index")


def test_random_ties_follow_the_seed():
    rng = np.random.default_rng(2)
    db, queries = rng.integers(0, 2, (200, 3)), rng.integers(0, 2, (10, 3))
    labels, query_labels = rng.integers(0, 3, 200), rng.integers(0, 3, 10)
    first = evaluate(db, queries, labels, query_labels, (20,), ties="random", seed=5)
    assert first == evaluate(db, queries, labels, query_labels, (20,), ties="random", seed=5)
    assert first != evaluate(db, queries, labels, query_labels, (20,), ties="random", seed=6)


@pytest.mark.parametrize("multilabel", [False, True])
def test_index_ties_match_the_position_order_reference(multilabel):
    rng = np.random.default_rng(7)
    for _ in range(40):
        n_db, n_q, bits = rng.integers(1, 80), rng.integers(1, 12), rng.integers(1, 9)
        db, queries = rng.integers(0, 2, (n_db, bits)), rng.integers(0, 2, (n_q, bits))
        if multilabel:
            db_labels, query_labels = rng.integers(0, 2, (n_db, 5)), rng.integers(0, 2, (n_q, 5))
        else:
            db_labels, query_labels = rng.integers(0, 4, n_db), rng.integers(0, 5, n_q)
        ks = (1, int(rng.integers(1, 40)), 100)
        got = evaluate(db, queries, db_labels, query_labels, ks=ks, ties="index")
        expected = reference.retrieval(db, queries, db_labels, query_labels, ks)
        assert got == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("ties", ["expected", "index"])
def test_long_codes_and_small_blocks(monkeypatch, ties):
    import ssb_vae.evaluation as evaluation

    rng = np.random.default_rng(3)
    db, queries = rng.integers(0, 2, (60, 130)), rng.integers(0, 2, (9, 130))  # 130 bits: 3 words
    db_labels, query_labels = rng.integers(0, 3, 60), rng.integers(0, 3, 9)
    whole = evaluate(db, queries, db_labels, query_labels, ks=(5, 50), ties=ties)
    monkeypatch.setattr(evaluation, "BLOCK_ELEMENTS", 50)  # forces many query blocks
    assert evaluate(db, queries, db_labels, query_labels, ks=(5, 50), ties=ties) == pytest.approx(whole, abs=1e-12)
    if ties == "index":
        assert whole == pytest.approx(reference.retrieval(db, queries, db_labels, query_labels, (5, 50)))


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
    assert evaluate(db, queries, db_labels, query_labels, ks=np.array([20, 5])) == baseline


def test_one_int_is_one_k():
    rng = np.random.default_rng(4)
    arguments = (rng.integers(0, 2, (30, 4)), rng.integers(0, 2, (3, 4)), rng.integers(0, 2, 30), rng.integers(0, 2, 3))
    assert evaluate(*arguments, ks=7) == evaluate(*arguments, ks=(7,))
    assert set(evaluate(*arguments, ks=np.int64(7))) == {"p@7", "r@7", "map@7"}


@pytest.mark.parametrize(
    "change, message",
    [
        ({"queries": np.zeros((2, 5), dtype=int)}, "db_codes have 4 bits but query_codes have 5"),
        ({"db": np.full((3, 4), 2)}, "db_codes must hold only 0 and 1"),
        ({"db_labels": np.zeros(2, dtype=int)}, "db_labels has 2 entries but there are 3 codes"),
        ({"db": np.zeros((0, 4), dtype=int), "db_labels": np.zeros(0, dtype=int)}, "db_codes is empty"),
        ({"queries": np.zeros((0, 4), dtype=int), "query_labels": np.zeros(0, dtype=int)}, "query_codes is empty"),
        ({"ks": (0,)}, "every K must be a positive integer, got 0"),
        ({"ks": (2.7,)}, "every K must be a positive integer, got 2.7"),
        ({"ks": 100.0}, "every K must be a positive integer, got 100.0"),
        ({"ks": (True,)}, "every K must be a positive integer, got True"),
        ({"ks": ()}, "ks is empty"),
        ({"db_labels": np.array([0.0, np.nan, 1.0])}, "db_labels contains NaN"),
        ({"query_labels": np.array(["a", None], dtype=object)}, "query_labels contains missing labels"),
        ({"ties": "first"}, "unknown ties mode 'first'; valid modes: expected, index, random"),
        ({"ties": "random"}, 'ties="random" needs a seed'),
    ],
)
def test_bad_input(change, message):
    arguments = {"db": np.zeros((3, 4), dtype=int), "queries": np.zeros((2, 4), dtype=int),
                 "db_labels": np.zeros(3, dtype=int), "query_labels": np.zeros(2, dtype=int), "ks": (1,),
                 "ties": "expected"}
    arguments.update(change)
    with pytest.raises(ValueError, match=message):
        evaluate(arguments["db"], arguments["queries"], arguments["db_labels"],
                 arguments["query_labels"], ks=arguments["ks"], ties=arguments["ties"])
