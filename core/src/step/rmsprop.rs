//! RMSprop (plain, centered, with momentum), as `torch.optim.RMSprop`.

use super::{drive, l2, l2_scalar, one_minus, GradIn};
use crate::ops::same_len;
use crate::simd::Vector;

/// Per-step constants of RMSprop.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RmspropStep {
    /// Learning rate γ.
    pub lr: f32,
    /// Smoothing constant α of the running averages.
    pub alpha: f32,
    /// ε, added to the root (outside the square root, as PyTorch).
    pub eps: f32,
    /// L2 weight decay λ (added to the gradient).
    pub weight_decay: f32,
    /// Momentum μ (used only when a momentum buffer is passed).
    pub momentum: f32,
    /// Gradient factor `(maximize ? −1 : 1)·clip` (see [`super::grad_scale`]).
    pub grad_scale: f32,
}

/// RMSprop's state buffers. `grad_avg` is present for the centered variant,
/// `momentum_buffer` when momentum > 0 (both start at zero, as PyTorch).
#[derive(Debug)]
pub struct RmspropState<'a> {
    /// Running average of `g²`, `v`.
    pub square_avg: &'a mut [f32],
    /// Running average of `g`, `ḡ` (centered only).
    pub grad_avg: Option<&'a mut [f32]>,
    /// Momentum buffer `b`.
    pub momentum_buffer: Option<&'a mut [f32]>,
}

/// RMSprop, in place: `g ← s·g + λ·p`, `v ← α·v + (1 − α)·g²`;
/// centered: `ḡ ← α·ḡ + (1 − α)·g`, `d = √(v − ḡ²) + ε`, else `d = √v + ε`;
/// with momentum: `b ← μ·b + g/d`, `p ← p − γ·b`, else `p ← p − γ·g/d`.
pub fn rmsprop<V: Vector>(
    params: &mut [f32],
    grads: impl GradIn<V>,
    state: RmspropState<'_>,
    h: &RmspropStep,
) {
    let lr = V::splat(h.lr);
    let a = V::splat(h.alpha);
    let oma = V::splat(one_minus(h.alpha));
    let eps = V::splat(h.eps);
    let wd = V::splat(h.weight_decay);
    let has_wd = h.weight_decay != 0.0;
    let mu = V::splat(h.momentum);
    let gs = V::splat(h.grad_scale);
    // `v − ḡ²` is computed unfused (as the twin and PyTorch's `addcmul` do):
    // an FMA would keep `ḡ²` exact where it overflows and turn PyTorch's
    // `∞ − ∞ = NaN` into a finite step.
    // One instantiation of the pass per variant, so no lane does work a
    // variant does not need.
    let sq = state.square_avg;
    match (state.grad_avg, state.momentum_buffer) {
        (None, None) => drive("rmsprop", params, grads, [sq], |p, g, [v]| {
            let g = l2(has_wd, wd, p, gs * g);
            *v = oma.mul_add(g * g, a * *v);
            lr.mul_neg_add(g / (v.sqrt() + eps), p)
        }),
        (Some(ga), None) => drive("rmsprop", params, grads, [sq, ga], |p, g, [v, m]| {
            let g = l2(has_wd, wd, p, gs * g);
            *v = oma.mul_add(g * g, a * *v);
            *m = oma.mul_add(g, a * *m);
            let d = (*v - *m * *m).sqrt() + eps;
            lr.mul_neg_add(g / d, p)
        }),
        (None, Some(bf)) => drive("rmsprop", params, grads, [sq, bf], |p, g, [v, b]| {
            let g = l2(has_wd, wd, p, gs * g);
            *v = oma.mul_add(g * g, a * *v);
            *b = mu.mul_add(*b, g / (v.sqrt() + eps));
            lr.mul_neg_add(*b, p)
        }),
        (Some(ga), Some(bf)) => drive("rmsprop", params, grads, [sq, ga, bf], |p, g, [v, m, b]| {
            let g = l2(has_wd, wd, p, gs * g);
            *v = oma.mul_add(g * g, a * *v);
            *m = oma.mul_add(g, a * *m);
            let d = (*v - *m * *m).sqrt() + eps;
            *b = mu.mul_add(*b, g / d);
            lr.mul_neg_add(*b, p)
        }),
    }
}

/// Scalar twin of [`rmsprop`].
pub fn rmsprop_scalar(params: &mut [f32], grads: &[f32], state: RmspropState<'_>, h: &RmspropStep) {
    let n = params.len();
    same_len("rmsprop", n, grads.len());
    same_len("rmsprop", n, state.square_avg.len());
    let mut ga = state.grad_avg;
    let mut bf = state.momentum_buffer;
    if let Some(x) = &ga {
        same_len("rmsprop", n, x.len());
    }
    if let Some(x) = &bf {
        same_len("rmsprop", n, x.len());
    }
    let one_minus_alpha = one_minus(h.alpha);
    for i in 0..n {
        let p = params[i];
        let g = l2_scalar(h.weight_decay, p, h.grad_scale * grads[i]);
        let v = h.alpha * state.square_avg[i] + one_minus_alpha * (g * g);
        state.square_avg[i] = v;
        let d = match ga.as_deref_mut() {
            Some(m) => {
                m[i] = h.alpha * m[i] + one_minus_alpha * g;
                (v - m[i] * m[i]).sqrt() + h.eps
            }
            None => v.sqrt() + h.eps,
        };
        params[i] = match bf.as_deref_mut() {
            Some(b) => {
                b[i] = h.momentum * b[i] + g / d;
                p - h.lr * b[i]
            }
            None => p - h.lr * (g / d),
        };
    }
}
