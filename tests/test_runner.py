"""The batch runner, its CSV, resuming, backends, reports, the hash command, and bad input."""

import csv
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import expected_float32_overflow, rows_of
from ssb_vae import hashing
from experiments.paper_preset import forensics
from ssb_vae import report, rescoring, runner
from ssb_vae.codes import load_codes
from ssb_vae.evaluation import evaluate
from ssb_vae.parallel import threads_per_job
from ssb_vae.results import KEY_COLUMNS, METRICS, POSITION_TIES_COLUMNS, csv_line

ROOT = Path(__file__).resolve().parents[1]
QUICK = ["--levels", "0.5", "--epochs", "2", "--methods", "phs-gs", "ssb-vae"]


def metric_rows(path):
    keep = list(KEY_COLUMNS) + list(METRICS) + ["n_labelled", "final_loss"]
    return sorted(tuple(row[c] for c in keep) for row in rows_of(path))


@pytest.fixture(scope="module")
def serial_csv(tmp_path_factory):
    out = tmp_path_factory.mktemp("serial") / "digits.csv"
    models = out.parent / "models"
    assert runner.main([*QUICK, "--out", str(out), "--save-models", str(models)]) == 0
    return out


@pytest.mark.slow
def test_default_command_writes_spec_csv_table_and_plot(serial_csv):
    with open(serial_csv, newline="") as handle:
        header = next(csv.reader(handle))
    assert header[:15] == ["dataset", "algorithm", "level", "alpha", "beta", "gamma", "p@100", "r@100",
                           "p@1000", "p@5000", "map@100", "map@1000", "map@5000", "added_val_flag",
                           "seed_used"]
    assert {"bits", "epochs", "train_seconds", "eval_seconds"} <= set(header)
    assert header[-6:] == ["ties", "codes_file", "model_options", "protocol", "data_digest", "optimizer"]
    rows = rows_of(serial_csv)
    assert [r["algorithm"] for r in rows] == ["PHS_GS", "SSB_VAE"]
    assert all(r["ties"] == "expected" for r in rows)
    assert all(r["seed_used"] == "20" and r["dataset"] == "digits" for r in rows)
    assert all(0 <= float(r["p@100"]) <= 1 for r in rows)
    directory = serial_csv.parent
    assert (directory / "digits_p100_table.csv").exists() and (directory / "digits_p100_table.tex").exists()
    assert (directory / "digits_16bits_p100.png").stat().st_size > 10_000
    assert len(list((directory / "models").glob("digits_*_16bits_level0.5_*_seed20_e2_bs100.keras"))) == 2


def test_every_row_stores_the_codes_it_was_scored_on(serial_csv):
    for row in rows_of(serial_csv):
        codes = load_codes(serial_csv.parent / row["codes_file"])
        assert row["codes_file"].startswith("digits_codes/")
        assert codes.db_codes.shape == (1797 - 200, 16)  # digits: database = all but the 200 queries
        assert codes.query_codes.shape == (200, 16) and set(np.unique(codes.db_codes)) <= {0, 1}
        assert codes.key["seed_used"] == 20 and codes.key["epochs"] == 2
        scores = evaluate(codes.db_codes, codes.query_codes, codes.db_labels, codes.query_labels)
        assert repr(scores["p@100"]) == row["p@100"]
        assert len(np.unique(codes.db_labels)) == 10


def test_recompute_reproduces_the_metric_columns_exactly(serial_csv, tmp_path):
    out = tmp_path / "again.csv"
    report.main([str(serial_csv), "--recompute", "--out", str(out)])
    original, again = rows_of(serial_csv), rows_of(out)
    assert [{m: r[m] for m in METRICS} for r in again] == [{m: r[m] for m in METRICS} for r in original]
    assert [r["train_seconds"] for r in again] == [r["train_seconds"] for r in original]
    assert (tmp_path / "again_p100_table.csv").exists()
    assert load_codes(tmp_path / again[0]["codes_file"]).n_bits == 16  # relative to the new CSV

    by_position = tmp_path / "index.csv"
    report.main([str(serial_csv), "--recompute", "--ties", "index", "--out", str(by_position)])
    assert {r["ties"] for r in rows_of(by_position)} == {"index"}
    with pytest.raises(SystemExit):  # never silently replaced
        report.main([str(serial_csv), "--recompute", "--ties", "random", "--out", str(by_position)])
    assert {r["ties"] for r in rows_of(by_position)} == {"index"}
    report.main([str(serial_csv), "--recompute", "--ties", "random", "--out", str(by_position), "--force"])
    assert {r["ties"] for r in rows_of(by_position)} == {"random"}


def test_recompute_needs_no_tensorflow(serial_csv, tmp_path):
    out = tmp_path / "light.csv"
    script = (
        "import sys\n"
        "from ssb_vae import report\n"
        f"report.main([{str(serial_csv)!r}, '--recompute', '--out', {str(out)!r}])\n"
        "import ssb_vae.data, ssb_vae.evaluation\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'TensorFlow was imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert out.exists()


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--recompute"], "--recompute needs --out"),
        (["--recompute", "--out", "SAME"], "--out must name a new file"),
    ],
)
def test_recompute_refuses_to_touch_its_input(serial_csv, arguments, message, capsys):
    before = serial_csv.read_bytes()
    arguments = [str(serial_csv) if a == "SAME" else a for a in arguments]
    with pytest.raises(SystemExit):
        report.main([str(serial_csv), *arguments])
    assert message in capsys.readouterr().err
    assert serial_csv.read_bytes() == before


def test_resuming_under_another_tie_mode_is_refused(serial_csv, capsys):
    before = serial_csv.read_bytes()
    with pytest.raises(SystemExit):
        runner.main([*QUICK, "--ties", "index", "--out", str(serial_csv)])
    message = capsys.readouterr().err
    assert "holds metrics computed with ties=expected" in message and "--ties expected" in message
    assert serial_csv.read_bytes() == before


def test_a_csv_of_position_ties_is_refused_and_kept(tmp_path, capsys):
    out = tmp_path / "old.csv"
    out.write_text(csv_line(POSITION_TIES_COLUMNS))
    with pytest.raises(SystemExit):
        runner.main(["--out", str(out)])
    assert "written before tie-aware metrics" in capsys.readouterr().err
    assert out.read_text() == csv_line(POSITION_TIES_COLUMNS)


def test_resume_skips_rows_already_in_the_csv(serial_csv, capsys):
    before = serial_csv.read_bytes()
    assert runner.main([*QUICK, "--out", str(serial_csv), "--no-report"]) == 0
    assert "2 already in" in capsys.readouterr().out
    assert serial_csv.read_bytes() == before


@pytest.mark.slow
def test_an_incomplete_last_row_is_dropped_and_run_again(serial_csv, tmp_path):
    out = tmp_path / "cut.csv"
    complete = serial_csv.read_bytes()
    out.write_bytes(complete[: len(complete) - 25])  # the second row lost its end
    assert runner.main([*QUICK, "--out", str(out), "--no-report"]) == 0
    assert metric_rows(out) == metric_rows(serial_csv)


@pytest.mark.slow
def test_two_local_jobs_give_the_rows_of_a_serial_run_with_their_threads(tmp_path):
    """Each of N jobs gets cores/N TensorFlow threads, and on some processors the CPU kernels sum
    in an order that depends on the thread count; so the serial run it must equal is one with a
    worker's threads, in a process of its own (threads are fixed before TensorFlow starts)."""
    threads = threads_per_job(2)
    serial, parallel = tmp_path / "serial.csv", tmp_path / "parallel.csv"
    script = ("import sys; from ssb_vae.parallel import limit_threads; limit_threads(int(sys.argv[1])); "
              "from ssb_vae import runner; sys.exit(runner.main(sys.argv[2:]))")
    done = subprocess.run([sys.executable, "-c", script, str(threads), *QUICK, "--out", str(serial),
                           "--no-report"], capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert runner.main([*QUICK, "--out", str(parallel), "--jobs", "2", "--no-report"]) == 0
    assert metric_rows(parallel) == metric_rows(serial)


@pytest.mark.slow
def test_ray_backend_gives_the_same_rows(serial_csv, tmp_path):
    ray = pytest.importorskip("ray", reason="Ray is optional: pip install -r requirements-ray.txt")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"TF_CPP_MIN_LOG_LEVEL": "3"}})
    try:
        out = tmp_path / "ray.csv"
        assert runner.main([*QUICK, "--out", str(out), "--backend", "ray", "--no-report"]) == 0
        assert metric_rows(out) == metric_rows(serial_csv)
    finally:
        ray.shutdown()


@pytest.mark.slow
@expected_float32_overflow
def test_failed_run_is_recorded_and_the_grid_goes_on(tmp_path, capsys):
    out = tmp_path / "nan.csv"
    code = runner.main(["--methods", "bvae", "ssb-vae", "--levels", "1.0", "--epochs", "1",
                        "--alpha", "1e38", "--gamma", "1e38", "--out", str(out), "--no-report"])
    assert code == 1
    assert [r["algorithm"] for r in rows_of(out)] == ["BVAE"]
    log = (tmp_path / "nan.errors.log").read_text()
    assert "ssb-vae" in log and "became" in log
    assert "FAILED" in capsys.readouterr().out


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--dataset", "mnist"], "known datasets: digits, 20news"),
        (["--methods", "ssb"], "valid methods: vdsh, bvae"),
        (["--levels", "1.5"], r"level must lie in \(0, 1\]"),
        (["--bits", "0"], "--bits must be at least 1"),
        (["--preset", "paper"], "no entry for dataset=digits, bits=16, method=vdsh-s, level=0.1.*--alpha"),
        (["--model-option", "label_prior=true"], "NAME one of pairs, similarity"),
        (["--model-option", "hidden_units=wide"], "hidden_units takes a int value"),
        (["--model-option", "similarity=cosine"], "similarity must be one of"),
        (["--model-option", "pairs=labelled", "--model-option", "pairs=all"], "pairs is given twice"),
    ],
)
def test_bad_arguments_fail_before_training(arguments, message, tmp_path, capsys):
    out = tmp_path / "x.csv"
    with pytest.raises(SystemExit) as exit_info:
        runner.main([*arguments, "--out", str(out)])
    assert exit_info.value.code == 2
    assert pd.Series([capsys.readouterr().err]).str.contains(message).all()
    assert not out.exists()


def test_existing_csv_with_other_columns_is_refused_and_kept(tmp_path, capsys):
    out = tmp_path / "other.csv"
    out.write_text("a,b\n1,2\n")
    with pytest.raises(SystemExit):
        runner.main(["--out", str(out)])
    assert "exists with other columns" in capsys.readouterr().err
    assert out.read_text() == "a,b\n1,2\n"


def test_unwritable_output_directory(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(SystemExit):
        runner.main(["--out", str(blocker / "sub" / "x.csv")])
    assert "choose a writable --out" in capsys.readouterr().err


def test_paper_preset_lookup():
    from ssb_vae.presets import paper_hyperparameters

    assert paper_hyperparameters("20news", 16, "ssb-vae", 0.1) == {"alpha": 0.001, "beta": 0.015625, "gamma": 1000.0}
    assert paper_hyperparameters("cifar10", 32, "phs-gs", 1.0)["gamma"] == 0.1


def test_report_from_a_small_csv(tmp_path):
    rows = []
    for algorithm, base in (("SSB_VAE", 0.6), ("PHS_GS", 0.5)):
        for level in (0.1, 1.0):
            for repetition, seed in enumerate((20, 144)):
                rows.append({"dataset": "toy", "algorithm": algorithm, "level": level, "bits": 16,
                             "seed_used": seed, "p@100": base + level / 10 + repetition / 100,
                             "map@100": base})
    path = tmp_path / "toy.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    report.main([str(path), "--metric", "p@100", "map@100"])
    table = pd.read_csv(tmp_path / "toy_p100_table.csv", index_col=[0, 1, 2])
    assert table.loc[("toy", 16, "SSB_VAE"), "0.1"] == pytest.approx(0.615)
    assert list(table.index.get_level_values("algorithm")) == ["SSB_VAE", "PHS_GS"]
    spread = pd.read_csv(tmp_path / "toy_p100_std.csv", index_col=[0, 1, 2])
    assert spread.loc[("toy", 16, "PHS_GS"), "1"] == pytest.approx(np.std([0.6, 0.61], ddof=1), abs=1e-4)
    assert "SSB\\_VAE" in (tmp_path / "toy_p100_table.tex").read_text()
    both = pd.read_csv(tmp_path / "toy_p100_mean_std.csv", index_col=[0, 1, 2], dtype=str)
    assert both.loc[("toy", "16", "SSB_VAE"), "0.1"] == "0.615 ± 0.007"  # 0.61 and 0.62
    latex = (tmp_path / "toy_p100_mean_std.tex").read_text()
    assert "0.615 $\\pm$ 0.007" in latex and "SSB\\_VAE" in latex
    assert (tmp_path / "toy_16bits_map100.png").exists()
    with pytest.raises(SystemExit):
        report.main([str(path), "--metric", "p@7"])


def test_hash_command_writes_codes_and_keeps_existing_files(serial_csv, tmp_path):
    model = next((serial_csv.parent / "models").glob("*ssb-vae*.keras"))
    out = tmp_path / "codes.npy"
    hashing.main([str(model), "--dataset", "digits", "--part", "queries", "--out", str(out)])
    codes = np.load(out)
    assert codes.shape == (200, 16) and codes.dtype == np.uint8
    with pytest.raises(SystemExit):
        hashing.main([str(model), "--dataset", "digits", "--out", str(out)])
    np.testing.assert_array_equal(np.load(out), codes)
    text = tmp_path / "codes.txt"
    hashing.main([str(model), "--dataset", "digits", "--part", "queries", "--out", str(text)])
    assert text.read_text().splitlines()[0] == "".join(map(str, codes[0]))


def test_artifact_table_scores_the_stored_codes_in_class_order(serial_csv, tmp_path, capsys):
    cells = forensics.artifact_table(serial_csv, threshold=0.0)
    assert len(cells) == 2 and set(cells["repetitions"]) == {1}
    row = rows_of(serial_csv)[1]
    codes = load_codes(serial_csv.parent / row["codes_file"])
    order = np.argsort(codes.db_labels, kind="stable")
    expected = evaluate(codes.db_codes[order], codes.query_codes, codes.db_labels[order], codes.query_labels,
                        ks=(100,), ties="index")
    cell = cells.loc[("digits", 16, row["algorithm"], 0.5)]
    assert cell["p@100 class order"] == pytest.approx(expected["p@100"])
    assert cell["p@100 tie-aware"] == pytest.approx(float(row["p@100"]))
    assert cell["map@100 difference"] == pytest.approx(expected["map@100"] - float(row["map@100"]))
    forensics.main([str(serial_csv), "--artifact", "--out", str(tmp_path)])
    assert "differing by more than 0.01" in capsys.readouterr().out
    assert (tmp_path / "digits_artifact.csv").exists()


def test_superseded_table_splits_the_change_into_rule_and_rest(serial_csv, tmp_path, capsys):
    scores = forensics.storage_order_scores(serial_csv)
    row = rows_of(serial_csv)[1]
    cell_key = ("digits", 16, row["algorithm"], 0.5)
    old = [{"dataset": "digits", "bits": 16, "algorithm": row["algorithm"], "level": 0.5, "seed_used": seed,
            "p@100": p, "map@100": m} for seed, p, m in ((20, 0.40, 0.30), (144, 0.50, 0.50))]
    old.append({"dataset": "digits", "bits": 32, "algorithm": row["algorithm"], "level": 0.5, "seed_used": 20,
                "p@100": 0.9, "map@100": 0.9})  # no such cell in the new study: left out
    table = forensics.superseded_table(scores, pd.DataFrame(old).sample(frac=1.0, random_state=1))
    assert list(table.index) == [cell_key]
    cell, new = table.loc[cell_key], scores.loc[cell_key]
    assert cell["superseded repetitions"] == 2 and cell["p@100 superseded"] == pytest.approx(0.45)
    assert cell["p@100 tie-aware"] == pytest.approx(float(row["p@100"]))
    assert cell["p@100 change"] == pytest.approx(float(row["p@100"]) - 0.45)
    assert cell["map@100 rule"] == pytest.approx(new["map@100 tie-aware"] - new["map@100 class order"])
    assert cell["map@100 rest"] == pytest.approx(new["map@100 class order"] - 0.40)
    assert cell["p@100 rule"] + cell["p@100 rest"] == pytest.approx(cell["p@100 change"])
    with pytest.raises(ValueError, match="no column 'map@100'"):
        forensics.superseded_table(scores, pd.DataFrame(old).drop(columns="map@100"))
    old_csv = tmp_path / "old.csv"
    pd.DataFrame(old).to_csv(old_csv, index=False)
    forensics.main([str(serial_csv), "--superseded", str(old_csv), "--out", str(tmp_path)])
    assert "1 cell(s) in both" in capsys.readouterr().out
    assert len(pd.read_csv(tmp_path / "digits_superseded.csv")) == 1


def test_codes_summary_counts_distinct_codes_and_the_largest_group(serial_csv, tmp_path, capsys):
    summary = report.codes_table(serial_csv)
    rows = rows_of(serial_csv)
    assert len(summary) == len(rows)
    for (_, got), row in zip(summary.iterrows(), rows):
        codes = load_codes(serial_csv.parent / row["codes_file"]).db_codes
        groups = {}
        for code in map(bytes, codes):
            groups[code] = groups.get(code, 0) + 1
        assert got["distinct_codes"] == len(groups) and got["largest_group"] == max(groups.values())
        assert got["distinct %"] == pytest.approx(100 * len(groups) / len(codes))
        assert got["p@100"] == float(row["p@100"])
    report.main([str(serial_csv), "--codes", "--out", str(tmp_path)])
    assert "distinct_codes" in capsys.readouterr().out
    assert len(pd.read_csv(tmp_path / "digits_codes_summary.csv")) == len(rows)


def test_degradation_is_taken_within_each_repetition(tmp_path):
    rows = [{"dataset": "toy", "algorithm": "PHS_GS", "bits": 16, "level": level, "seed_used": seed, "p@100": p}
            for seed, level, p in ((20, 1.0, 0.80), (20, 0.1, 0.50), (144, 1.0, 0.70), (144, 0.1, 0.60),
                                   (20, 0.5, 0.1))]
    rows.append({"dataset": "toy", "algorithm": "SSB_VAE", "bits": 16, "level": 1.0, "seed_used": 20, "p@100": 0.9})
    table = report.degradation_table(pd.DataFrame(rows))
    cell = table.loc[("toy", 16, "PHS_GS")]
    assert cell["drop"] == pytest.approx(0.2) and cell["drop std"] == pytest.approx(np.std([0.3, 0.1], ddof=1))
    assert cell["p@100 at 1"] == pytest.approx(0.75) and cell["relative drop"] == pytest.approx(0.2 / 0.75)
    assert cell["repetitions"] == 2 and ("toy", 16, "SSB_VAE") not in table.index  # no level 0.1
    path = tmp_path / "toy.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    report.main([str(path)])
    assert (tmp_path / "toy_p100_degradation.csv").exists() and (tmp_path / "toy_p100_comparison.csv").exists()
    for table in (report.codes_table, forensics.artifact_table):
        with pytest.raises(ValueError, match="has no stored codes"):
            table(path)


def test_comparison_pairs_repetitions_and_scales_by_the_spread(tmp_path):
    scores = {("SSB_VAE", 20): 0.70, ("SSB_VAE", 144): 0.60, ("SSB_VAE", 1028): 0.65,
              ("PHS_GS", 20): 0.60, ("PHS_GS", 144): 0.62, ("PHS_GS", 1028): 0.55,
              ("VDSH_S", 20): 0.50}
    rows = [{"dataset": "toy", "algorithm": algorithm, "bits": 16, "level": 0.1, "seed_used": seed, "p@100": p}
            for (algorithm, seed), p in scores.items()]
    rows.append({"dataset": "toy", "algorithm": "PHS_GS", "bits": 16, "level": 0.5, "seed_used": 20, "p@100": 0.9})
    shuffled = pd.DataFrame(rows).sample(frac=1.0, random_state=3)
    table = report.comparison_table(shuffled)
    cell = table.loc[("toy", 16, "PHS_GS", 0.1)]
    differences = [0.10, -0.02, 0.10]
    spread = max(np.std([0.70, 0.60, 0.65], ddof=1), np.std([0.60, 0.62, 0.55], ddof=1))
    assert cell["difference"] == pytest.approx(np.mean(differences))
    assert cell["difference std"] == pytest.approx(np.std(differences, ddof=1))
    assert cell["spread"] == pytest.approx(spread)
    assert cell["difference / spread"] == pytest.approx(np.mean(differences) / spread)
    assert cell["wins"] == 2 and cell["repetitions"] == 3 and cell["SSB_VAE"] == pytest.approx(0.65)
    single = table.loc[("toy", 16, "VDSH_S", 0.1)]  # paired with seed 20 only
    assert single["difference"] == pytest.approx(0.20) and single["repetitions"] == 1
    assert np.isnan(single["difference / spread"])
    assert ("toy", 16, "PHS_GS", 0.5) not in table.index  # SSB-VAE did not run there
    assert report.comparison_table(shuffled[shuffled["algorithm"] != "SSB_VAE"]).empty


def test_verify_reproduces_every_cell_and_names_a_changed_one(serial_csv, capsys):
    with pytest.raises(SystemExit) as passed:
        report.main([str(serial_csv), "--verify"])
    assert passed.value.code == 0 and "recomputes exactly" in capsys.readouterr().out
    rows = rows_of(serial_csv)
    rows[1]["map@1000"] = repr(float(rows[1]["map@1000"]) + 1e-9)
    tampered = serial_csv.parent / "tampered.csv"
    with open(tampered, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    differences = rescoring.verify(tampered)
    assert len(differences) == 1 and "line 3, map@1000" in differences[0]
    with pytest.raises(SystemExit) as failed:
        report.main([str(tampered), "--verify"])
    assert failed.value.code == 1 and "line 3, map@1000" in capsys.readouterr().out
    tampered.unlink()


def _spawned_workers(parent: int) -> list[int]:
    """The multiprocessing workers that ``parent`` started (from /proc, Linux)."""
    workers = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            command = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == parent and b"spawn_main" in command:
            workers.append(int(stat.parent.name))
    return workers


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")  # a zombie has ended; only its parent has not collected it


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
def test_workers_end_when_the_runner_is_killed(tmp_path):
    """A runner killed by a signal never shuts its pool down: its workers must not train on."""
    command = [sys.executable, str(Path(__file__).resolve().parents[1] / "run_experiments.py"), "--levels", "0.5", "--epochs", "500", "--methods",
               "phs-gs", "ssb-vae", "--jobs", "2", "--out", str(tmp_path / "killed.csv")]
    started = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers, deadline = [], time.monotonic() + 120
    while len(workers) < 2 and time.monotonic() < deadline and started.poll() is None:
        time.sleep(0.5)
        workers = _spawned_workers(started.pid)
    assert len(workers) == 2, "the runner did not start its two workers"
    started.kill()
    started.wait()
    deadline = time.monotonic() + 30
    while any(map(_running, workers)) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not any(map(_running, workers))


@pytest.mark.slow
def test_model_options_enter_the_key_the_column_and_the_file_names(tmp_path, capsys):
    out = tmp_path / "options.csv"
    quick = ["--methods", "phs-gs", "--levels", "1.0", "--epochs", "1", "--no-report", "--out", str(out)]
    assert runner.main([*quick, "--model-option", "pairs=labelled", "--model-option", "hidden_units=20"]) == 0
    assert runner.main([*quick, "--model-option", "pairs=all"]) == 0  # the default: no option at all
    rows = rows_of(out)
    assert [row["model_options"] for row in rows] == ["hidden_units=20;pairs=labelled", ""]
    assert rows[0]["p@100"] != rows[1]["p@100"]
    assert "hidden_units-20_pairs-labelled" in rows[0]["codes_file"]
    assert load_codes(out.parent / rows[0]["codes_file"]).key["model_options"] == rows[0]["model_options"]
    capsys.readouterr()
    assert runner.main([*quick, "--model-option", "pairs=labelled", "--model-option", "hidden_units=20"]) == 0
    assert "1 already in" in capsys.readouterr().out
    assert rescoring.verify(out) == []


def test_a_csv_written_before_model_options_resumes_and_verifies(serial_csv, tmp_path, capsys):
    """The layout without the model_options column (every committed study) keeps its keys."""
    (tmp_path / "digits_codes").symlink_to(serial_csv.parent / "digits_codes")
    rows = rows_of(serial_csv)
    for name, lacking in (("old", ("model_options", "protocol", "data_digest", "optimizer")),
                          ("path_keyed", ("data_digest", "optimizer")), ("adam", ("optimizer",))):
        old = tmp_path / f"{name}.csv"
        columns = [column for column in rows[0] if column not in lacking]
        old.write_text(csv_line(columns) + "".join(csv_line([row[c] for c in columns]) for row in rows))
        assert rescoring.verify(old) == []
        assert runner.main([*QUICK, "--out", str(old), "--no-report"]) == 0
        assert "0 to run" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        runner.main([*QUICK, "--out", str(tmp_path / "old.csv"), "--no-report", "--model-option", "pairs=labelled"])
    assert "written before model_options was recorded" in capsys.readouterr().err


@pytest.mark.slow
def test_the_validation_protocols_fit_on_the_training_part_and_score_validation(tmp_path, digits):
    out = tmp_path / "protocols.csv"
    quick = ["--methods", "phs-gs", "--levels", "0.5", "--epochs", "1", "--no-report", "--out", str(out)]
    for protocol in ("realistic", "full-labels"):
        assert runner.main([*quick, "--protocol", protocol]) == 0
    realistic, full = rows_of(out)
    assert (realistic["protocol"], full["protocol"]) == ("realistic", "full-labels")
    labelled = digits.with_supervision(0.5, seed=20).labelled[:len(digits.train)]
    assert int(realistic["n_labelled"]) == int(full["n_labelled"]) == labelled.sum()
    realistic_codes, full_codes = (load_codes(out.parent / row["codes_file"]) for row in (realistic, full))
    assert len(realistic_codes.db_codes) == labelled.sum() and len(full_codes.db_codes) == len(digits.train)
    assert len(full_codes.query_codes) == len(digits.validation)
    np.testing.assert_array_equal(realistic_codes.db_codes, full_codes.db_codes[labelled])  # same model, same seed
    assert rescoring.verify(out) == []
