use super::same_len;
use crate::gemm::kernel::relu_s;
// Generic over the vector (the callers use `Wide`, the widest this build has
// in registers; the tests every width): these passes stream whole buffers,
// and each result depends on its own element only, so the width changes
// speed, never bits.
use crate::simd::{load, store, Vector};

/// `y ← α·x + y` (BLAS axpy).
pub fn axpy<V: Vector>(alpha: f32, x: &[f32], y: &mut [f32]) {
    same_len("axpy", x.len(), y.len());
    let a = V::splat(alpha);
    let body = x.len() / V::LANES * V::LANES;
    for i in (0..body).step_by(V::LANES) {
        store(y, i, a.mul_add(load::<V>(x, i), load(y, i)));
    }
    axpy_scalar(alpha, &x[body..], &mut y[body..]);
}

/// Scalar twin of [`axpy`] (uses `mul_add` so both round once per element
/// when FMA is available).
pub fn axpy_scalar(alpha: f32, x: &[f32], y: &mut [f32]) {
    same_len("axpy", x.len(), y.len());
    for (yi, &xi) in y.iter_mut().zip(x) {
        *yi = fma(alpha, xi, *yi);
    }
}

/// Per row of `src`, a linear combination of its blocks, plus a bias and
/// through a ReLU when asked:
///
/// `y_r = f(s_{r,0}·[lead] + Σ_k c_k·s_{r,lead+k} + b)`
///
/// where row r of `src` holds `lead + c.len()` blocks of `n` values
/// (`s_{r,0}` only when `lead`), `b` is added when given and `f` is the
/// ReLU when `relu`. Terms with `c_k = 0` are skipped, not multiplied, so
/// `c = 0` gives `s_{r,0} + b` exactly even where another block holds a
/// NaN. The sum runs in the order written, one rounding per term, at
/// every width. (A loss landscape's point `θ + Σ c_k·d_k`: its weights
/// from the stacked `[θ | d_1 | …]`, and its first layer's pre-activation
/// from the products of the examples with each, computed once for every
/// point.)
///
/// Shapes: `src` (R, (lead + K)·n), `y` (R, n), `b` (n).
pub fn combine_rows<V: Vector>(
    src: &[f32],
    n: usize,
    lead: bool,
    c: &[f32],
    b: Option<&[f32]>,
    relu: bool,
    y: &mut [f32],
) {
    let Some(width) = combine_shapes(src, n, lead, c, b, y) else {
        return;
    };
    let body = n / V::LANES * V::LANES;
    let first = usize::from(lead);
    for (row, yr) in src.chunks_exact(width).zip(y.chunks_exact_mut(n)) {
        for j in (0..body).step_by(V::LANES) {
            let mut acc = if lead { load::<V>(row, j) } else { V::ZERO };
            for (k, &ck) in c.iter().enumerate() {
                if ck != 0.0 {
                    acc = V::splat(ck).mul_add(load(row, (first + k) * n + j), acc);
                }
            }
            if let Some(b) = b {
                acc += load(b, j);
            }
            store(yr, j, if relu { acc.relu() } else { acc });
        }
        combine_tail(row, n, lead, c, b, relu, yr, body);
    }
}

/// Scalar twin of [`combine_rows`].
pub fn combine_rows_scalar(
    src: &[f32],
    n: usize,
    lead: bool,
    c: &[f32],
    b: Option<&[f32]>,
    relu: bool,
    y: &mut [f32],
) {
    let Some(width) = combine_shapes(src, n, lead, c, b, y) else {
        return;
    };
    for (row, yr) in src.chunks_exact(width).zip(y.chunks_exact_mut(n)) {
        combine_tail(row, n, lead, c, b, relu, yr, 0);
    }
}

/// Checks [`combine_rows`]' shapes; the row width, or `None` when there is
/// nothing to compute.
fn combine_shapes(
    src: &[f32],
    n: usize,
    lead: bool,
    c: &[f32],
    b: Option<&[f32]>,
    y: &[f32],
) -> Option<usize> {
    let width = (usize::from(lead) + c.len()) * n;
    if let Some(b) = b {
        same_len("combine_rows (bias vs n)", b.len(), n);
    }
    if n == 0 || width == 0 {
        same_len("combine_rows (y, no columns)", y.len(), 0);
        return None;
    }
    same_len(
        "combine_rows (src vs y rows)",
        src.len(),
        y.len() / n * width,
    );
    same_len("combine_rows (y vs whole rows)", y.len() % n, 0);
    Some(width)
}

/// [`combine_rows`] for one row's columns `from..n`, one at a time.
#[allow(clippy::too_many_arguments)]
fn combine_tail(
    row: &[f32],
    n: usize,
    lead: bool,
    c: &[f32],
    b: Option<&[f32]>,
    relu: bool,
    yr: &mut [f32],
    from: usize,
) {
    let first = usize::from(lead);
    for j in from..n {
        let mut acc = if lead { row[j] } else { 0.0 };
        for (k, &ck) in c.iter().enumerate() {
            if ck != 0.0 {
                acc = fma(ck, row[(first + k) * n + j], acc);
            }
        }
        if let Some(b) = b {
            acc += b[j];
        }
        yr[j] = if relu { relu_s(acc) } else { acc };
    }
}

/// `a·b + c`, fused when the build has FMA (as the vectors' `mul_add` is), so the
/// scalar twins and tails round exactly like the vector bodies.
#[inline(always)]
pub fn fma(a: f32, b: f32, c: f32) -> f32 {
    if crate::simd::HAS_FMA {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// `x ← α·x`.
pub fn scale<V: Vector>(alpha: f32, x: &mut [f32]) {
    let a = V::splat(alpha);
    let body = x.len() / V::LANES * V::LANES;
    for i in (0..body).step_by(V::LANES) {
        store(x, i, a * load::<V>(x, i));
    }
    scale_scalar(alpha, &mut x[body..]);
}

/// Scalar twin of [`scale`].
pub fn scale_scalar(alpha: f32, x: &mut [f32]) {
    for v in x {
        *v *= alpha;
    }
}

/// `out ← x + y`.
pub fn add<V: Vector>(x: &[f32], y: &[f32], out: &mut [f32]) {
    same_len("add", x.len(), y.len());
    same_len("add", x.len(), out.len());
    let body = x.len() / V::LANES * V::LANES;
    for i in (0..body).step_by(V::LANES) {
        store(out, i, load::<V>(x, i) + load::<V>(y, i));
    }
    add_scalar(&x[body..], &y[body..], &mut out[body..]);
}

/// Scalar twin of [`add`].
pub fn add_scalar(x: &[f32], y: &[f32], out: &mut [f32]) {
    same_len("add", x.len(), y.len());
    same_len("add", x.len(), out.len());
    for ((o, &a), &b) in out.iter_mut().zip(x).zip(y) {
        *o = a + b;
    }
}

/// ReLU forward, in place: `x ← x < 0 ? 0 : x` (NaN stays NaN).
pub fn relu<V: Vector>(x: &mut [f32]) {
    let body = x.len() / V::LANES * V::LANES;
    for i in (0..body).step_by(V::LANES) {
        store(x, i, load::<V>(x, i).relu());
    }
    relu_scalar(&mut x[body..]);
}

/// Scalar twin of [`relu`].
pub fn relu_scalar(x: &mut [f32]) {
    for v in x {
        *v = relu_s(*v);
    }
}

/// ReLU backward mask, in place on the upstream gradient:
/// `dx ← dy ⊙ [y > 0]`, where `y` is the ReLU's output (`dy` comes in in
/// `d`, `dx` goes out in `d`).
pub fn relu_backward<V: Vector>(y: &[f32], d: &mut [f32]) {
    same_len("relu_backward", y.len(), d.len());
    let body = y.len() / V::LANES * V::LANES;
    for i in (0..body).step_by(V::LANES) {
        store(d, i, load::<V>(d, i).where_positive(load(y, i)));
    }
    relu_backward_scalar(&y[body..], &mut d[body..]);
}

/// Scalar twin of [`relu_backward`].
pub fn relu_backward_scalar(y: &[f32], d: &mut [f32]) {
    same_len("relu_backward", y.len(), d.len());
    for (di, &yi) in d.iter_mut().zip(y) {
        if yi <= 0.0 || yi.is_nan() {
            *di = 0.0;
        }
    }
}
