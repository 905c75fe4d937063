//! The passes of Adafactor (Shazeer, Stern 2018), as `torch.optim.Adafactor`:
//! a matrix's second moment kept as its row and column means, and an update
//! normalised by its own RMS. The update's RMS needs the whole update before
//! any weight moves, so a block takes three passes, not one: the squared
//! sums, the update's norm, the step.
//!
//! The sums are `f32` partial sums per lane, so their bits depend on the
//! vector width (as [`crate::ops::sum_squares`]'s do); everything
//! elementwise does not.

use crate::ops::same_len;
use crate::simd::{Vector, MAX_LANES};

/// Loads `s[i..i + V::LANES]`, zero-padded past the end.
#[inline(always)]
fn load_pad<V: Vector>(s: &[f32], i: usize) -> V {
    if i + V::LANES <= s.len() {
        // SAFETY: i + LANES ≤ len.
        return unsafe { V::load(s.as_ptr().add(i)) };
    }
    let mut a = [0.0f32; MAX_LANES];
    let n = (s.len() - i).min(V::LANES);
    a[..n].copy_from_slice(&s[i..i + n]);
    // SAFETY: `a` holds MAX_LANES ≥ V::LANES floats.
    unsafe { V::load(a.as_ptr()) }
}

/// Stores the first `s.len() − i` (at most `V::LANES`) lanes of `v` to
/// `s[i..]`.
#[inline(always)]
fn store_part<V: Vector>(s: &mut [f32], i: usize, v: V) {
    if i + V::LANES <= s.len() {
        // SAFETY: i + LANES ≤ len, and `s` is borrowed mutably.
        return unsafe { V::store(s.as_mut_ptr().add(i), v) };
    }
    let mut a = [0.0f32; MAX_LANES];
    // SAFETY: as above.
    unsafe { V::store(a.as_mut_ptr(), v) };
    let n = (s.len() - i).min(V::LANES);
    s[i..i + n].copy_from_slice(&a[..n]);
}

/// For a row-major `rows × cols` gradient `g` scaled by `s`: the sum of
/// squares of each row into `row_sq` and of each column into `col_sq`,
/// one pass over g.
pub fn square_sums<V: Vector>(
    g: &[f32],
    cols: usize,
    s: f32,
    row_sq: &mut [f32],
    col_sq: &mut [f32],
) {
    let rows = row_sq.len();
    same_len("adafactor", g.len(), rows * cols);
    same_len("adafactor", col_sq.len(), cols);
    col_sq.fill(0.0);
    let sv = V::splat(s);
    for (i, rs) in row_sq.iter_mut().enumerate() {
        let row = &g[i * cols..(i + 1) * cols];
        let mut acc = V::ZERO;
        let mut j = 0;
        while j < cols {
            let x = sv * load_pad::<V>(row, j);
            let x2 = x * x;
            acc += x2;
            let c: V = load_pad(col_sq, j);
            store_part(col_sq, j, c + x2);
            j += V::LANES;
        }
        *rs = acc.reduce_add();
    }
}

/// Scalar twin of [`square_sums`] (sums in `f64`).
pub fn square_sums_scalar(g: &[f32], cols: usize, s: f32, row_sq: &mut [f32], col_sq: &mut [f32]) {
    let rows = row_sq.len();
    same_len("adafactor", g.len(), rows * cols);
    same_len("adafactor", col_sq.len(), cols);
    let mut col = vec![0.0f64; cols];
    for i in 0..rows {
        let mut r = 0.0f64;
        for j in 0..cols {
            let x = (s * g[i * cols + j]) as f64;
            r += x * x;
            col[j] += x * x;
        }
        row_sq[i] = r as f32;
    }
    for (c, v) in col_sq.iter_mut().zip(col) {
        *c = v as f32;
    }
}

/// The factored update of one element: `s·g / √max(r·c / den, ε₁²)`,
/// torch's `rsqrt` then multiply.
#[inline(always)]
fn factored<V: Vector>(g: V, r: V, c: V, den: V, floor: V, one: V) -> V {
    let var = (r * c / den).max(floor);
    one / var.sqrt() * g
}

/// `Σ u²` over a matrix block, `u_ij = s·g_ij / √max(r_i·c_j / den, ε₁²)`
/// (`floor` = ε₁²).
#[allow(clippy::too_many_arguments)]
pub fn factored_update_sq<V: Vector>(
    g: &[f32],
    s: f32,
    r: &[f32],
    c: &[f32],
    den: f32,
    floor: f32,
) -> f32 {
    let cols = c.len();
    same_len("adafactor", g.len(), r.len() * cols);
    let (sv, denv, fl, one) = (V::splat(s), V::splat(den), V::splat(floor), V::splat(1.0));
    let mut acc = V::ZERO;
    for (i, &ri) in r.iter().enumerate() {
        let row = &g[i * cols..(i + 1) * cols];
        let rv = V::splat(ri);
        let mut j = 0;
        while j < cols {
            // Padded lanes have g = 0, so u = 0 there (c = 0 is floored).
            let u = factored(
                sv * load_pad::<V>(row, j),
                rv,
                load_pad(c, j),
                denv,
                fl,
                one,
            );
            acc = u.mul_add(u, acc);
            j += V::LANES;
        }
    }
    acc.reduce_add()
}

/// Scalar twin of [`factored_update_sq`] (the sum in `f64`).
pub fn factored_update_sq_scalar(
    g: &[f32],
    s: f32,
    r: &[f32],
    c: &[f32],
    den: f32,
    floor: f32,
) -> f32 {
    let cols = c.len();
    same_len("adafactor", g.len(), r.len() * cols);
    let mut acc = 0.0f64;
    for (i, &ri) in r.iter().enumerate() {
        for j in 0..cols {
            let var = (ri * c[j] / den).max(floor);
            let u = 1.0 / var.sqrt() * (s * g[i * cols + j]);
            acc += (u as f64) * (u as f64);
        }
    }
    acc as f32
}

/// The step on a matrix block: `p ← p·decay − coef·u`, u as in
/// [`factored_update_sq`].
#[allow(clippy::too_many_arguments)]
pub fn factored_apply<V: Vector>(
    p: &mut [f32],
    g: &[f32],
    s: f32,
    r: &[f32],
    c: &[f32],
    den: f32,
    floor: f32,
    decay: f32,
    coef: f32,
) {
    let cols = c.len();
    same_len("adafactor", g.len(), r.len() * cols);
    same_len("adafactor", p.len(), g.len());
    let (sv, denv, fl, one) = (V::splat(s), V::splat(den), V::splat(floor), V::splat(1.0));
    let (dv, cv) = (V::splat(decay), V::splat(coef));
    for (i, &ri) in r.iter().enumerate() {
        let (row, prow) = (
            &g[i * cols..(i + 1) * cols],
            &mut p[i * cols..(i + 1) * cols],
        );
        let rv = V::splat(ri);
        let mut j = 0;
        while j < cols {
            let u = factored(
                sv * load_pad::<V>(row, j),
                rv,
                load_pad(c, j),
                denv,
                fl,
                one,
            );
            let pv: V = load_pad(prow, j);
            store_part(prow, j, cv.mul_neg_add(u, pv * dv));
            j += V::LANES;
        }
    }
}

/// Scalar twin of [`factored_apply`].
#[allow(clippy::too_many_arguments)]
pub fn factored_apply_scalar(
    p: &mut [f32],
    g: &[f32],
    s: f32,
    r: &[f32],
    c: &[f32],
    den: f32,
    floor: f32,
    decay: f32,
    coef: f32,
) {
    let cols = c.len();
    same_len("adafactor", g.len(), r.len() * cols);
    same_len("adafactor", p.len(), g.len());
    for (i, &ri) in r.iter().enumerate() {
        for j in 0..cols {
            let var = (ri * c[j] / den).max(floor);
            let u = 1.0 / var.sqrt() * (s * g[i * cols + j]);
            let k = i * cols + j;
            p[k] = p[k] * decay - coef * u;
        }
    }
}

/// A vector block's second moment and its update's `Σ u²`, one pass:
/// `v ← v + w·(g² − v)` (torch's `lerp`, g scaled by `s`), then
/// `u = s·g / √max(v, ε₁²)`.
pub fn unfactored_update_sq<V: Vector>(
    g: &[f32],
    s: f32,
    v: &mut [f32],
    w: f32,
    floor: f32,
) -> f32 {
    same_len("adafactor", g.len(), v.len());
    let (sv, wv, fl, one) = (V::splat(s), V::splat(w), V::splat(floor), V::splat(1.0));
    let mut acc = V::ZERO;
    let mut i = 0;
    while i < g.len() {
        let x = sv * load_pad::<V>(g, i);
        let vv: V = load_pad(v, i);
        let vn = wv.mul_add(x * x - vv, vv);
        store_part(v, i, vn);
        // Padded lanes have v = 0 (floored) and g = 0: u = 0.
        let u = one / vn.max(fl).sqrt() * x;
        acc = u.mul_add(u, acc);
        i += V::LANES;
    }
    acc.reduce_add()
}

/// Scalar twin of [`unfactored_update_sq`] (the sum in `f64`).
pub fn unfactored_update_sq_scalar(g: &[f32], s: f32, v: &mut [f32], w: f32, floor: f32) -> f32 {
    same_len("adafactor", g.len(), v.len());
    let mut acc = 0.0f64;
    for (vi, &gi) in v.iter_mut().zip(g) {
        let x = s * gi;
        *vi += w * (x * x - *vi);
        let u = 1.0 / vi.max(floor).sqrt() * x;
        acc += (u as f64) * (u as f64);
    }
    acc as f32
}

/// The step on a vector block: `p ← p·decay − coef·u`, u from the updated
/// `v` as in [`unfactored_update_sq`].
pub fn unfactored_apply<V: Vector>(
    p: &mut [f32],
    g: &[f32],
    s: f32,
    v: &[f32],
    floor: f32,
    decay: f32,
    coef: f32,
) {
    same_len("adafactor", g.len(), v.len());
    same_len("adafactor", p.len(), g.len());
    let (sv, fl, one) = (V::splat(s), V::splat(floor), V::splat(1.0));
    let (dv, cv) = (V::splat(decay), V::splat(coef));
    let mut i = 0;
    while i < g.len() {
        let x = sv * load_pad::<V>(g, i);
        let u = one / load_pad::<V>(v, i).max(fl).sqrt() * x;
        let pv: V = load_pad(p, i);
        store_part(p, i, cv.mul_neg_add(u, pv * dv));
        i += V::LANES;
    }
}

/// Scalar twin of [`unfactored_apply`].
pub fn unfactored_apply_scalar(
    p: &mut [f32],
    g: &[f32],
    s: f32,
    v: &[f32],
    floor: f32,
    decay: f32,
    coef: f32,
) {
    same_len("adafactor", g.len(), v.len());
    same_len("adafactor", p.len(), g.len());
    for i in 0..p.len() {
        let u = 1.0 / v[i].max(floor).sqrt() * (s * g[i]);
        p[i] = p[i] * decay - coef * u;
    }
}
