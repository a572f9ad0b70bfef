"""Retrieval evaluation speed: ``ssb_vae.evaluate`` in its tie modes against per-query loops.

On a 20 Newsgroups-sized case (14,700 database codes, 3,700 queries, 20 classes) at 16 and 32
bits, in one run, all seven reported figures (P@100, R@100, P@1000, P@5000, MAP@100, MAP@1000,
MAP@5000) by:
- ``evaluate`` with ``ties="expected"`` (the default: tie-aware, no sort);
- ``evaluate`` with ``ties="index"`` (ties by database position: a stable sort per query);
- a per-query loop of the tie-aware formulas of docs/method.md §6 (group sizes by ``np.bincount``, a loop
  over the groups and ``scipy.stats.hypergeom``), and the per-query stable-argsort loop of the
  position rule, each checked equal to ``evaluate`` in its mode.
Then a large case (1,000,000 × 10,000 codes of 32 bits, default mode): time and peak memory.

    python bench/eval_speed.py [--loop-queries 300] [--skip-large]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from scipy.stats import hypergeom

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from ssb_vae.evaluation import evaluate  # noqa: E402

KS = (100, 1000, 5000)


def expected_loop(db_codes, query_codes, db_labels, query_labels, ks=KS) -> dict:
    """docs/method.md §6 tie-aware measures, one query at a time, the formulas written out as loops."""
    sums = {f"{m}@{k}": 0.0 for k in ks for m in ("p", "r", "map")}
    n_bits = db_codes.shape[1]
    for q in range(len(query_codes)):
        distances = np.count_nonzero(db_codes != query_codes[q], axis=1)
        relevant = db_labels == query_labels[q]
        sizes = np.bincount(distances, minlength=n_bits + 1)
        hits = np.bincount(distances, weights=relevant, minlength=n_bits + 1).astype(int)
        total = int(relevant.sum())
        for k in ks:
            depth = min(k, len(db_codes))
            start, hits_before, ap_whole = 0, 0, 0.0
            for size, relevant_here in zip(sizes, hits):
                if start + size >= depth:  # the group holding rank `depth`
                    m = depth - start
                    found = hits_before + m * relevant_here / size
                    feasible = np.arange(max(0, m - (size - relevant_here)), min(m, relevant_here) + 1)
                    ap = sum(p * (ap_whole + block_sum(start, m, h, hits_before)) / (hits_before + h)
                             for h, p in zip(feasible, hypergeom(size, relevant_here, m).pmf(feasible))
                             if hits_before + h)
                    break
                ap_whole += block_sum(start, size, relevant_here, hits_before)
                start, hits_before = start + size, hits_before + relevant_here
            sums[f"p@{k}"] += found / depth
            sums[f"r@{k}"] += found / total if total else 0.0
            sums[f"map@{k}"] += ap
    return {key: value / len(query_codes) for key, value in sums.items()}


def block_sum(start: int, size: int, relevant: int, before: int) -> float:
    """S(a, n, ρ, R) of docs/method.md §6, by its sum over the block's ranks."""
    if size == 0:
        return 0.0
    ranks = np.arange(start + 1, start + size + 1)
    others = (ranks - start - 1) * (relevant - 1) / (size - 1) if size > 1 else 0.0
    return float(np.sum(relevant / size * (before + 1 + others) / ranks))


def index_loop(db_codes, query_codes, db_labels, query_labels, ks=KS) -> dict:
    """Ties by position: for each query an argsort of all distances (stable), loops over the top K."""
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


def same(first: dict, second: dict) -> bool:
    return all(abs(first[key] - second[key]) < 1e-9 for key in first)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--loop-queries", type=int, default=300,
                        help="queries timed for the loops (their time is scaled to 3,700)")
    parser.add_argument("--skip-large", action="store_true", help="skip the 1,000,000-item case")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    n_db, n_queries = 14700, 3700
    m = min(args.loop_queries, n_queries)
    scaled = f" (scaled from {m} queries)" if m < n_queries else ""
    print(f"database {n_db}, queries {n_queries}, 20 classes, all seven figures; medians of 7 runs")
    for bits in (16, 32):
        # codes correlated with the class, so rankings are not all ties
        centers = rng.integers(0, 2, (20, bits), dtype=np.uint8)
        db_labels, query_labels = rng.integers(0, 20, n_db), rng.integers(0, 20, n_queries)
        flip = lambda labels: (rng.random((len(labels), bits)) < 0.2).astype(np.uint8)  # noqa: E731
        db = centers[db_labels] ^ flip(db_labels)
        queries = centers[query_labels] ^ flip(query_labels)
        print(f"\n{bits} bits: {len(np.unique(db, axis=0))} distinct database codes")
        for ties, loop in (("expected", expected_loop), ("index", index_loop)):
            fast_time, fast = timed(lambda: evaluate(db, queries, db_labels, query_labels, KS, ties=ties), 7)
            loop_time, looped = timed(lambda: loop(db, queries[:m], db_labels, query_labels[:m]), 1)
            subset = evaluate(db, queries[:m], db_labels, query_labels[:m], KS, ties=ties)
            print(f"  ties={ties:8s} evaluate {fast_time:6.3f} s   per-query loop {loop_time * n_queries / m:6.1f} s"
                  f"{scaled}   ratio {loop_time * n_queries / m / fast_time:5.0f}x   equal: {same(looped, subset)}"
                  f"   p@100 {fast['p@100']:.4f} map@1000 {fast['map@1000']:.4f}")

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
        print(f"\nlarge: {n_db:,} × {n_queries:,} queries, 32 bits, ties=expected: {elapsed:.1f} s; "
              f"peak RSS {peak:.0f} MB (before: {before:.0f} MB); a full query × database uint8 "
              f"distance matrix would be {full_matrix:,.0f} MB")


if __name__ == "__main__":
    main()
