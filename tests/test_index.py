"""Your own corpus: CSV options, the saved text pipeline, the Hamming index and its commands."""

import csv
import json

import numpy as np
import pandas as pd
import pytest

from ssb_vae import cli, runner
from ssb_vae.data import load_dataset
from ssb_vae.data.pipeline import TextPipeline, pipeline_path
from ssb_vae.index import HammingIndex, build, open_index

TOPICS = {
    "space": "orbit rocket launch moon planet nasa shuttle astronaut",
    "cars": "engine wheel drive brake motor gearbox tyre dealer",
    "food": "recipe bake flour sugar oven butter dough spice",
}


def topic_corpus(path, n=150, split=None, multilabel=False, seed=0):
    rng = np.random.default_rng(seed)
    names = list(TOPICS)
    rows = []
    for i in range(n):
        topic = names[i % 3]
        words = rng.choice(TOPICS[topic].split(), 6).tolist() + [f"doc{i}"]
        row = {"id": f"d{i}", "text": " ".join(words), "label": topic}
        if multilabel:
            row["label"] = topic + ("|" + names[(i + 1) % 3] if i % 5 == 0 else "")
        if split is not None:
            row["split"] = split(i)
        rows.append(row)
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def brute_force_distances(codes, queries):
    return (queries[:, None, :] != codes[None, :, :]).sum(axis=2)


@pytest.mark.parametrize("bits, kind", [(16, "flat"), (12, "flat"), (32, "flat"), (32, "hash"), (16, "multihash")])
def test_search_finds_the_brute_force_distances(bits, kind):
    rng = np.random.default_rng(bits)
    codes = rng.integers(0, 2, (500, bits), dtype=np.uint8)
    queries = rng.integers(0, 2, (20, bits), dtype=np.uint8)
    index = HammingIndex.build(codes, [f"i{j}" for j in range(500)], [[] for _ in range(500)], ["t"] * 500, kind)
    exact = brute_force_distances(codes, queries)
    for query, hits in zip(exact, index.search(queries, k=25)):
        assert [hit["distance"] for hit in hits] == sorted(hit["distance"] for hit in hits)  # nearest first
        for hit in hits:  # each distance is the item's true distance
            assert hit["distance"] == query[int(hit["id"][1:])]
        if kind == "flat":  # exact search: the same multiset of distances as a full ranking
            assert sorted(hit["distance"] for hit in hits) == sorted(query)[:25]


def test_a_saved_index_reloads_identically(tmp_path):
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 2, (300, 12), dtype=np.uint8)  # 12 bits: padded to 16 for faiss
    index = HammingIndex.build(codes, [str(j) for j in range(300)], [["a"]] * 300, ["some text"] * 300)
    files = index.save(tmp_path)
    again = HammingIndex.load(tmp_path, {"n_bits": 12, "kind": "flat", "files": files})
    queries = rng.integers(0, 2, (10, 12), dtype=np.uint8)
    assert again.search(queries, 15) == index.search(queries, 15)
    np.testing.assert_array_equal(again.code_of("7"), codes[7:8])


def test_the_text_pipeline_round_trips_through_json(tmp_path, rng):
    from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

    from ssb_vae.data.pipeline import snippet_tokens

    texts = [" ".join(rng.choice("alpha beta gamma delta epsilon zeta the and of".split(), 8)) for _ in range(60)]
    fitted = {  # scikit-learn's own vectorizers, fitted on the first 40 texts: the features to match
        "tfidf": TfidfVectorizer(max_features=5, stop_words="english", dtype=np.float32).fit(texts[:40]),
        "log-tf": CountVectorizer(ngram_range=(1, 2), stop_words="english", tokenizer=snippet_tokens,
                                  token_pattern=None, dtype=np.float32).fit(texts[:40]),
    }
    for kind, settings in (("tfidf", {"max_features": 5, "stop_words": "english"}),
                           ("log-tf", {"ngram_range": (1, 2), "stop_words": "english"})):
        TextPipeline.fit(kind, settings, texts[:40]).save(tmp_path / f"{kind}.json")
        loaded = TextPipeline.load(tmp_path / f"{kind}.json")
        expected = fitted[kind].transform(texts[40:])
        expected = expected.log1p() if kind == "log-tf" else expected
        np.testing.assert_array_equal(loaded.transform(texts[40:]).toarray(), expected.toarray())
        assert list(loaded.vocabulary) == fitted[kind].get_feature_names_out().tolist()
    assert json.loads((tmp_path / "tfidf.json").read_text())["kind"] == "tfidf"  # plain JSON, no pickle


def test_the_split_column_decides_the_queries(tmp_path):
    # every other "food" row (i % 6 == 5) is a test row, and only those; a random split would mix
    # topics. No validation rows: 10% of train is carved off
    path = topic_corpus(tmp_path / "split.csv", split=lambda i: "test" if i % 6 == 5 else "train")
    data = load_dataset(str(path), cache=False)
    food = data.classes.index("food")
    assert len(data.test) == 25 and (data.test.labels == food).all()
    assert (data.database.labels == food).sum() == 25
    assert len(data.validation) == 12 and len(data.train) == 113
    assert data.text_pipeline.n_features == data.n_features


@pytest.mark.parametrize("split, message", [(lambda i: "train", "no row has split 'test'"),
                                            (lambda i: ["train", "test", "dev"][i % 3], "holds 'dev'")])
def test_a_bad_split_column(tmp_path, split, message):
    with pytest.raises(ValueError, match=message):
        load_dataset(str(topic_corpus(tmp_path / "bad.csv", split=split)), cache=False)


@pytest.mark.slow
def test_multilabel_csv_end_to_end_through_the_runner(tmp_path):
    path = topic_corpus(tmp_path / "tags.csv", multilabel=True)
    out = tmp_path / "tags_results.csv"
    assert runner.main(["--dataset", str(path), "--label-delimiter", "|", "--methods", "ssb-vae", "vdsh-s",
                        "--levels", "0.5", "--epochs", "2", "--out", str(out), "--no-report"]) == 0
    with open(out, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["algorithm"] for r in rows] == ["SSB_VAE", "VDSH_S"] and all(float(r["p@100"]) > 0 for r in rows)
    from ssb_vae.codes import load_codes

    assert load_codes(out.parent / rows[0]["codes_file"]).db_labels.shape[1] == 3  # 0/1 label matrix


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    """A 12-bit model trained by the runner on a topic corpus, saved with its text pipeline."""
    folder = tmp_path_factory.mktemp("corpus")
    path = topic_corpus(folder / "topics.csv")
    models = folder / "models"
    assert runner.main(["--dataset", str(path), "--methods", "ssb-vae", "--bits", "12", "--levels", "1.0",
                        "--epochs", "3", "--out", str(folder / "r.csv"), "--no-report",
                        "--save-models", str(models)]) == 0
    (model,) = models.glob("*.keras")
    return model, path


def test_build_and_search_from_the_command_line(saved_model, tmp_path, capsys):
    model, corpus = saved_model
    assert pipeline_path(model).exists()
    cli.main(["index", "build", str(model), str(corpus), "--out", str(tmp_path / "ix"), "--id-column", "id"])
    capsys.readouterr()
    cli.main(["search", str(tmp_path / "ix"), "--text", "rocket launch to the moon", "-k", "5", "--json"])
    hits = json.loads(capsys.readouterr().out)
    assert len(hits) == 5 and {"id", "distance", "labels", "text"} <= set(hits[0])
    assert [h["distance"] for h in hits] == sorted(h["distance"] for h in hits)
    assert hits[0]["labels"] == ["space"]
    cli.main(["search", str(tmp_path / "ix"), "--id", "d4", "-k", "3"])
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == 3 and printed[0].split()[0] == "1"

    corpus_index = open_index(tmp_path / "ix")
    by_text = corpus_index.search(text="rocket launch to the moon", k=150)
    assert sorted(h["id"] for h in by_text) == sorted(f"d{i}" for i in range(150))
    with pytest.raises(SystemExit):  # an index folder is never overwritten
        cli.main(["index", "build", str(model), str(corpus), "--out", str(tmp_path / "ix")])


def test_search_errors(saved_model, tmp_path, capsys):
    model, corpus = saved_model
    build(model, corpus, tmp_path / "ix", id_column="id")
    corpus_index = open_index(tmp_path / "ix")
    with pytest.raises(ValueError, match="has none of the model's .* terms"):
        corpus_index.search(text="zzz qqq xxyyzz")
    with pytest.raises(ValueError, match="no item with id 'nope'"):
        corpus_index.search(item_id="nope")
    empty = tmp_path / "empty.csv"
    empty.write_text("text,label\n")
    with pytest.raises(ValueError, match="has no documents"):
        build(model, empty, tmp_path / "other")


def test_an_index_built_by_a_different_model_is_refused(saved_model, tmp_path):
    import ssb_vae

    model, corpus = saved_model
    build(model, corpus, tmp_path / "ix")
    loaded = ssb_vae.load_model(model)
    for name, method, bits in (("bits", "ssb-vae", 16), ("method", "phs-gs", loaded.spec.n_bits),
                               ("weights", loaded.method, loaded.spec.n_bits)):
        other = ssb_vae.build_model(method, input_dim=loaded.spec.input_dim, n_classes=3, n_bits=bits, seed=7)
        other.save(tmp_path / f"{name}.keras")
        TextPipeline.load(pipeline_path(model)).save(pipeline_path(tmp_path / f"{name}.keras"))
        expected = {"bits": "its n_bits is 16", "method": "its method is phs-gs", "weights": "its weights is"}[name]
        with pytest.raises(ValueError, match=f"is not the model that built .*ix: {expected}"):
            open_index(tmp_path / "ix", model_path=tmp_path / f"{name}.keras")
    different = TextPipeline.fit("tfidf", {"stop_words": "english"}, [TOPICS["space"], TOPICS["food"]])
    different.save(pipeline_path(tmp_path / "copy.keras"))
    (tmp_path / "copy.keras").write_bytes(model.read_bytes())
    with pytest.raises(ValueError, match="is not the model that built .*: its vocabulary"):
        open_index(tmp_path / "ix", model_path=tmp_path / "copy.keras")


@pytest.mark.parametrize("part, damage, message", [
    ("meta.json", "", "meta.json is empty or damaged; rebuild the index"),
    ("meta.json", "{}", "meta.json lacks what an index records"),
    ("items.json", "[", "items.json is not the file this index was built with"),
    ("codes.npy", None, "codes.npy is not the file this index was built with"),
    ("index.faiss", b"", "index.faiss is not the file this index was built with"),
    ("items.json", "missing", "items.json is missing; rebuild the index"),
    ("model.keras", "missing", "model.keras is missing; rebuild the index"),
])
def test_a_damaged_or_swapped_part_names_its_file(saved_model, tmp_path, part, damage, message):
    model, corpus = saved_model
    build(model, corpus, tmp_path / "ix")
    path = tmp_path / "ix" / part
    if damage == "missing":
        path.unlink()
    elif damage is None:  # codes of another index, of the same shape
        build(model, topic_corpus(tmp_path / "other.csv", seed=5), tmp_path / "other")
        path.write_bytes((tmp_path / "other" / part).read_bytes())
    else:
        path.write_bytes(damage if isinstance(damage, bytes) else damage.encode())
    with pytest.raises(ValueError, match=message):
        open_index(tmp_path / "ix")


def test_build_never_clobbers_and_publishes_whole(saved_model, tmp_path, capsys):
    model, corpus = saved_model
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "codes.npy").write_bytes(b"my own codes")
    (mine / "items.json").write_text("my items")
    with pytest.raises(ValueError, match="holds files that are not an index"):
        build(model, corpus, mine)
    with pytest.raises(ValueError, match="holds files that are not an index"):
        build(model, corpus, mine, force=True)
    assert (mine / "codes.npy").read_bytes() == b"my own codes" and (mine / "items.json").read_text() == "my items"

    build(model, corpus, tmp_path / "ix")
    (tmp_path / "ix" / "meta.json").write_text("")  # what a kill during an old, in-place write left
    with pytest.raises(ValueError, match="already holds an index.*--force"):
        build(model, corpus, tmp_path / "ix")
    build(model, corpus, tmp_path / "ix", force=True)
    assert len(open_index(tmp_path / "ix").index) == 150
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".ix")) == [".ix.lock"]

    from filelock import FileLock

    with FileLock(tmp_path / ".busy.lock"):
        with pytest.raises(ValueError, match="another build is writing"):
            build(model, corpus, tmp_path / "busy")
    assert not (tmp_path / "busy").exists()


def test_documents_without_terms_are_left_out_and_named(saved_model, tmp_path, capsys):
    model, corpus = saved_model
    table = pd.read_csv(corpus)
    table.loc[3, "text"] = "zzzq qqxx"
    table.loc[7, "text"] = ""
    table.to_csv(tmp_path / "gaps.csv", index=False)
    cli.main(["index", "build", str(model), str(tmp_path / "gaps.csv"), "--out", str(tmp_path / "ix"),
              "--id-column", "id"])
    assert "left out 2 document(s) with none of the model's terms: d3, d7" in capsys.readouterr().out
    assert len(open_index(tmp_path / "ix").index) == 148


@pytest.mark.parametrize("codes", [np.full((5, 8), 0.4), np.where(np.eye(5, 8) > 0, 1, -1)])
def test_codes_that_are_not_zero_one_are_refused(codes):
    with pytest.raises(ValueError, match="must hold only 0 and 1"):
        HammingIndex.build(codes, [str(i) for i in range(5)], [[]] * 5, ["t"] * 5)
    index = HammingIndex.build(np.zeros((5, 8), np.uint8), [str(i) for i in range(5)], [[]] * 5, ["t"] * 5)
    with pytest.raises(ValueError, match="must hold only 0 and 1"):
        index.search(codes[:1])


def test_hash_reads_a_corpus_only_with_the_models_own_vocabulary(saved_model, tmp_path, capsys):
    from ssb_vae import hashing

    model, corpus = saved_model
    hashing.main([str(model), "--dataset", str(corpus), "--out", str(tmp_path / "codes.npy")])
    assert np.load(tmp_path / "codes.npy").shape == (120, 12)  # the database: train ∪ validation

    other = tmp_path / "other" / "topics.csv"
    other.parent.mkdir()
    table = pd.read_csv(corpus)
    table["text"] = table["text"].str.replace("rocket", "spaceship")  # another vocabulary
    table.to_csv(other, index=False)
    with pytest.raises(SystemExit):
        hashing.main([str(model), "--dataset", str(other), "--out", str(tmp_path / "other.npy")])
    assert "vectorized with another vocabulary" in capsys.readouterr().err
    assert not (tmp_path / "other.npy").exists()

    pipeline_path(model).rename(tmp_path / "kept.json")
    try:
        with pytest.raises(SystemExit):
            hashing.main([str(model), "--dataset", str(corpus), "--out", str(tmp_path / "again.npy")])
        assert "has no text pipeline beside it" in capsys.readouterr().err
    finally:
        (tmp_path / "kept.json").rename(pipeline_path(model))
    for out in ("h.csv", "folder"):
        (tmp_path / "folder").mkdir(exist_ok=True)
        with pytest.raises(SystemExit):
            hashing.main([str(model), "--dataset", str(corpus), "--out", str(tmp_path / out)])
        assert "--out" in capsys.readouterr().err
    assert not (tmp_path / "h.csv").exists()
