"""Retrieval metrics over Hamming rankings: P@K, R@K and MAP@K exactly as SPEC §6 defines them.

For each query the database is ranked by Hamming distance, ties broken by database position.
Distances come from XOR + popcount on codes packed into machine words; each row is ordered by a stable radix sort (numpy's stable sort of uint8), so ties keep the
database order; the metrics are then sums over the relevant items of the top ranks only. Queries
are processed in blocks, so memory stays bounded by the block whatever the database size.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

DEFAULT_KS = (100, 1000, 5000)
BLOCK_ELEMENTS = 1 << 22  # query × database distances held at once (uint8 + int64 order each)


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
    """Labels turned into keys for ``_is_relevant``, and the R_q of SPEC §6 of every query.

    Single-label: integer class ids (relevant ⇔ equal ids). Multi-label: class sets packed into
    uint64 words (relevant ⇔ a common bit).
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


def _is_relevant(db_keys: np.ndarray, query_keys: np.ndarray, ranked: np.ndarray) -> np.ndarray:
    """Relevance (block × depth, bool) of the ranked database items to each query of the block."""
    if db_keys.ndim == 1:
        return db_keys[ranked] == query_keys[:, None]
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
    db_words, query_words = pack_bits(db_codes), pack_bits(query_codes)
    block = max(1, BLOCK_ELEMENTS // n_db)
    sums = {key: 0.0 for k in ks for key in (f"p@{k}", f"r@{k}", f"map@{k}")}
    for start in range(0, n_queries, block):
        stop = min(start + block, n_queries)
        distances = hamming_distances(query_words[start:stop], db_words)
        ranked = np.argsort(distances, axis=1, kind="stable")[:, :depth]
        relevant = _is_relevant(db_keys, query_keys[start:stop], ranked)
        # every relevant item of the top `depth`: its query (row), rank − 1 (column) and hit number
        rows, columns = np.nonzero(relevant)
        per_row = np.bincount(rows, minlength=stop - start)
        hit_number = np.arange(1, len(rows) + 1) - np.repeat(np.cumsum(per_row) - per_row, per_row)
        precision_at_hit = hit_number / (columns + 1.0)
        totals = relevant_counts[start:stop]
        for k, depth_k in zip(ks, clipped):
            in_top = columns < depth_k
            found = np.bincount(rows[in_top], minlength=stop - start)
            precision_sum = np.bincount(rows[in_top], weights=precision_at_hit[in_top], minlength=stop - start)
            sums[f"p@{k}"] += found.sum() / depth_k
            sums[f"r@{k}"] += np.divide(found, totals, out=np.zeros(len(found)), where=totals > 0).sum()
            sums[f"map@{k}"] += np.divide(precision_sum, found, out=np.zeros(len(found)), where=found > 0).sum()
    return {key: float(total / n_queries) for key, total in sums.items()}
