//! Rprop (Riedmiller, Braun 1993), as `torch.optim.Rprop`: a step size per
//! element, grown while the gradient keeps its sign and shrunk when it
//! flips; only the gradient's sign moves the weights.

use super::GradIn;
use crate::ops::same_len;
use crate::simd::Vector;

/// Per-step constants of Rprop.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RpropStep {
    /// η₋, the step-size factor after a sign change, in (0, 1).
    pub eta_minus: f32,
    /// η₊, the step-size factor while the sign holds, > 1.
    pub eta_plus: f32,
    /// The smallest step size.
    pub step_min: f32,
    /// The largest step size.
    pub step_max: f32,
    /// Gradient factor `(maximize ? −1 : 1)·clip` (see [`super::grad_scale`]).
    pub grad_scale: f32,
}

/// Rprop, in place, PyTorch's form: `g ← s·g`; `f = η₊` where
/// `g·g_prev > 0`, `η₋` where it is `< 0`, else 1;
/// `δ ← clamp(δ·f, δ_min, δ_max)`; `g ← 0` where `g·g_prev < 0`;
/// `p ← p − sign(g)·δ`; `g_prev ← g`.
///
/// `prev` is `g_prev`, `step_size` is `δ` (torch's state names; δ starts at
/// the learning rate). A gradient whose sign flipped is zeroed, so the
/// weight does not move this step and the next step sees `g·g_prev = 0`.
pub fn rprop<V: Vector>(
    params: &mut [f32],
    grads: impl GradIn<V>,
    prev: &mut [f32],
    step_size: &mut [f32],
    h: &RpropStep,
) {
    let gs = V::splat(h.grad_scale);
    let (em, ep, one) = (V::splat(h.eta_minus), V::splat(h.eta_plus), V::splat(1.0));
    let (lo, hi) = (V::splat(h.step_min), V::splat(h.step_max));
    super::drive(
        "rprop",
        params,
        grads,
        [prev, step_size],
        |p, g, [gp, d]| {
            let g = gs * g;
            let prod = g * *gp;
            *d = (*d * prod.by_sign(ep, em, one)).max(lo).min(hi);
            let g = g.zero_where_negative(prod);
            *gp = g;
            p - g.sign() * *d
        },
    );
}

/// Scalar twin of [`rprop`].
pub fn rprop_scalar(
    params: &mut [f32],
    grads: &[f32],
    prev: &mut [f32],
    step_size: &mut [f32],
    h: &RpropStep,
) {
    let n = params.len();
    same_len("rprop", n, grads.len());
    same_len("rprop", n, prev.len());
    same_len("rprop", n, step_size.len());
    for i in 0..n {
        let mut g = h.grad_scale * grads[i];
        let prod = g * prev[i];
        let f = if prod > 0.0 {
            h.eta_plus
        } else if prod < 0.0 {
            h.eta_minus
        } else {
            1.0
        };
        step_size[i] = (step_size[i] * f).max(h.step_min).min(h.step_max);
        if prod < 0.0 {
            g = 0.0;
        }
        prev[i] = g;
        let sign = if g > 0.0 {
            1.0
        } else if g < 0.0 {
            -1.0
        } else {
            0.0
        };
        params[i] -= sign * step_size[i];
    }
}
