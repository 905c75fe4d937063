//! RAdam (Liu et al. 2020), as `torch.optim.RAdam`: Adam whose adaptive
//! step is switched on, and rectified, once the variance of its estimate
//! is tractable (ρₜ > 5).

use super::{
    bias_correction, decimal, drive, l2, l2_scalar, one_minus, weight_decay_split, GradIn,
};
use crate::ops::same_len;
use crate::simd::Vector;

/// Per-step constants of RAdam.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RadamStep {
    /// β₁, decay of the first moment.
    pub beta1: f32,
    /// β₂, decay of the second moment.
    pub beta2: f32,
    /// ε, added to `√v`.
    pub eps: f32,
    /// L2 weight decay λ (added to the gradient), 0 when decoupled.
    pub l2: f32,
    /// The decoupled decay factor `1 − γ·λ` (1 without it).
    pub decay: f32,
    /// Whether this step is rectified (ρₜ > 5): `p ← p − c·m / (√v + ε)`;
    /// else the plain momentum step `p ← p − c·m`.
    pub rectified: bool,
    /// `c`: `γ·r·√(1 − β₂ᵗ) / (1 − β₁ᵗ)` rectified, `γ / (1 − β₁ᵗ)` not,
    /// computed in `f64`.
    pub coef: f32,
    /// Gradient factor `(maximize ? −1 : 1)·clip` (see [`super::grad_scale`]).
    pub grad_scale: f32,
}

impl RadamStep {
    /// The constants of step `t` (1-based), with PyTorch's
    /// `ρ∞ = 2/(1 − β₂) − 1`, `ρₜ = ρ∞ − 2t·β₂ᵗ/(1 − β₂ᵗ)` and, for
    /// `ρₜ > 5`, `r = √((ρₜ − 4)(ρₜ − 2)ρ∞ / ((ρ∞ − 4)(ρ∞ − 2)ρₜ))`, all in
    /// `f64`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        lr: f32,
        beta1: f32,
        beta2: f32,
        eps: f32,
        weight_decay: f32,
        decoupled: bool,
        t: u64,
        grad_scale: f32,
    ) -> Self {
        let lr64 = decimal(lr);
        let (l2, decay) = weight_decay_split(lr, weight_decay, decoupled);
        let (bc1, bc2) = (bias_correction(beta1, t), bias_correction(beta2, t));
        let b2 = decimal(beta2);
        let rho_inf = 2.0 / (1.0 - b2) - 1.0;
        let rho_t = rho_inf - 2.0 * t as f64 * b2.powi(t.min(i32::MAX as u64) as i32) / bc2;
        let rectified = rho_t > 5.0;
        let coef = if rectified {
            let rect = ((rho_t - 4.0) * (rho_t - 2.0) * rho_inf
                / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t))
                .sqrt();
            lr64 * rect * bc2.sqrt() / bc1
        } else {
            lr64 / bc1
        };
        RadamStep {
            beta1,
            beta2,
            eps,
            l2,
            decay,
            rectified,
            coef: coef as f32,
            grad_scale,
        }
    }
}

/// RAdam, in place: `g ← s·g + λ·p` (or `p ← p·(1 − γ·λ)` decoupled);
/// `m ← β₁·m + (1 − β₁)·g`; `v ← β₂·v + (1 − β₂)·g²`; then
/// `p ← p − c·m / (√v + ε)` when rectified, else `p ← p − c·m`, with `c`
/// of [`RadamStep`].
pub fn radam<V: Vector>(
    params: &mut [f32],
    grads: impl GradIn<V>,
    exp_avg: &mut [f32],
    exp_avg_sq: &mut [f32],
    h: &RadamStep,
) {
    let gs = V::splat(h.grad_scale);
    let wd = V::splat(h.l2);
    let has_l2 = h.l2 != 0.0;
    let decay = V::splat(h.decay);
    let (b1, omb1) = (V::splat(h.beta1), V::splat(one_minus(h.beta1)));
    let (b2, omb2) = (V::splat(h.beta2), V::splat(one_minus(h.beta2)));
    let (eps, c) = (V::splat(h.eps), V::splat(h.coef));
    // The branch is per step, not per element: two loop bodies.
    if h.rectified {
        drive(
            "radam",
            params,
            grads,
            [exp_avg, exp_avg_sq],
            |p, g, [m, v]| {
                let g = l2(has_l2, wd, p, gs * g);
                let p = p * decay;
                *m = omb1.mul_add(g, b1 * *m);
                *v = omb2.mul_add(g * g, b2 * *v);
                c.mul_neg_add(*m / (v.sqrt() + eps), p)
            },
        )
    } else {
        drive(
            "radam",
            params,
            grads,
            [exp_avg, exp_avg_sq],
            |p, g, [m, v]| {
                let g = l2(has_l2, wd, p, gs * g);
                let p = p * decay;
                *m = omb1.mul_add(g, b1 * *m);
                *v = omb2.mul_add(g * g, b2 * *v);
                c.mul_neg_add(*m, p)
            },
        )
    }
}

/// Scalar twin of [`radam`].
pub fn radam_scalar(
    params: &mut [f32],
    grads: &[f32],
    exp_avg: &mut [f32],
    exp_avg_sq: &mut [f32],
    h: &RadamStep,
) {
    let n = params.len();
    same_len("radam", n, grads.len());
    same_len("radam", n, exp_avg.len());
    same_len("radam", n, exp_avg_sq.len());
    let one_minus_beta1 = one_minus(h.beta1);
    let one_minus_beta2 = one_minus(h.beta2);
    for i in 0..n {
        let g = l2_scalar(h.l2, params[i], h.grad_scale * grads[i]);
        let p = params[i] * h.decay;
        exp_avg[i] = h.beta1 * exp_avg[i] + one_minus_beta1 * g;
        exp_avg_sq[i] = h.beta2 * exp_avg_sq[i] + one_minus_beta2 * (g * g);
        params[i] = if h.rectified {
            p - h.coef * (exp_avg[i] / (exp_avg_sq[i].sqrt() + h.eps))
        } else {
            p - h.coef * exp_avg[i]
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// With β₂ = 0.999, ρₜ first exceeds 5 at step 6 (ρ₅ ≈ 4.99,
    /// ρ₆ ≈ 5.99): the steps before are plain momentum steps of size
    /// `γ/(1 − β₁ᵗ)`.
    #[test]
    fn rectification_switches_on_at_step_six() {
        let at = |t| RadamStep::new(1e-3, 0.9, 0.999, 1e-8, 0.0, false, t, 1.0);
        for t in 1..=5 {
            assert!(!at(t).rectified, "step {t}");
            let want = (1e-3 / (1.0 - 0.9f64.powi(t as i32))) as f32;
            assert_eq!(at(t).coef, want, "step {t}");
        }
        for t in [6, 7, 100, 10_000] {
            assert!(at(t).rectified, "step {t}");
        }
    }
}
