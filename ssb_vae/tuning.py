"""Choosing α, β, γ on validation data (docs/method.md §9): one Optuna study per cell.

A cell is (dataset, method, bits, level) with everything else a run needs. Its trials train on the
training part only and are scored on the validation part under the ``realistic`` (default) or
``full-labels`` protocol of ``ssb_vae.protocols``; no trial reads a test item. Trials of a cell
run one after another, each proposed by a TPE sampler seeded by (seed, trials so far), so a
cell's trials depend only on its history: the same for any --jobs, backend, or a resume after a
kill. Cells run in parallel. Everything a tune learns lives in its Optuna storage (SQLite beside
the preset by default); the preset, the trials table and the plots are written from it.

A trial's codes are checked on its own fit, which is shorter than the study's (the training part
only), and a setting can still be collapsing when its trial ends. So the choice is checked once
more on the run it is for: the best trials are fitted as the study fits them, best first, until
one keeps its codes apart (``verify_choice``).
"""

from __future__ import annotations

import json
import logging
import time
import traceback
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from ssb_vae.presets import DEFAULTS, PresetMissingError, paper_hyperparameters
from ssb_vae.runner import ALGORITHMS, GridPoint, run_point

# docs/method.md §9: log-uniform ranges of the weights a method's labels enter
SEARCH_SPACES = {
    "vdsh": {},
    "bvae": {},
    "vdsh-s": {"alpha": (1e-4, 1e5)},
    "phs-gs": {"alpha": (1e-4, 1e5), "gamma": (1e2, 1e5)},
    "ssb-vae": {"alpha": (1e-4, 1e5), "gamma": (1e2, 1e5)},
}
BETA_RANGE = (1e-3, 1.0)  # with --search-beta
TUNE_PROTOCOLS = ("realistic", "full-labels")
STARTUP_TRIALS = 8  # random proposals before TPE models the scores
PRUNING_FRACTIONS = (1 / 6, 1 / 3, 2 / 3)  # of the epochs: 5, 10 and 20 of 30
PRUNER_STARTUP_TRIALS = 4  # finished trials scoring above 0 before the median rule prunes
COUNTED = ("COMPLETE", "PRUNED")
# a setting whose codes give fewer distinct codes than this share of the training items scores 0:
# a code shared by a whole class makes a classifier, not a hash (results/paper_preset/README.md §5)
MIN_DISTINCT = 0.05  # and FAIL with an "error": a trial that ran, so it used the budget
STUDY_FIT_ATTR = "study_fit_distinct"  # a study's record {trial number: distinct share of its study fit}
EARLIER_FITS_ATTR = "study_fit_distinct_earlier"  # records discarded by --recheck, with when


@dataclass(frozen=True)
class Cell:
    """One (dataset, method, bits, level) to tune, with the settings its trials run under."""

    dataset: str
    method: str
    bits: int
    level: float
    protocol: str
    metric: str
    epochs: int
    batch_size: int
    space: tuple  # (name, low, high): searched log-uniformly
    fixed: tuple  # (name, value): the weights not searched
    seed: int
    trials: int
    storage: str
    data_dir: str = "data"
    cache_dir: str | None = None
    ties: str = "expected"
    corpus_options: tuple = ()
    model_options: tuple = ()
    min_distinct: float = MIN_DISTINCT
    data_digest: str = ""  # a dataset file's content and reading options (runner.dataset_digest)
    optimizer: str = "adam"  # "lazy-adam" with --fast

    @property
    def identity(self) -> dict:
        """What makes two tunes the same study: everything but where data and storage live and the
        number of trials (a later run may ask for more). Fields added since the first tunes enter
        only when they differ from their default, so that those tunes keep their studies."""
        skipped = {"trials", "storage", "data_dir", "cache_dir"}
        later = {"data_digest": "", "optimizer": "adam"}
        return {name: value for name, value in asdict(self).items()
                if name not in skipped and later.get(name, object()) != value}

    @property
    def study_name(self) -> str:
        return json.dumps(self.identity, sort_keys=True, default=list)

    def pruning_epochs(self) -> tuple[int, ...]:
        return tuple(sorted({max(1, round(self.epochs * f)) for f in PRUNING_FRACTIONS} - {self.epochs}))

    def point(self, weights: dict[str, float]) -> GridPoint:
        """The run of one trial: repetition 0 (seed 20), so a tune at level p uses the labelled
        items of the study's first repetition at p."""
        return GridPoint(dataset=self.dataset, method=self.method, bits=self.bits, level=self.level,
                         repetition=0, epochs=self.epochs, batch_size=self.batch_size,
                         data_dir=self.data_dir, cache_dir=self.cache_dir, ties=self.ties,
                         corpus_options=self.corpus_options, model_options=self.model_options,
                         protocol=self.protocol, data_digest=self.data_digest, optimizer=self.optimizer,
                         **weights)


def search_space(method: str, dataset: str, bits: int, level: float, search_beta: bool = False,
                 fixed: dict[str, float] | None = None) -> tuple[tuple, tuple]:
    """(searched, fixed) weights of a cell: α (and γ) from ``SEARCH_SPACES``, β at the paper's value
    for the cell (the package default where the paper has none) unless ``search_beta``; a weight
    in ``fixed`` is not searched. A ValueError when nothing is left to search."""
    ranges = dict(SEARCH_SPACES[method])
    if search_beta:
        ranges["beta"] = BETA_RANGE
    try:
        reference = paper_hyperparameters(dataset, bits, method, level)
    except PresetMissingError:
        reference = dict(DEFAULTS[method])
    values = {**reference, **(fixed or {})}
    searched = tuple((name, *ranges[name]) for name in ("alpha", "beta", "gamma")
                     if name in ranges and name not in (fixed or {}))
    if not searched:
        given = ", ".join(f"--{name}" for name in (fixed or {})) or "no weight"
        raise ValueError(
            f"empty search space for {method}: it has no label weights to search"
            if not SEARCH_SPACES[method] and not search_beta else
            f"empty search space for {method}: {given} fixes every weight it could search")
    searched_names = {name for name, _, _ in searched}
    return searched, tuple((name, float(values[name])) for name in ("alpha", "beta", "gamma")
                           if name not in searched_names)


def distinct_share(codes: np.ndarray) -> float:
    """The number of distinct codes over the number of items."""
    return len(np.unique(codes, axis=0)) / len(codes)


def feasible_median_pruner():
    """Optuna's median rule against the finished trials that scored above 0 only: a trial stops
    when its score at a step is below the median of theirs at that step. Trials whose codes
    collapsed (score 0 at the end) are no reference: their early scores, before the collapse, are
    high, and against them every trial that keeps its codes apart would be pruned."""
    import optuna

    class FeasibleMedianPruner(optuna.pruners.BasePruner):
        def prune(self, study, trial) -> bool:
            step = trial.last_step
            if step is None:
                return False
            references = [t.intermediate_values[step] for t in study.get_trials(
                deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
                if t.value is not None and t.value > 0 and step in t.intermediate_values]
            if len(references) < PRUNER_STARTUP_TRIALS:
                return False
            return trial.intermediate_values[step] < float(np.median(references))

    return FeasibleMedianPruner()


def trial_seed(seed: int, trials_so_far: int) -> int:
    """The sampler seed of a cell's next trial: a function of the tune's seed and the cell's history."""
    return int(np.random.SeedSequence([seed, trials_so_far]).generate_state(1)[0])


def quiet_optuna() -> None:
    """Optuna's per-trial lines off, and TensorFlow's retracing warnings (each trial is a new model,
    so its predict function is traced anew, as it must be)."""
    import optuna

    optuna.logging.set_verbosity(logging.WARNING)
    optuna.logging.disable_default_handler()
    logging.getLogger("tensorflow").setLevel(logging.ERROR)


def open_storage(url: str):
    """An Optuna RDB storage; SQLite waits for a busy file rather than failing at once."""
    import optuna

    engine = {"connect_args": {"timeout": 60}} if url.startswith("sqlite:") else {}
    return optuna.storages.RDBStorage(url, engine_kwargs=engine)


def used_budget(trial) -> bool:
    """Whether a trial used its cell's budget: finished, pruned, or failed by an error of the run
    (a diverging loss). A trial killed in flight did not, so a resume runs it again."""
    return trial.state.name in COUNTED or (trial.state.name == "FAIL" and "error" in trial.user_attrs)


def counted(study) -> list:
    """The trials of a study that used its budget."""
    return [trial for trial in study.get_trials(deepcopy=False) if used_budget(trial)]


def _fail_interrupted(study) -> None:
    """Marks the trials a killed tune left running as failed (they never finished)."""
    from optuna.trial import TrialState

    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        study.tell(trial.number, state=TrialState.FAIL)


def _objective(cell: Cell):
    import optuna

    from ssb_vae.runner import score_codes
    from ssb_vae.training import NonFiniteLossError, hash_codes

    pruning = set(cell.pruning_epochs())

    def objective(trial) -> float:
        weights = dict(cell.fixed)
        for name, low, high in cell.space:
            weights[name] = trial.suggest_float(name, low, high, log=True)
        scores: dict[int, float] = {}
        started = time.perf_counter()

        def hook(checkpoint) -> None:
            if checkpoint.epoch not in pruning and checkpoint.epoch != cell.epochs:
                return
            db_codes, _ = codes = checkpoint.codes()
            raw = score_codes(*codes, checkpoint.parts, checkpoint.data, cell.metric, checkpoint.point)
            distinct = distinct_share(hash_codes(checkpoint.model, checkpoint.parts.fit.x))
            scores[checkpoint.epoch] = raw if distinct >= cell.min_distinct else 0.0
            trial.report(scores[checkpoint.epoch], checkpoint.epoch)
            trial.set_user_attr(f"raw_score_epoch{checkpoint.epoch}", raw)
            trial.set_user_attr("distinct_share", round(distinct, 6))
            trial.set_user_attr("seconds", round(time.perf_counter() - started, 3))
            trial.set_user_attr("distinct_codes", int(len(np.unique(db_codes, axis=0))))
            trial.set_user_attr("database_items", int(len(db_codes)))
            if checkpoint.epoch in pruning and trial.should_prune():
                raise optuna.TrialPruned(f"pruned at epoch {checkpoint.epoch}")

        try:
            run_point(cell.point(weights), epoch_hook=hook)
        except NonFiniteLossError as error:
            trial.set_user_attr("error", str(error))
            raise
        trial.set_user_attr("seconds", round(time.perf_counter() - started, 3))
        return scores[cell.epochs]

    return objective


def create_cell_study(cell: Cell, storage):
    """The cell's study in ``storage``, created if new, recording the cell and its trial budget."""
    import optuna

    study = optuna.create_study(study_name=cell.study_name, storage=storage, direction="maximize",
                                load_if_exists=True)
    study.set_user_attr("cell", cell.identity)
    study.set_user_attr("trials", cell.trials)
    return study


class _StudyFitDone(Exception):
    """Ends a study fit after its last epoch, before the run would hash and score the test part."""


def study_fit_share(cell: Cell, weights: dict[str, float]) -> float:
    """The distinct share of the codes of a setting fitted as the study fits it: the ``test``
    protocol's fit (training ∪ validation, the level's labels), the study's first seed, the cell's
    epochs; its own items are hashed after the last epoch. The run stops there: no test item is
    read. On the same CPU and threads per process it is the study's first repetition, bit for bit."""
    from ssb_vae.training import hash_codes

    found: dict[str, float] = {}

    def hook(checkpoint) -> None:
        if checkpoint.epoch == cell.epochs:
            found["share"] = distinct_share(hash_codes(checkpoint.model, checkpoint.parts.fit.x))
            raise _StudyFitDone

    try:
        run_point(replace(cell.point(weights), protocol="test"), epoch_hook=hook)
    except _StudyFitDone:
        pass
    return found["share"]


def verify_choice(cell: Cell, storage) -> None:
    """Fits the cell's best trials the study's way, best first, until one keeps ``min_distinct`` of
    its codes apart (at worst one fit per finished trial); each share is kept in the study, so a
    killed tune loses only the fit in flight."""
    import optuna

    study = optuna.load_study(study_name=cell.study_name, storage=storage)
    result = cell_result(study)
    while (trial := result.to_verify()) is not None:
        result.study_fit[trial.number] = study_fit_share(cell, weights_of(result, trial))
        study.set_user_attr(STUDY_FIT_ATTR, {str(number): share for number, share in result.study_fit.items()})


def discard_study_fits(cell: Cell, storage) -> dict:
    """Forgets the cell's study-fit shares, so that its choice is checked again on this machine
    (``--recheck``): a share depends on the processor and the threads per process, and a setting
    on the edge of collapse can keep its codes apart on one machine and merge them on another
    (docs/tuning.md). The discarded shares stay in the study, with when they were discarded.
    Returns them ({} if the cell had none)."""
    import optuna

    study = optuna.load_study(study_name=cell.study_name, storage=storage)
    shares = study.user_attrs.get(STUDY_FIT_ATTR) or {}
    if shares:
        earlier = study.user_attrs.get(EARLIER_FITS_ATTR, [])
        discarded = {"discarded_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), STUDY_FIT_ATTR: shares}
        study.set_user_attr(EARLIER_FITS_ATTR, [*earlier, discarded])
        study.set_user_attr(STUDY_FIT_ATTR, {})
    return shares


def tune_cell(cell: Cell) -> tuple[Cell, str | None]:
    """Runs a cell's trials until ``cell.trials`` have used its budget; returns the error as text
    instead of raising, so that the other cells go on."""
    try:
        import optuna

        from ssb_vae.training import NonFiniteLossError

        quiet_optuna()
        storage = open_storage(cell.storage)
        study = create_cell_study(cell, storage)
        _fail_interrupted(study)
        pruner = feasible_median_pruner()
        while (done := len(counted(study))) < cell.trials:
            sampler = optuna.samplers.TPESampler(seed=trial_seed(cell.seed, done),
                                                 n_startup_trials=STARTUP_TRIALS)
            study = optuna.load_study(study_name=cell.study_name, storage=storage, sampler=sampler,
                                      pruner=pruner)
            study.optimize(_objective(cell), n_trials=1, catch=(NonFiniteLossError,))
        verify_choice(cell, storage)
        return cell, None
    except Exception as error:  # noqa: BLE001 - one cell's failure is reported, the others go on
        return cell, "".join(traceback.format_exception_only(type(error), error)).strip()


@dataclass
class CellResult:
    """A tuned cell as the storage holds it: its identity, target, and trials."""

    identity: dict
    target: int
    trials: list = field(default_factory=list)
    study_fit: dict = field(default_factory=dict)  # trial number → distinct share of its study fit

    @property
    def counted(self) -> list:
        return [trial for trial in self.trials if used_budget(trial)]

    @property
    def min_distinct(self) -> float:
        return self.identity.get("min_distinct", 0.0)

    @property
    def candidates(self) -> list:
        """The finished trials that kept their codes apart in their trials, best first: the choice
        falls on the first of them whose study fit keeps them apart too."""
        scored = [t for t in self.trials if t.state.name == "COMPLETE" and t.value > 0]
        return sorted(scored, key=lambda t: (-t.value, t.number))

    def to_verify(self):
        """The next candidate to fit the study's way, or None once the choice is settled: a
        candidate kept its codes apart there, every candidate has been fitted, or there is no rule."""
        if self.min_distinct <= 0:
            return None
        for trial in self.candidates:
            share = self.study_fit.get(trial.number)
            if share is None:
                return trial
            if share >= self.min_distinct:
                return None
        return None

    @property
    def best(self):
        """The chosen trial: the best candidate whose study fit kept ``min_distinct`` of its codes
        apart; if none did, the candidate whose study fit kept the most; without candidates (every
        trial collapsed, or no collapse rule) the best finished trial. None until that is settled."""
        complete = [t for t in self.trials if t.state.name == "COMPLETE"]
        if not complete:
            return None
        if self.min_distinct <= 0 or not self.candidates:
            return max(complete, key=lambda t: (t.value, -t.number))
        if self.to_verify() is not None:
            return None
        for trial in self.candidates:  # settled: every candidate before the first kept was fitted
            if self.study_fit[trial.number] >= self.min_distinct:
                return trial
        return max(self.candidates, key=lambda t: (self.study_fit[t.number], t.value))

    @property
    def label(self) -> str:
        """A file name for the cell's plot."""
        cell = self.identity
        return (f"{Path(cell['dataset']).stem}_{cell['method']}_{cell['bits']}bits_level{cell['level']!r}"
                f"_{cell['protocol']}" + ("" if cell.get("optimizer", "adam") == "adam" else f"_{cell['optimizer']}"))

    @property
    def finished(self) -> bool:
        return len(self.counted) >= self.target and self.best is not None


def stored_cells(storage_url: str) -> list[CellResult]:
    """Every cell a storage holds, in the order the cells were created."""
    import optuna

    quiet_optuna()
    storage = open_storage(storage_url)
    results = []
    for summary in optuna.get_all_study_summaries(storage, include_best_trial=False):
        attrs = summary.user_attrs
        if "cell" not in attrs:
            continue  # a study of something else sharing the storage
        results.append(cell_result(optuna.load_study(study_name=summary.study_name, storage=storage)))
    return results


def cell_result(study) -> CellResult:
    """A cell's study as a ``CellResult``."""
    attrs = study.user_attrs
    return CellResult(attrs["cell"], int(attrs.get("trials", 0)), study.get_trials(deepcopy=False),
                      {int(number): share for number, share in attrs.get(STUDY_FIT_ATTR, {}).items()})


def weights_of(result: CellResult, trial) -> dict[str, float]:
    return {**dict(result.identity["fixed"]), **trial.params}


def preset_rows(results: list[CellResult]) -> list[dict]:
    """One preset row per finished cell: the chosen weights and how they were chosen."""
    rows = []
    for result in results:
        if not result.finished:
            continue
        cell, best = result.identity, result.best
        rows.append({"dataset": cell["dataset"], "bits": cell["bits"],
                     "method": ALGORITHMS[cell["method"]].replace("_", "-"), "level": cell["level"],
                     **weights_of(result, best), "protocol": cell["protocol"], "metric": cell["metric"],
                     "score": round(best.value, 6), "trials": len(result.counted), "seed": cell["seed"],
                     "min_distinct": result.min_distinct, STUDY_FIT_ATTR: result.study_fit.get(best.number)})
    return rows


def trial_rows(results: list[CellResult]) -> list[dict]:
    """Every trial of every cell, auditable: its weights, its state, its score at each pruning step
    and at the end, its distinct codes, its study fit's if it was checked, whether it is the
    cell's choice, and its seconds."""
    rows = []
    for result in results:
        cell = result.identity
        best = result.best
        for trial in result.trials:
            steps = {f"score_epoch{step}": round(value, 6) for step, value in sorted(trial.intermediate_values.items())}
            raw = {f"raw_score_epoch{step}": round(trial.user_attrs[f"raw_score_epoch{step}"], 6)
                   for step in sorted(trial.intermediate_values) if f"raw_score_epoch{step}" in trial.user_attrs}
            rows.append({"dataset": cell["dataset"], "method": cell["method"], "bits": cell["bits"],
                         "level": cell["level"], "protocol": cell["protocol"], "metric": cell["metric"],
                         "seed": cell["seed"], "trial": trial.number, "state": trial.state.name,
                         **weights_of(result, trial),
                         "score": None if trial.value is None else round(trial.value, 6),
                         "distinct_share": trial.user_attrs.get("distinct_share"),
                         "distinct_codes": trial.user_attrs.get("distinct_codes"),
                         "database_items": trial.user_attrs.get("database_items"),
                         STUDY_FIT_ATTR: result.study_fit.get(trial.number),
                         "chosen": best is not None and trial.number == best.number,
                         "seconds": trial.user_attrs.get("seconds"), "error": trial.user_attrs.get("error"),
                         **steps, **raw})
    return rows


def plot_cell(result: CellResult, path: Path) -> None:
    """Validation score against α (colour: γ) of one cell's trials; pruned trials hollow, at the
    score they were pruned on; the chosen trial ringed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ssb_vae.files import replacing

    cell = result.identity
    figure, axes = plt.subplots(figsize=(6, 4))
    points = []
    for trial in result.trials:
        if trial.state.name == "COMPLETE":
            points.append((weights_of(result, trial), trial.value, True))
        elif trial.state.name == "PRUNED" and trial.intermediate_values:
            points.append((weights_of(result, trial), trial.intermediate_values[max(trial.intermediate_values)], False))
    if points:
        alphas = np.array([w["alpha"] for w, _, _ in points])
        gammas = np.array([w["gamma"] for w, _, _ in points])
        values = np.array([v for _, v, _ in points])
        full = np.array([f for _, _, f in points])
        varied = np.ptp(gammas) > 0
        colour = {"c": np.log10(np.maximum(gammas[full], 1e-12)), "cmap": "viridis"} if varied else {}
        shown = axes.scatter(alphas[full], values[full], label="finished", **colour)
        if (~full).any():
            axes.scatter(alphas[~full], values[~full], facecolors="none",
                         edgecolors="grey", label="pruned (score when pruned)")
        if varied:
            figure.colorbar(shown, ax=axes, label="log10 γ")
        if result.best is not None:
            best = weights_of(result, result.best)
            axes.scatter([best["alpha"]], [result.best.value], s=160, facecolors="none", edgecolors="red",
                         label="chosen")
        axes.legend(fontsize=7)
    axes.set_xscale("log")
    axes.set_xlabel("α")
    axes.set_ylabel(f"validation {cell['metric']} ({cell['protocol']}, comparable K)")
    axes.set_title(f"{Path(cell['dataset']).stem} {cell['method']} {cell['bits']} bits, level {cell['level']:g}",
                   fontsize=9)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    with replacing(path, suffix=".png") as temporary:
        figure.savefig(temporary)
    plt.close(figure)
