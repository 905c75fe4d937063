#!/usr/bin/env python3
"""PyTorch's side of descent's accuracy check: the 784-128-64-10 ReLU MLP on
MNIST, batch 64, shuffled, standard normalisation, trained with each
optimizer at the learning rate given, for several seeds; prints the test
accuracy of every run and the mean per optimizer (as a Markdown table).

Each optimizer is torch's (or `lion-pytorch`'s, or `schedulefree`'s,
evaluated after `optimizer.eval()`); Muon is torch's on the weight matrices
(its Newton-Schulz in bfloat16, as shipped) with AdamW at lr 1e-3 on the
biases, as descent runs it. Compare the means with `descent compare
--optimizers all --seeds 0,1,2 --lr …` at the same learning rates: the
initial weights and batch orders differ (two RNGs), the distributions are
the same.

    python3 -m venv /tmp/pt && /tmp/pt/bin/pip install torch numpy lion-pytorch schedulefree
    /tmp/pt/bin/python scripts/pytorch-accuracy.py --data data/mnist --lr adam=0.001,sgd=0.1
"""

import argparse
import statistics
from pathlib import Path

import numpy as np
import torch
from lion_pytorch import Lion
from schedulefree import AdamWScheduleFree


def idx(path: Path) -> np.ndarray:
    raw = path.read_bytes()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def make(name, lr, model):
    p = list(model.parameters())
    o = torch.optim
    if name == "muon":
        mats = [q for q in p if q.ndim == 2]
        vecs = [q for q in p if q.ndim != 2]
        return [o.Muon(mats, lr=lr), o.AdamW(vecs, lr=1e-3)]
    table = {
        "sgd": lambda: o.SGD(p, lr=lr),
        "momentum": lambda: o.SGD(p, lr=lr, momentum=0.9),
        "nesterov": lambda: o.SGD(p, lr=lr, momentum=0.9, nesterov=True),
        "adagrad": lambda: o.Adagrad(p, lr=lr),
        "rmsprop": lambda: o.RMSprop(p, lr=lr),
        "adam": lambda: o.Adam(p, lr=lr),
        "adamw": lambda: o.AdamW(p, lr=lr),
        "adamax": lambda: o.Adamax(p, lr=lr),
        "lion": lambda: Lion(p, lr=lr),
        "adadelta": lambda: o.Adadelta(p, lr=lr),
        "nadam": lambda: o.NAdam(p, lr=lr),
        "radam": lambda: o.RAdam(p, lr=lr),
        "rprop": lambda: o.Rprop(p, lr=lr),
        "asgd": lambda: o.ASGD(p, lr=lr),
        "schedule-free-adamw": lambda: AdamWScheduleFree(p, lr=lr),
        "adafactor": lambda: o.Adafactor(p, lr=lr),
    }
    return [table[name]()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="data/mnist")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--lr", required=True, help="name=lr,… for every optimizer to run")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    d = Path(args.data)

    def find(kind, what, n):
        # Both spellings of the IDX names occur (`-idx3-ubyte`, `.idx3-ubyte`).
        for name in (f"{kind}-{what}-idx{n}-ubyte", f"{kind}-{what}.idx{n}-ubyte"):
            if (d / name).exists():
                return d / name
        raise FileNotFoundError(f"{d}: no {kind}-{what} idx{n} file")

    def load(kind):
        x = idx(find(kind, "images", 3)).reshape(-1, 784).astype(np.float32)
        y = idx(find(kind, "labels", 1)).astype(np.int64)
        return torch.from_numpy((x / 255.0 - 0.1307) / 0.3081), torch.from_numpy(y)

    (x, y), (xt, yt) = load("train"), load("t10k")
    rows = []
    for item in args.lr.split(","):
        name, lr = item.split("=")
        accs = []
        for seed in [int(s) for s in args.seeds.split(",")]:
            torch.manual_seed(seed)
            model = torch.nn.Sequential(
                torch.nn.Linear(784, 128), torch.nn.ReLU(),
                torch.nn.Linear(128, 64), torch.nn.ReLU(),
                torch.nn.Linear(64, 10),
            )
            opts = make(name, float(lr), model)
            for q in opts:
                if hasattr(q, "train"):
                    q.train()
            loss_fn = torch.nn.CrossEntropyLoss()
            for _ in range(args.epochs):
                perm = torch.randperm(len(x))
                for i in range(0, len(x), 64):
                    b = perm[i: i + 64]
                    for q in opts:
                        q.zero_grad(set_to_none=True)
                    loss_fn(model(x[b]), y[b]).backward()
                    for q in opts:
                        q.step()
            for q in opts:
                if hasattr(q, "eval"):
                    q.eval()
            with torch.no_grad():
                acc = (model(xt).argmax(1) == yt).float().mean().item() * 100
            accs.append(acc)
            print(f"{name} lr {lr} seed {seed}: {acc:.2f}%", flush=True)
        rows.append((name, lr, accs))
    print(f"\n| optimizer | lr | PyTorch {torch.__version__} test acc per seed | mean |")
    print("|---|---|---|---|")
    for name, lr, accs in rows:
        print(f"| {name} | {lr} | {', '.join(f'{a:.2f}%' for a in accs)} | {statistics.mean(accs):.2f}% |")


if __name__ == "__main__":
    main()
