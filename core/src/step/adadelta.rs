//! Adadelta (Zeiler 2012), as `torch.optim.Adadelta`.

use super::{drive, l2, l2_scalar, one_minus, GradIn};
use crate::ops::same_len;
use crate::simd::Vector;

/// Per-step constants of Adadelta.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdadeltaStep {
    /// Learning rate γ (a factor on the computed delta; 1 in the paper).
    pub lr: f32,
    /// ρ, decay of both running averages.
    pub rho: f32,
    /// ε, added inside both square roots.
    pub eps: f32,
    /// L2 weight decay λ (added to the gradient).
    pub weight_decay: f32,
    /// Gradient factor `(maximize ? −1 : 1)·clip` (see [`super::grad_scale`]).
    pub grad_scale: f32,
}

/// Adadelta, in place: `g ← s·g + λ·p`; `v ← ρ·v + (1 − ρ)·g²`;
/// `Δ = √(u + ε) / √(v + ε) · g`; `u ← ρ·u + (1 − ρ)·Δ²`; `p ← p − γ·Δ`.
///
/// `square_avg` is `v`, `acc_delta` is `u` (torch's state names).
pub fn adadelta<V: Vector>(
    params: &mut [f32],
    grads: impl GradIn<V>,
    square_avg: &mut [f32],
    acc_delta: &mut [f32],
    h: &AdadeltaStep,
) {
    let gs = V::splat(h.grad_scale);
    let wd = V::splat(h.weight_decay);
    let has_l2 = h.weight_decay != 0.0;
    let (rho, omr) = (V::splat(h.rho), V::splat(one_minus(h.rho)));
    let eps = V::splat(h.eps);
    let lr = V::splat(h.lr);
    drive(
        "adadelta",
        params,
        grads,
        [square_avg, acc_delta],
        |p, g, [v, u]| {
            let g = l2(has_l2, wd, p, gs * g);
            *v = omr.mul_add(g * g, rho * *v);
            let delta = (*u + eps).sqrt() / (*v + eps).sqrt() * g;
            *u = omr.mul_add(delta * delta, rho * *u);
            lr.mul_neg_add(delta, p)
        },
    );
}

/// Scalar twin of [`adadelta`].
pub fn adadelta_scalar(
    params: &mut [f32],
    grads: &[f32],
    square_avg: &mut [f32],
    acc_delta: &mut [f32],
    h: &AdadeltaStep,
) {
    let n = params.len();
    same_len("adadelta", n, grads.len());
    same_len("adadelta", n, square_avg.len());
    same_len("adadelta", n, acc_delta.len());
    let one_minus_rho = one_minus(h.rho);
    for i in 0..n {
        let g = l2_scalar(h.weight_decay, params[i], h.grad_scale * grads[i]);
        square_avg[i] = h.rho * square_avg[i] + one_minus_rho * (g * g);
        let delta = (acc_delta[i] + h.eps).sqrt() / (square_avg[i] + h.eps).sqrt() * g;
        acc_delta[i] = h.rho * acc_delta[i] + one_minus_rho * (delta * delta);
        params[i] -= h.lr * delta;
    }
}
