"""Misuse of the runner, the cache, the loaders and the report: nothing lost, nothing silently
wrong, and every error says what was wrong and what to do."""

import io
import tarfile

import numpy as np
import pandas as pd
import pytest
import scipy.io
import scipy.sparse as sp
from filelock import FileLock

import ssb_vae
from conftest import rows_of
from ssb_vae import hashing
from ssb_vae import report, runner
from ssb_vae.data import load_dataset
from ssb_vae.results import COLUMNS, csv_line

ONE_QUICK_RUN = ["--methods", "bvae", "--levels", "1.0", "--epochs", "1", "--no-report"]


def fails_with(capsys, arguments, message):
    with pytest.raises(SystemExit) as exit_info:
        runner.main(arguments)
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert message in error, error


@pytest.fixture(scope="module")
def one_row_csv(tmp_path_factory):
    out = tmp_path_factory.mktemp("one") / "one.csv"
    assert runner.main([*ONE_QUICK_RUN, "--out", str(out)]) == 0
    return out


# --- lost or duplicated results ---------------------------------------------------------------------

@pytest.mark.slow
def test_a_second_runner_on_the_same_csv_is_refused_before_training(tmp_path, capsys):
    out = tmp_path / "shared.csv"
    with FileLock(str(out) + ".lock"):  # the first runner, still running
        fails_with(capsys, [*ONE_QUICK_RUN, "--out", str(out)], "another runner is writing")
    assert not out.exists()
    assert runner.main([*ONE_QUICK_RUN, "--out", str(out)]) == 0  # free again once it is done
    assert len(rows_of(out)) == 1


@pytest.mark.slow
def test_the_resume_key_holds_epochs_and_a_repeated_level_runs_once(one_row_csv, capsys):
    before = one_row_csv.read_bytes()
    assert runner.main([*ONE_QUICK_RUN, "--levels", "1", "1.0", "--out", str(one_row_csv)]) == 0
    assert "1 runs in the grid, 1 already in" in capsys.readouterr().out
    assert one_row_csv.read_bytes() == before
    two_epochs = [a if a != "1" else "2" for a in ONE_QUICK_RUN]  # --epochs 2
    assert runner.main([*two_epochs, "--out", str(one_row_csv)]) == 0
    assert sorted(r["epochs"] for r in rows_of(one_row_csv)) == ["1", "2"]


@pytest.mark.slow
def test_a_model_file_in_the_way_never_costs_the_row(tmp_path, capsys):
    models = tmp_path / "models"
    assert runner.main([*ONE_QUICK_RUN, "--out", str(tmp_path / "a.csv"), "--save-models", str(models)]) == 0
    (model,) = models.glob("*.keras")
    kept = model.read_bytes()
    capsys.readouterr()
    assert runner.main([*ONE_QUICK_RUN, "--out", str(tmp_path / "b.csv"), "--save-models", str(models)]) == 0
    assert "--overwrite-models" in capsys.readouterr().out
    assert len(rows_of(tmp_path / "b.csv")) == 1 and model.read_bytes() == kept
    before = model.stat().st_mtime_ns
    assert runner.main([*ONE_QUICK_RUN, "--out", str(tmp_path / "c.csv"), "--save-models", str(models),
                        "--overwrite-models"]) == 0
    assert model.stat().st_mtime_ns != before and len(rows_of(tmp_path / "c.csv")) == 1


# --- crashes with a traceback -----------------------------------------------------------------------

def small_results(tmp_path, changes=None):
    rows = [{"dataset": "/some/dir/x.csv", "algorithm": algorithm, "level": level, "bits": 16,
             "seed_used": 20, "p@100": 0.5 + level / 10, "map@100": 0.4}
            for algorithm in ("SSB_VAE", "PHS_GS") for level in (0.1, 1.0)]
    table = pd.DataFrame(rows).astype(object)
    for (row, column), value in (changes or {}).items():
        table.loc[row, column] = value
    path = tmp_path / "toy.csv"
    table.to_csv(path, index=False)
    return path


def test_report_of_a_dataset_given_by_its_path(tmp_path):
    report.main([str(small_results(tmp_path))])
    assert (tmp_path / "toy_x_16bits_p100.png").exists()


def test_a_damaged_cache_entry_is_rebuilt(tmp_path):
    source, cache = tmp_path / "source", tmp_path / "cache"
    source.mkdir()
    (source / "train.txt").write_text("red apple fruit food\ngreen pear fruit food\nfast car motor vehicle\n" * 4)
    (source / "test.txt").write_text("yellow banana fruit food\nblue truck motor vehicle\n")
    first = load_dataset("snippets", data_dir=source, cache_dir=cache)
    (entry,) = cache.glob("*.npz")
    for damage in (entry.read_bytes()[:300], b"not a zip file at all"):
        entry.write_bytes(damage)
        again = load_dataset("snippets", data_dir=source, cache_dir=cache)
        np.testing.assert_array_equal(again.test.labels, first.test.labels)
        assert np.load(entry)["test.labels"].shape == first.test.labels.shape  # rebuilt whole


def test_out_is_a_folder(tmp_path, capsys):
    fails_with(capsys, [*ONE_QUICK_RUN, "--out", str(tmp_path)], "is a folder; name a CSV file")


def test_unwritable_cache_dir(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    fails_with(capsys, ["--dataset", "snippets", "--data-dir", str(write_snippets(tmp_path)),
                        "--cache-dir", str(blocker / "cache"), "--out", str(tmp_path / "x.csv")],
               "choose a writable --cache-dir")


def write_snippets(tmp_path):
    source = tmp_path / "snippets"
    source.mkdir()
    (source / "train.txt").write_text("red apple fruit food\ngreen pear fruit food\nfast car motor vehicle\n" * 4)
    (source / "test.txt").write_text("yellow banana fruit food\n")
    return source


def test_a_non_numeric_key_cell_in_the_csv(tmp_path, capsys):
    out = tmp_path / "edited.csv"
    row = dict.fromkeys(COLUMNS, "1")
    row.update(dataset="digits", algorithm="BVAE", level="abc", ties="expected")
    out.write_text(csv_line(COLUMNS) + csv_line([row[c] for c in COLUMNS]))
    before = out.read_bytes()
    fails_with(capsys, [*ONE_QUICK_RUN, "--out", str(out)], "line 2: column 'level' holds 'abc', not a number")
    assert out.read_bytes() == before


@pytest.mark.parametrize("cell, text", [((0, "p@100"), "high"), ((1, "level"), "low")])
def test_report_on_non_numeric_cells(tmp_path, capsys, cell, text):
    path = small_results(tmp_path, {cell: text})
    with pytest.raises(SystemExit):
        report.main([str(path)])
    assert f"line {cell[0] + 2}: column {cell[1]!r} holds {text!r}, not a number" in capsys.readouterr().err


# --- silently wrong results -------------------------------------------------------------------------

def test_a_csv_and_a_tsv_of_the_same_bytes_do_not_share_a_cache_entry(tmp_path):
    content = "text\tlabel\n" + "".join(f"word{i % 5} other{i} thing\t{'ab'[i % 2]}\n" for i in range(30))
    (tmp_path / "corpus.tsv").write_text(content)
    (tmp_path / "corpus.csv").write_text(content)
    assert len(load_dataset(str(tmp_path / "corpus.tsv"), cache_dir=tmp_path / "cache").classes) == 2
    with pytest.raises(ValueError, match="no column 'text'"):  # one comma-separated column "text\tlabel"
        load_dataset(str(tmp_path / "corpus.csv"), cache_dir=tmp_path / "cache")


def corpus(tmp_path, labels):
    path = tmp_path / "corpus.csv"
    pd.DataFrame({"text": [f"word{i % 4} topic{i % 3} doc{i}" for i in range(len(labels))],
                  "label": labels}).to_csv(path, index=False)
    return path


def test_an_empty_label_cell_is_refused(tmp_path):
    labels = ["a", "b"] * 10
    labels[7] = ""
    with pytest.raises(ValueError, match=r"1 row\(s\) have an empty 'label' cell \(lines 9\)"):
        load_dataset(str(corpus(tmp_path, labels)), cache=False)
    with pytest.raises(ValueError, match="empty 'label' cell"):
        load_dataset(str(corpus(tmp_path, labels)), cache=False, label_delimiter="|")


def test_a_single_class_corpus_is_refused(tmp_path):
    with pytest.raises(ValueError, match="every document has the class 'a'.*at least two classes"):
        load_dataset(str(corpus(tmp_path, ["a"] * 20)), cache=False)


def test_mat_rows_without_a_class_are_refused(tmp_path):
    rng = np.random.default_rng(0)
    contents = {}
    for part, n in (("train", 20), ("cv", 5), ("test", 5)):
        contents[part] = sp.random(n, 12, density=0.5, format="csr", random_state=n)
        contents[f"gnd_{part}"] = np.eye(3)[rng.integers(0, 3, n)]
    contents["gnd_test"][2] = 0
    path = tmp_path / "holes.mat"
    scipy.io.savemat(path, contents)
    with pytest.raises(ValueError, match=r"1 row\(s\) of gnd_test have no class"):
        load_dataset(str(path), cache=False)


def test_training_a_supervised_method_with_no_labelled_item_is_refused():
    model = ssb_vae.build_model("ssb-vae", input_dim=6, n_classes=2, n_bits=4, seed=0)
    with pytest.raises(ValueError, match="no item is labelled: method 'ssb-vae'"):
        ssb_vae.train(model, np.ones((10, 6)), labels=np.zeros(10, dtype=int),
                      labelled=np.zeros(10, dtype=bool), epochs=1, verbose=0)


@pytest.mark.parametrize("value", ["-1", "nan", "inf", "ten"])
def test_bad_loss_weights_fail_when_parsed(tmp_path, capsys, value):
    fails_with(capsys, [*ONE_QUICK_RUN, "--alpha", value, "--out", str(tmp_path / "x.csv")], "--alpha")
    assert not (tmp_path / "x.csv").exists()


@pytest.mark.slow
def test_paper_preset_is_not_needed_when_all_three_weights_are_given(tmp_path):
    out = tmp_path / "explicit.csv"
    assert runner.main(["--methods", "phs-gs", "--levels", "1.0", "--epochs", "1", "--no-report",
                        "--preset", "paper", "--alpha", "0.5", "--beta", "0.25", "--gamma", "2",
                        "--out", str(out)]) == 0
    (row,) = rows_of(out)
    assert (row["alpha"], row["beta"], row["gamma"]) == ("0.5", "0.25", "2.0")


# --- unclear messages -------------------------------------------------------------------------------

def test_a_truncated_model_file_is_called_damaged(tmp_path, capsys):
    model = ssb_vae.build_model("bvae", input_dim=64, n_bits=4, seed=0)
    path = tmp_path / "model.keras"
    model.save(path)
    path.write_bytes(path.read_bytes()[:2000])
    with pytest.raises(ValueError, match="model.keras is damaged"):
        ssb_vae.load_model(path)
    with pytest.raises(SystemExit):
        hashing.main([str(path), "--dataset", "digits", "--out", str(tmp_path / "c.npy")])
    assert "is damaged" in capsys.readouterr().err


def test_saving_into_a_missing_folder_names_the_target(tmp_path):
    model = ssb_vae.build_model("bvae", input_dim=8, n_bits=4, seed=0)
    with pytest.raises(FileNotFoundError, match=r"cannot save .*m\.keras: the folder .*missing does not exist"):
        model.save(tmp_path / "missing" / "m.keras")


def test_out_pointing_at_a_binary_file(tmp_path, capsys):
    out = tmp_path / "picture.csv"
    out.write_bytes(bytes(range(256)) * 4)
    fails_with(capsys, [*ONE_QUICK_RUN, "--out", str(out)], "is not a text CSV")
    assert out.read_bytes() == bytes(range(256)) * 4


def test_a_20news_archive_without_posts(tmp_path):
    archive = tmp_path / "20news-bydate.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        readme = b"nothing here"
        info = tarfile.TarInfo("20news-bydate-train/README")
        info.size = len(readme)
        tar.addfile(info, io.BytesIO(readme))
    with pytest.raises(ValueError, match="no 20 Newsgroups posts found"):
        load_dataset("20news", data_dir=tmp_path, cache=False, download=False)


def test_a_corpus_too_small_to_split(tmp_path):
    with pytest.raises(ValueError, match="has 3 documents: its 60/20/20 train/validation/test split needs at least 5"):
        load_dataset(str(corpus(tmp_path, ["a", "b", "a"])), cache=False)
