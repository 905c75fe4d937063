use super::same_len;
use crate::gemm::kernel::relu_s;
// Written on the widest vector this build has in registers (16 lanes with
// AVX-512F): these passes stream whole buffers, and each result depends on
// its own element only, so the width changes speed, never bits.
use crate::simd::{load, store, Vector, Wide, WIDE_LANES as LANES};

/// `y ← α·x + y` (BLAS axpy).
pub fn axpy(alpha: f32, x: &[f32], y: &mut [f32]) {
    same_len("axpy", x.len(), y.len());
    let a = Wide::splat(alpha);
    let body = x.len() / LANES * LANES;
    for i in (0..body).step_by(LANES) {
        store(y, i, a.mul_add(load(x, i), load(y, i)));
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
pub fn scale(alpha: f32, x: &mut [f32]) {
    let a = Wide::splat(alpha);
    let body = x.len() / LANES * LANES;
    for i in (0..body).step_by(LANES) {
        store(x, i, a * load::<Wide>(x, i));
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
pub fn add(x: &[f32], y: &[f32], out: &mut [f32]) {
    same_len("add", x.len(), y.len());
    same_len("add", x.len(), out.len());
    let body = x.len() / LANES * LANES;
    for i in (0..body).step_by(LANES) {
        store(out, i, load::<Wide>(x, i) + load::<Wide>(y, i));
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
pub fn relu(x: &mut [f32]) {
    let body = x.len() / LANES * LANES;
    for i in (0..body).step_by(LANES) {
        store(x, i, load::<Wide>(x, i).relu());
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
pub fn relu_backward(y: &[f32], d: &mut [f32]) {
    same_len("relu_backward", y.len(), d.len());
    let body = y.len() / LANES * LANES;
    for i in (0..body).step_by(LANES) {
        // The mask is all ones where y > 0: AND keeps d there and gives +0
        // elsewhere. (Written as `select`, LLVM turns the read-modify-write
        // into a masked store, `vmaskmovps`, which is microcoded and ~5×
        // slower on AMD Zen.)
        let keep = load::<Wide>(y, i).simd_gt(Wide::ZERO);
        store(d, i, load::<Wide>(d, i) & keep);
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
