//! The vector kernels of L-BFGS's two-loop recursion (Nocedal 1980), as
//! `torch.optim.LBFGS` runs it: dot products, and each update of the
//! search direction fused with the dot product the next step of the loop
//! needs, so every step of a loop is one pass over three vectors.
//!
//! The sums are `f32` partial sums per lane (four vectors of them, as
//! [`crate::ops::sum_squares`]), so their bits depend on the width.

use crate::ops::same_len;
use crate::simd::{load, store, Vector, MAX_LANES};

/// `Σ aᵢ·bᵢ`.
pub fn dot<V: Vector>(a: &[f32], b: &[f32]) -> f32 {
    same_len("lbfgs dot", a.len(), b.len());
    let mut acc = [V::ZERO; 4];
    let step = 4 * V::LANES;
    let body = a.len() / step * step;
    for i in (0..body).step_by(step) {
        for (u, s) in acc.iter_mut().enumerate() {
            let (x, y): (V, V) = (load(a, i + u * V::LANES), load(b, i + u * V::LANES));
            *s = x.mul_add(y, *s);
        }
    }
    let mut s = ((acc[0] + acc[1]) + (acc[2] + acc[3])).reduce_add();
    for i in body..a.len() {
        s = a[i].mul_add(b[i], s);
    }
    s
}

/// Scalar twin of [`dot`] (the sum in `f64`).
pub fn dot_scalar(a: &[f32], b: &[f32]) -> f32 {
    same_len("lbfgs dot", a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(&x, &y)| x as f64 * y as f64)
        .sum::<f64>() as f32
}

/// `q ← q + α·x`, then `Σ zᵢ·qᵢ` of the updated q, in one pass: one step
/// of either loop of the recursion and the dot product of the next
/// (`z` may be empty: then only the update, and 0).
pub fn axpy_dot<V: Vector>(q: &mut [f32], alpha: f32, x: &[f32], z: &[f32]) -> f32 {
    same_len("lbfgs axpy", q.len(), x.len());
    let with_dot = !z.is_empty();
    if with_dot {
        same_len("lbfgs axpy", q.len(), z.len());
    }
    let a = V::splat(alpha);
    let mut acc = [V::ZERO; 4];
    let step = 4 * V::LANES;
    let body = q.len() / step * step;
    for i in (0..body).step_by(step) {
        for (u, s) in acc.iter_mut().enumerate() {
            let k = i + u * V::LANES;
            let qv = a.mul_add(load::<V>(x, k), load(q, k));
            store(q, k, qv);
            if with_dot {
                *s = qv.mul_add(load(z, k), *s);
            }
        }
    }
    // The tail, a vector at a time on zero-padded copies: the same vector
    // operation as the body, so an element's update does not depend on
    // where it falls (with or without FMA in the build).
    let mut i = body;
    while i < q.len() {
        let r = (q.len() - i).min(V::LANES);
        let pad = |v: &[f32]| {
            let mut a = [0.0f32; MAX_LANES];
            if !v.is_empty() {
                a[..r].copy_from_slice(&v[i..i + r]);
            }
            a
        };
        let (qa, xa, za) = (pad(q), pad(x), pad(z));
        let qv = a.mul_add(load::<V>(&xa, 0), load(&qa, 0));
        let mut out = [0.0f32; MAX_LANES];
        store(&mut out, 0, qv);
        q[i..i + r].copy_from_slice(&out[..r]);
        if with_dot {
            acc[0] = qv.mul_add(load(&za, 0), acc[0]);
        }
        i += r;
    }
    ((acc[0] + acc[1]) + (acc[2] + acc[3])).reduce_add()
}

/// Scalar twin of [`axpy_dot`] (the sum in `f64`).
pub fn axpy_dot_scalar(q: &mut [f32], alpha: f32, x: &[f32], z: &[f32]) -> f32 {
    same_len("lbfgs axpy", q.len(), x.len());
    let mut s = 0.0f64;
    for i in 0..q.len() {
        q[i] += alpha * x[i];
        if !z.is_empty() {
            s += q[i] as f64 * z[i] as f64;
        }
    }
    s as f32
}
