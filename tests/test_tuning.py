"""ssb-vae tune (docs/method.md §9): nothing it chooses depends on the test part or on hidden
labels, a seeded tune repeats itself, a killed tune resumes, and its preset drives the runner."""

import re

import numpy as np
import pandas as pd
import pytest

from tests.conftest import rows_of

WORDS = [f"topic{c}word{w}" for c in range(6) for w in range(25)]
SHARED = [f"common{w}" for w in range(60)]
COUNTS = {"train": 240, "validation": 90, "test": 90}
TRIAL_COLUMNS = ["trial", "state", "alpha", "beta", "gamma", "score", "distinct_codes"]


def corpus(seed: int = 0) -> pd.DataFrame:
    """A small text corpus of six topics with a split column: each document mixes its topic's words
    with shared ones."""
    rng = np.random.default_rng(seed)
    rows = []
    for split, count in COUNTS.items():
        for _ in range(count):
            topic = int(rng.integers(6))
            words = list(rng.choice(WORDS[25 * topic: 25 * topic + 25], 8)) + list(rng.choice(SHARED, 6))
            rows.append({"text": " ".join(words), "label": f"t{topic}", "split": split})
    return pd.DataFrame(rows)


def write(table: pd.DataFrame, folder) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "news.csv"  # one stem for every variant: the storage order is keyed by it
    table.to_csv(path, index=False)
    return str(path)


def tune(tmp_path, dataset: str, name: str, *extra: str, trials: int = 2) -> pd.DataFrame:
    from ssb_vae.tune import main

    out = tmp_path / name / "preset.csv"
    assert main(["--dataset", dataset, "--methods", "ssb-vae", "--levels", "0.5", "--trials", str(trials),
                 "--epochs", "2", "--cache-dir", str(tmp_path / "cache"), "--no-plots", "--out", str(out),
                 *extra]) == 0
    return out


def without_path(out) -> list[dict]:
    """The preset's rows without the corpus path (each variant lives in a folder of its own)."""
    return [{name: value for name, value in row.items() if name != "dataset"} for row in rows_of(out)]


def trials_of(out) -> pd.DataFrame:
    return pd.read_csv(out.with_name("preset_trials.csv"))[TRIAL_COLUMNS + ["score_epoch1", "score_epoch2"]]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """One tune of the corpus, kept for the comparisons below."""
    tmp_path = tmp_path_factory.mktemp("tune")
    dataset = write(corpus(), tmp_path / "original")
    return tmp_path, dataset, tune(tmp_path, dataset, "original")


@pytest.mark.slow
def test_a_tune_reads_no_test_item_and_repeats_itself(reference):
    tmp_path, _, out = reference
    table = corpus()
    test = table["split"] == "test"
    other = corpus(seed=99)[lambda t: t["split"] == "test"]
    table.loc[test, "text"] = other["text"].to_numpy()
    table.loc[test, "label"] = np.random.default_rng(5).permutation(table.loc[test, "label"].to_numpy())
    changed = tune(tmp_path, write(table, tmp_path / "other_test"), "other_test")

    pd.testing.assert_frame_equal(trials_of(changed), trials_of(out))
    assert without_path(changed) == without_path(out)
    assert len(trials_of(out)) == 2 and trials_of(out)["state"].eq("COMPLETE").all()


@pytest.mark.slow
def test_a_realistic_tune_reads_no_hidden_label(reference):
    from ssb_vae.data import load_dataset
    from ssb_vae.data.core import storage_order
    from ssb_vae.protocols import protocol_parts
    from ssb_vae.runner import SEEDS

    tmp_path, dataset, out = reference
    table = corpus()
    data = load_dataset(dataset, cache_dir=tmp_path / "cache")
    labelled = protocol_parts(data, 0.5, SEEDS[0], "test").labelled  # train, then validation
    n_train = COUNTS["train"]
    rng = np.random.default_rng(3)
    for part, mask in (("train", labelled[:n_train]), ("validation", labelled[n_train:])):
        rows = np.flatnonzero(table["split"] == part)
        rows = rows[storage_order(len(rows), f"news/{part}")]  # the order the loader stores them in
        hidden = rows[~mask]
        table.loc[hidden, "label"] = [f"t{(int(label[1]) + int(rng.integers(1, 6))) % 6}"
                                      for label in table.loc[hidden, "label"]]
    changed_path = write(table, tmp_path / "other_hidden")
    changed = load_dataset(changed_path, cache_dir=tmp_path / "cache")
    assert not np.array_equal(changed.train.labels, data.train.labels)  # the change reached the data
    assert np.array_equal(changed.train.labels[labelled[:n_train]], data.train.labels[labelled[:n_train]])

    pd.testing.assert_frame_equal(trials_of(tune(tmp_path, changed_path, "other_hidden")), trials_of(out))


@pytest.mark.slow
def test_a_killed_tune_resumes_with_the_trials_it_would_have_run(reference):
    import optuna

    from ssb_vae.tuning import stored_cells

    tmp_path, dataset, out = reference
    resumed = tune(tmp_path, dataset, "resumed", trials=1)
    storage = f"sqlite:///{resumed.with_name('preset.db')}"
    (cell,) = stored_cells(storage)
    study = optuna.load_study(study_name=optuna.get_all_study_names(storage)[0], storage=storage)
    study.ask()  # a trial that a killed process left running
    resumed = tune(tmp_path, dataset, "resumed", trials=2)

    trials = pd.read_csv(resumed.with_name("preset_trials.csv"))
    assert list(trials["state"]) == ["COMPLETE", "FAIL", "COMPLETE"]
    finished = trials_of(resumed)[lambda t: t["state"] == "COMPLETE"].drop(columns="trial").reset_index(drop=True)
    pd.testing.assert_frame_equal(finished, trials_of(out).drop(columns="trial"), check_dtype=False)
    assert without_path(resumed) == without_path(out)


@pytest.mark.slow
def test_the_preset_drives_the_runner(reference, tmp_path):
    from ssb_vae.codes import load_codes
    from ssb_vae.runner import main as run

    _, dataset, out = reference
    (chosen,) = rows_of(out)
    assert chosen["method"] == "SSB-VAE" and chosen["protocol"] == "realistic" and chosen["trials"] == "2"
    best = trials_of(out).sort_values("score", ascending=False).iloc[0]
    assert float(chosen["alpha"]) == pytest.approx(best["alpha"]) and float(chosen["score"]) == pytest.approx(best["score"])

    results = tmp_path / "study.csv"
    assert run(["--dataset", dataset, "--methods", "ssb-vae", "--levels", "0.5", "--epochs", "2",
                "--preset", str(out), "--cache-dir", str(tmp_path / "cache"), "--out", str(results),
                "--no-report"]) == 0
    (row,) = rows_of(results)
    assert [float(row[name]) for name in ("alpha", "beta", "gamma")] == \
        [float(chosen[name]) for name in ("alpha", "beta", "gamma")]
    # the choice was checked on the study's own first run: its codes are those the study stored
    codes = load_codes(results.parent / row["codes_file"]).db_codes
    assert float(chosen["study_fit_distinct"]) == len(np.unique(codes, axis=0)) / len(codes)

    with pytest.raises(SystemExit):
        run(["--dataset", dataset, "--methods", "phs-gs", "--levels", "0.5", "--preset", str(out),
             "--out", str(tmp_path / "other.csv"), "--cache-dir", str(tmp_path / "cache")])


@pytest.mark.slow
def test_a_recheck_fits_the_choice_again_and_keeps_the_earlier_check(reference):
    """A check made elsewhere (here: a stored share of 0.99) is kept by a plain rerun and replaced
    by --recheck with this machine's fit; the discarded share stays in the storage."""
    import shutil

    import optuna

    from ssb_vae.tuning import EARLIER_FITS_ATTR, STUDY_FIT_ATTR

    tmp_path, dataset, out = reference
    (genuine,) = rows_of(out)
    folder = tmp_path / "rechecked"
    folder.mkdir()
    for name in ("preset.csv", "preset.db"):
        shutil.copy(out.with_name(name), folder / name)
    storage = f"sqlite:///{folder / 'preset.db'}"
    study = optuna.load_study(study_name=optuna.get_all_study_names(storage)[0], storage=storage)
    elsewhere = {number: 0.99 for number in study.user_attrs[STUDY_FIT_ATTR]}
    study.set_user_attr(STUDY_FIT_ATTR, elsewhere)

    (kept,) = rows_of(tune(tmp_path, dataset, "rechecked"))
    assert float(kept["study_fit_distinct"]) == 0.99
    rechecked = tune(tmp_path, dataset, "rechecked", "--recheck")
    assert rows_of(rechecked) == [genuine]
    study = optuna.load_study(study_name=study.study_name, storage=storage)
    (earlier,) = study.user_attrs[EARLIER_FITS_ATTR]
    assert earlier[STUDY_FIT_ATTR] == elsewhere
    assert float(genuine["study_fit_distinct"]) != 0.99


def test_a_preset_missing_a_cell_is_refused_by_name(tmp_path):
    from ssb_vae.presets import PresetMissingError, preset_hyperparameters

    path = tmp_path / "preset.csv"
    pd.DataFrame([{"dataset": "digits", "bits": 16, "method": "SSB-VAE", "level": 0.5, "alpha": 1.0, "beta": 0.1,
                   "gamma": 100.0, "protocol": "realistic", "metric": "p@100", "score": 0.5, "trials": 3,
                   "seed": 0}]).to_csv(path, index=False)
    assert preset_hyperparameters(str(path), "digits", 16, "ssb-vae", 0.5) == {"alpha": 1.0, "beta": 0.1, "gamma": 100.0}
    with pytest.raises(PresetMissingError, match=r"preset.csv has no row for dataset=digits, bits=16, method=phs-gs, level=0.5"):
        preset_hyperparameters(str(path), "digits", 16, "phs-gs", 0.5)
    with pytest.raises(PresetMissingError, match="no such file"):
        preset_hyperparameters(str(tmp_path / "nothing.csv"), "digits", 16, "ssb-vae", 0.5)
    pd.DataFrame([{"dataset": "digits", "alpha": 1}]).to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(PresetMissingError, match="lacks the column"):
        preset_hyperparameters(str(tmp_path / "bad.csv"), "digits", 16, "ssb-vae", 0.5)


@pytest.mark.parametrize("arguments, message", [
    (["--methods", "vdsh"], "empty search space for vdsh: it has no label weights to search"),
    (["--alpha", "1", "--gamma", "100"], "empty search space for ssb-vae: --alpha, --gamma fixes every weight"),
    (["--trials", "0"], "--trials must be at least 1"),
    (["--levels", "0.001"], "at level 0.001 none of the .* validation items of digits is labelled"),
    (["--protocol", "test"], "invalid choice: 'test'"),
    (["--metric", "p@0"], "a metric is p@K, r@K or map@K"),
    (["--min-distinct", "2"], "--min-distinct is a share of the training items"),
])
def test_bad_tunes_are_refused_before_anything_trains(tmp_path, capsys, arguments, message):
    from ssb_vae.tune import main

    methods = [] if "--methods" in arguments else ["--methods", "ssb-vae"]
    with pytest.raises(SystemExit):
        main(["--dataset", "digits", *methods, "--levels", "0.5", "--out", str(tmp_path / "p.csv"), *arguments])
    assert re.search(message, capsys.readouterr().err)
    assert not (tmp_path / "p.db").exists() and not (tmp_path / "p.csv").exists()


def test_an_existing_file_that_is_not_a_preset_is_not_overwritten(tmp_path, capsys):
    from ssb_vae.tune import main

    mine = tmp_path / "notes.csv"
    mine.write_text("my,own\n1,2\n")
    with pytest.raises(SystemExit):
        main(["--dataset", "digits", "--methods", "ssb-vae", "--levels", "0.5", "--out", str(mine)])
    assert "is not a preset written by ssb-vae tune" in capsys.readouterr().err
    assert mine.read_text() == "my,own\n1,2\n"


def test_the_search_space_follows_the_method_and_the_paper():
    from ssb_vae.tuning import search_space, trial_seed

    space, fixed = search_space("ssb-vae", "20news", 16, 0.1)
    assert space == (("alpha", 1e-4, 1e5), ("gamma", 1e2, 1e5)) and fixed == (("beta", 0.015625),)
    space, fixed = search_space("vdsh-s", "20news", 16, 0.1)
    assert space == (("alpha", 1e-4, 1e5),) and dict(fixed) == {"beta": 0.0625, "gamma": 0.0}
    space, _ = search_space("phs-gs", "my.csv", 16, 0.1, search_beta=True)
    assert [name for name, _, _ in space] == ["alpha", "beta", "gamma"]
    assert trial_seed(0, 3) == trial_seed(0, 3) != trial_seed(0, 4)


@pytest.mark.slow
def test_cells_in_parallel_give_the_trials_of_a_serial_tune(reference):
    from ssb_vae.tune import main

    tmp_path, dataset, out = reference
    parallel = tmp_path / "parallel" / "preset.csv"
    assert main(["--dataset", dataset, "--methods", "ssb-vae", "phs-gs", "--levels", "0.5", "--trials", "2",
                 "--epochs", "2", "--cache-dir", str(tmp_path / "cache"), "--no-plots", "--jobs", "2",
                 "--out", str(parallel)]) == 0
    trials = pd.read_csv(parallel.with_name("preset_trials.csv"))
    ssb_vae_trials = trials[trials["method"] == "ssb-vae"][TRIAL_COLUMNS + ["score_epoch1", "score_epoch2"]]
    pd.testing.assert_frame_equal(ssb_vae_trials.reset_index(drop=True), trials_of(out))
    assert sorted(row["method"] for row in rows_of(parallel)) == ["PHS-GS", "SSB-VAE"]


@pytest.mark.slow
def test_a_trial_whose_codes_collapse_scores_zero(reference):
    tmp_path, dataset, _ = reference
    out = tune(tmp_path, dataset, "strict", "--min-distinct", "1", trials=1)
    trials = pd.read_csv(out.with_name("preset_trials.csv"))
    assert trials["distinct_share"].iloc[0] < 1
    assert trials["score"].iloc[0] == 0 and trials["score_epoch1"].iloc[0] == 0
    assert trials["raw_score_epoch2"].iloc[0] > 0  # the score it would have had stays on record
    assert rows_of(out)[0]["min_distinct"] == "1.0"


def test_the_pruner_compares_with_finished_trials_that_kept_their_codes_apart():
    import optuna
    from optuna.distributions import FloatDistribution
    from optuna.trial import TrialState, create_trial

    from ssb_vae.tuning import feasible_median_pruner

    study = optuna.create_study(direction="maximize")
    space = {"alpha": FloatDistribution(1e-4, 1e5, log=True)}
    for value, early in [(0.0, 0.9)] * 4 + [(0.6, 0.5), (0.62, 0.52), (0.58, 0.48)]:
        study.add_trial(create_trial(params={"alpha": 1.0}, distributions=space, value=value,
                                     intermediate_values={5: early}, state=TrialState.COMPLETE))
    pruner = feasible_median_pruner()

    def running(score):
        return create_trial(params={"alpha": 1.0}, distributions=space, intermediate_values={5: score},
                            state=TrialState.RUNNING)

    assert not pruner.prune(study, running(0.45))  # three feasible references: too few to judge
    study.add_trial(create_trial(params={"alpha": 1.0}, distributions=space, value=0.61,
                                 intermediate_values={5: 0.51}, state=TrialState.COMPLETE))
    assert not pruner.prune(study, running(0.6))  # below the collapsed trials' 0.9, above the median 0.505
    assert pruner.prune(study, running(0.45))


def test_the_choice_is_the_best_trial_that_keeps_its_codes_apart_on_the_study_fit():
    from optuna.distributions import FloatDistribution
    from optuna.trial import TrialState, create_trial

    from ssb_vae.tuning import CellResult, trial_rows

    space = {"alpha": FloatDistribution(1e-4, 1e5, log=True)}
    trials = [create_trial(params={"alpha": 1.0 + number}, distributions=space, value=value,
                           state=TrialState.COMPLETE) for number, value in enumerate([0.5, 0.9, 0.0, 0.8, 0.7, 0.6])]
    for trial, number in zip(trials, range(len(trials))):
        trial.number = number
    cell = {"min_distinct": 0.05, "fixed": []}

    def chosen(study_fit):
        result = CellResult(cell, 6, trials, study_fit)
        return (None if result.to_verify() is None else result.to_verify().number,
                None if result.best is None else result.best.number)

    assert chosen({}) == (1, None)  # the best trial is fitted the study's way before anything is chosen
    assert chosen({1: 0.2}) == (None, 1)
    assert chosen({1: 0.01}) == (3, None)  # it collapsed there: the next best is fitted
    assert chosen({1: 0.01, 3: 0.01, 4: 0.06}) == (None, 4)
    assert chosen({1: 0.01, 3: 0.03, 4: 0.02}) == (5, None)  # down the ranking, past the first three
    assert chosen({1: 0.01, 3: 0.03, 4: 0.02, 5: 0.01, 0: 0.2}) == (None, 0)  # the last candidate holds
    assert chosen({1: 0.01, 3: 0.03, 4: 0.02, 5: 0.01, 0: 0.02}) == (None, 3)  # none held: the least collapsed
    assert CellResult({**cell, "min_distinct": 0.0}, 6, trials).best.number == 1  # no rule, no fit
    collapsed = [trial for trial in trials if trial.value == 0]
    assert CellResult(cell, 6, collapsed).best.number == 2  # nothing kept its codes apart in its trial
    identity = {**cell, "dataset": "d", "method": "ssb-vae", "bits": 16, "level": 0.1, "protocol": "realistic",
                "metric": "p@100", "seed": 0}
    rows = trial_rows([CellResult(identity, 6, trials, {1: 0.01, 3: 0.2})])
    assert [row["trial"] for row in rows if row["chosen"]] == [3]  # the trials table marks the choice
    assert [row["study_fit_distinct"] for row in rows] == [None, 0.01, None, 0.2, None, None]
