"""The batch runner: `python run_experiments.py --help` lists the options."""

import sys

from ssb_vae.cli import run_command
from ssb_vae.runner import main

if __name__ == "__main__":
    sys.exit(run_command(main, prog="run_experiments.py"))
