"""Does a tuned setting keep its codes apart on the study's fit as it did on the tuner's fit?

Fits one (dataset, method, level, α, β, γ) setting twice with the study's first seed (20): as a
tuning trial does (``realistic``: the training part only) and as the study does (``test``: training
∪ validation), and prints, after the scored epochs, the share of distinct codes of each fit's own items. Only
inputs are hashed, no label and no test item is read, so acting on what it shows is not selection
on the test queries. TensorFlow's CPU kernels sum in an order that depends on the thread count, so
a fit reproduces a trial or a study run only at the threads per process they ran with: one, for a
tune or a study run with ``--jobs 2`` on two cores (the default ``--threads``).

    python -m experiments.validated.collapse_check --dataset 20news --method ssb-vae --level 0.2 \
        --alpha 2.0538 --gamma 54840 --data-dir ../shared/data
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass

EPOCHS = (5, 10, 20, 30)


@dataclass(frozen=True)
class Config:
    dataset: str
    method: str
    level: float
    alpha: float
    beta: float
    gamma: float
    data_dir: str
    epochs: int = 30
    threads: int = 1


def shares(config: Config, protocol: str) -> dict[int, float]:
    """Distinct share of the fit's own items after each of ``EPOCHS``, for one protocol's fit."""
    from ssb_vae.runner import GridPoint, run_point
    from ssb_vae.training import hash_codes
    from ssb_vae.tuning import distinct_share

    point = GridPoint(dataset=config.dataset, method=config.method, bits=16, level=config.level,
                      repetition=0, alpha=config.alpha, beta=config.beta, gamma=config.gamma,
                      epochs=config.epochs, batch_size=100, data_dir=config.data_dir, protocol=protocol)
    found: dict[int, float] = {}

    def hook(checkpoint) -> None:
        if checkpoint.epoch in EPOCHS:
            found[checkpoint.epoch] = distinct_share(hash_codes(checkpoint.model, checkpoint.parts.fit.x))

    run_point(point, epoch_hook=hook)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--method", default="ssb-vae")
    parser.add_argument("--level", type=float, required=True)
    parser.add_argument("--alpha", type=float, required=True)
    parser.add_argument("--beta", type=float, default=0.015625)
    parser.add_argument("--gamma", type=float, required=True)
    parser.add_argument("--data-dir", default="../shared/data")
    parser.add_argument("--threads", type=int, default=1, help="intra-op threads (default: 1)")
    args = parser.parse_args(argv)
    config = Config(args.dataset, args.method, args.level, args.alpha, args.beta, args.gamma,
                    args.data_dir, threads=args.threads)
    from ssb_vae.parallel import limit_threads

    limit_threads(config.threads)
    print("| fit | " + " | ".join(f"epoch {epoch}" for epoch in EPOCHS) + " |")
    print("|---|" + "---|" * len(EPOCHS))
    for protocol, name in (("realistic", "tuning (training part)"), ("test", "study (training ∪ validation)")):
        found = shares(config, protocol)
        print(f"| {name} | " + " | ".join(f"{found[epoch]:.1%}" for epoch in EPOCHS) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
