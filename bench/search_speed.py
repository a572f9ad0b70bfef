"""Hamming search speed: faiss binary indexes against a numpy brute force, in one run.

1,000,000 random 32-bit codes, 10,000 random queries, k = 100. Each method runs in a process of
its own (so its peak memory is its own) on the same seeded codes; printed: build time, queries per
second, peak resident memory, and recall@100 against the exact search (an item counts when its
distance is at most the exact 100th distance, so that ties do not matter). The brute force is
timed on a subset of the queries and scaled.

    python bench/search_speed.py [--items 1000000] [--queries 10000] [--brute-queries 500]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
METHODS = ("faiss flat (exact)", "faiss hash (16-bit buckets, 2 flips)",
           "faiss multihash (2 × 16-bit tables, 2 flips)", "numpy brute force")
BITS, K = 32, 100


def data(items: int, queries: int):
    rng = np.random.default_rng(0)
    return rng.integers(0, 2, (items, BITS), dtype=np.uint8), rng.integers(0, 2, (queries, BITS), dtype=np.uint8)


def brute_force(codes: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Distances of the k nearest codes of each query (sorted), by XOR + popcount and argpartition."""
    from ssb_vae.evaluation import hamming_distances, pack_bits

    db_words, query_words = pack_bits(codes), pack_bits(queries)
    nearest = []
    for start in range(0, len(queries), 64):
        distances = hamming_distances(query_words[start:start + 64], db_words)
        top = np.partition(distances, k - 1, axis=1)[:, :k]
        nearest.append(np.sort(top, axis=1))
    return np.concatenate(nearest)


def measure(method: str, items: int, queries: int, brute_queries: int) -> dict:
    from ssb_vae.index import faiss_index, pack_codes

    codes, query_codes = data(items, queries)
    if method == "numpy brute force":
        start = time.perf_counter()
        found = brute_force(codes, query_codes[:brute_queries], K)
        seconds = (time.perf_counter() - start) * queries / brute_queries
        build = 0.0
    else:
        kind = {"faiss flat (exact)": "flat", "faiss hash (16-bit buckets, 2 flips)": "hash"}.get(method, "multihash")
        start = time.perf_counter()
        index = faiss_index(BITS, kind)
        index.add(pack_codes(codes))
        build = time.perf_counter() - start
        start = time.perf_counter()
        distances, positions = index.search(pack_codes(query_codes), K)
        seconds = time.perf_counter() - start
        found = np.where(positions[:brute_queries] >= 0, distances[:brute_queries], 10**6)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # before the reference below
    exact = brute_force(codes, query_codes[:brute_queries], K)
    recall = np.mean([min(K, int((row <= reference[-1]).sum())) / K for row, reference in zip(found, exact)])
    return {"build_s": build, "qps": queries / seconds, "search_s": seconds, "recall": float(recall), "peak_mb": peak}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=10_000)
    parser.add_argument("--brute-queries", type=int, default=500, help="queries timed for the brute force (scaled)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    if args.child:
        print(json.dumps(measure(args.child, args.items, args.queries, args.brute_queries)))
        return
    print(f"{args.items:,} random {BITS}-bit codes, {args.queries:,} queries, k = {K}; recall@{K} on "
          f"{args.brute_queries} queries against the exact search\n")
    print(f"{'method':46s} {'build s':>8s} {'queries/s':>10s} {'peak MB':>8s} {'recall':>7s}")
    for method in METHODS:
        output = subprocess.run([sys.executable, __file__, "--child", method, "--items", str(args.items),
                                 "--queries", str(args.queries), "--brute-queries", str(args.brute_queries)],
                                check=True, capture_output=True, text=True).stdout
        r = json.loads(output.strip().splitlines()[-1])
        print(f"{method:46s} {r['build_s']:8.2f} {r['qps']:10,.0f} {r['peak_mb']:8.0f} {r['recall']:7.3f}")


if __name__ == "__main__":
    main()
