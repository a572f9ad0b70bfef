"""The results CSV (docs/method.md §7): its columns, the key of a run, and the file that rows are appended to.

Shared by the runner, which appends rows, and the report, which reads and recomputes them; it
imports neither, nor TensorFlow.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from ssb_vae.files import replacing

METRICS = ("p@100", "r@100", "p@1000", "p@5000", "map@100", "map@1000", "map@5000")
METRIC_KS = (100, 1000, 5000)
SPEC_COLUMNS = (
    "dataset", "algorithm", "level", "alpha", "beta", "gamma", *METRICS, "added_val_flag", "seed_used",
)
PACKAGE_COLUMNS = (
    "bits", "epochs", "batch_size", "repetition", "n_labelled", "final_loss", "train_seconds",
    "eval_seconds",
)
# ``ties``: the tie mode of the metric columns (docs/method.md §6); ``codes_file``: the run's stored codes
# (docs/method.md §7), relative to the CSV's folder
# ``model_options``: build_model options other than the defaults, as canonical text (runner.py);
# ``protocol``: what the run fitted on and was scored on (ssb_vae.protocols)
# ``data_digest``: for a dataset given as a file, a digest of its content and reading options, so that
# a run is keyed by what it ran on, not by the path (empty for the named datasets)
# ``optimizer``: "adam", or "lazy-adam" for a run with --fast (ssb_vae.optimizers)
COLUMNS = (*SPEC_COLUMNS, *PACKAGE_COLUMNS, "ties", "codes_file", "model_options", "protocol", "data_digest",
           "optimizer")
# the layouts of CSVs written before the optimizer was recorded, before file datasets were keyed by
# content, and before model options and protocols were recorded: their rows have the defaults of
# the columns they lack
ADAM_COLUMNS = COLUMNS[:-1]
PATH_KEYED_COLUMNS = COLUMNS[:-2]
DEFAULT_OPTIONS_COLUMNS = COLUMNS[:-4]
READABLE_LAYOUTS = (COLUMNS, ADAM_COLUMNS, PATH_KEYED_COLUMNS, DEFAULT_OPTIONS_COLUMNS)
# the layout of CSVs written before ties were recorded: position tie-breaking, no stored codes
POSITION_TIES_COLUMNS = (*SPEC_COLUMNS, *PACKAGE_COLUMNS)
# every setting that changes a run's result (the preset acts through alpha, beta, gamma)
KEY_COLUMNS = ("dataset", "algorithm", "bits", "level", "alpha", "beta", "gamma", "seed_used", "epochs",
               "batch_size", "model_options", "protocol", "data_digest", "optimizer")
KEY_TYPES = (str, str, int, float, float, float, float, int, int, int, str, str, str, str)
# key columns that older rows and stored codes lack, with the value they were run with
KEY_DEFAULTS = {"model_options": "", "protocol": "test", "data_digest": "", "optimizer": "adam"}
DIGEST = KEY_COLUMNS.index("data_digest")


def row_key(row: dict) -> tuple:
    """The identity of a run in a results file, typed so that ``0.5`` and ``"0.5"`` agree. A dataset
    file with a content digest is identified by the digest alone: the same file under two paths is
    one dataset, an edited file another."""
    key = [kind(_value(row, column)) for kind, column in zip(KEY_TYPES, KEY_COLUMNS)]
    if key[DIGEST]:
        key[0] = ""
    return tuple(key)


def _value(row: dict, column: str):
    """A row's value in ``column``, or the value that rows without it were run with."""
    value = row.get(column)
    return KEY_DEFAULTS.get(column) if value is None else value


def _key_error(row: dict) -> str | None:
    """What makes a row's key unreadable, or None."""
    for kind, column in zip(KEY_TYPES, KEY_COLUMNS):
        value = _value(row, column)
        if value is None or (kind is not str and value == ""):
            return f"column {column!r} is empty"
        try:
            kind(value)
        except (TypeError, ValueError):
            return f"column {column!r} holds {value!r}, not {'a number' if kind is not str else 'text'}"
    return None


def csv_line(values) -> str:
    """One CSV line; floats written with ``repr`` so that they read back exactly."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(
        [repr(v) if isinstance(v, float) else v for v in values]
    )
    return buffer.getvalue()


def write_rows(path: Path, rows: list[dict]) -> None:
    """Writes a whole results CSV at once (temporary file, then rename)."""
    with replacing(path, suffix=".csv") as temporary:
        temporary.write_text(csv_line(COLUMNS) + "".join(csv_line([_value(row, c) for c in COLUMNS]) for row in rows))


class ResultsFile:
    """The results CSV of a grid: locked for a whole run, checked before anything runs, rows
    appended whole and flushed.

    ``ties`` is the tie mode (docs/method.md §6) of the rows this run appends; a file holding rows of
    another mode is refused, so one file never mixes two definitions of its metrics.
    """

    def __init__(self, path: Path, ties: str = "expected"):
        self.path = Path(path)
        self.ties = ties
        self.errors_path = self.path.with_suffix(".errors.log")
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self.columns = COLUMNS  # the layout rows are appended in: an existing file's own
        if self.path.is_dir():
            raise ValueError(f"--out {self.path} is a folder; name a CSV file, e.g. {self.path / 'results.csv'}")

    @contextmanager
    def locked(self):
        """Holds the file's lock (``<name>.lock``) while the block runs, then checks the file.

        A second runner on the same file is refused at once, before it trains anything.
        """
        self.check_writable()
        lock = FileLock(self.lock_path, timeout=0)
        try:
            lock.acquire()
        except Timeout:
            raise ValueError(
                f"another runner is writing {self.path} (it holds {self.lock_path}); wait for it "
                "to finish and run this command again to add what is missing, or choose another --out"
            ) from None
        try:
            self._check_existing()
            yield self
        finally:
            lock.release()

    def _check_existing(self) -> None:
        if self.path.exists() and self.path.stat().st_size > 0:
            try:
                with open(self.path, newline="") as handle:
                    header = tuple(next(csv.reader(handle), []))
            except UnicodeDecodeError:
                raise ValueError(
                    f"{self.path} is not a text CSV (it is left untouched); choose another --out"
                ) from None
            if header == POSITION_TIES_COLUMNS:
                raise ValueError(
                    f"{self.path} was written before tie-aware metrics: its metric columns break "
                    "Hamming-distance ties by database position and it stores no codes (docs/method.md §6, "
                    "§7). It is left untouched; write the new runs to another --out."
                )
            if header not in READABLE_LAYOUTS:
                raise ValueError(
                    f"{self.path} exists with other columns ({', '.join(header[:6])}, …); it is "
                    "left untouched. Choose another --out, or move that file away."
                )
            self.columns = header
            self._drop_partial_last_row()
            self._check_rows()

    def _check_rows(self) -> None:
        rows = self.rows()
        for number, row in enumerate(rows, start=2):
            problem = _key_error(row)
            if problem:
                raise ValueError(
                    f"{self.path}, line {number}: {problem}. The file is left untouched: fix or "
                    "remove that row, or choose another --out"
                )
        modes = {row["ties"] for row in rows}
        if modes and modes != {self.ties}:
            found = ", ".join(sorted(modes))
            raise ValueError(
                f"{self.path} holds metrics computed with ties={found}, but this run computes "
                f"ties={self.ties}. Resume it with --ties {found}, or write to another --out; "
                f"`python -m ssb_vae.report {self.path} --recompute --ties {self.ties} --out NEW.csv` "
                "rescores its stored codes without training."
            )

    def _drop_partial_last_row(self) -> None:
        """A run killed in the middle of a write can leave a last line without its newline:
        that line is incomplete, so it is removed (its run will simply be done again)."""
        content = self.path.read_bytes()
        if content.endswith(b"\n"):
            return
        complete = content[: content.rfind(b"\n") + 1]
        with replacing(self.path, suffix=".csv") as temporary:
            temporary.write_bytes(complete)
        print(f"{self.path}: removed an incomplete last row left by an interrupted run", file=sys.stderr)

    def check_writable(self) -> None:
        directory = self.path.parent
        try:
            directory.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=directory):
                pass
        except OSError as error:
            raise ValueError(
                f"cannot write results to {directory} ({error.strerror}); choose a writable --out"
            ) from None

    def rows(self) -> list[dict]:
        if not self.path.exists():
            return []
        with open(self.path, newline="") as handle:
            return list(csv.DictReader(handle))

    def done_keys(self) -> set[tuple]:
        return {row_key(row) for row in self.rows()}

    def _append(self, path: Path, line: str) -> None:
        """Appends ``line`` whole or not at all: a write that fails (disk full, size limit) is cut
        back to the file's previous end and raised as an OSError naming the file."""
        size = path.stat().st_size if path.exists() else 0
        try:
            with open(path, "a", newline="") as handle:
                handle.write(line)
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as error:
            try:
                os.truncate(path, size)
            except OSError:
                pass  # the next runner removes an incomplete last row when it opens the file
            raise OSError(f"could not write a row to {path} ({error.strerror or error}); the file keeps "
                          "its earlier rows") from None

    def append(self, row: dict) -> None:
        """Appends one row (and the header first, into a new file) in a single flushed write."""
        new = not self.path.exists() or self.path.stat().st_size == 0
        self.check_accepts(row_key(row))
        header = csv_line(self.columns) if new else ""
        self._append(self.path, header + csv_line([row[column] for column in self.columns]))

    def check_accepts(self, key: tuple) -> None:
        """Refuses a run whose key this file's layout cannot record: one with model options or
        another protocol, into a file written before those columns existed."""
        recorded = dict(zip(KEY_COLUMNS, key))
        lacking = [column for column, default in KEY_DEFAULTS.items()
                   if recorded[column] != default and column not in self.columns]
        if lacking:
            raise ValueError(f"{self.path} was written before {', '.join(lacking)} was recorded, so it cannot "
                             "hold this run; write it to another --out (runs with --model-option, --protocol "
                             "--fast or a dataset file need the newer layout)")

    def record_error(self, run: dict, error: str) -> None:
        entry = {"time": time.strftime("%Y-%m-%d %H:%M:%S"), "run": run, "error": error}
        try:
            self._append(self.errors_path, json.dumps(entry) + "\n")
        except OSError as write_error:  # the failure is still shown; only its log entry is lost
            print(write_error, file=sys.stderr)
