#!/usr/bin/env python3
"""The reference side of descent's optimizer parity test: 50 steps of every
gradient rule in PyTorch (and `lion-pytorch`) from the same initial weights,
with the same gradients, written to optim/tests/data/torch-parity.json.
`cargo test -p descent-optim --test parity` replays them with descent and
compares the weights and every state buffer after steps 1, 10 and 50.

The problem: 37 weights (four SIMD vectors and a tail), a diagonal quadratic
with noise, g = a * (p - c) + noise[t], computed in float32 one operation at
a time, so that descent computes the very same gradient from the same
weights. No shuffle, one parameter tensor, `foreach=False` (torch's
single-tensor path, the one that runs on CPU).

    python3 -m venv /tmp/pt && /tmp/pt/bin/pip install torch numpy lion-pytorch schedulefree
    /tmp/pt/bin/python scripts/pytorch-parity.py > optim/tests/data/torch-parity.json
"""

import json
import sys

import numpy as np
import torch
from lion_pytorch import Lion
from schedulefree import AdamWScheduleFree

N, STEPS, CHECK = 37, 50, (1, 10, 50)

rng = np.random.default_rng(27)
P0 = rng.uniform(-1, 1, N).astype(np.float32)
A = rng.uniform(0.1, 4, N).astype(np.float32)
C = rng.uniform(-1, 1, N).astype(np.float32)
NOISE = rng.normal(0, 0.3, (STEPS, N)).astype(np.float32)

# (name, descent kind, descent hyper-parameters, torch constructor)
CASES = [
    ("sgd", "sgd", {"lr": 0.05}, lambda p: torch.optim.SGD(p, lr=0.05)),
    ("sgd wd maximize", "sgd", {"lr": 0.05, "weight_decay": 0.1, "maximize": True},
     lambda p: torch.optim.SGD(p, lr=0.05, weight_decay=0.1, maximize=True)),
    ("momentum dampening", "momentum", {"lr": 0.05, "dampening": 0.1},
     lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, dampening=0.1)),
    ("nesterov", "nesterov", {"lr": 0.05},
     lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True)),
    ("adagrad", "adagrad", {"lr": 0.1, "lr_decay": 0.01, "weight_decay": 0.01},
     lambda p: torch.optim.Adagrad(p, lr=0.1, lr_decay=0.01, weight_decay=0.01)),
    ("rmsprop", "rmsprop", {"lr": 0.01}, lambda p: torch.optim.RMSprop(p, lr=0.01)),
    ("rmsprop centered momentum", "rmsprop",
     {"lr": 0.01, "centered": True, "momentum": 0.5},
     lambda p: torch.optim.RMSprop(p, lr=0.01, centered=True, momentum=0.5)),
    ("adam", "adam", {"lr": 0.01}, lambda p: torch.optim.Adam(p, lr=0.01)),
    ("adam amsgrad wd", "adam", {"lr": 0.01, "amsgrad": True, "weight_decay": 0.1},
     lambda p: torch.optim.Adam(p, lr=0.01, amsgrad=True, weight_decay=0.1)),
    ("adamw", "adamw", {"lr": 0.01, "weight_decay": 0.1},
     lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.1)),
    ("adamax", "adamax", {"lr": 0.01, "weight_decay": 0.01},
     lambda p: torch.optim.Adamax(p, lr=0.01, weight_decay=0.01)),
    ("lion", "lion", {"lr": 0.01, "weight_decay": 0.1},
     lambda p: Lion(p, lr=0.01, weight_decay=0.1)),
    ("adadelta", "adadelta", {"lr": 1.0}, lambda p: torch.optim.Adadelta(p, lr=1.0)),
    ("adadelta wd maximize", "adadelta",
     {"lr": 0.5, "rho": 0.8, "weight_decay": 0.01, "maximize": True},
     lambda p: torch.optim.Adadelta(p, lr=0.5, rho=0.8, weight_decay=0.01, maximize=True)),
    ("nadam", "nadam", {"lr": 0.01}, lambda p: torch.optim.NAdam(p, lr=0.01)),
    ("nadam wd", "nadam", {"lr": 0.01, "weight_decay": 0.1, "momentum_decay": 0.01},
     lambda p: torch.optim.NAdam(p, lr=0.01, weight_decay=0.1, momentum_decay=0.01)),
    ("nadamw", "nadam", {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True},
     lambda p: torch.optim.NAdam(p, lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    ("radam", "radam", {"lr": 0.01}, lambda p: torch.optim.RAdam(p, lr=0.01)),
    ("radamw", "radam", {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True},
     lambda p: torch.optim.RAdam(p, lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    ("radam wd", "radam", {"lr": 0.01, "weight_decay": 0.1},
     lambda p: torch.optim.RAdam(p, lr=0.01, weight_decay=0.1)),
    ("rprop", "rprop", {"lr": 0.01}, lambda p: torch.optim.Rprop(p, lr=0.01)),
    ("rprop etas step sizes maximize", "rprop",
     {"lr": 0.02, "etas": [0.3, 1.5], "step_sizes": [1e-3, 0.1], "maximize": True},
     lambda p: torch.optim.Rprop(p, lr=0.02, etas=(0.3, 1.5), step_sizes=(1e-3, 0.1),
                                 maximize=True)),
    ("asgd", "asgd", {"lr": 0.05}, lambda p: torch.optim.ASGD(p, lr=0.05)),
    ("asgd averaging from step 20", "asgd",
     {"lr": 0.05, "lambd": 0.01, "alpha": 0.5, "t0": 20, "weight_decay": 0.01},
     lambda p: torch.optim.ASGD(p, lr=0.05, lambd=0.01, alpha=0.5, t0=20, weight_decay=0.01)),
    ("schedule-free-adamw", "schedule-free-adamw", {"lr": 0.01},
     lambda p: AdamWScheduleFree(p, lr=0.01)),
    ("schedule-free-adamw warmup wd r", "schedule-free-adamw",
     {"lr": 0.01, "weight_decay": 0.01, "warmup_steps": 10, "r": 0.5, "weight_lr_power": 1.5},
     lambda p: AdamWScheduleFree(p, lr=0.01, weight_decay=0.01, warmup_steps=10, r=0.5,
                                 weight_lr_power=1.5)),
]


def f32(x):
    return [float(v) for v in np.asarray(x, dtype=np.float32)]


def run(make):
    p = torch.nn.Parameter(torch.from_numpy(P0.copy()))
    opt = make([p])
    if "foreach" in opt.defaults:
        for g in opt.param_groups:
            g["foreach"] = False
    if hasattr(opt, "train"):
        opt.train()  # Schedule-Free steps in train mode, at y
    a, c = torch.from_numpy(A), torch.from_numpy(C)
    checks = {}
    for t in range(STEPS):
        with torch.no_grad():
            # One float32 operation at a time, as descent's test does.
            p.grad = a * (p.detach() - c) + torch.from_numpy(NOISE[t])
        opt.step()
        if t + 1 in CHECK:
            state = {k: f32(v.detach().numpy().reshape(-1))
                     for k, v in opt.state[p].items()
                     if torch.is_tensor(v) and v.numel() == N}
            scalars = {k: float(v) for k, v in opt.state[p].items()
                       if torch.is_tensor(v) and v.numel() == 1 and k != "step"}
            scalars.update({k: float(opt.param_groups[0][k]) for k in ("lr_max", "weight_sum")
                            if k in opt.param_groups[0]})
            checks[str(t + 1)] = {"params": f32(p.detach().numpy()), "state": state,
                                  "scalars": scalars}
            if "z" in opt.state[p]:
                # The model Schedule-Free evaluates, as its eval() computes it.
                beta1 = opt.param_groups[0]["betas"][0]
                x = p.detach().clone().lerp_(opt.state[p]["z"], 1 - 1 / beta1)
                checks[str(t + 1)]["eval"] = f32(x.numpy())
    return checks


torch.set_num_threads(1)
out = {
    "torch": torch.__version__,
    "n": N,
    "p0": f32(P0),
    "a": f32(A),
    "c": f32(C),
    "noise": [f32(r) for r in NOISE],
    "cases": [{"name": name, "kind": kind, "hyper": hyper, "checks": run(make)}
              for name, kind, hyper, make in CASES],
}
json.dump(out, sys.stdout, indent=None, separators=(",", ":"))
print()
