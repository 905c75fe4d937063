//! The three products of a Linear layer for a few rows (a training step at
//! batch 1 to [`SMALL_BATCH`]), with W read in place.
//!
//! The GEMM packs W into panels before it multiplies. With B rows that pack
//! is paid for by B rows of products; at batch 1 it is a read and a write of
//! all of W for one read's worth of use, so a 784×128 forward moves 3× the
//! bytes the math needs. These kernels read each row of W where it lies, once
//! per call, which is the floor of a product whose W does not fit in
//! registers:
//!
//! - [`rows_times_wt`]: `Y = f(X·Wᵀ + b)`, one dot product per (row, output);
//! - [`rows_times_w`]: `dX = (dY·W) ⊙ [A > 0]`, W's rows streamed as axpys,
//!   with the ReLU's backward mask in the store;
//! - [`combine_rows_of`]: `out = Σ_b c_b·x_b`, one row of the weight
//!   gradient `dW[o, :] = Σ_b dY[b, o]·X[b, :]`, made where it is used.
//!
//! Each has a scalar twin. [`rows_times_w`] and [`combine_rows_of`] add their
//! terms in the order written, one rounding each (an FMA from zero; a
//! product, then FMAs), so they equal their twins bit for bit at every
//! width. [`rows_times_wt`] sums each dot product as [`dot_row`] does, in
//! [`DOT_SUMS`] `V::LANES`-lane partial sums added in a fixed order: the same bits
//! for any thread count and on any machine with the same width, and within a
//! few ulps of its twin (tests hold both).

use super::elementwise::fma;
use super::same_len;
use crate::gemm::kernel::relu_s;
use crate::simd::{load, store, Vector};

/// The most rows for which a Linear layer runs on these kernels instead of
/// the GEMM, and for which an optimizer makes the weight gradient from its
/// factors ([`crate::step::Combination`]).
///
/// Why this number: the GEMM's pack of W costs about two passes over W (read
/// it strided, write the panel) however small B is, while these kernels read
/// W once; but an element of dW made from its factors costs B dependent
/// multiply-adds, which the GEMM's tile spreads over independent
/// accumulators. Measured on an Ice Lake Xeon (`descent profile`, SGD, one
/// thread, µs a step), with the GEMM below / this path:
/// B = 1: 61 / 18; B = 3: 79 / 40; B = 4: 85 / 52; B = 8: 76 / 111 (the
/// GEMM has an 8-row tile variant). `bench small_batch` times the first
/// layer's forward both ways at B = 1, 4, 8 and 16.
pub const SMALL_BATCH: usize = 4;

/// `Y = f(X·Wᵀ + b)`: row b of Y is `y[b, o] = f(Σ_i x[b, i]·w[o, i] +
/// bias[o])`, f the ReLU when `relu`, the identity otherwise.
///
/// Shapes: `x` (B, I) with `i` = I, `w` (O, I), `bias` (O) when given,
/// `y` (B, O); B = `x.len() / i`.
///
/// Each dot product runs in [`DOT_SUMS`] `V::LANES`-lane partial sums over
/// the vector body of I ([`dot_row`]'s order), added in a fixed order, then
/// the `I % LANES` tail is added in order. `WT_ROWS` rows of W are read
/// together: each load of X serves that many outputs.
///
/// # Panics
/// If the lengths do not agree with these shapes (`i` = 0 included).
pub fn rows_times_wt<V: Vector>(
    x: &[f32],
    i: usize,
    w: &[f32],
    bias: Option<&[f32]>,
    relu: bool,
    y: &mut [f32],
) {
    let (batch, o) = shapes_wt(x, i, w, bias, y);
    let body = i / V::LANES * V::LANES;
    let finish = |acc: f32, r: usize| {
        let v = acc + bias.map_or(0.0, |b| b[r]);
        if relu {
            relu_s(v)
        } else {
            v
        }
    };
    let mut r = 0;
    while r + WT_ROWS <= o {
        let ws: [&[f32]; WT_ROWS] = std::array::from_fn(|k| &w[(r + k) * i..(r + k + 1) * i]);
        for b in 0..batch {
            let xb = &x[b * i..(b + 1) * i];
            // Each row's DOT_SUMS sums, vector v into sum v mod DOT_SUMS.
            let mut acc = [[V::ZERO; DOT_SUMS]; WT_ROWS];
            let mut j = 0;
            while j + DOT_SUMS * V::LANES <= body {
                for q in 0..DOT_SUMS {
                    let xv = load::<V>(xb, j + q * V::LANES);
                    for (a, wk) in acc.iter_mut().zip(ws) {
                        a[q] = load::<V>(wk, j + q * V::LANES).mul_add(xv, a[q]);
                    }
                }
                j += DOT_SUMS * V::LANES;
            }
            for q in 0..(body - j) / V::LANES {
                let xv = load::<V>(xb, j + q * V::LANES);
                for (a, wk) in acc.iter_mut().zip(ws) {
                    a[q] = load::<V>(wk, j + q * V::LANES).mul_add(xv, a[q]);
                }
            }
            for (k, (sums, wk)) in acc.into_iter().zip(ws).enumerate() {
                let s = dot_finish(sums, &wk[body..], &xb[body..]);
                y[b * o + r + k] = finish(s, r + k);
            }
        }
        r += WT_ROWS;
    }
    for r in r..o {
        let wr = &w[r * i..(r + 1) * i];
        for b in 0..batch {
            let s = dot_row::<V>(wr, &x[b * i..(b + 1) * i]);
            y[b * o + r] = finish(s, r);
        }
    }
}

/// The partial sums of a dot product in [`dot_row`]'s order.
pub const DOT_SUMS: usize = 4;

/// `Σ_j w[j]·x[j]` summed as [`rows_times_wt`] sums each of its dot
/// products, so the same bits: over the vector body `n/LANES·LANES`, the
/// v-th vector (in units of `V::LANES`) goes into sum `v mod` [`DOT_SUMS`],
/// each sum one FMA a vector in order from zero; then [`dot_finish`].
///
/// Several sums, not one: each FMA waits for the last one into its sum (4
/// cycles on Ice Lake and Zen), and a fused update that forms this dot
/// product as it writes each row of W (`crate::step::AheadRows`) has one row
/// at a time, about 4.5 cycles of L2 traffic a vector, so a single chain
/// would be as slow as the memory. (What was measured to matter for that
/// update was the alignment of its input row, not the number of sums: one
/// or two sums were not timed once the row was aligned.)
///
/// # Panics
/// If the lengths differ.
pub fn dot_row<V: Vector>(w: &[f32], x: &[f32]) -> f32 {
    same_len("dot_row x (w's length)", x.len(), w.len());
    let body = w.len() / V::LANES * V::LANES;
    let mut sums = [V::ZERO; DOT_SUMS];
    for (v, j) in (0..body).step_by(V::LANES).enumerate() {
        let q = v % DOT_SUMS;
        sums[q] = load::<V>(w, j).mul_add(load(x, j), sums[q]);
    }
    dot_finish(sums, &w[body..], &x[body..])
}

/// The end of [`dot_row`]: the sums added as `(s₀ + s₁) + (s₂ + s₃)`,
/// reduced in `wide`'s fixed lane order, then the tail `Σ_j w[j]·x[j]`
/// added in order, one FMA a term.
#[inline(always)]
pub fn dot_finish<V: Vector>(sums: [V; DOT_SUMS], w_tail: &[f32], x_tail: &[f32]) -> f32 {
    let [s0, s1, s2, s3] = sums;
    dot_tail(((s0 + s1) + (s2 + s3)).reduce_add(), w_tail, x_tail)
}

/// Rows of W that [`rows_times_wt`] runs together, each with its
/// [`DOT_SUMS`] sums: 16 accumulators where the build has 32 vector
/// registers (AVX-512), 8 where it has 16 (16 would spill). The grouping
/// changes no bits (each row's sums are its own). Each load of X serves
/// that many rows: at B = 4 on Ice Lake, four rows took 11.6 µs for the
/// 784 × 128 forward and two 13.5 (`small_batch/forward`).
const WT_ROWS: usize = if crate::simd::HAS_AVX512 { 4 } else { 2 };

/// `acc + Σ_j w[j]·x[j]`, in order, one FMA a term.
#[inline(always)]
fn dot_tail(acc: f32, w: &[f32], x: &[f32]) -> f32 {
    w.iter().zip(x).fold(acc, |s, (&a, &b)| fma(a, b, s))
}

/// Scalar twin of [`rows_times_wt`]: each dot product summed in order.
pub fn rows_times_wt_scalar(
    x: &[f32],
    i: usize,
    w: &[f32],
    bias: Option<&[f32]>,
    relu: bool,
    y: &mut [f32],
) {
    let (batch, o) = shapes_wt(x, i, w, bias, y);
    for b in 0..batch {
        for r in 0..o {
            let s = dot_tail(0.0, &w[r * i..(r + 1) * i], &x[b * i..(b + 1) * i]);
            let v = s + bias.map_or(0.0, |bb| bb[r]);
            y[b * o + r] = if relu { relu_s(v) } else { v };
        }
    }
}

/// Checks [`rows_times_wt`]'s shapes; returns (B, O).
fn shapes_wt(x: &[f32], i: usize, w: &[f32], bias: Option<&[f32]>, y: &[f32]) -> (usize, usize) {
    assert!(i > 0, "rows_times_wt: zero inputs per row");
    same_len("rows_times_wt x (a whole number of rows)", x.len() % i, 0);
    same_len("rows_times_wt w (a whole number of rows)", w.len() % i, 0);
    let (batch, o) = (x.len() / i, w.len() / i);
    same_len("rows_times_wt y (B·O)", y.len(), batch * o);
    if let Some(b) = bias {
        same_len("rows_times_wt bias (O)", b.len(), o);
    }
    (batch, o)
}

/// Rows of `V` kept in registers by [`rows_times_w`]: four accumulators a
/// block, so a row of W streams through four independent FMA chains.
const DX_VECS: usize = 4;

/// `dX = (dY·W) ⊙ [A > 0]`: `dx[b, i] = Σ_o dy[b, o]·w[o, i]`, summed over
/// o in order (one FMA a term, from zero), then set to `+0` where
/// `mask[b, i] > 0` is false (NaN included) when a mask is given: the
/// ReLU's backward, whose forward output is the mask.
///
/// Shapes: `dy` (B, O) with `o` = O, `w` (O, I), `mask` (B, I) when given,
/// `dx` (B, I); B = `dy.len() / o`.
///
/// W's rows are streamed as axpys into `4·V::LANES` accumulators of a
/// block of dX's row, so W is read in place, row by row. The order of the
/// sum is the GEMM's (k = o in order), so the bits equal the twin's.
///
/// # Panics
/// If the lengths do not agree with these shapes (`o` = 0 included).
pub fn rows_times_w<V: Vector>(
    dy: &[f32],
    o: usize,
    w: &[f32],
    mask: Option<&[f32]>,
    dx: &mut [f32],
) {
    let (batch, i) = shapes_w(dy, o, w, mask, dx);
    let block = DX_VECS * V::LANES;
    let blocks = i / block * block;
    let body = i / V::LANES * V::LANES;
    for b in 0..batch {
        let dyb = &dy[b * o..(b + 1) * o];
        let dxb = &mut dx[b * i..(b + 1) * i];
        let mb = mask.map(|m| &m[b * i..(b + 1) * i]);
        let keep = |v: V, j: usize| mb.map_or(v, |m| v.where_positive(load(m, j)));
        for j in (0..blocks).step_by(block) {
            let mut acc = [V::ZERO; DX_VECS];
            for (r, &d) in dyb.iter().enumerate() {
                let wr = &w[r * i + j..r * i + j + block];
                let d = V::splat(d);
                for (k, a) in acc.iter_mut().enumerate() {
                    *a = d.mul_add(load(wr, k * V::LANES), *a);
                }
            }
            for (k, a) in acc.into_iter().enumerate() {
                let jj = j + k * V::LANES;
                store(dxb, jj, keep(a, jj));
            }
        }
        for j in (blocks..body).step_by(V::LANES) {
            let mut a = V::ZERO;
            for (r, &d) in dyb.iter().enumerate() {
                a = V::splat(d).mul_add(load(w, r * i + j), a);
            }
            store(dxb, j, keep(a, j));
        }
        for j in body..i {
            dxb[j] = masked(column_dot(dyb, w, i, j), mb.map(|m| m[j]));
        }
    }
}

/// `Σ_o dy[o]·w[o, j]` in order, one FMA a term from zero.
#[inline(always)]
fn column_dot(dy: &[f32], w: &[f32], i: usize, j: usize) -> f32 {
    dy.iter()
        .enumerate()
        .fold(0.0, |s, (r, &d)| fma(d, w[r * i + j], s))
}

/// `v` where `m > 0` (or no mask), else `+0`: the ReLU's backward.
#[inline(always)]
fn masked(v: f32, m: Option<f32>) -> f32 {
    match m {
        // `m > 0` is false for NaN too: masked, as `where_positive` does.
        Some(m) if m.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) => 0.0,
        _ => v,
    }
}

/// Scalar twin of [`rows_times_w`].
pub fn rows_times_w_scalar(dy: &[f32], o: usize, w: &[f32], mask: Option<&[f32]>, dx: &mut [f32]) {
    let (batch, i) = shapes_w(dy, o, w, mask, dx);
    for b in 0..batch {
        for j in 0..i {
            let v = column_dot(&dy[b * o..(b + 1) * o], w, i, j);
            dx[b * i + j] = masked(v, mask.map(|m| m[b * i + j]));
        }
    }
}

/// Checks [`rows_times_w`]'s shapes; returns (B, I).
fn shapes_w(dy: &[f32], o: usize, w: &[f32], mask: Option<&[f32]>, dx: &[f32]) -> (usize, usize) {
    assert!(o > 0, "rows_times_w: zero outputs per row");
    same_len("rows_times_w dy (a whole number of rows)", dy.len() % o, 0);
    same_len("rows_times_w w (a whole number of rows)", w.len() % o, 0);
    let (batch, i) = (dy.len() / o, w.len() / o);
    same_len("rows_times_w dx (B·I)", dx.len(), batch * i);
    if let Some(m) = mask {
        same_len("rows_times_w mask (B·I)", m.len(), batch * i);
    }
    (batch, i)
}

/// `out[j] = Σ_b c[b]·x[b·stride + j]` for j < `out.len()`: a combination
/// of B row segments, summed over b in order: the first term a product,
/// each further one an FMA.
///
/// With `c` = column o of dY and `x` = X at the segment's first column,
/// this is the segment of row o of the weight gradient `dW = dYᵀ·X`, so an
/// optimizer can apply it without dW ever being stored. At B = 1 it is
/// `c₀·x`, the rank-1 outer product's row.
///
/// # Panics
/// If `c` is empty, or a row segment runs past `x` (`(B − 1)·stride +
/// out.len() > x.len()`).
pub fn combine_rows_of<V: Vector>(c: &[f32], x: &[f32], stride: usize, out: &mut [f32]) {
    let n = out.len();
    check_combine(c.len(), x.len(), stride, n);
    let body = n / V::LANES * V::LANES;
    let (xp, op) = (x.as_ptr(), out.as_mut_ptr());
    let c0 = V::splat(c[0]);
    for j in (0..body).step_by(V::LANES) {
        // SAFETY: j + LANES ≤ n, and check_combine showed every row's
        // segment (b·stride + n ≤ x.len()) lies in x; out holds n floats.
        unsafe {
            let mut a = c0 * V::load(xp.add(j));
            for (b, &cb) in c.iter().enumerate().skip(1) {
                a = V::splat(cb).mul_add(V::load(xp.add(b * stride + j)), a);
            }
            V::store(op.add(j), a);
        }
    }
    combine_tail(c, x, stride, body, out);
}

/// Scalar twin of [`combine_rows_of`].
pub fn combine_rows_of_scalar(c: &[f32], x: &[f32], stride: usize, out: &mut [f32]) {
    check_combine(c.len(), x.len(), stride, out.len());
    combine_tail(c, x, stride, 0, out);
}

fn combine_tail(c: &[f32], x: &[f32], stride: usize, from: usize, out: &mut [f32]) {
    for (j, o) in out.iter_mut().enumerate().skip(from) {
        *o = c
            .iter()
            .enumerate()
            .skip(1)
            .fold(c[0] * x[j], |s, (b, &cb)| fma(cb, x[b * stride + j], s));
    }
}

fn check_combine(rows: usize, len: usize, stride: usize, n: usize) {
    assert!(rows > 0, "combine_rows_of: no rows");
    assert!(
        (rows - 1) * stride + n <= len,
        "combine_rows_of: {rows} rows of {n} at stride {stride} need {} floats, x has {len}",
        (rows - 1) * stride + n
    );
}
