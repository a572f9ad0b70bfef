"""The batch runner: a grid of runs, one CSV row per trained model (docs/method.md §7), resumable.

Each grid point is (dataset, method, bits, level, repetition); repetition r uses seed
``SEEDS[r]`` for everything random in the run. Points run serially, in N local processes, or
as Ray tasks; the driver alone writes the CSV, appending each row whole as it arrives.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path

from ssb_vae.codes import StoredCodes, save_codes
from ssb_vae.evaluation import TIE_MODES
from ssb_vae.models import METHODS, check_method
from ssb_vae.parallel import check_backend, execute
from ssb_vae.presets import preset_hyperparameters
from ssb_vae.protocols import PROTOCOLS, comparable_k, protocol_parts
from ssb_vae.results import KEY_COLUMNS, METRIC_KS, METRICS, ResultsFile, row_key

SEEDS = (20, 144, 1028, 2044, 101, 6077, 621, 1981, 2806, 79)
ALGORITHMS = {"vdsh": "VDSH", "bvae": "BVAE", "vdsh-s": "VDSH_S", "phs-gs": "PHS_GS", "ssb-vae": "SSB_VAE"}


@dataclass(frozen=True)
class GridPoint:
    """One training run of the grid, with everything needed to run it in another process."""

    dataset: str
    method: str
    bits: int
    level: float
    repetition: int
    alpha: float
    beta: float
    gamma: float
    epochs: int
    batch_size: int
    data_dir: str
    cache_dir: str | None = None
    save_models: str | None = None
    overwrite_models: bool = False
    verbose: int = 0
    ties: str = "expected"
    corpus_options: tuple = ()  # (name, value) pairs for a CSV/TSV corpus: columns, delimiter
    model_options: tuple = ()  # sorted (name, value) pairs for build_model, the defaults left out
    protocol: str = "test"  # what the run fits on and is scored on (ssb_vae.protocols)
    data_digest: str = ""  # a dataset file's content and reading options (dataset_digest); "" for a name
    optimizer: str = "adam"  # or "lazy-adam" (--fast)

    def load(self):
        """The run's dataset."""
        from ssb_vae.data import load_dataset

        return load_dataset(self.dataset, data_dir=self.data_dir, cache_dir=self.cache_dir,
                            **dict(self.corpus_options))

    @property
    def seed(self) -> int:
        return SEEDS[self.repetition]

    @property
    def key_values(self) -> dict:
        """The run's key columns and their values (what its row and its stored codes record)."""
        values = (self.dataset, ALGORITHMS[self.method], self.bits, self.level, self.alpha, self.beta,
                  self.gamma, self.seed, self.epochs, self.batch_size, options_text(self.model_options),
                  self.protocol, self.data_digest, self.optimizer)
        return dict(zip(KEY_COLUMNS, values))

    @property
    def key(self) -> tuple:
        return row_key(self.key_values)

    @property
    def name(self) -> str:
        """A file name for the run's model and codes, unique for every setting that changes it."""
        return (f"{Path(self.dataset).stem}_{self.method}_{self.bits}bits_level{self.level!r}"
                f"_a{self.alpha!r}_b{self.beta!r}_g{self.gamma!r}_seed{self.seed}"
                f"_e{self.epochs}_bs{self.batch_size}"
                + "".join(f"_{name}-{value}" for name, value in self.model_options)
                + ("" if self.protocol == "test" else f"_{self.protocol}")
                + (f"_data{self.data_digest[:8]}" if self.data_digest else "")
                + ("" if self.optimizer == "adam" else f"_{self.optimizer}"))

    def model_path(self) -> Path:
        return Path(self.save_models) / f"{self.name}.keras"

    def describe(self) -> str:
        return (f"{self.dataset} {self.method} {self.bits} bits level {self.level:g} "
                f"seed {self.seed} (α={self.alpha:g}, β={self.beta:g}, γ={self.gamma:g}"
                + "".join(f", {name}={value}" for name, value in self.model_options) + ")"
                + ("" if self.protocol == "test" else f", {self.protocol} protocol"))


@dataclass(frozen=True)
class Outcome:
    """What a finished run hands back to the driver: its row, its codes, and notes to show."""

    row: dict
    codes: StoredCodes
    notes: tuple = ()


def _save_model(model, pipeline, point: GridPoint) -> str | None:
    """Saves the run's model (and the text pipeline beside it) unless a file is in the way;
    returns a note instead of failing the run."""
    from ssb_vae.data.pipeline import pipeline_path

    path = point.model_path()
    if path.exists() and not point.overwrite_models:
        return (f"{path} exists and was kept, so this run's model was not saved (its row is written); "
                "pass --overwrite-models to replace such files")
    try:
        model.save(path, overwrite=True)
        if pipeline is not None:
            pipeline.save(pipeline_path(path))
    except OSError as error:
        return f"could not save the model to {path} ({error}); its row is written"
    return None


class Checkpoint:
    """What an epoch hook of ``run_point`` sees after an epoch: the run's current codes, scored on
    the run's protocol parts on demand (the tuner's pruning reads validation scores this way)."""

    def __init__(self, epoch: int, model, parts, data, point: GridPoint, logs: dict | None = None):
        self.epoch, self.model, self.parts, self.data, self.point = epoch, model, parts, data, point
        self.logs = dict(logs or {})  # the epoch's loss terms

    def codes(self) -> tuple:
        from ssb_vae.training import hash_codes

        return hash_codes(self.model, self.parts.database.x), hash_codes(self.model, self.parts.queries.x)

    def score(self, metric: str) -> float:
        """``metric`` ("p@100", "map@100", …) of the current codes, at the protocol's comparable K
        (docs/method.md §9)."""
        return score_codes(*self.codes(), self.parts, self.data, metric, self.point)


def score_codes(db_codes, query_codes, parts, data, metric: str, point: GridPoint) -> float:
    """``metric`` of the codes of a run's protocol parts, with K scaled by ``comparable_k``."""
    from ssb_vae.evaluation import evaluate

    name, k = split_metric(metric)
    k = comparable_k(k, parts, data)
    scores = evaluate(db_codes, query_codes, parts.database.labels, parts.queries.labels, ks=(k,),
                      ties=point.ties, seed=point.seed)
    return scores[f"{name}@{k}"]


def split_metric(metric: str) -> tuple[str, int]:
    """``"p@100"`` → ``("p", 100)``; a ValueError for anything but p@K, r@K or map@K."""
    name, _, k = metric.partition("@")
    if name not in ("p", "r", "map") or not k.isdigit() or int(k) < 1:
        raise ValueError(f"a metric is p@K, r@K or map@K with K a positive integer, got {metric!r}")
    return name, int(k)


def run_point(point: GridPoint, epoch_hook=None) -> Outcome:
    """Trains and evaluates one grid point; returns its CSV row and the codes it was scored on.

    ``epoch_hook(checkpoint)``, if given, is called after every epoch with a ``Checkpoint``; an
    exception it raises ends the run (the tuner prunes trials so).
    """
    from ssb_vae.backend import keras
    from ssb_vae.evaluation import evaluate
    from ssb_vae.models import build_model
    from ssb_vae.training import hash_codes, train

    data = point.load()
    parts = protocol_parts(data, point.level, point.seed, point.protocol)
    fit, database, queries = parts.fit, parts.database, parts.queries

    keras.utils.set_random_seed(point.seed)  # seeding block: python, numpy and the backend
    model = build_model(point.method, input_dim=data.n_features, n_bits=point.bits,
                        n_classes=len(data.classes), multilabel=data.multilabel,
                        alpha=point.alpha, beta=point.beta, gamma=point.gamma, seed=point.seed,
                        **dict(point.model_options))
    callbacks = []
    if epoch_hook is not None:
        callbacks.append(keras.callbacks.LambdaCallback(
            on_epoch_end=lambda epoch, logs: epoch_hook(Checkpoint(epoch + 1, model, parts, data, point, logs))))
    started = time.perf_counter()
    history = train(model, fit.x, target=fit.target, labels=fit.labels, labelled=parts.labelled,
                    epochs=point.epochs, batch_size=point.batch_size, seed=point.seed, verbose=point.verbose,
                    callbacks=callbacks, optimizer=point.optimizer)
    train_seconds = time.perf_counter() - started

    started = time.perf_counter()
    db_codes, query_codes = hash_codes(model, database.x), hash_codes(model, queries.x)
    scores = evaluate(db_codes, query_codes, database.labels, queries.labels, ks=METRIC_KS,
                      ties=point.ties, seed=point.seed)
    eval_seconds = time.perf_counter() - started
    notes = (_save_model(model, data.text_pipeline, point),) if point.save_models else ()

    key = point.key_values
    codes = StoredCodes(db_codes, query_codes, database.labels, queries.labels, key)
    row = {
        **key,
        **{metric: scores[metric] for metric in METRICS},
        "added_val_flag": True, "repetition": point.repetition,
        "n_labelled": int(parts.labelled.sum()),
        "final_loss": history.history["loss"][-1],
        "train_seconds": round(train_seconds, 3), "eval_seconds": round(eval_seconds, 3),
        "ties": point.ties,
    }
    return Outcome(row, codes, tuple(note for note in notes if note))


def run_point_safely(point: GridPoint) -> tuple[GridPoint, Outcome | None, str | None]:
    """``run_point`` that returns its error as text instead of raising, so the grid goes on."""
    try:
        return point, run_point(point), None
    except Exception as error:  # noqa: BLE001 - any failure of one run is recorded, not fatal
        detail = "".join(traceback.format_exception_only(type(error), error)).strip()
        return point, None, detail


def hyperparameters(args, dataset: str, bits: int, method: str, level: float) -> dict[str, float]:
    """α, β, γ of a grid point: the preset (package default, paper table or a tuned PRESET.csv),
    then explicit overrides. With all three given explicitly, no preset is looked up (nor needed).
    """
    overrides = {"alpha": args.alpha, "beta": args.beta, "gamma": args.gamma}
    if None not in overrides.values():
        return overrides
    values = preset_hyperparameters(args.preset, dataset, bits, method, level)
    values.update({name: value for name, value in overrides.items() if value is not None})
    return values


# the build_model options a grid point may set (the runner sets sizes, weights and the seed itself)
MODEL_OPTION_TYPES = {"pairs": str, "similarity": str, "hidden_units": int, "temperature": float,
                      "sparse_inputs": bool, "confidence_weighted": bool}


def options_text(options: tuple) -> str:
    """The canonical text of model options, e.g. ``"pairs=labelled;similarity=jaccard"``; empty for
    the defaults, so rows written before options existed keep their keys."""
    return ";".join(f"{name}={value}" for name, value in options)


def model_option(text: str) -> tuple:
    """One ``--model-option NAME=VALUE``, typed as build_model takes it."""
    name, separator, value = text.partition("=")
    name = name.strip().replace("-", "_")
    if not separator or name not in MODEL_OPTION_TYPES:
        raise argparse.ArgumentTypeError(
            f"expected NAME=VALUE with NAME one of {', '.join(MODEL_OPTION_TYPES)}, got {text!r}")
    kind = MODEL_OPTION_TYPES[name]
    try:
        if kind is bool:
            if value.strip().lower() not in ("true", "false"):
                raise ValueError
            typed = value.strip().lower() == "true"
        else:
            typed = kind(value.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{name} takes a {kind.__name__} value, got {value!r}") from None
    return name, typed


def canonical_options(pairs) -> tuple:
    """Model options as sorted (name, value) pairs without the ones equal to build_model's defaults;
    a name given twice with two values is refused."""
    import inspect

    from ssb_vae.models import build_model

    defaults = {name: parameter.default for name, parameter in inspect.signature(build_model).parameters.items()}
    chosen: dict = {}
    for name, value in pairs:
        if chosen.get(name, value) != value:
            raise ValueError(f"--model-option {name} is given twice, as {chosen[name]!r} and {value!r}")
        chosen[name] = value
    return tuple(sorted((name, value) for name, value in chosen.items() if value != defaults[name]))


def check_options(point: GridPoint, data, methods) -> None:
    """Refuses, before anything trains, model options that a method of the grid does not take:
    builds a one-unit model of each method with them (a ValueError names the option)."""
    from ssb_vae.models import build_model

    for method in methods:
        build_model(method, 2, 1, 2, multilabel=data.multilabel,
                    **{"hidden_units": 1, **dict(point.model_options)})


def corpus_options(args, dataset: str) -> tuple:
    """The dataset options of the command line: the CSV/TSV options for such a file, and the
    vocabulary size of a text dataset when it is not the default."""
    from ssb_vae.data import TEXT_DATASETS
    from ssb_vae.data.text import MAX_FEATURES

    corpus = Path(dataset).suffix.lower() in (".csv", ".tsv")
    options = ((("text_column", args.text_column), ("label_column", args.label_column),
                ("label_delimiter", args.label_delimiter), ("split_column", args.split_column)) if corpus else ())
    max_features = getattr(args, "max_features", None)
    if max_features is not None and max_features != MAX_FEATURES:
        if not corpus and dataset not in TEXT_DATASETS:
            raise ValueError(f"--max-features applies to the text datasets ({', '.join(TEXT_DATASETS)}) and "
                             f"CSV/TSV corpora; {dataset} has fixed features")
        options += (("max_features", max_features),)
    return options


def dataset_digest(dataset: str, data_dir, options: tuple = ()) -> str:
    """For a dataset given as a file: a digest of its bytes and of the options it is read with; for
    a named dataset, a digest of its options ("" with none: its files are fixed by name). A file
    that does not exist is left to the loader, which says so."""
    import hashlib
    import json

    from ssb_vae.data.cache import file_digest

    path = Path(dataset)
    if path.suffix.lower() not in (".csv", ".tsv", ".mat"):
        return "" if not options else hashlib.sha256(json.dumps(list(map(list, options))).encode()).hexdigest()[:16]
    if not path.is_file() and (Path(data_dir) / path).is_file():
        path = Path(data_dir) / path
    if not path.is_file():
        return ""
    described = json.dumps([file_digest(path), list(map(list, options))])
    return hashlib.sha256(described.encode()).hexdigest()[:16]


def default_batch_size(dataset: str) -> int:
    """docs/method.md §2: batches of 100 items, 200 for CIFAR-10."""
    return 200 if dataset == "cifar10" else 100


def grid_values(args) -> tuple[list[str], list[float]]:
    """The methods and levels of ``add_grid_arguments``'s options, each once (``--levels 1 1.0`` is
    one level), after checking the sizes; a ValueError names the bad option."""
    from ssb_vae.data.core import check_level

    for bits in args.bits:
        if bits < 1:
            raise ValueError(f"--bits must be at least 1, got {bits}")
    for name in ("epochs", "batch_size", "jobs"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be at least 1")
    methods = list(dict.fromkeys(check_method(method) for method in args.methods))
    return methods, list(dict.fromkeys(check_level(level) for level in args.levels))


DENSE_DATASETS = ("digits", "cifar10")  # features that are dense: no sparse first layer to speed up


def fast_settings(args) -> tuple[tuple, str]:
    """The model options and the optimizer of ``--fast`` (CSR batches, ``SparseDense``, lazy
    first-layer Adam), or of the default (none, exact Adam); a ValueError for a dense dataset."""
    if not getattr(args, "fast", False):
        return (), "adam"
    dense = [dataset for dataset in args.dataset if dataset in DENSE_DATASETS]
    if dense:
        raise ValueError(f"--fast speeds up the sparse first layer of text data; {', '.join(dense)} has dense "
                         "features, so there is nothing for it to skip: leave --fast out")
    return (("sparse_inputs", True),), "lazy-adam"


def build_grid(args) -> list[GridPoint]:
    """Every (dataset, method, bits, level, repetition) of the command line, checked."""
    methods, levels = grid_values(args)
    fast_options, optimizer = fast_settings(args)
    options = canonical_options([*(args.model_option or ()), *fast_options])
    if not 1 <= args.reps <= len(SEEDS):
        raise ValueError(f"--reps must be between 1 and {len(SEEDS)} (one seed each), got {args.reps}")
    digests = {dataset: dataset_digest(dataset, args.data_dir, corpus_options(args, dataset))
               for dataset in args.dataset}
    return [
        GridPoint(dataset=dataset, method=method, bits=bits, level=level, repetition=repetition,
                  epochs=args.epochs, batch_size=args.batch_size or default_batch_size(dataset),
                  data_dir=str(args.data_dir),
                  cache_dir=args.cache_dir, save_models=args.save_models,
                  overwrite_models=args.overwrite_models,
                  verbose=2 if args.verbose else 0, ties=args.ties,
                  corpus_options=corpus_options(args, dataset), model_options=options,
                  protocol=args.protocol, data_digest=digests[dataset], optimizer=optimizer,
                  **hyperparameters(args, dataset, bits, method, level))
        for dataset in dict.fromkeys(args.dataset)
        for bits in dict.fromkeys(args.bits)
        for method in methods
        for level in levels
        for repetition in range(args.reps)
    ]


def loss_weight(text: str) -> float:
    """An α, β or γ from the command line: a finite number ≥ 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (0 <= value < float("inf")):
        raise argparse.ArgumentTypeError(f"must be a finite number ≥ 0, got {text}")
    return value


def add_grid_arguments(p: argparse.ArgumentParser) -> None:
    """The options that define a grid's cells and how each run trains: shared by the runner and
    the tuner (``ssb-vae tune``), so that a tuned cell and a study's run mean the same thing."""
    p.add_argument("--dataset", nargs="+", default=["digits"],
                   help="datasets: digits, 20news, 20news-multilabel, snippets, tmc, cifar10, or "
                        ".mat/.csv/.tsv paths")
    p.add_argument("--text-column", default="text", help="CSV/TSV corpus: the column holding the text")
    p.add_argument("--label-column", default="label", help="CSV/TSV corpus: the column holding the label(s)")
    p.add_argument("--label-delimiter", default=None,
                   help="CSV/TSV corpus: separator of several labels in one cell (multi-label), e.g. '|'")
    p.add_argument("--split-column", default="split",
                   help="CSV/TSV corpus: a column of train/validation/test, honoured when present "
                        "(else a seeded 60/20/20 split)")
    p.add_argument("--max-features", type=int, default=None,
                   help="text datasets and corpora: the vocabulary size (None: 10,000); part of the "
                        "dataset's cache key and of each run's key")
    p.add_argument("--methods", nargs="+", default=["vdsh-s", "phs-gs", "ssb-vae"],
                   help=f"methods among {', '.join(METHODS)}")
    p.add_argument("--bits", nargs="+", type=int, default=[16], help="code lengths")
    p.add_argument("--levels", nargs="+", type=float, default=[0.1, 0.5, 1.0],
                   help="supervision levels: fractions of labelled items in (0, 1]")
    p.add_argument("--epochs", type=int, default=30, help="training epochs")
    p.add_argument("--batch-size", type=int, default=None,
                   help="mini-batch size (None: 100, or 200 for cifar10 as in docs/method.md §2)")
    p.add_argument("--model-option", type=model_option, action="append", metavar="NAME=VALUE",
                   help=f"a build_model option for every run, repeatable: {', '.join(MODEL_OPTION_TYPES)}; "
                        "it becomes part of each run's key and of the model_options column")
    p.add_argument("--fast", action="store_true",
                   help="text data: CSR batches, a sparse first layer and lazy first-layer Adam "
                        "(optimizer lazy-adam; docs/performance.md); part of each run's key")
    p.add_argument("--ties", choices=TIE_MODES, default="expected",
                   help="how the metrics treat items at equal Hamming distance (docs/method.md §6): their "
                        "expected value over all orders (default), database position, or one "
                        "random order seeded by the run's seed")
    p.add_argument("--data-dir", default="data", help="folder holding the dataset files")
    p.add_argument("--cache-dir", default=None,
                   help="preprocessed-data cache folder (None: $SSB_VAE_CACHE or ~/.cache/ssb_vae)")
    p.add_argument("--jobs", type=int, default=1, help="runs at once on this machine")
    p.add_argument("--backend", choices=["local", "ray"], default="local",
                   help="'local' processes, or Ray tasks (pip install -r requirements-ray.txt)")
    p.add_argument("--ray-address", default=None, help="Ray cluster address (None: start a local Ray)")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="run_experiments.py",
        description="Train a grid of hashing autoencoders and write one CSV row per model "
                    "(docs/method.md §7). With no arguments: a quick demonstration on the bundled digits.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add_grid_arguments(p)
    p.add_argument("--reps", type=int, default=1, help=f"repetitions (seeds {list(SEEDS)} in order)")
    p.add_argument("--preset", default="default", metavar="{default,paper,FILE}",
                   help="α, β, γ: 'paper' = the reference experiments' table (docs/method.md §8), "
                        "'default' = the package defaults, or a PRESET.csv written by ssb-vae tune "
                        "(docs/method.md §9)")
    p.add_argument("--alpha", type=loss_weight, help="override α for every run")
    p.add_argument("--beta", type=loss_weight, help="override β for every run")
    p.add_argument("--gamma", type=loss_weight, help="override γ for every run")
    p.add_argument("--protocol", choices=PROTOCOLS, default="test",
                   help="what each run fits on and is scored on (docs/method.md §5, §9): 'test' = the "
                        "study (database = training ∪ validation, queries = test); 'full-labels' and "
                        "'realistic' = training part against validation part, for choosing settings")
    p.add_argument("--out", default=None,
                   help="results CSV (None: results/demo/<dataset>.csv); rows already in it are skipped")
    p.add_argument("--save-models", metavar="DIR", default=None, help="save every trained model here")
    p.add_argument("--overwrite-models", action="store_true",
                   help="with --save-models: replace a model file of the same name (default: keep "
                        "it, write the row, and say so)")
    p.add_argument("--no-report", action="store_true", help="skip the table and plot at the end")
    p.add_argument("-v", "--verbose", action="store_true", help="show Keras' per-epoch progress")
    return p


def default_output(datasets: list[str]) -> Path:
    name = "_".join(Path(d).stem for d in datasets)
    return Path("results") / "demo" / f"{name}.csv"  # apart from the committed studies (ignored by git)


def main(argv: list[str] | None = None) -> int:
    from ssb_vae.data import DatasetNotFoundError
    from ssb_vae.presets import PresetMissingError

    arg_parser = parser()
    args = arg_parser.parse_args(argv)
    out = Path(args.out) if args.out else default_output(args.dataset)
    with ExitStack() as held:
        try:
            grid = build_grid(args)
            results = ResultsFile(out, ties=args.ties)
            held.enter_context(results.locked())  # for the whole run: one runner per file
            for point in grid:
                results.check_accepts(point.key)
            check_backend(args.backend)
            for point in {point.dataset: point for point in grid}.values():  # fails early, fills the cache
                data = point.load()
                check_options(point, data, {p.method for p in grid})
                if data.dropped_note():
                    print(f"note: {data.dropped_note()}", file=sys.stderr)
        except (ValueError, PresetMissingError, DatasetNotFoundError) as error:
            arg_parser.error(str(error))  # leaving the block releases the lock
        return _run_grid(grid, args, results)


def _run_grid(grid: list[GridPoint], args, results: ResultsFile) -> int:
    out = results.path
    done = results.done_keys()
    unique: dict = {}
    for point in grid:  # one dataset file under two paths is one dataset: it runs once
        unique.setdefault(point.key, point)
    todo = [point for point in unique.values() if point.key not in done]
    print(f"{len(grid)} runs in the grid, {len(grid) - len(todo)} already in {out}, {len(todo)} to run")
    failures = run_grid(todo, results, jobs=args.jobs, backend=args.backend, ray_address=args.ray_address,
                        save_models=args.save_models)
    if not args.no_report and out.exists():
        from ssb_vae.report import write_report

        try:
            table, written = write_report(out)
        except ValueError as error:
            print(f"no report: {error}", file=sys.stderr)
        else:
            print(table.to_string(float_format=lambda v: f"{v:.4f}"))
            print("wrote " + ", ".join(str(path) for path in written))
    if failures:
        print(f"{failures} run(s) failed; see {results.errors_path}", file=sys.stderr)
    return 1 if failures else 0


def run_grid(points: list[GridPoint], results: ResultsFile, jobs: int = 1, backend: str = "local",
             ray_address: str | None = None, save_models: str | None = None) -> int:
    """Runs ``points`` and appends each finished run's row (its codes first) to ``results``, whose
    lock the caller holds; a failed run is recorded and the grid goes on. Returns the failures.

    The one run loop of the package: the runner's command line and every experiment's grid use it.
    """
    from tqdm import tqdm

    if save_models:
        Path(save_models).mkdir(parents=True, exist_ok=True)
    failures = 0
    progress = tqdm(total=len(points), unit="run", desc="grid", disable=not points)

    def on_result(point: GridPoint, outcome: Outcome | None, error: str | None) -> None:
        nonlocal failures
        if error is None:
            # the codes first: a row in the CSV always has its codes on disk
            codes_file = Path(f"{results.path.stem}_codes") / f"{point.name}.npz"
            try:
                save_codes(results.path.parent / codes_file, outcome.codes)
                row = {**outcome.row, "codes_file": codes_file.as_posix()}
                results.append(row)
            except OSError as write_error:
                error = (f"{write_error}" if str(results.path) in str(write_error) else
                         f"could not write {results.path.parent / codes_file} ({write_error.strerror or write_error})")
        if error is None:
            for note in outcome.notes:
                progress.write(f"note: {note}")
            progress.set_postfix_str(f"{point.method} {point.level:g}: p@100={row['p@100']:.3f}")
        else:
            failures += 1
            results.record_error(asdict(point), error)
            progress.write(f"FAILED {point.describe()}: {error}")
        progress.update()

    execute(run_point_safely, points, on_result, jobs=jobs, backend=backend, ray_address=ray_address)
    progress.close()
    return failures
