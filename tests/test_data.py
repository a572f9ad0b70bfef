"""The data layer (docs/method.md §5): real archives, .mat and CSV files made here, the cache, errors."""


import numpy as np
import pandas as pd
import pytest
import scipy.io
import scipy.sparse as sp

from conftest import shared_file
from ssb_vae.data import DatasetNotFoundError, load_dataset, newsgroups
from ssb_vae.data.core import labelled_count
from ssb_vae.data.pipeline import snippet_tokens


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


def snapshot(directory):
    return sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in directory.iterdir())


def test_snippets_real_numbers(cache_dir):
    source = shared_file("data-web-snippets.tar.gz").parent
    before = snapshot(source)
    data = load_dataset("snippets", data_dir=source, cache_dir=cache_dir)
    assert len(data.classes) == 8 and not data.multilabel
    assert len(data.train) + len(data.validation) == 10060
    assert len(data.train) == 9054 and len(data.validation) == 1006
    assert len(data.queries) == 2280 and data.n_features <= 10000
    assert sp.isspmatrix_csr(data.database.x) and sp.isspmatrix_csr(data.database.target)
    np.testing.assert_allclose(data.train.x[:5].toarray(), np.log1p(_counts(data.train.target[:5])), rtol=1e-5)
    assert snapshot(source) == before  # nothing written beside the source


def _counts(target):
    # the target is tf / Σ tf; the smallest non-zero entry of a row is 1 / Σ tf for a count of 1
    dense = target.toarray()
    smallest = np.where(dense > 0, dense, np.inf).min(axis=1, keepdims=True)
    return np.rint(dense / np.where(np.isfinite(smallest), smallest, 1))


@pytest.mark.slow
def test_20news_real_numbers_and_cache(cache_dir):
    import time

    source = shared_file("20news-bydate.tar.gz").parent
    data = load_dataset("20news", data_dir=source, cache_dir=cache_dir, download=False)
    assert len(data.classes) == 20 and data.n_features == 10000
    # 18,846 posts split 60/20/20 (11,307 / 3,769 / 3,770), then empty posts dropped from each part
    posts = newsgroups._posts_from_archive(source / newsgroups.ARCHIVE)
    assert len(posts) == 18846
    sizes = [len(data.train), len(data.validation), len(data.test)]
    assert all(0 < kept <= before for kept, before in zip(sizes, (11307, 3769, 3770)))
    for part in (data.train, data.validation, data.test):
        assert (part.x.getnnz(axis=1) > 0).all()
        np.testing.assert_allclose(part.target.sum(axis=1), 1.0, rtol=1e-4)
    start = time.perf_counter()
    again = load_dataset("20news", data_dir=source, cache_dir=cache_dir, download=False)
    assert time.perf_counter() - start < 30
    assert (again.train.x != data.train.x).nnz == 0
    np.testing.assert_array_equal(again.test.labels, data.test.labels)


def test_20news_split_sizes_before_dropping():
    from ssb_vae.data.core import split_indices

    parts = split_indices(18846, (0.6, 0.2, 0.2))
    assert [len(p) for p in parts] == [11307, 3769, 3770]
    assert np.array_equal(np.sort(np.concatenate(parts)), np.arange(18846))


def test_supervision_levels(digits):
    n_train, n_val = len(digits.train), len(digits.validation)
    sup = digits.with_supervision(level=0.1, seed=20)
    assert sup.labelled[:n_train].sum() == n_train // 10
    assert sup.labelled[n_train:].sum() == n_val // 10
    np.testing.assert_array_equal(sup.labelled, digits.with_supervision(0.1, seed=20).labelled)
    assert not np.array_equal(sup.labelled, digits.with_supervision(0.1, seed=144).labelled)
    assert digits.with_supervision(1.0, seed=20).labelled.all()
    assert labelled_count(10, 0.3) == 3  # ⌊0.3·10⌋ is 3, not 2
    for bad in (0, -0.1, 1.01):
        with pytest.raises(ValueError, match=r"level must lie in \(0, 1\]"):
            digits.with_supervision(bad, seed=1)


def test_digits_split(digits):
    assert len(digits.test) == 200 and np.bincount(digits.test.labels).tolist() == [20] * 10
    assert len(digits.validation) == (1797 - 200) // 10
    assert digits.train.x.max() <= 1.0


def write_mat(path, multilabel=False, drop=None, sizes=(30, 8, 10)):
    rng = np.random.default_rng(0)
    n_classes = 4
    contents = {}
    for part, n in zip(("train", "cv", "test"), sizes):
        x = sp.random(n, 25, density=0.3, format="csr", random_state=len(part))
        if part == "train":
            x = sp.lil_matrix(x)
            x[3] = 0  # an all-zero training row is dropped
            x = sp.csr_matrix(x)
        if multilabel:
            labels = (rng.random((n, n_classes)) < 0.4).astype(float)
            labels[0] = [1, 1, 0, 0]
        else:
            labels = np.eye(n_classes)[rng.integers(0, n_classes, n)]
        contents[part], contents[f"gnd_{part}"] = x, labels
    if drop:
        del contents[drop]
    scipy.io.savemat(path, contents)
    return contents


@pytest.mark.parametrize("multilabel", [False, True])
def test_mat_files_load(tmp_path, multilabel):
    path = tmp_path / ("tmc.tfidf.mat" if multilabel else "ng20.tfidf.mat")
    contents = write_mat(path, multilabel)
    data = load_dataset("tmc", data_dir=tmp_path, cache=False) if multilabel else load_dataset(str(path), cache=False)
    assert data.multilabel == multilabel
    assert len(data.train) == 29 and len(data.validation) == 8 and len(data.test) == 10
    if multilabel:
        assert data.train.labels.shape == (29, 4)
    # the same (features, label) rows as the file, each once, in the loader's own order (docs/method.md §5)
    file_labels = contents["gnd_test"] if multilabel else contents["gnd_test"].argmax(axis=1)
    file_rows = sorted(zip(contents["test"].toarray().astype(np.float32).tolist(), np.asarray(file_labels).tolist()))
    loaded_rows = sorted(zip(data.test.x.toarray().tolist(), np.asarray(data.test.labels).tolist()))
    assert loaded_rows == file_rows


def test_mat_file_missing_a_matrix(tmp_path):
    path = tmp_path / "broken.mat"
    write_mat(path, drop="gnd_cv")
    with pytest.raises(ValueError, match="lacks the matrices gnd_cv"):
        load_dataset(str(path), cache=False)


def test_mat_file_with_mismatched_lengths(tmp_path):
    path = tmp_path / "uneven.mat"
    contents = write_mat(path)
    contents["gnd_test"] = contents["gnd_test"][:-1]
    scipy.io.savemat(path, contents)
    with pytest.raises(ValueError, match="test has 10 rows but gnd_test has 9"):
        load_dataset(str(path), cache=False)


def test_own_corpus_csv_single_and_multilabel(tmp_path):
    words = ["alpha beta gamma", "gamma delta", "beta beta epsilon", "zeta eta theta", "theta iota"]
    rows = [{"text": f"{words[i % 5]} doc{i} common{i % 3}", "label": "ab"[i % 2],
             "tags": ["x|y", "y", "z|x"][i % 3]} for i in range(50)]
    path = tmp_path / "corpus.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    single = load_dataset(str(path), cache_dir=tmp_path / "cache")
    assert single.classes == ("a", "b") and not single.multilabel
    assert sp.isspmatrix_csr(single.train.x) and len(single.train) == 30
    multi = load_dataset(str(path), cache_dir=tmp_path / "cache", label_column="tags", label_delimiter="|")
    assert multi.multilabel and multi.classes == ("x", "y", "z") and multi.train.labels.shape[1] == 3
    with pytest.raises(ValueError, match="no column 'body'"):
        load_dataset(str(path), cache=False, text_column="body")


def test_cache_is_invalidated_when_the_source_changes_and_not_written_on_failure(tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    cache = tmp_path / "cache"
    (source / "train.txt").write_text("red apple fruit food\ngreen pear fruit food\nfast car motor vehicle\n" * 4)
    (source / "test.txt").write_text("yellow banana fruit food\n")
    first = load_dataset("snippets", data_dir=source, cache_dir=cache)
    assert len(list(cache.glob("*.npz"))) == 1
    (source / "test.txt").write_text("yellow banana fruit food\nblue truck motor vehicle\n")
    second = load_dataset("snippets", data_dir=source, cache_dir=cache)
    assert len(first.test) == 1 and len(second.test) == 2
    (source / "test.txt").write_text("broken\n")  # a line without words before its class
    with pytest.raises(ValueError, match="expected words then a class"):
        load_dataset("snippets", data_dir=source, cache_dir=cache)
    assert len(list(cache.glob("*.npz"))) == 2 and not list(cache.glob(".writing-*"))


def test_snippet_tokens():
    assert snippet_tokens("the -web_ 3dx x2y ab abc __init__") == ["the", "web", "x2y", "abc", "init"]


def test_missing_file_says_what_and_where(tmp_path):
    with pytest.raises(DatasetNotFoundError, match=r"data-web-snippets.tar.gz.*found in .*Phan"):
        load_dataset("snippets", data_dir=tmp_path, cache=False)
    with pytest.raises(DatasetNotFoundError, match=r"20news-bydate.tar.gz.*fetch_20newsgroups"):
        load_dataset("20news", data_dir=tmp_path, cache=False, download=False)
    with pytest.raises(DatasetNotFoundError, match="tmc.tfidf.mat"):
        load_dataset("tmc", data_dir=tmp_path, cache=False)


def test_truncated_archive(tmp_path):
    original = shared_file("data-web-snippets.tar.gz")
    (tmp_path / original.name).write_bytes(original.read_bytes()[:200_000])
    with pytest.raises(ValueError, match="corrupt or truncated"):
        load_dataset("snippets", data_dir=tmp_path, cache_dir=tmp_path / "cache")
    assert not (tmp_path / "cache").exists() or not list((tmp_path / "cache").iterdir())


def test_unknown_dataset_lists_the_known_ones():
    with pytest.raises(ValueError, match="known datasets: digits, 20news, 20news-multilabel, snippets, tmc, cifar10"):
        load_dataset("mnist")


def test_cifar10_features_command_and_loader(tmp_path):
    from ssb_vae.data import cifar10

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    features = cifar10.vgg16_features(images, weights=None)
    assert features.shape == (4, 512) and np.isfinite(features).all()

    # the loader on a small features file of the same layout: 210 items per class
    labels = np.repeat(np.arange(10), 210)
    np.save(tmp_path / cifar10.FEATURES, rng.normal(size=(2100, 512)).astype(np.float32))
    np.save(tmp_path / cifar10.LABELS, labels)
    data = load_dataset("cifar10", data_dir=tmp_path, cache=False)
    assert len(data.test) == 1000 and np.bincount(data.test.labels).tolist() == [100] * 10
    assert len(data.validation) == 1000 and len(data.train) == 100
    np.testing.assert_allclose(data.train.x.mean(axis=0), 0, atol=1e-4)


def write_newsgroups_folders(root, rng):
    words = {"sci.space": "orbit rocket launch moon nasa", "rec.autos": "engine wheel car drive brake"}
    files = {}
    for part in ("20news-bydate-train", "20news-bydate-test"):
        for group, vocabulary in words.items():
            for post in range(12):
                text = " ".join(rng.choice(vocabulary.split(), 6)) + f" post{post}"
                path = root / part / group / str(1000 + post)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="latin-1")
                files[str(path)] = text
    return files


def test_20news_folders_and_scikit_learn_fallback_give_the_same_dataset(tmp_path, monkeypatch, rng):
    from sklearn.utils import Bunch

    files = write_newsgroups_folders(tmp_path / "unpacked", rng)
    from_folders = load_dataset("20news", data_dir=tmp_path / "unpacked", cache=False)
    assert from_folders.classes == ("rec.autos", "sci.space")
    assert len(from_folders.database) + len(from_folders.test) == 48

    names = list(files)
    rng.shuffle(names)  # scikit-learn returns the posts shuffled
    fake = Bunch(data=[files[n] for n in names], filenames=names, target_names=["rec.autos", "sci.space"])
    monkeypatch.setattr("sklearn.datasets.fetch_20newsgroups", lambda **kwargs: fake)
    fetched = load_dataset("20news", data_dir=tmp_path / "empty", cache=False, download=True)
    assert (fetched.train.x != from_folders.train.x).nnz == 0
    np.testing.assert_array_equal(fetched.test.labels, from_folders.test.labels)

    def offline(**kwargs):
        raise OSError("no network")

    monkeypatch.setattr("sklearn.datasets.fetch_20newsgroups", offline)
    with pytest.raises(DatasetNotFoundError, match="download failed"):
        load_dataset("20news", data_dir=tmp_path / "empty", cache=False, download=True)


def label_changes(labels) -> int:
    """How often the label changes along a part (rows compared whole for multi-label)."""
    labels = np.asarray(labels)
    rows = labels.reshape(len(labels), -1)
    return int((rows[1:] != rows[:-1]).any(axis=1).sum())


def random_order_changes(labels) -> float:
    """The expected number of label changes along the same labels in a uniformly random order."""
    rows = np.asarray(labels).reshape(len(labels), -1)
    _, counts = np.unique(rows, axis=0, return_counts=True)
    n = len(rows)
    return (n - 1) * (1 - (counts * (counts - 1)).sum() / (n * (n - 1)))


def assert_parts_in_random_order(data):
    for name in ("train", "validation", "test"):
        labels = getattr(data, name).labels
        assert label_changes(labels) >= 0.8 * random_order_changes(labels), (data.name, name)


@pytest.mark.parametrize("name, archive", [("20news", "20news-bydate.tar.gz"), ("snippets", "data-web-snippets.tar.gz")])
def test_real_parts_are_stored_in_a_random_order(name, archive, cache_dir):
    source = shared_file(archive).parent
    data = load_dataset(name, data_dir=source, cache_dir=cache_dir, download=False) if name == "20news" \
        else load_dataset(name, data_dir=source, cache_dir=cache_dir)
    assert_parts_in_random_order(data)
    assert label_changes(np.sort(data.train.labels)) < 0.01 * random_order_changes(data.train.labels)


def test_every_loader_stores_its_parts_in_a_random_order(tmp_path, digits):
    from ssb_vae.data import cifar10

    assert_parts_in_random_order(digits)
    path = tmp_path / "sorted.mat"
    contents = write_mat(path, sizes=(300, 120, 150))
    for part in ("train", "cv", "test"):  # store every part of the file in class order
        order = np.argsort(contents[f"gnd_{part}"].argmax(axis=1), kind="stable")
        contents[part], contents[f"gnd_{part}"] = contents[part][order], contents[f"gnd_{part}"][order]
    scipy.io.savemat(path, contents)
    assert_parts_in_random_order(load_dataset(str(path), cache=False))

    rows = [{"text": f"word{i % 7} common{i % 3} item{i}", "label": "abc"[i * 3 // 600]} for i in range(600)]
    corpus = tmp_path / "by_class.csv"
    pd.DataFrame(rows).to_csv(corpus, index=False)  # the file is sorted by label
    assert_parts_in_random_order(load_dataset(str(corpus), cache=False))

    rng = np.random.default_rng(0)
    np.save(tmp_path / cifar10.FEATURES, rng.normal(size=(2100, 512)).astype(np.float32))
    np.save(tmp_path / cifar10.LABELS, np.repeat(np.arange(10), 210))
    assert_parts_in_random_order(load_dataset("cifar10", data_dir=tmp_path, cache=False))


def test_a_cache_entry_of_the_earlier_storage_order_is_not_served(tmp_path, monkeypatch):
    from ssb_vae.data import cache

    source, entries = tmp_path / "source", tmp_path / "cache"
    source.mkdir()
    (source / "train.txt").write_text("red apple fruit food\ngreen pear fruit food\nfast car motor vehicle\n" * 4)
    (source / "test.txt").write_text("yellow banana fruit food\nblue truck motor vehicle\n")
    monkeypatch.setattr(cache, "FORMAT_VERSION", 1)
    load_dataset("snippets", data_dir=source, cache_dir=entries)
    old_entry = next(entries.glob("*.npz"))
    monkeypatch.undo()
    load_dataset("snippets", data_dir=source, cache_dir=entries)
    assert len(list(entries.glob("*.npz"))) == 2 and old_entry.exists()


@pytest.mark.slow
def test_20news_multilabel_carries_each_posts_group_and_root(cache_dir):
    source = shared_file("20news-bydate.tar.gz").parent
    single = load_dataset("20news", data_dir=source, cache_dir=cache_dir, download=False)
    multi = load_dataset("20news-multilabel", data_dir=source, cache_dir=cache_dir, download=False)
    assert multi.multilabel and len(multi.classes) == 27
    assert multi.classes[20:] == ("alt", "comp", "misc", "rec", "sci", "soc", "talk")
    for part_single, part_multi in ((single.train, multi.train), (single.test, multi.test)):
        labels = part_multi.labels
        assert (labels.sum(axis=1) == 2).all()  # its group and its root
        np.testing.assert_array_equal(labels[:, :20].argmax(axis=1), part_single.labels)  # same items, same order
        roots = np.array([multi.classes.index(g.split(".")[0]) for g in multi.classes[:20]])
        np.testing.assert_array_equal(labels[np.arange(len(labels)), roots[part_single.labels]], 1)
