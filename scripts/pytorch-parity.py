#!/usr/bin/env python3
"""The reference side of descent's optimizer parity test: 50 steps of every
gradient rule in PyTorch (and `lion-pytorch`) from the same initial weights,
with the same gradients, written to optim/tests/data/torch-parity.json.
`cargo test -p descent-optim --test parity` replays them with descent and
compares the weights and every state buffer after steps 1, 10 and 50.

The problem: 37 weights (four SIMD vectors and a tail), a diagonal quadratic
with noise, g = a * (p - c) + noise[t], computed in float32 one operation at
a time, so that descent computes the very same gradient from the same
weights. No shuffle, `foreach=False` (torch's single-tensor path, the one
that runs on CPU). One parameter tensor of 37, or, for the rules that
treat matrices as matrices (a case with "shapes"), a 5 × 7 matrix and a
vector of 2 over the same 37 numbers; a state buffer is then the
concatenation of the tensors' in order, as descent keeps it.

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

SHAPES = [[5, 7], [2]]
TALL = [[7, 5], [2]]


def zeropower_f32(grad, ns_coefficients, ns_steps, eps):
    """torch's Newton–Schulz (torch/optim/_muon.py) in float32 instead of
    bfloat16: the reference descent's f32 iteration is held to."""
    a, b, c = ns_coefficients
    x = grad.to(dtype=torch.float32, copy=True)
    if grad.size(0) > grad.size(1):
        x = x.T
    x.div_(x.norm().clamp(min=eps))
    for _ in range(ns_steps):
        gram = x @ x.T
        update = torch.addmm(gram, gram, gram, beta=b, alpha=c)
        x = torch.addmm(x, update, x, beta=a)
    if grad.size(0) > grad.size(1):
        x = x.T
    return x


torch.optim._muon._zeropower_via_newtonschulz = zeropower_f32


def muon(lr, aux_lr=1e-3, **kw):
    """torch's Muon on the matrices, AdamW (torch's defaults) on the rest."""
    def make(params):
        mats = [p for p in params if p.ndim == 2]
        vecs = [p for p in params if p.ndim != 2]
        return [torch.optim.Muon(mats, lr=lr, **kw), torch.optim.AdamW(vecs, lr=aux_lr)]
    return make

# (name, descent kind, descent hyper-parameters, torch constructor[, shapes])
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
    ("adafactor", "adafactor", {"lr": 0.01}, lambda p: torch.optim.Adafactor(p, lr=0.01)),
    ("adafactor matrix", "adafactor", {"lr": 0.05, "weight_decay": 0.1, "beta2_decay": -0.5},
     lambda p: torch.optim.Adafactor(p, lr=0.05, weight_decay=0.1, beta2_decay=-0.5), SHAPES),
    ("muon", "muon", {"lr": 0.02}, muon(0.02), SHAPES),
    ("muon tall, no decay, aux lr", "muon",
     {"lr": 0.01, "weight_decay": 0.0, "momentum": 0.9, "aux_lr": 0.01, "ns_steps": 3},
     muon(0.01, aux_lr=0.01, weight_decay=0.0, momentum=0.9, ns_steps=3), TALL),
    ("schedule-free-adamw", "schedule-free-adamw", {"lr": 0.01},
     lambda p: AdamWScheduleFree(p, lr=0.01)),
    ("schedule-free-adamw warmup wd r", "schedule-free-adamw",
     {"lr": 0.01, "weight_decay": 0.01, "warmup_steps": 10, "r": 0.5, "weight_lr_power": 1.5},
     lambda p: AdamWScheduleFree(p, lr=0.01, weight_decay=0.01, warmup_steps=10, r=0.5,
                                 weight_lr_power=1.5)),
]


def f32(x):
    return [float(v) for v in np.asarray(x, dtype=np.float32)]


def run(make, shapes=None):
    shapes = shapes or [[N]]
    flat = torch.from_numpy(P0.copy())
    params, at = [], 0
    for sh in shapes:
        k = int(np.prod(sh))
        params.append(torch.nn.Parameter(flat[at:at + k].clone().reshape(sh)))
        at += k
    opts = make(params)
    opts = opts if isinstance(opts, list) else [opts]
    for opt in opts:
        if "foreach" in opt.defaults:
            for g in opt.param_groups:
                g["foreach"] = False
        if hasattr(opt, "train"):
            opt.train()  # Schedule-Free steps in train mode, at y
    a, c = torch.from_numpy(A), torch.from_numpy(C)

    def state_of(p):
        for opt in opts:
            if p in opt.state:
                return opt, opt.state[p]
        return None, {}

    checks = {}
    for t in range(STEPS):
        with torch.no_grad():
            p = torch.cat([q.detach().reshape(-1) for q in params])
            # One float32 operation at a time, as descent's test does.
            g = a * (p - c) + torch.from_numpy(NOISE[t])
            at = 0
            for q in params:
                q.grad = g[at:at + q.numel()].reshape(q.shape).clone()
                at += q.numel()
        for opt in opts:
            opt.step()
        if t + 1 in CHECK:
            state, scalars = {}, {}
            for q in params:
                opt, st = state_of(q)
                for k, v in st.items():
                    if torch.is_tensor(v) and (v.numel() > 1 or len(shapes) > 1) and k != "step":
                        state.setdefault(k, []).extend(f32(v.detach().numpy().reshape(-1)))
                    elif torch.is_tensor(v) and v.numel() == 1 and k != "step":
                        scalars[k] = float(v)
                if opt is not None:
                    scalars.update({k: float(opt.param_groups[0][k])
                                    for k in ("lr_max", "weight_sum") if k in opt.param_groups[0]})
            pv = torch.cat([q.detach().reshape(-1) for q in params])
            checks[str(t + 1)] = {"params": f32(pv.numpy()), "state": state, "scalars": scalars}
            opt, st = state_of(params[0])
            if "z" in st:
                # The model Schedule-Free evaluates, as its eval() computes it.
                beta1 = opt.param_groups[0]["betas"][0]
                x = params[0].detach().clone().lerp_(st["z"], 1 - 1 / beta1)
                checks[str(t + 1)]["eval"] = f32(x.numpy().reshape(-1))
    return checks


def run_lbfgs(kw, steps=3):
    """L-BFGS on the deterministic problem f(p) = Σ ½·a·(p − c)² + n·p
    (n = the first noise row), whose gradient a·(p − c) + n both sides
    compute one float32 operation at a time; `steps` steps, each up to
    max_iter iterations through the closure. Its line search amplifies
    rounding, so the Rust side judges it with a looser tolerance."""
    p = torch.nn.Parameter(torch.from_numpy(P0.copy()))
    opt = torch.optim.LBFGS([p], **kw)
    a, c, n = torch.from_numpy(A), torch.from_numpy(C), torch.from_numpy(NOISE[0])

    def closure():
        with torch.no_grad():
            r = p.detach() - c
            p.grad = a * r + n
            return (0.5 * a * r * r + n * p.detach()).sum().item()

    checks = {}
    for t in range(steps):
        loss = opt.step(closure)
        checks[str(t + 1)] = {"params": f32(p.detach().numpy()), "loss": float(loss),
                              "func_evals": opt.state[p]["func_evals"]}
    return checks


torch.set_num_threads(1)
out = {
    "torch": torch.__version__,
    "n": N,
    "p0": f32(P0),
    "a": f32(A),
    "c": f32(C),
    "noise": [f32(r) for r in NOISE],
    "cases": [{"name": case[0], "kind": case[1], "hyper": case[2],
               "shapes": case[4] if len(case) > 4 else [[N]],
               "checks": run(case[3], case[4] if len(case) > 4 else None)}
              for case in CASES],
    "lbfgs": [{"name": name, "hyper": hyper, "checks": run_lbfgs(kw)}
              for name, hyper, kw in [
                  ("lbfgs", {"lr": 0.5}, {"lr": 0.5}),
                  ("lbfgs strong-wolfe history 5", {"lr": 1.0, "history_size": 5,
                                                    "line_search": "strong-wolfe"},
                   {"lr": 1.0, "history_size": 5, "line_search_fn": "strong_wolfe"}),
                  ("lbfgs max_iter 7", {"lr": 0.3, "max_iter": 7}, {"lr": 0.3, "max_iter": 7}),
              ]],
}
json.dump(out, sys.stdout, indent=None, separators=(",", ":"))
print()
