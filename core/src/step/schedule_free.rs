//! Schedule-Free AdamW (Defazio et al. 2024), as the `schedulefree`
//! package's `AdamWScheduleFree`: no learning-rate schedule, an average of
//! the iterates instead, kept implicitly in two sequences.

use super::{drive, lerp, lerp_scalar, one_minus, GradIn};
use crate::ops::same_len;
use crate::simd::Vector;

/// Per-step constants of Schedule-Free AdamW.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScheduleFreeStep {
    /// β₂, decay of the second moment.
    pub beta2: f32,
    /// ε, added to the bias-corrected root.
    pub eps: f32,
    /// Weight decay λ, applied at y (added to the normalised gradient).
    pub weight_decay: f32,
    /// `1 / (1 − β₂ᵏ⁺¹)`, in `f64` and rounded once: the kernel multiplies
    /// by it where the reference divides by `1 − β₂ᵏ⁺¹`, a rounding apart
    /// (an ulp or two) and one divide fewer per element (the pass is bound
    /// by the divider: √ and ÷).
    pub inv_bias_correction2: f32,
    /// `c_{k+1}`, the weight of the newest iterate in the average: y moves
    /// towards z by it (the `lerp`).
    pub ckp1: f32,
    /// `γₖ·(β₁·(1 − c_{k+1}) − 1)`, y's step along the normalised gradient.
    pub y_coef: f32,
    /// `γₖ`, this step's (warmed-up) learning rate: z's step.
    pub lr: f32,
    /// Gradient factor `(maximize ? −1 : 1)·clip` (see [`super::grad_scale`]).
    pub grad_scale: f32,
}

/// Schedule-Free AdamW, in place, the reference's order: `g ← s·g`;
/// `v ← β₂·v + (1 − β₂)·g²`; `ĝ = g / (√(v · (1 − β₂ᵏ⁺¹)⁻¹) + ε) + λ·y`;
/// `y ← lerp(y, z, c)`; `y ← y + γ(β₁(1 − c) − 1)·ĝ`; `z ← z − γ·ĝ`.
///
/// `params` is y, the point the gradient was taken at.
pub fn schedule_free<V: Vector>(
    params: &mut [f32],
    grads: impl GradIn<V>,
    z: &mut [f32],
    exp_avg_sq: &mut [f32],
    h: &ScheduleFreeStep,
) {
    let gs = V::splat(h.grad_scale);
    let (b2, omb2) = (V::splat(h.beta2), V::splat(one_minus(h.beta2)));
    let (eps, inv_bc2) = (V::splat(h.eps), V::splat(h.inv_bias_correction2));
    let wd = V::splat(h.weight_decay);
    let has_wd = h.weight_decay != 0.0;
    let (yc, lr) = (V::splat(h.y_coef), V::splat(h.lr));
    let c = h.ckp1;
    drive(
        "schedule-free-adamw",
        params,
        grads,
        [z, exp_avg_sq],
        |y, g, [z, v]| {
            let g = gs * g;
            *v = omb2.mul_add(g * g, b2 * *v);
            let mut gn = g / ((*v * inv_bc2).sqrt() + eps);
            if has_wd {
                gn = wd.mul_add(y, gn);
            }
            let y = yc.mul_add(gn, lerp(y, *z, c));
            *z = lr.mul_neg_add(gn, *z);
            y
        },
    );
}

/// Scalar twin of [`schedule_free`].
pub fn schedule_free_scalar(
    params: &mut [f32],
    grads: &[f32],
    z: &mut [f32],
    exp_avg_sq: &mut [f32],
    h: &ScheduleFreeStep,
) {
    let n = params.len();
    same_len("schedule-free-adamw", n, grads.len());
    same_len("schedule-free-adamw", n, z.len());
    same_len("schedule-free-adamw", n, exp_avg_sq.len());
    let one_minus_beta2 = one_minus(h.beta2);
    for i in 0..n {
        let g = h.grad_scale * grads[i];
        exp_avg_sq[i] = h.beta2 * exp_avg_sq[i] + one_minus_beta2 * (g * g);
        let mut gn = g / ((exp_avg_sq[i] * h.inv_bias_correction2).sqrt() + h.eps);
        if h.weight_decay != 0.0 {
            gn += h.weight_decay * params[i];
        }
        params[i] = lerp_scalar(params[i], z[i], h.ckp1) + h.y_coef * gn;
        z[i] -= h.lr * gn;
    }
}

/// The averaged weights x of Schedule-Free, from y and z, as the
/// reference's `optimizer.eval()` computes them: `x = lerp(y, z, 1 − 1/β₁)`
/// (y = (1 − β₁)·z + β₁·x solved for x). `w` is `1 − 1/β₁` rounded to
/// `f32` from its decimal, as torch takes it.
pub fn schedule_free_x<V: Vector>(y: &[f32], z: &[f32], w: f32, x: &mut [f32]) {
    same_len("schedule-free x", y.len(), z.len());
    same_len("schedule-free x", y.len(), x.len());
    x.copy_from_slice(y);
    drive::<V, 0>("schedule-free x", x, z, [], |y, z, []| lerp(y, z, w));
}

/// Scalar twin of [`schedule_free_x`].
pub fn schedule_free_x_scalar(y: &[f32], z: &[f32], w: f32, x: &mut [f32]) {
    same_len("schedule-free x", y.len(), z.len());
    same_len("schedule-free x", y.len(), x.len());
    for i in 0..y.len() {
        x[i] = lerp_scalar(y[i], z[i], w);
    }
}
