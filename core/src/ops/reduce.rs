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
