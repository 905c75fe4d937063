//! Averaged SGD (Polyak, Juditsky 1992), as `torch.optim.ASGD`: SGD with a
//! decaying step ηₜ and a running average of the iterates, `ax`.

use super::{decimal, drive, l2, l2_scalar, GradIn};
use crate::ops::same_len;
use crate::simd::Vector;

/// Per-step constants of ASGD.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AsgdStep {
    /// ηₜ, this step's step size (PyTorch's `eta` state, an `f32`).
    pub eta: f32,
    /// `1 − λ·ηₜ`, the decay term (λ is `lambd`), in `f64` rounded once.
    pub decay: f32,
    /// μₜ, the averaging weight (PyTorch's `mu` state, an `f32`).
    pub mu: f32,
    /// L2 weight decay (added to the gradient).
    pub weight_decay: f32,
    /// Gradient factor `(maximize ? −1 : 1)·clip` (see [`super::grad_scale`]).
    pub grad_scale: f32,
}

impl AsgdStep {
    /// The constants of a step with PyTorch's state `eta` and `mu`.
    pub fn new(eta: f32, mu: f32, lambd: f32, weight_decay: f32, grad_scale: f32) -> Self {
        AsgdStep {
            eta,
            decay: (1.0 - decimal(lambd) * eta as f64) as f32,
            mu,
            weight_decay,
            grad_scale,
        }
    }
}

/// ASGD, in place: `g ← s·g + λ_wd·p`; `p ← p·(1 − λ·η)`; `p ← p − η·g`;
/// then `ax ← ax + μ·(p − ax)`, or `ax ← p` while `μ = 1` (PyTorch's copy,
/// which is what the formula gives, without its rounding).
pub fn asgd<V: Vector>(params: &mut [f32], grads: impl GradIn<V>, ax: &mut [f32], h: &AsgdStep) {
    let gs = V::splat(h.grad_scale);
    let wd = V::splat(h.weight_decay);
    let has_l2 = h.weight_decay != 0.0;
    let (eta, decay, mu) = (V::splat(h.eta), V::splat(h.decay), V::splat(h.mu));
    if h.mu == 1.0 {
        drive("asgd", params, grads, [ax], |p, g, [a]| {
            let g = l2(has_l2, wd, p, gs * g);
            let p = eta.mul_neg_add(g, p * decay);
            *a = p;
            p
        })
    } else {
        drive("asgd", params, grads, [ax], |p, g, [a]| {
            let g = l2(has_l2, wd, p, gs * g);
            let p = eta.mul_neg_add(g, p * decay);
            *a += (p - *a) * mu;
            p
        })
    }
}

/// Scalar twin of [`asgd`].
pub fn asgd_scalar(params: &mut [f32], grads: &[f32], ax: &mut [f32], h: &AsgdStep) {
    let n = params.len();
    same_len("asgd", n, grads.len());
    same_len("asgd", n, ax.len());
    for i in 0..n {
        let g = l2_scalar(h.weight_decay, params[i], h.grad_scale * grads[i]);
        let p = params[i] * h.decay - h.eta * g;
        params[i] = p;
        ax[i] = if h.mu == 1.0 {
            p
        } else {
            ax[i] + (p - ax[i]) * h.mu
        };
    }
}
