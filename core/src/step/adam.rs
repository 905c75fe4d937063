//! Adam and AdamW (one kernel, decoupled decay as a flag), as `torch.optim.Adam`
//! and `torch.optim.AdamW`.

use super::{bias_correction, decimal, drive, l2, l2_scalar, one_minus, GradIn};
use crate::ops::same_len;
use crate::simd::Vector;

/// Per-step constants of Adam/AdamW.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamStep {
    /// Learning rate γ.
    pub lr: f32,
    /// β₁, decay of the first moment.
    pub beta1: f32,
    /// β₂, decay of the second moment.
    pub beta2: f32,
    /// ε, added to the bias-corrected root (outside the square root).
    pub eps: f32,
    /// Weight decay λ: L2 (added to the gradient) for Adam, decoupled
    /// (`p ← p·(1 − γ·λ)`) for AdamW.
    pub weight_decay: f32,
    /// AdamW's decoupled weight decay instead of L2.
    pub decoupled: bool,
    /// AMSGrad: divide by the running maximum of `v`.
    pub amsgrad: bool,
    /// `γ / (1 − β₁ᵗ)`, computed by the caller (see [`AdamStep::new`]).
    pub step_size: f32,
    /// `1 / √(1 − β₂ᵗ)`, computed by the caller in `f64` and rounded once.
    /// The kernel multiplies by it where PyTorch divides by `√(1 − β₂ᵗ)`:
    /// the two differ by rounding only (an ulp or two), and the divide is
    /// a third of the divider's work per element (with `√v` and `m / d`),
    /// the unit Adam's pass is bound by.
    pub inv_bias_correction2_sqrt: f32,
    /// Gradient factor `(maximize ? −1 : 1)·clip` (see [`super::grad_scale`]).
    pub grad_scale: f32,
}

impl AdamStep {
    /// The constants of step `t` (1-based). Bias corrections are computed in
    /// `f64`, as PyTorch computes them in Python floats:
    /// `step_size = γ / (1 − β₁ᵗ)`, `inv_bias_correction2_sqrt = 1 / √(1 − β₂ᵗ)`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        lr: f32,
        beta1: f32,
        beta2: f32,
        eps: f32,
        weight_decay: f32,
        decoupled: bool,
        amsgrad: bool,
        t: u64,
        grad_scale: f32,
    ) -> Self {
        let (bc1, bc2) = (bias_correction(beta1, t), bias_correction(beta2, t));
        AdamStep {
            lr,
            beta1,
            beta2,
            eps,
            weight_decay,
            decoupled,
            amsgrad,
            step_size: (decimal(lr) / bc1) as f32,
            inv_bias_correction2_sqrt: (1.0 / bc2.sqrt()) as f32,
            grad_scale,
        }
    }

    /// AdamW's decay factor `1 − γ·λ`, computed in `f64` (as PyTorch's
    /// Python-float arithmetic) and rounded once.
    pub fn decay_factor(&self) -> f32 {
        (1.0 - decimal(self.lr) * decimal(self.weight_decay)) as f32
    }
}

/// Adam/AdamW, in place, PyTorch's form:
/// `g ← s·g`; Adam: `g ← g + λ·p`; AdamW: `p ← p·(1 − γ·λ)`;
/// `m ← β₁·m + (1 − β₁)·g`, `v ← β₂·v + (1 − β₂)·g²`;
/// AMSGrad: `v̂ ← max(v̂, v)` and use `v̂` below instead of `v`;
/// `p ← p − step_size · m / (√v · inv_bias_correction2_sqrt + ε)`, the
/// denominator one FMA.
///
/// `max_exp_avg_sq` must be `Some` exactly when `h.amsgrad` (panics
/// otherwise: a programming error).
pub fn adam<V: Vector>(
    params: &mut [f32],
    grads: impl GradIn<V>,
    exp_avg: &mut [f32],
    exp_avg_sq: &mut [f32],
    max_exp_avg_sq: Option<&mut [f32]>,
    h: &AdamStep,
) {
    assert_eq!(
        h.amsgrad,
        max_exp_avg_sq.is_some(),
        "adam: amsgrad needs max_exp_avg_sq"
    );
    let gs = V::splat(h.grad_scale);
    let b1 = V::splat(h.beta1);
    let omb1 = V::splat(one_minus(h.beta1));
    let b2 = V::splat(h.beta2);
    let omb2 = V::splat(one_minus(h.beta2));
    let eps = V::splat(h.eps);
    let step = V::splat(h.step_size);
    let inv_bc2 = V::splat(h.inv_bias_correction2_sqrt);
    let wd = V::splat(h.weight_decay);
    let has_l2 = !h.decoupled && h.weight_decay != 0.0;
    let decay = if h.decoupled {
        V::splat(h.decay_factor())
    } else {
        V::splat(1.0)
    };
    // Multiplying by 1 is exact (even for ±∞), so one body serves Adam and
    // AdamW; PyTorch's AdamW multiplies by `1 − γ·λ` unconditionally too.
    match max_exp_avg_sq {
        None => drive(
            "adam",
            params,
            grads,
            [exp_avg, exp_avg_sq],
            |p, g, [m, v]| {
                let g = l2(has_l2, wd, p, gs * g);
                let p = p * decay;
                *m = omb1.mul_add(g, b1 * *m);
                *v = omb2.mul_add(g * g, b2 * *v);
                let d = v.sqrt().mul_add(inv_bc2, eps);
                step.mul_neg_add(*m / d, p)
            },
        ),
        Some(vmax) => drive(
            "adam",
            params,
            grads,
            [exp_avg, exp_avg_sq, vmax],
            |p, g, [m, v, vm]| {
                let g = l2(has_l2, wd, p, gs * g);
                let p = p * decay;
                *m = omb1.mul_add(g, b1 * *m);
                *v = omb2.mul_add(g * g, b2 * *v);
                *vm = vm.max(*v);
                let d = vm.sqrt().mul_add(inv_bc2, eps);
                step.mul_neg_add(*m / d, p)
            },
        ),
    }
}

/// Scalar twin of [`adam`].
pub fn adam_scalar(
    params: &mut [f32],
    grads: &[f32],
    exp_avg: &mut [f32],
    exp_avg_sq: &mut [f32],
    mut max_exp_avg_sq: Option<&mut [f32]>,
    h: &AdamStep,
) {
    assert_eq!(
        h.amsgrad,
        max_exp_avg_sq.is_some(),
        "adam: amsgrad needs max_exp_avg_sq"
    );
    let n = params.len();
    same_len("adam", n, grads.len());
    same_len("adam", n, exp_avg.len());
    same_len("adam", n, exp_avg_sq.len());
    if let Some(x) = &max_exp_avg_sq {
        same_len("adam", n, x.len());
    }
    let one_minus_beta1 = one_minus(h.beta1);
    let one_minus_beta2 = one_minus(h.beta2);
    for i in 0..n {
        let mut p = params[i];
        let mut g = h.grad_scale * grads[i];
        if h.decoupled {
            p *= h.decay_factor();
        } else {
            g = l2_scalar(h.weight_decay, p, g);
        }
        exp_avg[i] = h.beta1 * exp_avg[i] + one_minus_beta1 * g;
        exp_avg_sq[i] = h.beta2 * exp_avg_sq[i] + one_minus_beta2 * (g * g);
        let v = match max_exp_avg_sq.as_deref_mut() {
            Some(vm) => {
                vm[i] = vm[i].max(exp_avg_sq[i]);
                vm[i]
            }
            None => exp_avg_sq[i],
        };
        let d = v.sqrt() * h.inv_bias_correction2_sqrt + h.eps;
        params[i] = p - h.step_size * (exp_avg[i] / d);
    }
}
