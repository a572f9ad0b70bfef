"""Retrieval metrics over Hamming rankings: P@K, R@K and MAP@K exactly as SPEC §6 defines them.

For each query the database is ranked by Hamming distance, ties broken by database position.
Distances come from XOR + popcount on codes packed into 64-bit words; each row of distances is
ordered by a stable radix sort (numpy's stable sort of small integers), so the tie order is the
database order. Queries are processed in blocks, so memory stays bounded by the block.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

DEFAULT_KS = (100, 1000, 5000)
BLOCK_ELEMENTS = 1 << 22  # query × database distances held at once (uint8 + int64 order each)


def pack_bits(bits: np.ndarray) -> np.ndarray:
    """Packs a 0/1 matrix (items × bits) into uint64 words (items × ⌈bits/64⌉)."""
    n_items, n_bits = bits.shape
    n_words = max(1, -(-n_bits // 64))
    padded = np.zeros((n_items, n_words * 64), dtype=np.uint8)
    padded[:, :n_bits] = bits
    return np.packbits(padded, axis=1).view(np.uint64)


def hamming_distances(query_words: np.ndarray, db_words: np.ndarray) -> np.ndarray:
    """Hamming distances (queries × database, uint8) between packed codes."""
    distances = np.zeros((query_words.shape[0], db_words.shape[0]), dtype=np.uint8)
    for word in range(db_words.shape[1]):
        xor = np.bitwise_xor(query_words[:, word, None], db_words[None, :, word])
        distances += np.bitwise_count(xor)
    return distances


def _check_codes(name: str, codes) -> np.ndarray:
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


def _relevance_keys(db_labels, query_labels, n_db: int, n_queries: int):
    """Labels turned into packed class sets: item relevant ⇔ (db_key & query_key) ≠ 0.

    Returns (db_keys, query_keys, relevant_counts) with relevant_counts the R_q of SPEC §6.
    """
    db_labels, query_labels = np.asarray(db_labels), np.asarray(query_labels)
    for name, labels, n in (("db_labels", db_labels, n_db), ("query_labels", query_labels, n_queries)):
        if labels.shape[0] != n:
            raise ValueError(f"{name} has {labels.shape[0]} entries but there are {n} codes")
        if labels.ndim not in (1, 2):
            raise ValueError(f"{name} must be 1-D (single-label) or 2-D 0/1 (multi-label)")
    if db_labels.ndim != query_labels.ndim:
        raise ValueError("db_labels and query_labels must both be 1-D or both be 2-D")
    if db_labels.ndim == 1:
        classes, ids = np.unique(np.concatenate([db_labels, query_labels]), return_inverse=True)
        one_hot = np.eye(len(classes), dtype=np.uint8)[ids]
        db_sets, query_sets = one_hot[:n_db], one_hot[n_db:]
    else:
        if db_labels.shape[1] != query_labels.shape[1]:
            raise ValueError("db_labels and query_labels have different numbers of classes")
        for name, labels in (("db_labels", db_labels), ("query_labels", query_labels)):
            if not np.isin(labels, (0, 1)).all():
                raise ValueError(f"multi-label {name} must be a 0/1 matrix")
        db_sets, query_sets = db_labels.astype(np.uint8), query_labels.astype(np.uint8)
    class_sizes = db_sets.sum(axis=0, dtype=np.int64)
    relevant_counts = query_sets.astype(np.int64) @ class_sizes
    return pack_bits(db_sets), pack_bits(query_sets), relevant_counts


def _is_relevant(db_keys: np.ndarray, query_keys: np.ndarray, ranked: np.ndarray) -> np.ndarray:
    shared = db_keys[ranked] & query_keys[:, None, :]
    return (shared != 0).any(axis=2)


def evaluate(
    db_codes,
    query_codes,
    db_labels,
    query_labels,
    ks: Iterable[int] = DEFAULT_KS,
) -> dict[str, float]:
    """P@K, R@K and MAP@K (SPEC §6) of Hamming ranking of ``db_codes`` for each query.

    Codes: 0/1 arrays (items × bits, bool/uint8/int). Labels: 1-D (ints or strings) for
    single-label data, or 0/1 matrices (items × classes) for multi-label data, where an item is
    relevant when it shares at least one class with the query. A K larger than the database is
    clipped to the database size (the key keeps the K asked for). Returns
    ``{"p@K": …, "r@K": …, "map@K": …}`` for every K.
    """
    db_codes, query_codes = _check_codes("db_codes", db_codes), _check_codes("query_codes", query_codes)
    if db_codes.shape[1] != query_codes.shape[1]:
        raise ValueError(
            f"db_codes have {db_codes.shape[1]} bits but query_codes have {query_codes.shape[1]}"
        )
    ks = sorted({int(k) for k in ks})
    if not ks or min(ks) < 1:
        raise ValueError(f"every K must be at least 1, got {ks}")
    n_db, n_queries = db_codes.shape[0], query_codes.shape[0]
    db_keys, query_keys, relevant_counts = _relevance_keys(db_labels, query_labels, n_db, n_queries)
    clipped = [min(k, n_db) for k in ks]
    depth = max(clipped)
    positions = np.arange(1, depth + 1, dtype=np.float64)

    db_words, query_words = pack_bits(db_codes), pack_bits(query_codes)
    block = max(1, BLOCK_ELEMENTS // n_db)
    sums = {key: 0.0 for k in ks for key in (f"p@{k}", f"r@{k}", f"map@{k}")}
    for start in range(0, n_queries, block):
        stop = min(start + block, n_queries)
        distances = hamming_distances(query_words[start:stop], db_words)
        ranked = np.argsort(distances, axis=1, kind="stable")[:, :depth]
        relevant = _is_relevant(db_keys, query_keys[start:stop], ranked)
        hits = np.cumsum(relevant, axis=1, dtype=np.int64)
        precision_terms = np.cumsum(relevant * (hits / positions), axis=1)
        totals = relevant_counts[start:stop]
        for k, depth_k in zip(ks, clipped):
            found = hits[:, depth_k - 1]
            sums[f"p@{k}"] += (found / depth_k).sum()
            recall = np.divide(found, totals, out=np.zeros(len(found)), where=totals > 0)
            sums[f"r@{k}"] += recall.sum()
            average_precision = np.divide(
                precision_terms[:, depth_k - 1], found, out=np.zeros(len(found)), where=found > 0
            )
            sums[f"map@{k}"] += average_precision.sum()
    return {key: float(total / n_queries) for key, total in sums.items()}
