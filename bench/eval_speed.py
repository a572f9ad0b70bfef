"""Retrieval evaluation speed: ``ssb_vae.evaluate`` against a straightforward per-query loop.

The loop is SPEC §6 as the reference experiments computed it: for every query an argsort of the
whole database, then Python loops over the top K for each metric. Both run on a 20 Newsgroups-
sized case (14,700 database codes, 3,700 queries, 20 classes) at 16 and 32 bits; the bench checks
they agree and prints the ratio. Then a large case (1,000,000 × 10,000, 32 bits) shows that memory
stays bounded by the query block.

    python bench/eval_speed.py [--loop-queries 3700] [--skip-large]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from ssb_vae.evaluation import evaluate  # noqa: E402

KS = (100, 1000, 5000)


def per_query_loop(db_codes, query_codes, db_labels, query_labels, ks=KS) -> dict:
    """For each query: argsort of all Hamming distances (stable), then loops over the top K."""
    sums = {f"{m}@{k}": 0.0 for k in ks for m in ("p", "r", "map")}
    for q in range(len(query_codes)):
        distances = np.count_nonzero(db_codes != query_codes[q], axis=1)
        order = np.argsort(distances, kind="stable")
        relevant_total = int(np.sum(db_labels == query_labels[q]))
        for k in ks:
            hits, precision_sum = 0, 0.0
            for rank in range(min(k, len(order))):
                if db_labels[order[rank]] == query_labels[q]:
                    hits += 1
                    precision_sum += hits / (rank + 1)
            sums[f"p@{k}"] += hits / min(k, len(order))
            sums[f"r@{k}"] += hits / relevant_total if relevant_total else 0.0
            sums[f"map@{k}"] += precision_sum / hits if hits else 0.0
    return {key: value / len(query_codes) for key, value in sums.items()}


def timed(function, repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--loop-queries", type=int, default=3700,
                        help="queries timed for the loop (its time is scaled to 3,700)")
    parser.add_argument("--skip-large", action="store_true", help="skip the 1,000,000-item case")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    n_db, n_queries = 14700, 3700
    print(f"database {n_db}, queries {n_queries}, 20 classes, K = {KS}")
    for bits in (16, 32):
        # codes correlated with the class, so rankings are not all ties
        centers = rng.integers(0, 2, (20, bits), dtype=np.uint8)
        db_labels, query_labels = rng.integers(0, 20, n_db), rng.integers(0, 20, n_queries)
        flip = lambda labels: (rng.random((len(labels), bits)) < 0.2).astype(np.uint8)  # noqa: E731
        db = centers[db_labels] ^ flip(db_labels)
        queries = centers[query_labels] ^ flip(query_labels)

        fast_time, fast = timed(lambda: evaluate(db, queries, db_labels, query_labels, KS), repeats=5)
        m = min(args.loop_queries, n_queries)
        loop_time, _ = timed(lambda: per_query_loop(db, queries[:m], db_labels, query_labels[:m]), repeats=1)
        loop_time *= n_queries / m
        check = per_query_loop(db, queries[:200], db_labels, query_labels[:200])
        subset = evaluate(db, queries[:200], db_labels, query_labels[:200], KS)
        agree = all(abs(check[k] - subset[k]) < 1e-12 for k in check)
        print(f"{bits} bits: evaluate {fast_time:.3f} s (median of 5), per-query loop "
              f"{loop_time:.1f} s{' (scaled from ' + str(m) + ' queries)' if m < n_queries else ''}, "
              f"ratio {loop_time / fast_time:.0f}x; same numbers on 200 queries: {agree}; "
              f"p@100 {fast['p@100']:.4f} map@1000 {fast['map@1000']:.4f}")

    if not args.skip_large:
        n_db, n_queries = 1_000_000, 10_000
        db = rng.integers(0, 2, (n_db, 32), dtype=np.uint8)
        queries = rng.integers(0, 2, (n_queries, 32), dtype=np.uint8)
        db_labels, query_labels = rng.integers(0, 100, n_db), rng.integers(0, 100, n_queries)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        start = time.perf_counter()
        evaluate(db, queries, db_labels, query_labels, KS)
        elapsed = time.perf_counter() - start
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        full_matrix = n_db * n_queries / 2**20
        print(f"large: {n_db:,} × {n_queries:,} queries, 32 bits: {elapsed:.1f} s; peak RSS {peak:.0f} MB "
              f"(before: {before:.0f} MB); a full query × database uint8 matrix would be {full_matrix:,.0f} MB")


if __name__ == "__main__":
    main()
