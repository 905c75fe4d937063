//! SGD and SGD with momentum (heavy ball or Nesterov), as `torch.optim.SGD`.

use super::{drive, l2, l2_scalar, one_minus, GradIn};
use crate::ops::same_len;
use crate::simd::Vector;

/// Per-step constants of plain SGD (`momentum = 0`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SgdStep {
    /// Learning rate γ.
    pub lr: f32,
    /// L2 weight decay λ (added to the gradient).
    pub weight_decay: f32,
    /// Gradient factor `(maximize ? −1 : 1)·clip` (see [`super::grad_scale`]).
    pub grad_scale: f32,
}

/// Plain SGD, in place: `g ← s·g + λ·p`, `p ← p − γ·g`.
pub fn sgd<V: Vector>(params: &mut [f32], grads: impl GradIn<V>, h: &SgdStep) {
    let lr = V::splat(h.lr);
    let wd = V::splat(h.weight_decay);
    let has_wd = h.weight_decay != 0.0;
    let gs = V::splat(h.grad_scale);
    drive("sgd", params, grads, [], |p, g, _| {
        let g = l2(has_wd, wd, p, gs * g);
        lr.mul_neg_add(g, p)
    });
}

/// Scalar twin of [`sgd`].
pub fn sgd_scalar(params: &mut [f32], grads: &[f32], h: &SgdStep) {
    same_len("sgd", params.len(), grads.len());
    for (p, &g) in params.iter_mut().zip(grads) {
        let g = l2_scalar(h.weight_decay, *p, h.grad_scale * g);
        *p -= h.lr * g;
    }
}

/// Per-step constants of SGD with momentum.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MomentumStep {
    /// Learning rate γ.
    pub lr: f32,
    /// L2 weight decay λ (added to the gradient).
    pub weight_decay: f32,
    /// Momentum μ.
    pub momentum: f32,
    /// Dampening τ.
    pub dampening: f32,
    /// Nesterov: step along `g + μ·b` instead of `b`.
    pub nesterov: bool,
    /// True on the first step: PyTorch then sets `b ← g` (no dampening) and
    /// ignores the buffer's previous contents.
    pub first_step: bool,
    /// Gradient factor `(maximize ? −1 : 1)·clip` (see [`super::grad_scale`]).
    pub grad_scale: f32,
}

/// SGD with momentum, in place, PyTorch's form:
/// `g ← s·g + λ·p`; `b ← g` on the first step, else `b ← μ·b + (1 − τ)·g`;
/// then `p ← p − γ·(g + μ·b)` (Nesterov) or `p ← p − γ·b`.
pub fn momentum<V: Vector>(
    params: &mut [f32],
    grads: impl GradIn<V>,
    buf: &mut [f32],
    h: &MomentumStep,
) {
    let lr = V::splat(h.lr);
    let wd = V::splat(h.weight_decay);
    let has_wd = h.weight_decay != 0.0;
    let gs = V::splat(h.grad_scale);
    let mu = V::splat(h.momentum);
    let omd = V::splat(one_minus(h.dampening));
    let (first, nesterov) = (h.first_step, h.nesterov);
    drive("momentum", params, grads, [buf], |p, g, [b]| {
        let g = l2(has_wd, wd, p, gs * g);
        *b = if first { g } else { mu.mul_add(*b, omd * g) };
        let d = if nesterov { mu.mul_add(*b, g) } else { *b };
        lr.mul_neg_add(d, p)
    });
}

/// Scalar twin of [`momentum`].
pub fn momentum_scalar(params: &mut [f32], grads: &[f32], buf: &mut [f32], h: &MomentumStep) {
    same_len("momentum", params.len(), grads.len());
    same_len("momentum", params.len(), buf.len());
    let one_minus_dampening = one_minus(h.dampening);
    for ((p, &g), b) in params.iter_mut().zip(grads).zip(buf.iter_mut()) {
        let g = l2_scalar(h.weight_decay, *p, h.grad_scale * g);
        *b = if h.first_step {
            g
        } else {
            h.momentum * *b + one_minus_dampening * g
        };
        let d = if h.nesterov { g + h.momentum * *b } else { *b };
        *p -= h.lr * d;
    }
}
