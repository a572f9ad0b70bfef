"""Retrieval metrics over Hamming rankings: P@K, R@K and MAP@K as docs/method.md §6 defines them.

A query's ranking is a sequence of groups of tied items (distance 0, 1, …). The default,
``ties="expected"``, reports the expected value of each measure over all orders of the items
inside every group (tie-aware measures): it depends on the codes and labels only, never on the
order in which the database is stored. It needs no sort: per query, only the size ``n_g`` of every
group and its number ``r_g`` of relevant items, which one ``bincount`` of (distance, relevance)
gives for a whole block of queries. ``ties="index"`` breaks ties by database position (a stable
sort; the earlier rule), ``ties="random"`` by one seeded random order of the database.

Distances come from XOR + popcount on codes packed into machine words. Queries are processed in
blocks, on as many threads as there are cores, so memory stays bounded by the block whatever the
database size.
"""

from __future__ import annotations

import numbers
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Iterable

import numpy as np
from scipy.special import gammaln

DEFAULT_KS = (100, 1000, 5000)
TIE_MODES = ("expected", "index", "random")
BLOCK_ELEMENTS = 1 << 20  # query × database pairs held at once per thread


def pack_bits(bits: np.ndarray) -> np.ndarray:
    """Packs a 0/1 matrix (items × bits) into unsigned words: one word of the smallest type that
    holds the bits (uint8 … uint64), or several uint64 words beyond 64 bits."""
    n_items, n_bits = bits.shape
    word_type = next((t for t in (np.uint8, np.uint16, np.uint32) if n_bits <= 8 * t().itemsize), np.uint64)
    word_bits = 8 * np.dtype(word_type).itemsize
    n_words = -(-n_bits // word_bits)
    padded = np.zeros((n_items, n_words * word_bits), dtype=np.uint8)
    padded[:, :n_bits] = bits
    return np.packbits(padded, axis=1).view(word_type)


def hamming_distances(query_words: np.ndarray, db_words: np.ndarray) -> np.ndarray:
    """Hamming distances (queries × database, uint8) between packed codes: popcount of the XOR."""
    distances = np.bitwise_count(query_words[:, 0, None] ^ db_words[None, :, 0])
    for word in range(1, db_words.shape[1]):
        distances += np.bitwise_count(query_words[:, word, None] ^ db_words[None, :, word])
    return distances


# --- docs/method.md §6, tie-aware: pure functions of the group sizes and relevant counts ---------------------


class Tables:
    """Harmonic numbers H(k) = Σ_{j≤k} 1/j and log-factorials log k!, for k = 0 … n (float64)."""

    def __init__(self, n: int):
        self.harmonic = np.concatenate([[0.0], np.cumsum(1.0 / np.arange(1, n + 1))])
        self.log_factorial = gammaln(np.arange(n + 1) + 1.0)

    def log_choose(self, n, k):
        lf = self.log_factorial
        return lf[n] - lf[k] - lf[n - k]


def expected_block_sum(start, size, relevant, relevant_before, tables: Tables):
    """S(a, n, ρ, R) of docs/method.md §6: the expected Σ (hits so far)/k over the relevant ranks of a block
    of ``size`` ranks after rank ``start`` holding ``relevant`` items, ``relevant_before`` ranked
    before it, all orders of the block equally likely. Element-wise; 0 for an empty block."""
    t1 = tables.harmonic[start + size] - tables.harmonic[start]
    t2 = size - (start + 1) * t1
    zeros = np.zeros(np.broadcast(start, size, relevant).shape)
    pair_fraction = np.divide(relevant - 1, size - 1, out=zeros.copy(), where=size > 1)
    share = np.divide(relevant, size, out=zeros, where=size > 0)
    return share * ((relevant_before + 1) * t1 + pair_fraction * t2)


def tie_aware_scores(sizes: np.ndarray, hits: np.ndarray, totals: np.ndarray, k: int,
                     tables: Tables) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """E[P@k], E[R@k], E[AP@k] of each query (docs/method.md §6).

    ``sizes`` and ``hits`` (queries × groups, int) are n_g and r_g of the groups in ascending
    distance (empty groups allowed); ``totals`` is R_q; ``k`` ≤ the database size; ``tables``
    covers the database size.
    """
    n_queries = sizes.shape[0]
    rows = np.arange(n_queries)
    ends = np.cumsum(sizes, axis=1)
    starts = ends - sizes
    hits_before = np.cumsum(hits, axis=1) - hits
    star = np.argmax(ends >= k, axis=1)  # g*: the group holding rank k
    n_star, r_star, a_star, h0 = (array[rows, star] for array in (sizes, hits, starts, hits_before))
    m = k - a_star  # items of g* inside the top k

    expected_hits = h0 + m * r_star / n_star
    precision = expected_hits / k
    recall = np.divide(expected_hits, totals, out=np.zeros(n_queries), where=totals > 0)

    whole = np.arange(sizes.shape[1]) < star[:, None]  # the groups wholly inside the top k
    before = np.where(whole, expected_block_sum(starts, sizes, hits, hits_before, tables), 0.0).sum(axis=1)
    # h relevant among the m: hypergeometric over every feasible h of every query, as flat arrays
    low = np.maximum(0, m - (n_star - r_star))
    count = np.minimum(m, r_star) - low + 1
    owner = np.repeat(rows, count)
    h = np.arange(owner.size) - np.repeat(np.cumsum(count) - count, count) + low[owner]
    n, r, mm = n_star[owner], r_star[owner], m[owner]
    log_pmf = tables.log_choose(r, h) + tables.log_choose(n - r, mm - h) - tables.log_choose(n, mm)
    found = h0[owner] + h
    partial = expected_block_sum(a_star[owner], mm, h, h0[owner], tables)
    value = np.divide(before[owner] + partial, found, out=np.zeros(owner.size), where=found > 0)
    average_precision = np.bincount(owner, weights=np.exp(log_pmf) * value, minlength=n_queries)
    return precision, recall, average_precision


# --- one ordering: ties broken by database position ------------------------------------------------


def ranked_scores(relevant_ranked: np.ndarray, totals: np.ndarray, depths: list[int]) -> list[tuple]:
    """(P@k, R@k, AP@k) per query for each depth, from the relevance (queries × max depth, bool) of
    the top-ranked items of one ordering (docs/method.md §6)."""
    n_queries = relevant_ranked.shape[0]
    rows, columns = np.nonzero(relevant_ranked)
    per_row = np.bincount(rows, minlength=n_queries)
    hit_number = np.arange(1, len(rows) + 1) - np.repeat(np.cumsum(per_row) - per_row, per_row)
    precision_at_hit = hit_number / (columns + 1.0)
    scores = []
    for depth in depths:
        inside = columns < depth
        found = np.bincount(rows[inside], minlength=n_queries)
        precision_sum = np.bincount(rows[inside], weights=precision_at_hit[inside], minlength=n_queries)
        scores.append((
            found / depth,
            np.divide(found, totals, out=np.zeros(n_queries), where=totals > 0),
            np.divide(precision_sum, found, out=np.zeros(n_queries), where=found > 0),
        ))
    return scores


# --- checks -----------------------------------------------------------------------------------------


def check_codes(name: str, codes) -> np.ndarray:
    codes = np.asarray(codes)
    if codes.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (items × bits), got shape {codes.shape}")
    if codes.shape[0] == 0:
        raise ValueError(f"{name} is empty: evaluation needs at least one item")
    if codes.shape[1] == 0 or codes.shape[1] > 255:
        raise ValueError(f"{name} must have between 1 and 255 bits, got {codes.shape[1]}")
    if codes.dtype != np.bool_ and not np.isin(codes, (0, 1)).all():
        raise ValueError(f"{name} must hold only 0 and 1 (bool, uint8 or int), found other values")
    return codes.astype(np.uint8)


def check_ks(ks) -> list[int]:
    """The cut-offs as a sorted list of distinct positive ints; one int is accepted as one K."""
    values = [ks] if isinstance(ks, (numbers.Number, np.number)) else list(ks)
    if not values:
        raise ValueError("ks is empty: give at least one K (e.g. ks=(100, 1000, 5000))")
    checked = set()
    for k in values:
        if isinstance(k, (bool, np.bool_)) or not isinstance(k, (numbers.Integral, np.integer)) or k < 1:
            raise ValueError(f"every K must be a positive integer, got {k!r}")
        checked.add(int(k))
    return sorted(checked)


def _check_labels(name: str, labels, n: int) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.shape[0] != n:
        raise ValueError(f"{name} has {labels.shape[0]} entries but there are {n} codes")
    if labels.ndim not in (1, 2):
        raise ValueError(f"{name} must be 1-D (single-label) or 2-D 0/1 (multi-label)")
    if labels.dtype.kind in "fc" and not np.isfinite(labels).all():
        raise ValueError(f"{name} contains NaN or infinite values: every item needs a label")
    if labels.dtype == object and any(label is None or label != label for label in labels.ravel()):
        raise ValueError(f"{name} contains missing labels (None or NaN): every item needs a label")
    return labels


def _relevance_keys(db_labels, query_labels, n_db: int, n_queries: int):
    """Labels turned into keys for ``_relevance``, and the R_q of docs/method.md §6 of every query.

    Single-label: integer class ids (relevant ⇔ equal ids). Multi-label: class sets packed into
    words (relevant ⇔ a common bit).
    """
    db_labels = _check_labels("db_labels", db_labels, n_db)
    query_labels = _check_labels("query_labels", query_labels, n_queries)
    if db_labels.ndim != query_labels.ndim:
        raise ValueError("db_labels and query_labels must both be 1-D or both be 2-D")
    if db_labels.ndim == 1:
        classes, ids = np.unique(np.concatenate([db_labels, query_labels]), return_inverse=True)
        db_ids, query_ids = ids[:n_db], ids[n_db:]
        class_sizes = np.bincount(db_ids, minlength=len(classes))
        return db_ids, query_ids, class_sizes[query_ids].astype(np.int64)
    if db_labels.shape[1] != query_labels.shape[1]:
        raise ValueError("db_labels and query_labels have different numbers of classes")
    for name, labels in (("db_labels", db_labels), ("query_labels", query_labels)):
        if not np.isin(labels, (0, 1)).all():
            raise ValueError(f"multi-label {name} must be a 0/1 matrix")
    db_sets, query_sets = db_labels.astype(np.uint8), query_labels.astype(np.uint8)
    class_sizes = db_sets.sum(axis=0, dtype=np.int64)
    relevant_counts = query_sets.astype(np.int64) @ class_sizes
    return pack_bits(db_sets), pack_bits(query_sets), relevant_counts


def _relevance(db_keys: np.ndarray, query_keys: np.ndarray) -> np.ndarray:
    """Relevance (block of queries × database, bool) of every database item to each query."""
    if db_keys.ndim == 1:
        return db_keys[None, :] == query_keys[:, None]
    shared = db_keys[None, :, :] & query_keys[:, None, :]
    return (shared != 0).any(axis=2)


def _worker_count() -> int:
    """Threads for the query blocks: the cores this process may use (``OMP_NUM_THREADS`` caps it)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    limit = os.environ.get("OMP_NUM_THREADS", "")
    return max(1, min(cores, int(limit))) if limit.isdigit() and int(limit) > 0 else cores


# --- the public function ------------------------------------------------------------------------------


def evaluate(
    db_codes,
    query_codes,
    db_labels,
    query_labels,
    ks: Iterable[int] | int = DEFAULT_KS,
    ties: str = "expected",
    seed: int | None = None,
) -> dict[str, float]:
    """P@K, R@K and MAP@K (docs/method.md §6) of the Hamming ranking of ``db_codes`` for each query.

    Codes: 0/1 arrays (items × bits, bool/uint8/int). Labels: 1-D (ints or strings) for
    single-label data, or 0/1 matrices (items × classes) for multi-label data, where an item is
    relevant when it shares at least one class with the query. ``ks``: positive integers (or one);
    a K larger than the database is clipped to the database size (the key keeps the K asked for).
    ``ties``: ``"expected"`` (default; the expected value over all orders of tied items, which does
    not depend on the database order), ``"index"`` (ties broken by database position) or
    ``"random"`` (one uniformly random order drawn from ``seed``). Returns
    ``{"p@K": …, "r@K": …, "map@K": …}`` for every K.
    """
    if ties not in TIE_MODES:
        raise ValueError(f"unknown ties mode {ties!r}; valid modes: {', '.join(TIE_MODES)}")
    if ties == "random" and seed is None:
        raise ValueError('ties="random" needs a seed (an int), so that the order can be drawn again')
    db_codes, query_codes = check_codes("db_codes", db_codes), check_codes("query_codes", query_codes)
    if db_codes.shape[1] != query_codes.shape[1]:
        raise ValueError(
            f"db_codes have {db_codes.shape[1]} bits but query_codes have {query_codes.shape[1]}"
        )
    ks = check_ks(ks)
    n_db, n_queries, n_bits = db_codes.shape[0], query_codes.shape[0], db_codes.shape[1]
    db_keys, query_keys, totals = _relevance_keys(db_labels, query_labels, n_db, n_queries)
    if ties == "random":
        order = np.random.default_rng(seed).permutation(n_db)
        db_codes, db_keys = db_codes[order], db_keys[order]
    depths = [min(k, n_db) for k in ks]
    db_words, query_words = pack_bits(db_codes), pack_bits(query_codes)
    tables = Tables(n_db) if ties == "expected" else None
    groups = n_bits + 1

    def score_block(start: int) -> list[tuple]:
        stop = min(start + block, n_queries)
        distances = hamming_distances(query_words[start:stop], db_words)
        relevant = _relevance(db_keys, query_keys[start:stop])
        if ties != "expected":
            ranked = np.argsort(distances, axis=1, kind="stable")[:, : max(depths)]
            return ranked_scores(np.take_along_axis(relevant, ranked, axis=1), totals[start:stop], depths)
        # one histogram of 2·distance + relevance per query gives n_g and r_g together
        keys = np.left_shift(distances if n_bits < 128 else distances.astype(np.uint16), 1) | relevant
        offsets = (np.arange(stop - start) * 2 * groups)[:, None]
        counts = np.bincount(np.add(keys, offsets, dtype=np.intp).ravel(), minlength=(stop - start) * 2 * groups)
        counts = counts.reshape(stop - start, groups, 2)
        sizes, hits = counts.sum(axis=2), counts[:, :, 1]
        return [tie_aware_scores(sizes, hits, totals[start:stop], depth, tables) for depth in depths]

    block = max(1, BLOCK_ELEMENTS // n_db)
    starts = range(0, n_queries, block)
    with ThreadPoolExecutor(max_workers=min(_worker_count(), len(starts))) as pool:
        per_block = list(pool.map(score_block, starts))
    scores = {}
    for index, k in enumerate(ks):
        for name, position in (("p", 0), ("r", 1), ("map", 2)):
            per_query = np.concatenate([block_scores[index][position] for block_scores in per_block])
            scores[f"{name}@{k}"] = float(per_query.mean())
    return scores
