//! The elementwise passes of Muon (Jordan et al. 2024), as
//! `torch.optim.Muon`: the momentum and its Nesterov look-ahead before the
//! Newton–Schulz orthogonalisation, and the step after it. The
//! orthogonalisation itself is GEMMs (see `descent-optim`'s Muon).

use super::{lerp, lerp_scalar};
use crate::ops::same_len;
use crate::simd::Vector;

/// Muon's momentum, in place, torch's form: `g ← s·g`;
/// `b ← lerp(b, g, 1 − μ)`; `out = lerp(g, b, μ)` with Nesterov, else `b`.
/// `one_minus_mu` is `1 − μ` as torch rounds it (from the decimal μ).
pub fn muon_momentum<V: Vector>(
    g: &[f32],
    s: f32,
    buf: &mut [f32],
    mu: f32,
    one_minus_mu: f32,
    nesterov: bool,
    out: &mut [f32],
) {
    same_len("muon", g.len(), buf.len());
    same_len("muon", g.len(), out.len());
    out.copy_from_slice(g);
    let sv = V::splat(s);
    super::drive::<V, 1>("muon", out, g, [buf], |_, g, [b]| {
        let g = sv * g;
        *b = lerp(*b, g, one_minus_mu);
        if nesterov {
            lerp(g, *b, mu)
        } else {
            *b
        }
    });
}

/// Scalar twin of [`muon_momentum`].
pub fn muon_momentum_scalar(
    g: &[f32],
    s: f32,
    buf: &mut [f32],
    mu: f32,
    one_minus_mu: f32,
    nesterov: bool,
    out: &mut [f32],
) {
    same_len("muon", g.len(), buf.len());
    same_len("muon", g.len(), out.len());
    for i in 0..g.len() {
        let x = s * g[i];
        buf[i] = lerp_scalar(buf[i], x, one_minus_mu);
        out[i] = if nesterov {
            lerp_scalar(x, buf[i], mu)
        } else {
            buf[i]
        };
    }
}

/// Muon's step, in place: `p ← p·decay − lr·x`, x the orthogonalised
/// update, `decay = 1 − γλ` and `lr` Muon's adjusted rate.
pub fn muon_apply<V: Vector>(p: &mut [f32], x: &[f32], decay: f32, lr: f32) {
    let (d, l) = (V::splat(decay), V::splat(lr));
    super::drive::<V, 0>("muon", p, x, [], |p, x, []| l.mul_neg_add(x, p * d));
}

/// Scalar twin of [`muon_apply`].
pub fn muon_apply_scalar(p: &mut [f32], x: &[f32], decay: f32, lr: f32) {
    same_len("muon", p.len(), x.len());
    for (pi, &xi) in p.iter_mut().zip(x) {
        *pi = *pi * decay - lr * xi;
    }
}
