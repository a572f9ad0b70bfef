"""The batch runner: `python run_experiments.py --help` lists the options."""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from ssb_vae.runner import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
