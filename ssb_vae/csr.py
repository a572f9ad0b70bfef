"""CSR mini-batches as tensors: how a sparse batch enters a model, and which row each entry is in.

A sparse matrix input named ``x`` enters a model as three tensors (``csr_names("x")``):
``x_lengths`` (n,) int32, the number of stored entries of each row (``diff(indptr)``);
``x_columns`` (P,) int32 and ``x_values`` (P,) float32, the entries row after row. P is the
batch's number of entries rounded up (``ssb_vae.batches``), so XLA compiles a handful of
shapes instead of one per batch; the padding entries sit after the last row, with value 0, and
add exactly nothing.
"""

from __future__ import annotations

from ssb_vae.backend import keras

ops = keras.ops

PARTS = ("lengths", "columns", "values")


def csr_names(name: str) -> tuple[str, str, str]:
    """The input names of the CSR parts of the matrix input ``name``: lengths, columns, values."""
    return tuple(f"{name}_{part}" for part in PARTS)


def row_ids(lengths, n_entries):
    """The row of each of the ``n_entries`` entries of a CSR batch.

    Entry p belongs to the first row whose cumulative length exceeds p; the padding entries
    after the last row are spread over the rows (p mod n), where their 0 adds nothing. XLA
    compiles it (the numbers of rows and entries are static shapes there).
    """
    n_rows = ops.shape(lengths)[0]
    ends = ops.cumsum(ops.cast(lengths, "int32"))
    positions = ops.arange(n_entries, dtype="int32")
    rows = ops.cast(ops.searchsorted(ends, positions, side="right"), "int32")
    return ops.where(rows < n_rows, rows, positions % n_rows)
