//! Lion (Chen et al. 2023, "Symbolic Discovery of Optimization
//! Algorithms", <https://arxiv.org/abs/2302.06675>), as the `lion-pytorch`
//! package computes it.

use super::drive;
use super::{decimal, one_minus, GradIn};
use crate::ops::same_len;
use crate::simd::Vector;

/// Per-step constants of Lion.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LionStep {
    /// Learning rate η.
    pub lr: f32,
    /// β₁, the interpolation of the update direction.
    pub beta1: f32,
    /// β₂, the decay of the momentum.
    pub beta2: f32,
    /// The decoupled decay factor `1 − η·λ`, computed in `f64` and rounded
    /// once (see [`LionStep::new`]).
    pub decay: f32,
    /// Gradient factor `(maximize ? −1 : 1)·clip` (see [`super::grad_scale`]).
    pub grad_scale: f32,
}

impl LionStep {
    /// The constants for `lr`, `(β₁, β₂)`, weight decay `λ` and `grad_scale`.
    pub fn new(lr: f32, beta1: f32, beta2: f32, weight_decay: f32, grad_scale: f32) -> Self {
        LionStep {
            lr,
            beta1,
            beta2,
            decay: (1.0 - decimal(lr) * decimal(weight_decay)) as f32,
            grad_scale,
        }
    }
}

/// Lion, in place: `g ← s·g`; `p ← p·(1 − η·λ)`;
/// `c = β₁·m + (1 − β₁)·g`; `p ← p − η·sign(c)`;
/// `m ← β₂·m + (1 − β₂)·g`.
pub fn lion<V: Vector>(
    params: &mut [f32],
    grads: impl GradIn<V>,
    exp_avg: &mut [f32],
    h: &LionStep,
) {
    let gs = V::splat(h.grad_scale);
    let lr = V::splat(h.lr);
    let decay = V::splat(h.decay);
    let (b1, omb1) = (V::splat(h.beta1), V::splat(one_minus(h.beta1)));
    let (b2, omb2) = (V::splat(h.beta2), V::splat(one_minus(h.beta2)));
    drive("lion", params, grads, [exp_avg], |p, g, [m]| {
        let g = gs * g;
        let c = omb1.mul_add(g, b1 * *m);
        *m = omb2.mul_add(g, b2 * *m);
        lr.mul_neg_add(c.sign(), p * decay)
    });
}

/// Scalar twin of [`lion`].
pub fn lion_scalar(params: &mut [f32], grads: &[f32], exp_avg: &mut [f32], h: &LionStep) {
    let n = params.len();
    same_len("lion", n, grads.len());
    same_len("lion", n, exp_avg.len());
    let one_minus_beta1 = one_minus(h.beta1);
    let one_minus_beta2 = one_minus(h.beta2);
    for i in 0..n {
        let g = h.grad_scale * grads[i];
        let c = h.beta1 * exp_avg[i] + one_minus_beta1 * g;
        exp_avg[i] = h.beta2 * exp_avg[i] + one_minus_beta2 * g;
        let sign = if c > 0.0 {
            1.0
        } else if c < 0.0 {
            -1.0
        } else if c.is_nan() {
            c
        } else {
            0.0
        };
        params[i] = params[i] * h.decay - h.lr * sign;
    }
}
