"""Feature matrices (dense or scipy CSR): input checks and row normalisation, without TensorFlow."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


FINITE_CHECK_BLOCK = 1 << 22  # values checked at a time: the check's temporary stays 4 MB for any size


def all_finite(values: np.ndarray) -> bool:
    """Whether every value is finite, checked block by block so that no N-sized mask is built."""
    flat = values.reshape(-1)
    return all(np.isfinite(flat[start:start + FINITE_CHECK_BLOCK]).all()
               for start in range(0, flat.size, FINITE_CHECK_BLOCK))


def check_matrix(name: str, matrix, n_columns: int | None = None, n_rows: int | None = None):
    """Returns ``matrix`` as float32 CSR (if sparse) or float32 ndarray, or raises ValueError."""
    if sp.issparse(matrix):
        matrix = sp.csr_matrix(matrix, dtype=np.float32)
        matrix.sum_duplicates()
        values = matrix.data
    else:
        try:
            matrix = np.asarray(matrix, dtype=np.float32)
        except (TypeError, ValueError) as error:
            raise ValueError(f"{name} must be a numeric matrix: {error}") from None
        values = matrix
    if matrix.ndim != 2:
        raise ValueError(f"{name} must be 2-D (items × features), got shape {matrix.shape}")
    if n_columns is not None and matrix.shape[1] != n_columns:
        raise ValueError(f"{name} has {matrix.shape[1]} columns but the model expects {n_columns}")
    if n_rows is not None and matrix.shape[0] != n_rows:
        raise ValueError(f"{name} has {matrix.shape[0]} rows but x has {n_rows}")
    if matrix.shape[0] == 0:
        raise ValueError(f"{name} has no rows")
    if not all_finite(values):
        raise ValueError(f"{name} contains NaN or infinite values; clean or impute them first")
    return matrix


def normalize_rows(matrix):
    """Each row divided by its sum, so it is a distribution over features; all-zero rows stay zero."""
    sums = np.asarray(matrix.sum(axis=1), dtype=np.float64).ravel()
    scale = np.divide(1.0, sums, out=np.zeros_like(sums), where=sums != 0)
    if sp.issparse(matrix):
        return sp.csr_matrix(sp.diags(scale) @ matrix, dtype=np.float32)
    return (matrix * scale[:, None]).astype(np.float32)
