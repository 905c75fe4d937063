//! Three steps of each optimizer against PyTorch's documented algorithm
//! (seven for RAdam, to reach its rectified steps; Schedule-Free AdamW as
//! the `schedulefree` package computes it; Muon's Newton–Schulz in f64).
//!
//! torch is not installed here, so the expected numbers come from an
//! independent f64 re-implementation of `torch.optim`'s `_single_tensor_*`
//! code paths (and of `clip_grad_norm_`), run with plain Python 3 (no numpy):
//!
//! ```python
//! # Independent f64 re-implementation of torch.optim's documented algorithms
//! # (torch 2.x `_single_tensor_*` code paths), three steps on a small vector.
//! import math
//! P0 = [0.5, -1.5, 2.0, -0.25]
//! G = [[0.3, -0.2, 0.5, -1.0], [-0.1, 0.4, 0.25, 0.8], [0.6, -0.7, -0.3, 0.05]]
//!
//! def sgd(lr, momentum=0.0, dampening=0.0, wd=0.0, nesterov=False, maximize=False):
//!     p = P0[:]; buf = None
//!     for g in G:
//!         g = [-x if maximize else x for x in g]
//!         g = [gi + wd * pi for gi, pi in zip(g, p)]
//!         if momentum != 0:
//!             if buf is None: buf = g[:]
//!             else: buf = [momentum * b + (1 - dampening) * gi for b, gi in zip(buf, g)]
//!             g = [gi + momentum * b for gi, b in zip(g, buf)] if nesterov else buf[:]
//!         p = [pi - lr * gi for pi, gi in zip(p, g)]
//!     return p
//!
//! def adagrad(lr, lr_decay=0.0, wd=0.0, init=0.0, eps=1e-10, maximize=False):
//!     p = P0[:]; s = [init] * len(p)
//!     for t, g in enumerate(G, 1):
//!         g = [-x if maximize else x for x in g]
//!         g = [gi + wd * pi for gi, pi in zip(g, p)]
//!         clr = lr / (1 + (t - 1) * lr_decay)
//!         s = [si + gi * gi for si, gi in zip(s, g)]
//!         p = [pi - clr * gi / (math.sqrt(si) + eps) for pi, gi, si in zip(p, g, s)]
//!     return p
//!
//! def rmsprop(lr, alpha=0.99, eps=1e-8, wd=0.0, momentum=0.0, centered=False, maximize=False):
//!     p = P0[:]; v = [0.0] * 4; ga = [0.0] * 4; b = [0.0] * 4
//!     for g in G:
//!         g = [-x if maximize else x for x in g]
//!         g = [gi + wd * pi for gi, pi in zip(g, p)]
//!         v = [alpha * vi + (1 - alpha) * gi * gi for vi, gi in zip(v, g)]
//!         if centered:
//!             ga = [alpha * a + (1 - alpha) * gi for a, gi in zip(ga, g)]
//!             d = [math.sqrt(vi - a * a) + eps for vi, a in zip(v, ga)]
//!         else:
//!             d = [math.sqrt(vi) + eps for vi in v]
//!         if momentum > 0:
//!             b = [momentum * bi + gi / di for bi, gi, di in zip(b, g, d)]
//!             p = [pi - lr * bi for pi, bi in zip(p, b)]
//!         else:
//!             p = [pi - lr * gi / di for pi, gi, di in zip(p, g, d)]
//!     return p
//!
//! def adam(lr, b1=0.9, b2=0.999, eps=1e-8, wd=0.0, amsgrad=False, decoupled=False, maximize=False, clip=None):
//!     p = P0[:]; m = [0.0] * 4; v = [0.0] * 4; vm = [0.0] * 4
//!     for t, g in enumerate(G, 1):
//!         if clip is not None:  # torch.nn.utils.clip_grad_norm_ before step()
//!             n = math.sqrt(sum(x * x for x in g))
//!             c = min(1.0, clip / (n + 1e-6))
//!             g = [x * c for x in g]
//!         g = [-x if maximize else x for x in g]
//!         if decoupled:
//!             p = [pi * (1 - lr * wd) for pi in p]
//!         else:
//!             g = [gi + wd * pi for gi, pi in zip(g, p)]
//!         m = [b1 * mi + (1 - b1) * gi for mi, gi in zip(m, g)]
//!         v = [b2 * vi + (1 - b2) * gi * gi for vi, gi in zip(v, g)]
//!         bc1 = 1 - b1 ** t; bc2s = math.sqrt(1 - b2 ** t)
//!         if amsgrad:
//!             vm = [max(a, b) for a, b in zip(vm, v)]; vv = vm
//!         else:
//!             vv = v
//!         p = [pi - (lr / bc1) * mi / (math.sqrt(vi) / bc2s + eps) for pi, mi, vi in zip(p, m, vv)]
//!     return p
//!
//! def adamax(lr, b1=0.9, b2=0.999, eps=1e-8, wd=0.0, maximize=False):
//!     p = P0[:]; m = [0.0] * 4; u = [0.0] * 4
//!     for t, g in enumerate(G, 1):
//!         g = [-x if maximize else x for x in g]
//!         g = [gi + wd * pi for gi, pi in zip(g, p)]
//!         m = [b1 * mi + (1 - b1) * gi for mi, gi in zip(m, g)]
//!         u = [max(b2 * ui, abs(gi) + eps) for ui, gi in zip(u, g)]
//!         clr = lr / (1 - b1 ** t)
//!         p = [pi - clr * mi / ui for pi, mi, ui in zip(p, m, u)]
//!     return p
//!
//! def sign(x):
//!     return 1.0 if x > 0 else (-1.0 if x < 0 else 0.0)
//!
//! def lion(lr, b1=0.9, b2=0.99, wd=0.0, maximize=False):  # lion-pytorch's update_fn
//!     p = P0[:]; m = [0.0] * 4
//!     for g in G:
//!         g = [-x if maximize else x for x in g]
//!         p = [pi * (1 - lr * wd) for pi in p]
//!         c = [b1 * mi + (1 - b1) * gi for mi, gi in zip(m, g)]
//!         p = [pi - lr * sign(ci) for pi, ci in zip(p, c)]
//!         m = [b2 * mi + (1 - b2) * gi for mi, gi in zip(m, g)]
//!     return p
//!
//! def adadelta(lr=1.0, rho=0.9, eps=1e-6, wd=0.0, maximize=False):
//!     p = P0[:]; v = [0.0] * 4; u = [0.0] * 4
//!     for g in G:
//!         g = [-x if maximize else x for x in g]
//!         g = [gi + wd * pi for gi, pi in zip(g, p)]
//!         v = [rho * vi + (1 - rho) * gi * gi for vi, gi in zip(v, g)]
//!         d = [math.sqrt(ui + eps) / math.sqrt(vi + eps) * gi for ui, vi, gi in zip(u, v, g)]
//!         u = [rho * ui + (1 - rho) * di * di for ui, di in zip(u, d)]
//!         p = [pi - lr * di for pi, di in zip(p, d)]
//!     return p
//!
//! def nadam(lr=2e-3, b1=0.9, b2=0.999, eps=1e-8, wd=0.0, psi=4e-3, decoupled=False, maximize=False):
//!     p = P0[:]; m = [0.0] * 4; v = [0.0] * 4; prod = 1.0
//!     for t, g in enumerate(G, 1):
//!         g = [-x if maximize else x for x in g]
//!         if decoupled:
//!             p = [pi * (1 - lr * wd) for pi in p]
//!         else:
//!             g = [gi + wd * pi for gi, pi in zip(g, p)]
//!         mu = b1 * (1 - 0.5 * 0.96 ** (t * psi)); mu1 = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * psi))
//!         prod *= mu; prod1 = prod * mu1
//!         m = [b1 * mi + (1 - b1) * gi for mi, gi in zip(m, g)]
//!         v = [b2 * vi + (1 - b2) * gi * gi for vi, gi in zip(v, g)]
//!         d = [math.sqrt(vi / (1 - b2 ** t)) + eps for vi in v]
//!         p = [pi - lr * (1 - mu) / (1 - prod) * gi / di - lr * mu1 / (1 - prod1) * mi / di
//!              for pi, gi, mi, di in zip(p, g, m, d)]
//!     return p
//!
//! def radam(lr=1e-3, b1=0.9, b2=0.999, eps=1e-8, wd=0.0, decoupled=False, maximize=False, steps=G):
//!     p = P0[:]; m = [0.0] * 4; v = [0.0] * 4
//!     rho_inf = 2 / (1 - b2) - 1
//!     for t, g in enumerate(steps, 1):
//!         g = [-x if maximize else x for x in g]
//!         if decoupled:
//!             p = [pi * (1 - lr * wd) for pi in p]
//!         else:
//!             g = [gi + wd * pi for gi, pi in zip(g, p)]
//!         m = [b1 * mi + (1 - b1) * gi for mi, gi in zip(m, g)]
//!         v = [b2 * vi + (1 - b2) * gi * gi for vi, gi in zip(v, g)]
//!         bc1 = 1 - b1 ** t; bc2 = 1 - b2 ** t
//!         rho = rho_inf - 2 * t * b2 ** t / bc2
//!         if rho > 5:
//!             r = math.sqrt((rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho))
//!             p = [pi - lr * mi / bc1 * r * math.sqrt(bc2) / (math.sqrt(vi) + eps) for pi, mi, vi in zip(p, m, v)]
//!         else:
//!             p = [pi - lr * mi / bc1 for pi, mi in zip(p, m)]
//!     return p
//!
//! def rprop(lr=1e-2, etas=(0.5, 1.2), sizes=(1e-6, 50), maximize=False):
//!     p = P0[:]; prev = [0.0] * 4; d = [lr] * 4
//!     for g in G:
//!         g = [-x if maximize else x for x in g]
//!         for i in range(4):
//!             s = g[i] * prev[i]
//!             f = etas[1] if s > 0 else (etas[0] if s < 0 else 1.0)
//!             d[i] = min(max(d[i] * f, sizes[0]), sizes[1])
//!             gi = 0.0 if s < 0 else g[i]
//!             p[i] -= sign(gi) * d[i]
//!             prev[i] = gi
//!     return p
//!
//! def asgd(lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, wd=0.0, maximize=False):
//!     p = P0[:]; ax = [0.0] * 4; eta = lr; mu = 1.0
//!     for t, g in enumerate(G, 1):
//!         g = [-x if maximize else x for x in g]
//!         g = [gi + wd * pi for gi, pi in zip(g, p)]
//!         p = [pi * (1 - lambd * eta) - eta * gi for pi, gi in zip(p, g)]
//!         ax = [a + (pi - a) * mu for a, pi in zip(ax, p)] if mu != 1 else p[:]
//!         eta = lr / (1 + lambd * lr * t) ** alpha
//!         mu = 1 / max(1, t - t0)
//!     return p, ax
//!
//! def lerp(a, b, w):
//!     return a + w * (b - a)
//!
//! def sfadamw(lr=0.0025, b1=0.9, b2=0.999, eps=1e-8, wd=0.0, warmup=0, r=0.0, power=2.0):
//!     # schedulefree's AdamWScheduleFree.step, then eval(): returns (y, x)
//!     y = P0[:]; z = P0[:]; v = [0.0] * 4; lr_max = -1.0; wsum = 0.0
//!     for k, g in enumerate(G):
//!         sched = (k + 1) / warmup if k < warmup else 1.0
//!         lrk = lr * sched
//!         lr_max = max(lrk, lr_max)
//!         weight = (k + 1) ** r * lr_max ** power
//!         wsum += weight
//!         ckp1 = weight / wsum
//!         bc2 = 1 - b2 ** (k + 1)
//!         v = [b2 * vi + (1 - b2) * gi * gi for vi, gi in zip(v, g)]
//!         gn = [gi / (math.sqrt(vi / bc2) + eps) + wd * yi for gi, vi, yi in zip(g, v, y)]
//!         y = [lerp(yi, zi, ckp1) + lrk * (b1 * (1 - ckp1) - 1) * gni for yi, zi, gni in zip(y, z, gn)]
//!         z = [zi - lrk * gni for zi, gni in zip(z, gn)]
//!     x = [lerp(yi, zi, 1 - 1 / b1) for yi, zi in zip(y, z)]
//!     return y, x
//!
//! def adafactor(lr=0.01, c=-0.8, eps1=None, eps2=1e-3, d=1.0, wd=0.0, shape=None):
//!     # torch.optim.Adafactor on P0 as one vector (shape None) or as a 2x2 matrix
//!     eps1 = 1.1920928955078125e-07 if eps1 is None else eps1
//!     p = P0[:]
//!     rows, cols = shape if shape else (None, None)
//!     rv = [0.0] * (rows or 0); cv = [0.0] * (cols or 0); v = [0.0] * 4
//!     for t, g in enumerate(G, 1):
//!         w = t ** c
//!         rho = min(lr, 1 / math.sqrt(t))
//!         alpha = max(eps2, math.sqrt(sum(x * x for x in p) / 4)) * rho
//!         p = [pi * (1 - lr * wd) for pi in p]
//!         if shape:
//!             M = [g[i * cols:(i + 1) * cols] for i in range(rows)]
//!             rm = [sum(x * x for x in M[i]) / cols for i in range(rows)]
//!             cm = [sum(M[i][j] ** 2 for i in range(rows)) / rows for j in range(cols)]
//!             rv = [lerp(a, b, w) for a, b in zip(rv, rm)]
//!             cv = [lerp(a, b, w) for a, b in zip(cv, cm)]
//!             den = max(sum(rv) / rows, eps1)
//!             var = [rv[i] * cv[j] / den for i in range(rows) for j in range(cols)]
//!         else:
//!             v = [lerp(a, gi * gi, w) for a, gi in zip(v, g)]
//!             var = v
//!         u = [gi / math.sqrt(max(vi, eps1 * eps1)) for gi, vi in zip(g, var)]
//!         denom = max(1.0, math.sqrt(sum(x * x for x in u)) / (math.sqrt(4) * d))
//!         p = [pi - alpha / denom * ui for pi, ui in zip(p, u)]
//!     return p
//!
//! def matmul(A, B):
//!     return [[sum(A[i][k] * B[k][j] for k in range(len(B))) for j in range(len(B[0]))] for i in range(len(A))]
//!
//! def T(A):
//!     return [list(r) for r in zip(*A)]
//!
//! def ns(U, coef=(3.4445, -4.775, 2.0315), eps=1e-7, steps=5):
//!     a, b, c = coef
//!     tall = len(U) > len(U[0])
//!     X = T(U) if tall else [r[:] for r in U]
//!     n = max(math.sqrt(sum(x * x for r in X for x in r)), eps)
//!     X = [[x / n for x in r] for r in X]
//!     for _ in range(steps):
//!         A = matmul(X, T(X))
//!         AA = matmul(A, A)
//!         B = [[b * A[i][j] + c * AA[i][j] for j in range(len(A))] for i in range(len(A))]
//!         BX = matmul(B, X)
//!         X = [[a * X[i][j] + BX[i][j] for j in range(len(X[0]))] for i in range(len(X))]
//!     return T(X) if tall else X
//!
//! def muon(lr=0.02, wd=0.1, mu=0.95, rows=1, cols=4, steps=5):
//!     # torch.optim.Muon (f64 Newton-Schulz) on P0 as a rows x cols matrix
//!     p = P0[:]; buf = [0.0] * 4
//!     for g in G:
//!         buf = [lerp(bi, gi, 1 - mu) for bi, gi in zip(buf, g)]
//!         u = [lerp(gi, bi, mu) for gi, bi in zip(g, buf)]
//!         X = ns([u[i * cols:(i + 1) * cols] for i in range(rows)], steps=steps)
//!         x = [v for r in X for v in r]
//!         adj = lr * math.sqrt(max(1, rows / cols))
//!         p = [pi * (1 - lr * wd) - adj * xi for pi, xi in zip(p, x)]
//!     return p
//!
//! def lbfgs(lr=1.0, max_iter=3, a=(1.0, 2.0, 3.0, 4.0), hist=100):
//!     # torch.optim.LBFGS.step without line search, f(p) = sum(a_i p_i^2 / 2)
//!     p = P0[:]
//!     grad = lambda p: [ai * pi for ai, pi in zip(a, p)]
//!     dot = lambda u, v: sum(x * y for x, y in zip(u, v))
//!     g = grad(p); dirs = []; stps = []; ro = []; H = 1.0; d = None; t = None; prev = None
//!     for n_iter in range(1, max_iter + 1):
//!         if n_iter == 1:
//!             d = [-x for x in g]
//!         else:
//!             y = [x - z for x, z in zip(g, prev)]; s = [x * t for x in d]; ys = dot(y, s)
//!             if ys > 1e-10:
//!                 dirs.append(y); stps.append(s); ro.append(1 / ys); H = ys / dot(y, y)
//!             q = [-x for x in g]; al = [0.0] * len(dirs)
//!             for i in range(len(dirs) - 1, -1, -1):
//!                 al[i] = dot(stps[i], q) * ro[i]
//!                 q = [x - al[i] * yy for x, yy in zip(q, dirs[i])]
//!             d = [x * H for x in q]
//!             for i in range(len(dirs)):
//!                 be = dot(dirs[i], d) * ro[i]
//!                 d = [x + (al[i] - be) * ss for x, ss in zip(d, stps[i])]
//!         prev = g[:]
//!         t = min(1.0, 1.0 / sum(abs(x) for x in g)) * lr if n_iter == 1 else lr
//!         p = [pi + t * di for pi, di in zip(p, d)]
//!         if n_iter != max_iter:
//!             g = grad(p)
//!     return p
//!
//! cases = {
//!     "sgd lr=0.1 wd=0.01": sgd(0.1, wd=0.01),
//!     "sgd lr=0.1 wd=0.01 maximize": sgd(0.1, wd=0.01, maximize=True),
//!     "momentum lr=0.1 mu=0.9 damp=0.1 wd=0.01": sgd(0.1, momentum=0.9, dampening=0.1, wd=0.01),
//!     "nesterov lr=0.1 mu=0.9 wd=0.01": sgd(0.1, momentum=0.9, wd=0.01, nesterov=True),
//!     "adagrad lr=0.1 lr_decay=0.01 wd=0.01 init=0.1": adagrad(0.1, lr_decay=0.01, wd=0.01, init=0.1),
//!     "adagrad default maximize": adagrad(0.01, maximize=True),
//!     "rmsprop default": rmsprop(0.01),
//!     "rmsprop lr=0.01 alpha=0.9 wd=0.01 mu=0.5 centered": rmsprop(0.01, alpha=0.9, wd=0.01, momentum=0.5, centered=True),
//!     "adam lr=0.01": adam(0.01),
//!     "adam lr=0.01 wd=0.01 amsgrad": adam(0.01, wd=0.01, amsgrad=True),
//!     "adam lr=0.01 clip=0.5": adam(0.01, clip=0.5),
//!     "adamw lr=0.01 wd=0.1": adam(0.01, wd=0.1, decoupled=True),
//!     "adamw lr=0.01 wd=0.1 maximize amsgrad": adam(0.01, wd=0.1, decoupled=True, maximize=True, amsgrad=True),
//!     "adamax default": adamax(2e-3),
//!     "adamax lr=0.01 b1=0.8 wd=0.01 maximize": adamax(0.01, b1=0.8, wd=0.01, maximize=True),
//!     "lion lr=0.01": lion(0.01),
//!     "lion lr=0.01 wd=0.1 b1=0.5 maximize": lion(0.01, b1=0.5, wd=0.1, maximize=True),
//!     "adadelta default": adadelta(),
//!     "adadelta lr=0.5 rho=0.8 wd=0.01 maximize": adadelta(0.5, rho=0.8, wd=0.01, maximize=True),
//!     "nadam lr=0.01": nadam(0.01),
//!     "nadam lr=0.01 wd=0.1 decoupled maximize": nadam(0.01, wd=0.1, decoupled=True, maximize=True),
//!     "radam lr=0.01 (three momentum steps)": radam(0.01),
//!     "radam lr=0.01 wd=0.1 (seven steps: G twice and G[0], rectified from step 6)": radam(0.01, wd=0.1, steps=G + G + G[:1]),
//!     "rprop default": rprop(),
//!     "rprop lr=0.1 etas=(0.3,1.5) sizes=(0.05,0.12) maximize": rprop(0.1, etas=(0.3, 1.5), sizes=(0.05, 0.12), maximize=True),
//!     "asgd lr=0.1 lambd=0.1 wd=0.01": asgd(0.1, lambd=0.1, wd=0.01)[0],
//!     "asgd lr=0.1 t0=0 (ax)": asgd(0.1, t0=0)[1],
//!     "asgd lr=0.1 t0=0 (p)": asgd(0.1, t0=0)[0],
//!     "schedule-free-adamw lr=0.01 (y)": sfadamw(0.01)[0],
//!     "schedule-free-adamw lr=0.01 (x)": sfadamw(0.01)[1],
//!     "schedule-free-adamw lr=0.01 wd=0.1 warmup=2 r=0.5 (x)": sfadamw(0.01, wd=0.1, warmup=2, r=0.5)[1],
//!     "adafactor default (vector)": adafactor(),
//!     "adafactor lr=0.1 wd=0.1 (2x2 matrix)": adafactor(0.1, wd=0.1, shape=(2, 2)),
//!     "muon lr=0.02 (1x4 matrix)": muon(),
//!     "muon lr=0.05 wd=0 (4x1 matrix, tall)": muon(0.05, wd=0.0, rows=4, cols=1),
//!     "muon lr=0.02 (2x2 matrix)": muon(rows=2, cols=2),
//!     "lbfgs lr=1 max_iter=3 on sum(a p^2/2), a=(1,2,3,4)": lbfgs(),
//! }
//! for k, v in cases.items():
//!     print(f"{k}: [{', '.join(f'{x:.9}' for x in v)}]")
//! ```
//!
//! Its output (9 significant digits) is pasted below; descent computes in f32, so
//! the comparison allows `|got − want| ≤ 1e-6·(1 + |want|)` (a few f32 ulps of the
//! O(1) parameters accumulated over three steps).

use descent_optim::Compute;
use descent_optim::*;

const P0: [f32; 4] = [0.5, -1.5, 2.0, -0.25];
const G: [[f32; 4]; 3] = [
    [0.3, -0.2, 0.5, -1.0],
    [-0.1, 0.4, 0.25, 0.8],
    [0.6, -0.7, -0.3, 0.05],
];

fn run(opt: impl Optimizer, want: [f64; 4]) {
    run_on(opt, &G, want);
}

/// Steps `opt` through `grads` from `P0`, checks the weights against
/// `want`, and returns the optimizer for a look at its state.
fn run_on<O: Optimizer>(mut opt: O, grads: &[[f32; 4]], want: [f64; 4]) -> O {
    let mut p = P0;
    for g in grads {
        opt.step(&Compute::serial(), &mut p, g).unwrap();
    }
    assert_eq!(opt.steps(), grads.len() as u64);
    close(opt.name(), &p, want);
    opt
}

fn close(name: &str, p: &[f32], want: [f64; 4]) {
    for (i, (&got, &w)) in p.iter().zip(&want).enumerate() {
        let err = (got as f64 - w).abs();
        assert!(
            err <= 1e-6 * (1.0 + w.abs()),
            "{name}: p[{i}] = {got} but PyTorch gives {w} (err {err:e})"
        );
    }
}

/// `sgd lr=0.1 wd=0.01`
#[test]
fn sgd_with_weight_decay() {
    run(
        Sgd::new(SgdConfig {
            lr: 0.1,
            weight_decay: 0.01,
            ..Default::default()
        })
        .unwrap(),
        [0.418551469, -1.44550448, 1.94913095, -0.23437065],
    );
}

/// `sgd lr=0.1 wd=0.01 maximize`
#[test]
fn sgd_maximize_negates_before_weight_decay() {
    run(
        Sgd::new(SgdConfig {
            lr: 0.1,
            weight_decay: 0.01,
            maximize: true,
            ..Default::default()
        })
        .unwrap(),
        [0.57845153, -1.54550452, 2.03888105, -0.26413085],
    );
}

/// `momentum lr=0.1 mu=0.9 damp=0.1 wd=0.01`
#[test]
fn momentum_with_dampening_first_step_buffer_is_g() {
    run(
        Sgd::new(SgdConfig {
            lr: 0.1,
            momentum: 0.9,
            dampening: 0.1,
            weight_decay: 0.01,
            ..Default::default()
        })
        .unwrap(),
        [0.37923659, -1.44326233, 1.83830967, -0.119248176],
    );
}

/// `nesterov lr=0.1 mu=0.9 wd=0.01`
#[test]
fn nesterov() {
    run(
        Sgd::new(SgdConfig {
            lr: 0.1,
            momentum: 0.9,
            weight_decay: 0.01,
            nesterov: true,
            ..Default::default()
        })
        .unwrap(),
        [0.306185085, -1.39462877, 1.80183461, -0.131131539],
    );
}

/// `adagrad lr=0.1 lr_decay=0.01 wd=0.01 init=0.1`
#[test]
fn adagrad_lr_decay_initial_accumulator() {
    run(
        Adagrad::new(AdagradConfig {
            lr: 0.1,
            lr_decay: 0.01,
            weight_decay: 0.01,
            initial_accumulator_value: 0.1,
            ..Default::default()
        })
        .unwrap(),
        [0.372985628, -1.43599395, 1.91268121, -0.218071656],
    );
}

/// `adagrad default maximize`
#[test]
fn adagrad_default_maximize() {
    run(
        Adagrad::new(AdagradConfig {
            maximize: true,
            ..Default::default()
        })
        .unwrap(),
        [0.51568424, -1.50948274, 2.00974347, -0.253362912],
    );
}

/// `rmsprop default`
#[test]
fn rmsprop_default() {
    run(
        Rmsprop::new(RmspropConfig::default()).unwrap(),
        [0.343118513, -1.40511554, 1.90271774, -0.216593827],
    );
}

/// `rmsprop lr=0.01 alpha=0.9 wd=0.01 mu=0.5 centered`
#[test]
fn rmsprop_centered_momentum() {
    run(
        Rmsprop::new(RmspropConfig {
            lr: 0.01,
            alpha: 0.9,
            weight_decay: 0.01,
            momentum: 0.5,
            centered: true,
            ..Default::default()
        })
        .unwrap(),
        [0.426175022, -1.45602152, 1.93169382, -0.223445607],
    );
}

/// `adam lr=0.01`
#[test]
fn adam() {
    run(
        Adam::new(AdamConfig {
            lr: 0.01,
            ..Default::default()
        })
        .unwrap(),
        [0.478904, -1.48979978, 1.97735307, -0.239219209],
    );
}

/// `adam lr=0.01 wd=0.01 amsgrad`
#[test]
fn adam_l2_amsgrad() {
    run(
        Adam::new(AdamConfig {
            lr: 0.01,
            weight_decay: 0.01,
            amsgrad: true,
            ..Default::default()
        })
        .unwrap(),
        [0.478661599, -1.48910688, 1.9768448, -0.239159645],
    );
}

/// `adam lr=0.01 clip=0.5`
#[test]
fn adam_clip_grad_norm() {
    run(
        Adam::new(AdamConfig {
            lr: 0.01,
            clip_norm: Some(0.5),
            ..Default::default()
        })
        .unwrap(),
        [0.479825952, -1.49090537, 1.97736969, -0.241259203],
    );
}

/// `adamw lr=0.01 wd=0.1`
#[test]
fn adamw_decoupled() {
    run(
        Adam::new(AdamConfig {
            lr: 0.01,
            weight_decay: 0.1,
            ..AdamConfig::adamw()
        })
        .unwrap(),
        [0.477429491, -1.4853206, 1.97138838, -0.23849053],
    );
}

/// `adamw lr=0.01 wd=0.1 maximize amsgrad`
#[test]
fn adamw_maximize_amsgrad() {
    run(
        Adam::new(AdamConfig {
            lr: 0.01,
            weight_decay: 0.1,
            maximize: true,
            amsgrad: true,
            ..AdamConfig::adamw()
        })
        .unwrap(),
        [0.519573508, -1.50568839, 2.01662361, -0.260010969],
    );
}

/// `adamax default`
#[test]
fn adamax_defaults() {
    run(
        Adamax::new(AdamaxConfig::default()).unwrap(),
        [0.496476713, -1.49804969, 1.99603678, -0.247865052],
    );
}

/// `adamax lr=0.01 b1=0.8 wd=0.01 maximize`
#[test]
fn adamax_with_decay_and_maximize() {
    run(
        Adamax::new(AdamaxConfig {
            lr: 0.01,
            beta1: 0.8,
            weight_decay: 0.01,
            maximize: true,
            ..AdamaxConfig::default()
        })
        .unwrap(),
        [0.517287451, -1.50924502, 2.01857496, -0.259742659],
    );
}

/// `lion lr=0.01`: every coordinate moves by exactly ±lr a step.
#[test]
fn lion_moves_by_the_sign() {
    run(
        Lion::new(LionConfig {
            lr: 0.01,
            ..LionConfig::default()
        })
        .unwrap(),
        [0.49, -1.49, 1.99, -0.26],
    );
}

/// `lion lr=0.01 wd=0.1 b1=0.5 maximize`
#[test]
fn lion_with_decoupled_decay_and_maximize() {
    run(
        Lion::new(LionConfig {
            lr: 0.01,
            beta1: 0.5,
            weight_decay: 0.1,
            maximize: true,
            ..LionConfig::default()
        })
        .unwrap(),
        [0.508491509, -1.50549451, 2.00397601, -0.23924076],
    );
}

/// `adadelta default`
#[test]
fn adadelta_defaults() {
    run(
        Adadelta::new(AdadeltaConfig::default()).unwrap(),
        [0.494164846, -1.49578217, 1.99720727, -0.249942474],
    );
}

/// `adadelta lr=0.5 rho=0.8 wd=0.01 maximize`
#[test]
fn adadelta_with_decay_and_maximize() {
    run(
        Adadelta::new(AdadeltaConfig {
            lr: 0.5,
            rho: 0.8,
            weight_decay: 0.01,
            maximize: true,
            ..AdadeltaConfig::default()
        })
        .unwrap(),
        [0.502013968, -1.50146254, 2.00087267, -0.249970983],
    );
}

/// `nadam lr=0.01`
#[test]
fn nadam() {
    run(
        Nadam::new(NadamConfig {
            lr: 0.01,
            ..NadamConfig::default()
        })
        .unwrap(),
        [0.481973581, -1.48918256, 1.98872889, -0.245856535],
    );
}

/// `nadam lr=0.01 wd=0.1 decoupled maximize`
#[test]
fn nadamw_maximize() {
    run(
        Nadam::new(NadamConfig {
            lr: 0.01,
            weight_decay: 0.1,
            decoupled_weight_decay: true,
            maximize: true,
            ..NadamConfig::default()
        })
        .unwrap(),
        [0.516509507, -1.50630989, 2.00525075, -0.253379134],
    );
}

/// `radam lr=0.01 (three momentum steps)`: ρₜ ≤ 5, so no adaptive step yet.
#[test]
fn radam_starts_with_momentum_steps() {
    run(
        Radam::new(RadamConfig {
            lr: 0.01,
            ..RadamConfig::default()
        })
        .unwrap(),
        [0.493326665, -1.4973055, 1.99009808, -0.239326083],
    );
}

/// `radam lr=0.01 wd=0.1 (seven steps: G twice and G[0], rectified from
/// step 6)`
#[test]
fn radam_rectified_from_step_six() {
    let grads: Vec<[f32; 4]> = G.iter().chain(&G).chain(&G[..1]).copied().collect();
    run_on(
        Radam::new(RadamConfig {
            lr: 0.01,
            weight_decay: 0.1,
            ..RadamConfig::default()
        })
        .unwrap(),
        &grads,
        [0.485636368, -1.48710121, 1.97503218, -0.234663973],
    );
}

/// `rprop default`: steps 0.01, then 0.012 where the sign held, and after a
/// flip no move (the gradient is zeroed) with the step halved.
#[test]
fn rprop_defaults() {
    run(
        Rprop::new(RpropConfig::default()).unwrap(),
        [0.485, -1.485, 1.978, -0.245],
    );
}

/// `rprop lr=0.1 etas=(0.3,1.5) sizes=(0.05,0.12) maximize`: the growth is
/// clamped at 0.12.
#[test]
fn rprop_clamps_its_step_sizes() {
    run(
        Rprop::new(RpropConfig {
            lr: 0.1,
            eta_minus: 0.3,
            eta_plus: 1.5,
            step_min: 0.05,
            step_max: 0.12,
            maximize: true,
            ..RpropConfig::default()
        })
        .unwrap(),
        [0.65, -1.65, 2.22, -0.3],
    );
}

/// `asgd lr=0.1 lambd=0.1 wd=0.01`
#[test]
fn asgd_decays_its_step() {
    run(
        Asgd::new(AsgdConfig {
            lr: 0.1,
            lambd: 0.1,
            weight_decay: 0.01,
            ..AsgdConfig::default()
        })
        .unwrap(),
        [0.40515189, -1.40213746, 1.89129501, -0.227534756],
    );
}

/// `asgd lr=0.1 t0=0 (p)` and `(ax)`: μ₃ = 1/max(1, 2 − t₀) = ½, so
/// step 3 averages: `ax` is the mean of the iterates after steps 2 and 3.
#[test]
fn asgd_averages_after_t0() {
    let mut opt = Asgd::new(AsgdConfig {
        lr: 0.1,
        t0: 0.0,
        ..AsgdConfig::default()
    })
    .unwrap();
    let mut p = P0;
    for g in &G {
        opt.step(&Compute::serial(), &mut p, g).unwrap();
    }
    close(
        "asgd p",
        &p,
        [0.419986325, -1.44995575, 1.95494099, -0.234993025],
    );
    let st = opt.export_state();
    let ax = &st.buffers.iter().find(|(n, _)| n == "ax").unwrap().1;
    close(
        "asgd ax",
        ax,
        [0.449988275, -1.48496283, 1.93995084, -0.232494213],
    );
}

fn bound<O: Optimizer>(mut o: O, blocks: &[Block]) -> O {
    o.bind(blocks).unwrap();
    o
}

/// `schedule-free-adamw lr=0.01 (y)` and `(x)`: the weights stepped are y,
/// the model is x.
#[test]
fn schedule_free_y_and_x() {
    let o = run_on(
        ScheduleFreeAdamw::new(ScheduleFreeConfig {
            lr: 0.01,
            ..ScheduleFreeConfig::default()
        })
        .unwrap(),
        &G,
        [0.487003874, -1.49301655, 1.98884891, -0.246454882],
    );
    let mut y = P0;
    let mut o2 = ScheduleFreeAdamw::new(*o.config()).unwrap();
    for g in &G {
        o2.step(&Compute::serial(), &mut y, g).unwrap();
    }
    let x = o2.eval_weights(&y).unwrap();
    close(
        "schedule-free x",
        &x,
        [0.487875981, -1.49356773, 1.98851363, -0.246115319],
    );
}

/// `schedule-free-adamw lr=0.01 wd=0.1 warmup=2 r=0.5 (x)`
#[test]
fn schedule_free_warmup_decay_r() {
    let mut o = ScheduleFreeAdamw::new(ScheduleFreeConfig {
        lr: 0.01,
        weight_decay: 0.1,
        warmup_steps: 2,
        r: 0.5,
        ..ScheduleFreeConfig::default()
    })
    .unwrap();
    let mut y = P0;
    for g in &G {
        o.step(&Compute::serial(), &mut y, g).unwrap();
    }
    close(
        "schedule-free x",
        &o.eval_weights(&y).unwrap(),
        [0.490369326, -1.49637368, 1.98945742, -0.25304886],
    );
}

/// `adafactor default (vector)`: unbound, the buffer is one vector.
#[test]
fn adafactor_vector() {
    run(
        Adafactor::new(AdafactorConfig::default()).unwrap(),
        [0.476307975, -1.48658457, 1.98898117, -0.249467749],
    );
}

/// `adafactor lr=0.1 wd=0.1 (2x2 matrix)`: factored moments.
#[test]
fn adafactor_matrix() {
    let o = Adafactor::new(AdafactorConfig {
        lr: 0.1,
        weight_decay: 0.1,
        ..AdafactorConfig::default()
    })
    .unwrap();
    run(
        bound(
            o,
            &[Block::Matrix {
                start: 0,
                rows: 2,
                cols: 2,
            }],
        ),
        [0.189823371, -1.38177695, 1.84580931, -0.242998432],
    );
}

fn muon_on(lr: f32, wd: f32, rows: usize, cols: usize, want: [f64; 4]) {
    let o = Muon::new(MuonConfig {
        lr,
        weight_decay: wd,
        ..MuonConfig::default()
    })
    .unwrap();
    run(
        bound(
            o,
            &[Block::Matrix {
                start: 0,
                rows,
                cols,
            }],
        ),
        want,
    );
}

/// `muon lr=0.02 (1x4 matrix)`, `muon lr=0.02 (2x2 matrix)` and
/// `muon lr=0.05 wd=0 (4x1 matrix, tall)`: the wide, square and
/// transposed orientations, each with its adjusted lr.
#[test]
fn muon_wide_square_tall() {
    muon_on(
        0.02,
        0.1,
        1,
        4,
        [0.482200134, -1.48590004, 1.97150566, -0.243451674],
    );
    muon_on(
        0.02,
        0.1,
        2,
        2,
        [0.480225577, -1.50543858, 1.9601837, -0.247394296],
    );
    muon_on(
        0.05,
        0.0,
        4,
        1,
        [0.425891474, -1.47442732, 1.91718903, -0.224577163],
    );
}

/// `lbfgs lr=1 max_iter=3 on sum(a p^2/2), a=(1,2,3,4)`: one step of three
/// iterations through the closure (the first along −g with
/// t = 1/Σ|g|, then two quasi-Newton directions). `max_eval` is raised
/// from torch's default ⌊3·5/4⌋ = 3, which would stop after the second
/// iteration's evaluation.
#[test]
fn lbfgs_three_iterations_on_a_quadratic() {
    let mut o = Lbfgs::new(LbfgsConfig {
        max_iter: 3,
        max_eval: Some(10),
        ..LbfgsConfig::default()
    })
    .unwrap();
    let a = [1.0f32, 2.0, 3.0, 4.0];
    let mut p = P0;
    let info = o
        .step(&mut p, |w: &[f32], g: &mut [f32]| {
            let mut f = 0.0;
            for i in 0..4 {
                g[i] = a[i] * w[i];
                f += 0.5 * a[i] * w[i] * w[i];
            }
            Ok::<f32, OptimError>(f)
        })
        .unwrap();
    assert_eq!((info.iters, info.evals), (3, 3));
    close(
        "lbfgs",
        &p,
        [0.127838874, -0.0168131231, -0.0135101612, 0.0178904567],
    );
}
