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
