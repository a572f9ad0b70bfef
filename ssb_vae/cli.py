"""The ``ssb-vae`` command: one entry point for the package's command-line tools.

    ssb-vae run …      the batch runner (run_experiments.py)
    ssb-vae report …   tables, plots, recompute (python -m ssb_vae.report)
    ssb-vae hash …     codes of a dataset from a saved model (python -m ssb_vae.hashing)
    ssb-vae index …    build or search a corpus index (python -m ssb_vae.index)
    ssb-vae search …   the same as `ssb-vae index search …`
    ssb-vae tune …     choose α, β, γ on validation data (python -m ssb_vae.tune)

An unexpected failure is one line on stderr and exit status 1; SSB_VAE_DEBUG=1 shows the traceback.
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


DEBUG_VARIABLE = "SSB_VAE_DEBUG"


def run_command(main, argv: list[str] | None = None, prog: str = "ssb-vae") -> int:
    """Runs a command's ``main`` and turns an unexpected failure into one line and status 1 (the
    commands report the failures they expect themselves, through argparse). With
    ``SSB_VAE_DEBUG=1`` the traceback is shown instead."""
    try:
        return int(main(argv) or 0)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # noqa: BLE001 - the point: no traceback for a user
        if os.environ.get(DEBUG_VARIABLE, "") not in ("", "0"):
            raise
        message = str(error) or type(error).__name__
        print(f"{prog}: error: {message} ({type(error).__name__}; set {DEBUG_VARIABLE}=1 for the traceback)",
              file=sys.stderr)
        return 1


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        print(__doc__.strip())
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    module, prefix = COMMANDS[argv[0]]
    command = importlib.import_module(module).main
    return run_command(lambda rest: command([*prefix, *rest]), argv[1:], prog=f"ssb-vae {argv[0]}")


if __name__ == "__main__":
    sys.exit(main())
