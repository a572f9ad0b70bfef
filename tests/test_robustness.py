"""Nothing lost, nothing silently wrong: failed writes, results that would mix, inputs that carry
nothing, errors instead of tracebacks, and quiet start-up."""

import errno
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import rows_of

ROOT = Path(__file__).resolve().parents[1]


def python(code: str, **env) -> subprocess.CompletedProcess:
    environment = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                          env={**environment, **env}, timeout=300)


def test_importing_and_building_a_model_prints_nothing():
    done = python("import ssb_vae; ssb_vae.build_model('ssb-vae', 20, 8, 3); print('built')")
    assert done.returncode == 0 and done.stdout == "built\n"
    assert done.stderr == ""


def test_the_progress_bar_never_counts_past_an_epoch():
    import ssb_vae

    model = ssb_vae.build_model("vdsh-s", 6, 4, 2, seed=0)
    x = np.random.default_rng(0).random((250, 6)).astype(np.float32)
    ssb_vae.train(model, x, labels=np.arange(250) % 2, epochs=1, batch_size=100, verbose=0, jit_compile=False)
    assert int(model.steps_per_execution) == 3  # 3 steps an epoch, not 10 (Keras showed "10/3")


def test_an_all_zero_matrix_is_refused():
    import ssb_vae

    model = ssb_vae.build_model("vdsh", 6, 4, seed=0)
    with pytest.raises(ValueError, match="x is all zeros .*every item would get the same code"):
        ssb_vae.train(model, np.zeros((50, 6), np.float32), epochs=1)


def test_a_failed_row_write_leaves_the_file_as_it_was(tmp_path):
    """A size limit (what a full disk does too) cuts the write: the file keeps its earlier rows."""
    code = f"""
import resource, signal, sys
from pathlib import Path
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
from ssb_vae.results import ResultsFile
results = ResultsFile(Path({str(tmp_path / 'r.csv')!r}))
results._append(results.path, "first line\\n")
resource.setrlimit(resource.RLIMIT_FSIZE, (200, 200))
try:
    results._append(results.path, "x" * 1000 + "\\n")
except OSError as error:
    print(error)
"""
    done = python(code)
    assert f"could not write a row to {tmp_path / 'r.csv'}" in done.stdout, done.stderr
    assert (tmp_path / "r.csv").read_text() == "first line\n"


@pytest.mark.slow
def test_a_failed_codes_write_fails_that_run_and_the_grid_goes_on(tmp_path, monkeypatch, capsys):
    from ssb_vae import runner

    real = runner.save_codes

    def full_disk(path, codes):
        if "level0.1" in Path(path).name:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(path, codes)

    monkeypatch.setattr(runner, "save_codes", full_disk)
    out = tmp_path / "r.csv"
    assert runner.main(["--dataset", "digits", "--methods", "vdsh-s", "--levels", "0.1", "0.5", "--epochs", "1",
                        "--out", str(out), "--no-report"]) == 1
    assert [row["level"] for row in rows_of(out)] == ["0.5"]
    shown = capsys.readouterr()
    assert "could not write" in shown.out + shown.err
    assert "No space left on device" in out.with_name("r.errors.log").read_text()


def test_a_cut_off_last_row_is_named_and_ignored_by_the_report(tmp_path, capsys):
    from ssb_vae.report import load_results

    source = ROOT / "results" / "paper_preset" / "snippets.csv"
    lines = source.read_text().splitlines(keepends=True)
    cut = tmp_path / "cut.csv"
    cut.write_text("".join(lines[:4]) + lines[4][:30])
    results = load_results(cut)
    assert len(results) == 3 and results["bits"].dtype.kind == "i"
    assert "ignoring an incomplete last row" in capsys.readouterr().err


def test_the_report_never_averages_two_settings(tmp_path):
    from ssb_vae.report import write_report

    source = ROOT / "results" / "paper_preset" / "snippets.csv"
    table = pd.read_csv(source)
    first = table.iloc[:2].copy()
    first["epochs"] = [30, 4]
    first["seed_used"] = [20, 144]
    first[["dataset", "bits", "algorithm", "level"]] = table.iloc[0][["dataset", "bits", "algorithm", "level"]].to_numpy()
    first.to_csv(tmp_path / "mixed.csv", index=False)
    with pytest.raises(ValueError, match="differ in epochs \\(30, 4\\); a table averages the repetitions of one setting"):
        write_report(tmp_path / "mixed.csv")


def test_verify_on_a_file_without_rows_fails(tmp_path, capsys):
    from ssb_vae.report import main

    header = (ROOT / "results" / "paper_preset" / "snippets.csv").read_text().splitlines()[0]
    (tmp_path / "empty.csv").write_text(header + "\n")
    with pytest.raises(SystemExit) as stopped:
        main([str(tmp_path / "empty.csv"), "--verify"])
    assert stopped.value.code != 0 and "holds no rows" in capsys.readouterr().err


def test_report_out_onto_a_file_is_an_error_not_a_traceback(tmp_path, capsys):
    from ssb_vae.report import main

    (tmp_path / "taken").write_text("mine")
    with pytest.raises(SystemExit):
        main([str(ROOT / "results" / "paper_preset" / "snippets.csv"), "--out", str(tmp_path / "taken")])
    assert "error:" in capsys.readouterr().err and (tmp_path / "taken").read_text() == "mine"


@pytest.mark.parametrize("content, message", [
    ("text,label,text\na,b,c\n", "names the column\\(s\\) 'text' more than once"),
    ("text,label\ncaf\xe9 au lait,x\n".encode("latin1"), "is not UTF-8 text .*iconv -f latin1"),
])
def test_corpus_files_that_cannot_be_read_as_meant_are_refused(tmp_path, content, message):
    from ssb_vae.data.corpus import read_table

    path = tmp_path / "corpus.csv"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(ValueError, match=message):
        read_table(path)


def test_documents_without_terms_are_counted_and_named(tmp_path, capsys):
    from ssb_vae.data import load_dataset

    words = ["orbit rocket moon", "engine wheel brake", "flour sugar oven"]
    rows = [{"text": words[i % 3] + f" doc{i}", "label": f"c{i % 3}"} for i in range(60)]
    rows[5]["text"] = "the and of"  # stop words only: nothing left once vectorized
    rows[6]["text"] = ""
    pd.DataFrame(rows).to_csv(tmp_path / "c.csv", index=False)
    data = load_dataset(str(tmp_path / "c.csv"), cache_dir=tmp_path / "cache")
    assert sum(data.dropped) == 2 and len(data.train) + len(data.validation) + len(data.test) == 58
    assert "left out 2 document(s) with no term" in data.dropped_note()
    again = load_dataset(str(tmp_path / "c.csv"), cache_dir=tmp_path / "cache")  # from the cache
    assert again.dropped == data.dropped


def test_an_unexpected_failure_is_one_line_unless_debugging(monkeypatch, capsys):
    from ssb_vae.cli import run_command

    def broken(argv):
        raise KeyError("kind")

    assert run_command(broken, [], prog="ssb-vae index") == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "ssb-vae index: error: 'kind' (KeyError; set SSB_VAE_DEBUG=1" in err
    monkeypatch.setenv("SSB_VAE_DEBUG", "1")
    with pytest.raises(KeyError):
        run_command(broken, [])


@pytest.mark.slow
def test_a_dataset_file_is_keyed_by_its_content_not_its_path(tmp_path, capsys):
    from ssb_vae import runner

    words = ["orbit rocket moon", "engine wheel brake", "flour sugar oven"]
    table = pd.DataFrame([{"text": f"{words[i % 3]} doc{i}", "label": f"c{i % 3}"} for i in range(90)])
    first, second = tmp_path / "a" / "news.csv", tmp_path / "b" / "news.csv"
    for path in (first, second):
        path.parent.mkdir()
        table.to_csv(path, index=False)
    out = tmp_path / "r.csv"
    arguments = ["--methods", "vdsh-s", "--levels", "0.5", "--epochs", "1", "--out", str(out),
                 "--cache-dir", str(tmp_path / "cache")]
    assert runner.main(["--dataset", str(first), str(second), *arguments]) == 0
    assert len(rows_of(out)) == 1  # one content under two paths: one run, one plot
    assert runner.main(["--dataset", str(second), *arguments]) == 0
    assert "1 already in" in capsys.readouterr().out and len(rows_of(out)) == 1

    table.loc[::2, "label"] = "c0"  # labels edited in place: another dataset
    table.to_csv(first, index=False)
    assert runner.main(["--dataset", str(first), *arguments, "--no-report"]) == 0
    rows = rows_of(out)
    assert len(rows) == 2 and rows[0]["data_digest"] != rows[1]["data_digest"] != ""
    assert len({row["codes_file"] for row in rows}) == 2

    from ssb_vae.report import plot_names

    assert len(set(plot_names([str(first), str(second)]).values())) == 2
    assert plot_names(["20news", str(first)]) == {"20news": "20news", str(first): "news"}


def test_max_features_changes_the_vocabulary_the_cache_key_and_the_run_key(tmp_path):
    from ssb_vae.data import load_dataset
    from ssb_vae.runner import build_grid, parser

    words = ["orbit rocket moon nasa", "engine wheel brake motor", "flour sugar oven dough"]
    pd.DataFrame([{"text": f"{words[i % 3]} doc{i}", "label": f"c{i % 3}"} for i in range(90)]).to_csv(
        tmp_path / "c.csv", index=False)
    cache = tmp_path / "cache"
    full = load_dataset(str(tmp_path / "c.csv"), cache_dir=cache)
    small = load_dataset(str(tmp_path / "c.csv"), cache_dir=cache, max_features=5)
    assert small.n_features == 5 < full.n_features and len(list(cache.glob("*"))) == 2
    assert small.text_pipeline.digest() != full.text_pipeline.digest()

    def key(*extra):
        (point,) = build_grid(parser().parse_args(["--dataset", str(tmp_path / "c.csv"), "--methods", "vdsh-s",
                                                   "--levels", "0.5", *extra]))
        return point
    assert key().key == key("--max-features", "10000").key != key("--max-features", "5").key
    assert dict(key("--max-features", "5").corpus_options)["max_features"] == 5
    assert key("--max-features", "5").name != key().name
    with pytest.raises(ValueError, match="--max-features applies to the text datasets"):
        build_grid(parser().parse_args(["--dataset", "digits", "--max-features", "5"]))
    with pytest.raises(ValueError, match="max_features must be a positive integer"):
        load_dataset(str(tmp_path / "c.csv"), cache_dir=cache, max_features=0)
