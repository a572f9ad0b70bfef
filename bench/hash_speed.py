"""Hashing at scale: docs/s and peak memory of ``hash_codes`` on synthetic sparse documents.

    python bench/hash_speed.py [--docs 1000000] [--features 100000]

Each size runs in its own process (an untrained SSB-VAE of 16 bits over the vocabulary; hashing
cost does not depend on the weights), on a CSR matrix of documents with 60 distinct terms each
drawn from a Zipf-like law. The table shows the input's own size, the peak resident memory while
hashing (the peak is reset once the documents are built) and that peak less the memory held
just before hashing: what the hashing needs beyond the input, codes included.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

TERMS_PER_DOC = 60


def documents(n_docs: int, n_features: int, seed: int = 0):
    import numpy as np
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, n_features + 1)
    weights /= weights.sum()
    columns = rng.choice(n_features, size=(n_docs, TERMS_PER_DOC), p=weights).astype(np.int32)
    columns.sort(axis=1)
    indptr = np.arange(0, n_docs * TERMS_PER_DOC + 1, TERMS_PER_DOC, dtype=np.int64)
    values = rng.random(n_docs * TERMS_PER_DOC, dtype=np.float32)
    matrix = sp.csr_matrix((values, columns.ravel(), indptr), shape=(n_docs, n_features))
    matrix.sum_duplicates()
    return matrix


def memory_kib(field: str) -> int:
    """A memory figure of this process from /proc/self/status (VmRSS now, VmHWM its peak), in KiB."""
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


def reset_peak_memory() -> int:
    """Resets the peak resident memory to the current one (Linux ≥ 4.0) and returns it in bytes,
    so that the peak measured next belongs to what runs next, not to building the documents."""
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")
    return memory_kib("VmRSS") * 1024


def measure(n_docs: int, n_features: int) -> dict:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import ssb_vae

    x = documents(n_docs, n_features)
    input_bytes = x.data.nbytes + x.indices.nbytes + x.indptr.nbytes
    model = ssb_vae.build_model("ssb-vae", n_features, 16, 20, seed=0, sparse_inputs=True)
    ssb_vae.hash_codes(model, x[:2000])  # traces the encoder once
    before = reset_peak_memory()
    started = time.perf_counter()
    codes = ssb_vae.hash_codes(model, x)
    seconds = time.perf_counter() - started
    peak = memory_kib("VmHWM") * 1024
    return {"docs": n_docs, "seconds": seconds, "docs_per_s": n_docs / seconds, "input_mb": input_bytes / 1e6,
            "codes_mb": codes.nbytes / 1e6, "before_mb": before / 1e6, "peak_mb": peak / 1e6}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=100_000)
    parser.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(measure(args.one, args.features)))
        return
    print("| documents | docs/s | input CSR | peak RSS | peak − RSS before hashing | codes |\n|---|---|---|---|---|---|")
    for n_docs in (args.docs // 10, args.docs):
        done = subprocess.run([sys.executable, __file__, "--one", str(n_docs), "--features", str(args.features)],
                              capture_output=True, text=True, check=True)
        row = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"| {row['docs']:,} | {row['docs_per_s']:,.0f} | {row['input_mb']:.0f} MB | {row['peak_mb']:.0f} MB "
              f"| {row['peak_mb'] - row['before_mb']:.0f} MB | {row['codes_mb']:.0f} MB |", flush=True)


if __name__ == "__main__":
    main()
