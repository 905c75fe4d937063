//! NAdam (Dozat 2016), as `torch.optim.NAdam`: Adam with Nesterov momentum
//! and a warming momentum schedule μₜ.

use super::{
    bias_correction, decimal, drive, l2, l2_scalar, one_minus, weight_decay_split, GradIn,
};
use crate::ops::same_len;
use crate::simd::Vector;

/// Per-step constants of NAdam.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NadamStep {
    /// β₁, decay of the first moment.
    pub beta1: f32,
    /// β₂, decay of the second moment.
    pub beta2: f32,
    /// ε, added to the bias-corrected root.
    pub eps: f32,
    /// L2 weight decay λ (added to the gradient), 0 when decoupled.
    pub l2: f32,
    /// The decoupled decay factor `1 − γ·λ` (1 without it).
    pub decay: f32,
    /// `1 / (1 − β₂ᵗ)`, in `f64` and rounded once: the kernel multiplies
    /// by it where PyTorch divides by `1 − β₂ᵗ`, a rounding apart (an ulp
    /// or two) and one divide fewer per element (see [`nadam`]).
    pub inv_bias_correction2: f32,
    /// The gradient's coefficient `−γ·(1 − μₜ) / (1 − Πᵢ≤ₜ μᵢ)`.
    pub grad_coef: f32,
    /// The first moment's coefficient `−γ·μₜ₊₁ / (1 − Πᵢ≤ₜ₊₁ μᵢ)`.
    pub avg_coef: f32,
    /// Gradient factor `(maximize ? −1 : 1)·clip` (see [`super::grad_scale`]).
    pub grad_scale: f32,
}

/// NAdam's momentum schedule, `μₜ = β₁·(1 − ½·0.96^(t·ψ))` with ψ the
/// momentum decay, in `f64` as PyTorch's Python floats.
pub fn nadam_mu(beta1: f32, momentum_decay: f32, t: u64) -> f64 {
    decimal(beta1) * (1.0 - 0.5 * 0.96f64.powf(t as f64 * decimal(momentum_decay)))
}

impl NadamStep {
    /// The constants of step `t` (1-based), given the product of the
    /// momentum schedule so far, `mu_product` = `Πᵢ≤ₜ μᵢ` **including step
    /// t** (PyTorch keeps it as an `f32` tensor; the caller does too).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        lr: f32,
        beta1: f32,
        beta2: f32,
        eps: f32,
        weight_decay: f32,
        decoupled: bool,
        momentum_decay: f32,
        t: u64,
        mu_product: f32,
        grad_scale: f32,
    ) -> Self {
        let lr64 = decimal(lr);
        let (l2, decay) = weight_decay_split(lr, weight_decay, decoupled);
        let mu = nadam_mu(beta1, momentum_decay, t);
        let mu_next = nadam_mu(beta1, momentum_decay, t + 1);
        let mp = mu_product as f64;
        NadamStep {
            beta1,
            beta2,
            eps,
            l2,
            decay,
            inv_bias_correction2: (1.0 / bias_correction(beta2, t)) as f32,
            grad_coef: (-lr64 * (1.0 - mu) / (1.0 - mp)) as f32,
            avg_coef: (-lr64 * mu_next / (1.0 - mp * mu_next)) as f32,
            grad_scale,
        }
    }
}

/// NAdam, in place: `g ← s·g + λ·p` (or `p ← p·(1 − γ·λ)` decoupled);
/// `m ← β₁·m + (1 − β₁)·g`; `v ← β₂·v + (1 − β₂)·g²`;
/// `d = √(v · (1 − β₂ᵗ)⁻¹) + ε`; `p ← p + (c_g·g + c_m·m) / d` with the
/// coefficients of [`NadamStep`]. PyTorch's two `addcdiv`s, `p + c_g·g/d +
/// c_m·m/d`, are one here: the pass is bound by the divider (√ and ÷ are
/// its only users), so it takes one √ and one ÷ an element instead of
/// PyTorch's one √ and three ÷. The result differs by rounding only.
pub fn nadam<V: Vector>(
    params: &mut [f32],
    grads: impl GradIn<V>,
    exp_avg: &mut [f32],
    exp_avg_sq: &mut [f32],
    h: &NadamStep,
) {
    let gs = V::splat(h.grad_scale);
    let wd = V::splat(h.l2);
    let has_l2 = h.l2 != 0.0;
    let decay = V::splat(h.decay);
    let (b1, omb1) = (V::splat(h.beta1), V::splat(one_minus(h.beta1)));
    let (b2, omb2) = (V::splat(h.beta2), V::splat(one_minus(h.beta2)));
    let (eps, inv_bc2) = (V::splat(h.eps), V::splat(h.inv_bias_correction2));
    let (cg, cm) = (V::splat(h.grad_coef), V::splat(h.avg_coef));
    drive(
        "nadam",
        params,
        grads,
        [exp_avg, exp_avg_sq],
        |p, g, [m, v]| {
            let g = l2(has_l2, wd, p, gs * g);
            // Multiplying by 1 is exact: one body with and without the
            // decoupled decay.
            let p = p * decay;
            *m = omb1.mul_add(g, b1 * *m);
            *v = omb2.mul_add(g * g, b2 * *v);
            let d = (*v * inv_bc2).sqrt() + eps;
            p + cg.mul_add(g, cm * *m) / d
        },
    );
}

/// Scalar twin of [`nadam`].
pub fn nadam_scalar(
    params: &mut [f32],
    grads: &[f32],
    exp_avg: &mut [f32],
    exp_avg_sq: &mut [f32],
    h: &NadamStep,
) {
    let n = params.len();
    same_len("nadam", n, grads.len());
    same_len("nadam", n, exp_avg.len());
    same_len("nadam", n, exp_avg_sq.len());
    let one_minus_beta1 = one_minus(h.beta1);
    let one_minus_beta2 = one_minus(h.beta2);
    for i in 0..n {
        let g = l2_scalar(h.l2, params[i], h.grad_scale * grads[i]);
        let p = params[i] * h.decay;
        exp_avg[i] = h.beta1 * exp_avg[i] + one_minus_beta1 * g;
        exp_avg_sq[i] = h.beta2 * exp_avg_sq[i] + one_minus_beta2 * (g * g);
        let d = (exp_avg_sq[i] * h.inv_bias_correction2).sqrt() + h.eps;
        params[i] = p + (h.grad_coef * g + h.avg_coef * exp_avg[i]) / d;
    }
}
