//! Adamax, the infinity-norm variant of Adam (Kingma, Ba 2015, §7.1), as
//! `torch.optim.Adamax`.

use super::{bias_correction, decimal, drive, l2, l2_scalar, one_minus, GradIn};
use crate::ops::same_len;
use crate::simd::Vector;

/// Per-step constants of Adamax.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamaxStep {
    /// β₁, decay of the first moment.
    pub beta1: f32,
    /// β₂, decay of the infinity norm.
    pub beta2: f32,
    /// ε, added to `|g|` before the maximum.
    pub eps: f32,
    /// L2 weight decay λ (added to the gradient).
    pub weight_decay: f32,
    /// `γ / (1 − β₁ᵗ)`, computed in `f64` (see [`AdamaxStep::new`]).
    pub clr: f32,
    /// Gradient factor `(maximize ? −1 : 1)·clip` (see [`super::grad_scale`]).
    pub grad_scale: f32,
}

impl AdamaxStep {
    /// The constants of step `t` (1-based): `clr = γ / (1 − β₁ᵗ)`, the bias
    /// correction in `f64` as PyTorch computes it in Python floats.
    pub fn new(
        lr: f32,
        beta1: f32,
        beta2: f32,
        eps: f32,
        weight_decay: f32,
        t: u64,
        grad_scale: f32,
    ) -> Self {
        let bc1 = bias_correction(beta1, t);
        AdamaxStep {
            beta1,
            beta2,
            eps,
            weight_decay,
            clr: (decimal(lr) / bc1) as f32,
            grad_scale,
        }
    }
}

/// Adamax, in place: `g ← s·g + λ·p`; `m ← β₁·m + (1 − β₁)·g`;
/// `u ← max(β₂·u, |g| + ε)`; `p ← p − clr · m / u`.
pub fn adamax<V: Vector>(
    params: &mut [f32],
    grads: impl GradIn<V>,
    exp_avg: &mut [f32],
    exp_inf: &mut [f32],
    h: &AdamaxStep,
) {
    let gs = V::splat(h.grad_scale);
    let wd = V::splat(h.weight_decay);
    let has_l2 = h.weight_decay != 0.0;
    let (b1, omb1) = (V::splat(h.beta1), V::splat(one_minus(h.beta1)));
    let b2 = V::splat(h.beta2);
    let eps = V::splat(h.eps);
    let clr = V::splat(h.clr);
    drive(
        "adamax",
        params,
        grads,
        [exp_avg, exp_inf],
        |p, g, [m, u]| {
            let g = l2(has_l2, wd, p, gs * g);
            *m = omb1.mul_add(g, b1 * *m);
            // max(β₂·u, |g| + ε): `max` takes its second argument where either
            // is NaN, so a NaN gradient propagates as in torch's `amax`.
            *u = (b2 * *u).max(g.abs() + eps);
            clr.mul_neg_add(*m / *u, p)
        },
    );
}

/// Scalar twin of [`adamax`].
pub fn adamax_scalar(
    params: &mut [f32],
    grads: &[f32],
    exp_avg: &mut [f32],
    exp_inf: &mut [f32],
    h: &AdamaxStep,
) {
    let n = params.len();
    same_len("adamax", n, grads.len());
    same_len("adamax", n, exp_avg.len());
    same_len("adamax", n, exp_inf.len());
    let one_minus_beta1 = one_minus(h.beta1);
    for i in 0..n {
        let g = l2_scalar(h.weight_decay, params[i], h.grad_scale * grads[i]);
        exp_avg[i] = h.beta1 * exp_avg[i] + one_minus_beta1 * g;
        let a = h.beta2 * exp_inf[i];
        let b = g.abs() + h.eps;
        exp_inf[i] = if a > b { a } else { b };
        params[i] -= h.clr * (exp_avg[i] / exp_inf[i]);
    }
}
