//! AdaGrad, as `torch.optim.Adagrad`.

use super::{decimal, drive, l2, l2_scalar, GradIn};
use crate::ops::same_len;
use crate::simd::Vector;

/// Per-step constants of AdaGrad.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdagradStep {
    /// This step's learning rate `γ_t = γ / (1 + (t − 1)·η)` (η = `lr_decay`,
    /// t = 1 on the first step), computed by the caller.
    pub clr: f32,
    /// L2 weight decay λ (added to the gradient).
    pub weight_decay: f32,
    /// ε, added to `√s` (outside the square root, as PyTorch).
    pub eps: f32,
    /// Gradient factor `(maximize ? −1 : 1)·clip` (see [`super::grad_scale`]).
    pub grad_scale: f32,
}

impl AdagradStep {
    /// The decayed learning rate of step `t` (1-based), computed in `f64`:
    /// `γ / (1 + (t − 1)·η)`.
    pub fn decayed_lr(lr: f32, lr_decay: f32, t: u64) -> f32 {
        (decimal(lr) / (1.0 + (t.saturating_sub(1)) as f64 * decimal(lr_decay))) as f32
    }
}

/// AdaGrad, in place: `g ← s·g + λ·p`, `S ← S + g²`,
/// `p ← p − γ_t·g / (√S + ε)`. The accumulator `S` starts at PyTorch's
/// `initial_accumulator_value` (the caller fills it).
pub fn adagrad<V: Vector>(
    params: &mut [f32],
    grads: impl GradIn<V>,
    sum: &mut [f32],
    h: &AdagradStep,
) {
    let clr = V::splat(h.clr);
    let wd = V::splat(h.weight_decay);
    let has_wd = h.weight_decay != 0.0;
    let gs = V::splat(h.grad_scale);
    let eps = V::splat(h.eps);
    drive("adagrad", params, grads, [sum], |p, g, [s]| {
        let g = l2(has_wd, wd, p, gs * g);
        *s = g.mul_add(g, *s);
        clr.mul_neg_add(g / (s.sqrt() + eps), p)
    });
}

/// Scalar twin of [`adagrad`].
pub fn adagrad_scalar(params: &mut [f32], grads: &[f32], sum: &mut [f32], h: &AdagradStep) {
    same_len("adagrad", params.len(), grads.len());
    same_len("adagrad", params.len(), sum.len());
    for ((p, &g), s) in params.iter_mut().zip(grads).zip(sum.iter_mut()) {
        let g = l2_scalar(h.weight_decay, *p, h.grad_scale * g);
        *s += g * g;
        *p -= h.clr * (g / (s.sqrt() + h.eps));
    }
}
