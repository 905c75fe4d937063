//! Activations: ReLU, Sigmoid, Tanh. Forward and backward sit side by side.
//!
//! Every backward here is written in terms of the activation's *output*
//! `y = f(z)`, which the forward pass stores anyway (it is the next layer's
//! input), so nothing else has to be kept:
//!
//! | f       | y = f(z)            | f′(z) in terms of y |
//! |---------|---------------------|---------------------|
//! | ReLU    | max(0, z)           | `[y > 0]`           |
//! | Sigmoid | 1 / (1 + e^(−z))    | `y·(1 − y)`         |
//! | Tanh    | tanh z              | `1 − y²`            |
//!
//! and the chain rule gives `dZ = dY ⊙ f′(z)` elementwise.
//!
//! The Sigmoid and Tanh kernels are `f32x8` loops with a scalar tail, each
//! with a `*_scalar` twin the tests compare it to. ReLU's kernels are the
//! core's ([`descent_core::ops::relu`], [`descent_core::ops::relu_backward`]),
//! and in the MLP its forward is fused into the GEMM epilogue.

use descent_core::ops;
use descent_core::simd::{load, store, F32x8, Wide, LANES};

/// The nonlinearity between two Linear layers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Activation {
    /// `max(0, z)`; `nn.ReLU`.
    Relu,
    /// `1 / (1 + e^(−z))`; `nn.Sigmoid`.
    Sigmoid,
    /// `tanh z`; `nn.Tanh`.
    Tanh,
}

impl Activation {
    /// All activations, for tests and command lines.
    pub const ALL: [Activation; 3] = [Activation::Relu, Activation::Sigmoid, Activation::Tanh];

    /// The lowercase name (`"relu"`, `"sigmoid"`, `"tanh"`).
    pub fn name(self) -> &'static str {
        match self {
            Activation::Relu => "relu",
            Activation::Sigmoid => "sigmoid",
            Activation::Tanh => "tanh",
        }
    }

    /// Parses [`Activation::name`]'s output (case-insensitive).
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(s))
    }

    /// Forward, in place: `y ← f(y)` elementwise.
    pub fn forward(self, y: &mut [f32]) {
        match self {
            Activation::Relu => ops::relu::<Wide>(y),
            Activation::Sigmoid => sigmoid(y),
            Activation::Tanh => tanh(y),
        }
    }

    /// Backward, in place on the upstream gradient: `d ← d ⊙ f′`, with f′
    /// written in terms of the stored output `y` (see the module table).
    /// `d` comes in as dL/dY and leaves as dL/dZ.
    pub fn backward(self, y: &[f32], d: &mut [f32]) {
        match self {
            Activation::Relu => ops::relu_backward::<Wide>(y, d),
            Activation::Sigmoid => sigmoid_backward(y, d),
            Activation::Tanh => tanh_backward(y, d),
        }
    }

    /// Scalar twin of [`Activation::forward`].
    pub fn forward_scalar(self, y: &mut [f32]) {
        match self {
            Activation::Relu => ops::relu_scalar(y),
            Activation::Sigmoid => sigmoid_scalar(y),
            Activation::Tanh => tanh_scalar(y),
        }
    }

    /// Scalar twin of [`Activation::backward`].
    pub fn backward_scalar(self, y: &[f32], d: &mut [f32]) {
        match self {
            Activation::Relu => ops::relu_backward_scalar(y, d),
            Activation::Sigmoid => sigmoid_backward_scalar(y, d),
            Activation::Tanh => tanh_backward_scalar(y, d),
        }
    }
}

#[track_caller]
fn same_len(op: &str, a: usize, b: usize) {
    assert!(a == b, "{op}: slice lengths differ ({a} vs {b})");
}

/// `σ(z) = 1 / (1 + e^(−z))` on 8 lanes. For z → −∞, e^(−z) → ∞ and the
/// quotient → 0; for z → +∞, e^(−z) → 0 and it → 1: no overflow to NaN.
#[inline(always)]
fn sigmoid_v(z: F32x8) -> F32x8 {
    F32x8::ONE / (F32x8::ONE + (-z).exp())
}

/// Sigmoid forward, in place: `y ← 1 / (1 + e^(−y))`.
pub fn sigmoid(y: &mut [f32]) {
    let body = y.len() / LANES * LANES;
    for i in (0..body).step_by(LANES) {
        store(y, i, sigmoid_v(load(y, i)));
    }
    sigmoid_scalar(&mut y[body..]);
}

/// Scalar twin of [`sigmoid`].
pub fn sigmoid_scalar(y: &mut [f32]) {
    for v in y {
        *v = 1.0 / (1.0 + (-*v).exp());
    }
}

/// Sigmoid backward: `d ← d ⊙ y·(1 − y)`, `y` the sigmoid's output.
pub fn sigmoid_backward(y: &[f32], d: &mut [f32]) {
    same_len("sigmoid_backward", y.len(), d.len());
    let body = y.len() / LANES * LANES;
    for i in (0..body).step_by(LANES) {
        let yv: F32x8 = load(y, i);
        store(d, i, load::<F32x8>(d, i) * (yv * (F32x8::ONE - yv)));
    }
    sigmoid_backward_scalar(&y[body..], &mut d[body..]);
}

/// Scalar twin of [`sigmoid_backward`].
pub fn sigmoid_backward_scalar(y: &[f32], d: &mut [f32]) {
    same_len("sigmoid_backward", y.len(), d.len());
    for (di, &yi) in d.iter_mut().zip(y) {
        *di *= yi * (1.0 - yi);
    }
}

/// Tanh forward, in place: `y ← tanh y` (`wide`'s `f32x8::tanh`, which goes
/// through `expm1` so small arguments keep their relative precision).
pub fn tanh(y: &mut [f32]) {
    let body = y.len() / LANES * LANES;
    for i in (0..body).step_by(LANES) {
        store(y, i, load::<F32x8>(y, i).tanh());
    }
    tanh_scalar(&mut y[body..]);
}

/// Scalar twin of [`tanh`] (the standard library's `f32::tanh`).
pub fn tanh_scalar(y: &mut [f32]) {
    for v in y {
        *v = v.tanh();
    }
}

/// Tanh backward: `d ← d ⊙ (1 − y²)`, `y` the tanh's output.
pub fn tanh_backward(y: &[f32], d: &mut [f32]) {
    same_len("tanh_backward", y.len(), d.len());
    let body = y.len() / LANES * LANES;
    for i in (0..body).step_by(LANES) {
        let yv: F32x8 = load(y, i);
        store(d, i, load::<F32x8>(d, i) * yv.mul_neg_add(yv, F32x8::ONE));
    }
    tanh_backward_scalar(&y[body..], &mut d[body..]);
}

/// Scalar twin of [`tanh_backward`] (`1 − y²` fused as the vector body is).
pub fn tanh_backward_scalar(y: &[f32], d: &mut [f32]) {
    same_len("tanh_backward", y.len(), d.len());
    for (di, &yi) in d.iter_mut().zip(y) {
        *di *= ops::fma(-yi, yi, 1.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values over the interesting range plus edges: 0, ±tiny, large
    /// magnitudes that saturate, and ±∞.
    fn inputs(len: usize) -> Vec<f32> {
        let edges = [
            0.0,
            -0.0,
            1e-7,
            -1e-7,
            1e-3,
            -2.5,
            20.0,
            -20.0,
            88.0,
            -88.0,
            200.0,
            -200.0,
            f32::INFINITY,
            f32::NEG_INFINITY,
        ];
        (0..len)
            .map(|i| {
                if i % 3 == 0 {
                    edges[(i / 3) % edges.len()]
                } else {
                    ((i as f32) * 0.731).sin() * 6.0
                }
            })
            .collect()
    }

    fn close(a: f32, b: f32, tol: f32) -> bool {
        a == b || (a - b).abs() <= tol * (1.0 + b.abs())
    }

    #[test]
    fn forward_fast_matches_scalar_on_odd_unaligned_slices() {
        for act in Activation::ALL {
            for len in [0, 1, 7, 8, 9, 17, 63, 100] {
                let src = inputs(len + 1);
                let mut fast = src.clone();
                let mut slow = src.clone();
                act.forward(&mut fast[1..]);
                act.forward_scalar(&mut slow[1..]);
                assert_eq!(fast[0], src[0], "index 0 untouched");
                for (i, (&f, &s)) in fast.iter().zip(&slow).enumerate() {
                    assert!(
                        close(f, s, 4e-7),
                        "{} len {len} i {i}: x {} fast {f} scalar {s}",
                        act.name(),
                        src[i]
                    );
                    assert!(!f.is_nan(), "{} gave NaN at x = {}", act.name(), src[i]);
                }
            }
        }
    }

    #[test]
    fn forward_known_values() {
        let mut y = vec![0.0, 1.0, -1.0, 100.0, -100.0, 0.5, 0.25, -3.0, 1e-6];
        let x = y.clone();
        sigmoid(&mut y);
        for (&xi, &yi) in x.iter().zip(&y) {
            let want = 1.0 / (1.0 + (-(xi as f64)).exp());
            assert!(
                close(yi, want as f32, 3e-7),
                "sigmoid({xi}) = {yi}, want {want}"
            );
        }
        let mut y = x.clone();
        tanh(&mut y);
        for (&xi, &yi) in x.iter().zip(&y) {
            let want = (xi as f64).tanh();
            // Relative to |tanh| itself so tiny inputs are checked too.
            assert!(
                ((yi as f64) - want).abs() <= 3e-7 * want.abs().max(1e-30),
                "tanh({xi}) = {yi}, want {want}"
            );
        }
    }

    #[test]
    fn backward_fast_matches_scalar_and_formula() {
        for act in Activation::ALL {
            for len in [0, 1, 7, 8, 9, 17, 63] {
                let mut y = inputs(len + 1);
                act.forward_scalar(&mut y);
                let d0: Vec<f32> = (0..len + 1).map(|i| 0.3 - 0.07 * i as f32).collect();
                let mut fast = d0.clone();
                let mut slow = d0.clone();
                act.backward(&y[1..], &mut fast[1..]);
                act.backward_scalar(&y[1..], &mut slow[1..]);
                assert_eq!(fast[0], d0[0]);
                for i in 1..=len {
                    assert!(close(fast[i], slow[i], 1e-7), "{} i {i}", act.name());
                    let yi = y[i] as f64;
                    let deriv = match act {
                        Activation::Relu => (yi > 0.0) as u8 as f64,
                        Activation::Sigmoid => yi * (1.0 - yi),
                        Activation::Tanh => 1.0 - yi * yi,
                    };
                    let want = d0[i] as f64 * deriv;
                    assert!(
                        (slow[i] as f64 - want).abs() <= 1e-6 * (1.0 + want.abs()),
                        "{} i {i}: {} vs {want}",
                        act.name(),
                        slow[i]
                    );
                }
            }
        }
    }

    #[test]
    fn names_round_trip() {
        for a in Activation::ALL {
            assert_eq!(Activation::from_name(a.name()), Some(a));
        }
        assert_eq!(Activation::from_name("ReLU"), Some(Activation::Relu));
        assert_eq!(Activation::from_name("gelu"), None);
    }
}
