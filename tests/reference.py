"""Numpy transcriptions of docs/method.md §3 and §6, written from the definitions, in float64, with loops
where that is clearer. The package's fast code is compared with these."""

import numpy as np


def reconstruction(t, x_hat):
    return np.array([-sum(t[i, d] * np.log(min(max(x_hat[i, d], 1e-7), 1.0))
                          for d in range(t.shape[1])) for i in range(t.shape[0])])


def gaussian_kl(mean, log_var):
    return -0.5 * (1 + log_var - mean**2 - np.exp(log_var)).sum(axis=1)


def bernoulli_kl(logits):
    p = 1 / (1 + np.exp(-logits.astype(np.float64)))
    bits = logits.shape[1]
    return bits * np.log(2) + (p * np.log(p + 1e-7) + (1 - p) * np.log(1 - p + 1e-7)).sum(axis=1)


def cross_entropy(y, y_hat, m, multilabel):
    if multilabel:
        per_item = -(y * np.log(y_hat) + (1 - y) * np.log(1 - y_hat)).sum(axis=1)
    else:
        per_item = -(y * np.log(y_hat)).sum(axis=1)
    return m * per_item


def pairwise(b, S, weights=None):
    n, bits = b.shape
    margin = bits / 3
    total = 0.0
    for i in range(n):
        for j in range(n):
            dist = ((b[i] - b[j]) ** 2).sum()
            term = S[i, j] * dist + (1 - S[i, j]) * max(0.0, margin - dist)
            total += term * (1.0 if weights is None else weights[i, j])
    return total / bits


def prediction_confidence(y_hat, m):
    """1 for labelled items; else the product over classes of max(p, 1 - p)."""
    confidence = np.ones(len(y_hat))
    for i in range(len(y_hat)):
        if not m[i]:
            for p in y_hat[i]:
                confidence[i] *= max(p, 1 - p)
    return confidence


def jaccard(a):
    """Soft Jaccard of every pair of rows: a_i·a_j / (Σ a_i + Σ a_j − a_i·a_j), 0 for 0/0."""
    n = len(a)
    s = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            shared = float(np.dot(a[i], a[j]))
            union = float(a[i].sum() + a[j].sum()) - shared
            s[i, j] = shared / union if union else 0.0
    return s


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def retrieval(db_codes, query_codes, db_labels, query_labels, ks, order=None):
    """docs/method.md §6 for one ordering, with a per-query stable argsort and plain loops: ties are broken
    by position in ``order`` (a permutation of the database; default: storage order)."""
    db_codes, query_codes = np.asarray(db_codes, int), np.asarray(query_codes, int)
    db_labels, query_labels = np.asarray(db_labels), np.asarray(query_labels)
    order = np.arange(len(db_codes)) if order is None else np.asarray(order)
    multilabel = db_labels.ndim == 2
    scores = {}
    for k in ks:
        depth = min(k, len(db_codes))
        p_sum = r_sum = ap_sum = 0.0
        for q in range(len(query_codes)):
            distances = (db_codes[order] != query_codes[q]).sum(axis=1)
            ranked = order[np.argsort(distances, kind="stable")[:depth]]
            if multilabel:
                relevant = [bool((db_labels[j] * query_labels[q]).any()) for j in ranked]
                total = sum(int(db_labels[:, c].sum()) for c in np.flatnonzero(query_labels[q]))
            else:
                relevant = [db_labels[j] == query_labels[q] for j in ranked]
                total = int((db_labels == query_labels[q]).sum())
            hits, ap = 0, 0.0
            for rank, rel in enumerate(relevant, start=1):
                if rel:
                    hits += 1
                    ap += hits / rank
            p_sum += hits / depth
            r_sum += hits / total if total else 0.0
            ap_sum += ap / hits if hits else 0.0
        n = len(query_codes)
        scores.update({f"p@{k}": p_sum / n, f"r@{k}": r_sum / n, f"map@{k}": ap_sum / n})
    return scores


def mean_over_orderings(db_codes, query_codes, db_labels, query_labels, ks, orderings):
    """The average of the one-ordering measures over the given database orderings."""
    totals = {}
    for count, order in enumerate(orderings, start=1):
        for key, value in retrieval(db_codes, query_codes, db_labels, query_labels, ks, order).items():
            totals[key] = totals.get(key, 0.0) + value
    return {key: value / count for key, value in totals.items()}
