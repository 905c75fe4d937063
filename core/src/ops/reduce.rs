use super::same_len;
use crate::simd::{load, store, F32x8, Vector, Wide, LANES};

/// Column sums, accumulated: `out[j] += Σ_i x[i, j]` for a row-major
/// `rows × cols` matrix `x` (the bias gradient `db += Σ_rows dY`).
/// Rows are added in order i = 0, 1, … for every column.
pub fn col_sums_acc(x: &[f32], rows: usize, cols: usize, out: &mut [f32]) {
    same_len("col_sums_acc (x vs rows·cols)", x.len(), rows * cols);
    same_len("col_sums_acc (out vs cols)", out.len(), cols);
    // Whole 16-lane columns first (with AVX-512F), then 8-lane ones, then
    // the rest one by one: each column is summed in row order whatever its
    // lanes, so the result is the same bits as the scalar twin's.
    let wide = col_sums_span::<Wide>(x, rows, cols, out, 0);
    let body = col_sums_span::<F32x8>(x, rows, cols, out, wide);
    for j in body..cols {
        for i in 0..rows {
            out[j] += x[i * cols + j];
        }
    }
}

/// [`col_sums_acc`] for the whole `V`-wide column groups from column `from`
/// on; returns where they end.
#[inline(always)]
fn col_sums_span<V: Vector>(
    x: &[f32],
    rows: usize,
    cols: usize,
    out: &mut [f32],
    from: usize,
) -> usize {
    let end = from + (cols - from) / V::LANES * V::LANES;
    for j in (from..end).step_by(V::LANES) {
        let mut acc: V = load(out, j);
        for i in 0..rows {
            acc += load(x, i * cols + j);
        }
        store(out, j, acc);
    }
    end
}

/// Scalar twin of [`col_sums_acc`].
pub fn col_sums_acc_scalar(x: &[f32], rows: usize, cols: usize, out: &mut [f32]) {
    same_len("col_sums_acc (x vs rows·cols)", x.len(), rows * cols);
    same_len("col_sums_acc (out vs cols)", out.len(), cols);
    for (j, o) in out.iter_mut().enumerate() {
        for i in 0..rows {
            *o += x[i * cols + j];
        }
    }
}

/// Sum of squares `Σ x²` (the squared L2 norm, e.g. of a gradient), on
/// vectors `V`.
///
/// Four `V` accumulators (`4·V::LANES` partial sums: 32 with `F32x8`, 64
/// with `F32x16`, which also keeps the rounding error far below a
/// sequential sum's) are combined at the end, so the bits depend on the
/// width; the scalar twin accumulates in f64 and is the accuracy reference.
pub fn sum_squares<V: Vector>(x: &[f32]) -> f32 {
    let mut acc = [V::ZERO; 4];
    let step = 4 * V::LANES;
    let body = x.len() / step * step;
    for i in (0..body).step_by(step) {
        for (u, a) in acc.iter_mut().enumerate() {
            let v: V = load(x, i + u * V::LANES);
            *a = v.mul_add(v, *a);
        }
    }
    let mut s = ((acc[0] + acc[1]) + (acc[2] + acc[3])).reduce_add();
    for &v in &x[body..] {
        s += v * v;
    }
    s
}

/// Scalar twin of [`sum_squares`], accumulated in f64.
pub fn sum_squares_scalar(x: &[f32]) -> f32 {
    x.iter().map(|&v| (v as f64) * (v as f64)).sum::<f64>() as f32
}

/// `Σ_j a[j]·b[j]` in `f64`: each product of the widened floats is exact
/// in `f64` (24 + 24 bits), so an FMA and a multiply-then-add give the
/// same bits and builds with and without FMA agree; summed in four `f64x4` partial sums
/// (`(s₀ + s₁) + (s₂ + s₃)`, each reduced in lane order), then the tail
/// in order. The sums the factored gradient's norm is made of
/// (`descent_nn`'s `GradSource::norm`), which runs every step: a plain
/// loop over `f64::from` compiled to lane shuffles there (0.7 µs of a
/// 14 µs batch-1 step on Ice Lake).
///
/// # Panics
/// If the lengths differ.
pub fn dot_f64(a: &[f32], b: &[f32]) -> f64 {
    use wide::f64x4;
    same_len("dot_f64 b (a's length)", b.len(), a.len());
    let wide4 = |x: &[f32]| f64x4::new([x[0], x[1], x[2], x[3]].map(f64::from));
    let mut s = [f64x4::ZERO; 4];
    let (ac, bc) = (a.chunks_exact(16), b.chunks_exact(16));
    let tail: f64 = (ac.remainder().iter().zip(bc.remainder()))
        .map(|(&p, &q)| f64::from(p) * f64::from(q))
        .sum();
    for (p, q) in ac.zip(bc) {
        for (k, sk) in s.iter_mut().enumerate() {
            let (p, q) = (&p[4 * k..4 * k + 4], &q[4 * k..4 * k + 4]);
            *sk = wide4(p).mul_add(wide4(q), *sk);
        }
    }
    let lanes = ((s[0] + s[1]) + (s[2] + s[3])).to_array();
    ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + tail
}

/// Scalar twin of [`dot_f64`]: the `f64` sum in order.
pub fn dot_f64_scalar(a: &[f32], b: &[f32]) -> f64 {
    same_len("dot_f64 b (a's length)", b.len(), a.len());
    a.iter()
        .zip(b)
        .map(|(&p, &q)| f64::from(p) * f64::from(q))
        .sum()
}

/// Maximum of a non-empty slice (NaN if any element is NaN). Returns
/// `-∞` for an empty slice.
pub fn max(x: &[f32]) -> f32 {
    let body = x.len() / LANES * LANES;
    let mut m = F32x8::splat(f32::NEG_INFINITY);
    let mut nan = false;
    for i in (0..body).step_by(LANES) {
        let v: F32x8 = load(x, i);
        nan |= v.is_nan().any();
        m = m.max(v);
    }
    let mut s = m.to_array().into_iter().fold(f32::NEG_INFINITY, f32::max);
    for &v in &x[body..] {
        nan |= v.is_nan();
        s = s.max(v);
    }
    if nan {
        f32::NAN
    } else {
        s
    }
}

/// Scalar twin of [`max`].
pub fn max_scalar(x: &[f32]) -> f32 {
    let mut s = f32::NEG_INFINITY;
    for &v in x {
        if v.is_nan() {
            return f32::NAN;
        }
        s = s.max(v);
    }
    s
}

/// Row maxima of a row-major `rows × cols` matrix: `out[i] = max_j x[i, j]`.
pub fn row_max(x: &[f32], rows: usize, cols: usize, out: &mut [f32]) {
    same_len("row_max (x vs rows·cols)", x.len(), rows * cols);
    same_len("row_max (out vs rows)", out.len(), rows);
    for (i, o) in out.iter_mut().enumerate() {
        *o = max(&x[i * cols..(i + 1) * cols]);
    }
}

/// Index of the first maximum of a slice (0 for an empty slice; NaN
/// compares below everything, so it is never chosen over a number).
pub fn argmax(x: &[f32]) -> usize {
    let m = max(x);
    if m.is_nan() {
        return argmax_scalar(x);
    }
    x.iter().position(|&v| v == m).unwrap_or(0)
}

/// Scalar twin of [`argmax`].
pub fn argmax_scalar(x: &[f32]) -> usize {
    let mut best = 0;
    let mut bv = f32::NEG_INFINITY;
    for (i, &v) in x.iter().enumerate() {
        if v > bv {
            bv = v;
            best = i;
        }
    }
    best
}

/// Row argmax of a row-major `rows × cols` matrix (predicted classes).
pub fn row_argmax(x: &[f32], rows: usize, cols: usize, out: &mut [usize]) {
    same_len("row_argmax (x vs rows·cols)", x.len(), rows * cols);
    same_len("row_argmax (out vs rows)", out.len(), rows);
    for (i, o) in out.iter_mut().enumerate() {
        *o = argmax(&x[i * cols..(i + 1) * cols]);
    }
}
