#!/usr/bin/env python3
"""PyTorch's side of descent's epoch comparison: the same model and loop,
timed the way `descent train` times an epoch (the training steps only, not
the test pass).

784-128-64-10 ReLU MLP, batch 64, shuffled, MNIST normalised with
(mean, std) = (0.1307, 0.3081) as `--normalize standard`, the whole set in
memory as float32 tensors, no DataLoader. Prints the seconds of each epoch
and their median per optimizer.

    python3 -m venv /tmp/pt && /tmp/pt/bin/pip install torch numpy
    /tmp/pt/bin/python scripts/pytorch-epoch.py --data data/mnist --threads 1 --epochs 3

Compare with `descent train --data data/mnist --optimizer sgd --epochs 3
--threads 1` run on the same machine, interleaved.
"""

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch


def idx(path: Path) -> np.ndarray:
    raw = path.read_bytes()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="data/mnist")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--optimizers", default="sgd,adam")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    d = Path(args.data)
    x = idx(d / "train-images-idx3-ubyte").reshape(-1, 784).astype(np.float32)
    x = torch.from_numpy((x / 255.0 - 0.1307) / 0.3081)
    y = torch.from_numpy(idx(d / "train-labels-idx1-ubyte").astype(np.int64))
    for name in args.optimizers.split(","):
        torch.manual_seed(0)
        model = torch.nn.Sequential(
            torch.nn.Linear(784, 128),
            torch.nn.ReLU(),
            torch.nn.Linear(128, 64),
            torch.nn.ReLU(),
            torch.nn.Linear(64, 10),
        )
        opt = {
            "sgd": lambda p: torch.optim.SGD(p, lr=0.01),
            "adam": lambda p: torch.optim.Adam(p, lr=0.001),
        }[name](model.parameters())
        loss_fn = torch.nn.CrossEntropyLoss()
        secs = []
        for epoch in range(args.epochs):
            perm = torch.randperm(len(x))
            t = time.perf_counter()
            for i in range(0, len(x), 64):
                b = perm[i: i + 64]
                opt.zero_grad(set_to_none=True)
                loss = loss_fn(model(x[b]), y[b])
                loss.backward()
                opt.step()
            secs.append(time.perf_counter() - t)
            print(f"pytorch {torch.__version__} {name} threads {args.threads} epoch {epoch + 1}: {secs[-1]:.3f} s (loss {loss.item():.4f})")
        print(f"pytorch {name} threads {args.threads}: median epoch {statistics.median(secs):.3f} s")


if __name__ == "__main__":
    main()
