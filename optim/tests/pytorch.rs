//! Three steps of each optimizer against PyTorch's documented algorithm
//! (seven for RAdam, to reach its rectified steps).
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
