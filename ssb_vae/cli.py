"""The ``ssb-vae`` command: one entry point for the package's command-line tools.

    ssb-vae run …      the batch runner (run_experiments.py)
    ssb-vae report …   tables, plots, recompute (python -m ssb_vae.report)
    ssb-vae hash …     codes of a dataset from a saved model (python -m ssb_vae.hashing)
    ssb-vae index …    build or search a corpus index (python -m ssb_vae.index)
    ssb-vae search …   the same as `ssb-vae index search …`
    ssb-vae tune …     choose α, β, γ on validation data (python -m ssb_vae.tune)
"""

from __future__ import annotations

import importlib
import os
import sys

COMMANDS = {
    "run": ("ssb_vae.runner", []),
    "report": ("ssb_vae.report", []),
    "hash": ("ssb_vae.hashing", []),
    "index": ("ssb_vae.index", []),
    "search": ("ssb_vae.index", ["search"]),
    "tune": ("ssb_vae.tune", []),
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        print(__doc__.strip())
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    module, prefix = COMMANDS[argv[0]]
    result = importlib.import_module(module).main([*prefix, *argv[1:]])
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
