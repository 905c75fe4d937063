//! Numerical faults: NaN, ±Inf, subnormals and huge values fed to the GEMM
//! and to every fused optimizer kernel must come out as the scalar twins
//! give them: a NaN stays a NaN and an overflow stays infinite, never
//! silently zeroed or clamped; finite results agree to the twins' stated
//! tolerance. The optimizer kernels run at both widths (`F32x8` and
//! `F32x16`).

mod common;

use common::fast_and_naive;
use descent_core::simd::{F32x16, F32x8, Vector};
use descent_core::step::{
    adagrad, adagrad_scalar, adam, adam_scalar, momentum, momentum_scalar, rmsprop, rmsprop_scalar,
    sgd, sgd_scalar, AdagradStep, AdamStep, MomentumStep, RmspropState, RmspropStep, SgdStep,
};
use descent_core::{matmul, Compute, Epilogue, MatMut, MatRef};

/// The values that break numerics, mixed with ordinary ones.
const EDGES: [f32; 12] = [
    f32::NAN,
    f32::INFINITY,
    f32::NEG_INFINITY,
    1e-40,  // subnormal
    -3e-39, // subnormal
    f32::MIN_POSITIVE,
    3e38,
    -3e38,
    0.0,
    -0.0,
    1.5,
    -0.75,
];

/// A length-`n` vector cycling through the edge values with an offset, so
/// every edge value meets every other in the element-wise kernels.
fn edges(n: usize, shift: usize) -> Vec<f32> {
    (0..n)
        .map(|i| EDGES[(i * 5 + shift) % EDGES.len()])
        .collect()
}

/// Same class of value: both NaN, both the same infinity, or finite and
/// within `rel` (relative, with an absolute floor at the subnormal range).
fn agree(a: f32, b: f32, rel: f32) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    if a.is_infinite() || b.is_infinite() {
        return a == b;
    }
    (a - b).abs() <= rel * a.abs().max(b.abs()) + 1e-37
}

fn check(what: &str, fast: &[f32], twin: &[f32], rel: f32) {
    for (i, (a, b)) in fast.iter().zip(twin).enumerate() {
        assert!(
            agree(*a, *b, rel),
            "{what}: element {i}: fused {a} vs twin {b}"
        );
    }
}

const N: usize = 12 * 12 + 5; // every pair of edge values, plus a tail

#[test]
fn sgd_and_momentum_propagate_like_their_twins() {
    sgd_and_momentum_propagate_like_their_twins_at::<F32x8>();
    sgd_and_momentum_propagate_like_their_twins_at::<F32x16>();
}

fn sgd_and_momentum_propagate_like_their_twins_at<V: Vector>() {
    for shift in 0..EDGES.len() {
        let (p0, g) = (edges(N, shift), edges(N, shift + 3));
        for wd in [0.0, 0.01] {
            let h = SgdStep {
                lr: 0.1,
                weight_decay: wd,
                grad_scale: 1.0,
            };
            let (mut a, mut b) = (p0.clone(), p0.clone());
            sgd::<V>(&mut a, &g, &h);
            sgd_scalar(&mut b, &g, &h);
            check("sgd", &a, &b, 1e-6);
            for nesterov in [false, true] {
                let h = MomentumStep {
                    lr: 0.1,
                    weight_decay: wd,
                    momentum: 0.9,
                    dampening: 0.0,
                    nesterov,
                    first_step: false,
                    grad_scale: 1.0,
                };
                let (mut a, mut b) = (p0.clone(), p0.clone());
                let (mut ba, mut bb) = (edges(N, shift + 7), edges(N, shift + 7));
                momentum::<V>(&mut a, &g, &mut ba, &h);
                momentum_scalar(&mut b, &g, &mut bb, &h);
                check("momentum params", &a, &b, 1e-6);
                check("momentum buffer", &ba, &bb, 1e-6);
            }
        }
    }
}

#[test]
fn adaptive_rules_propagate_like_their_twins() {
    adaptive_rules_propagate_like_their_twins_at::<F32x8>();
    adaptive_rules_propagate_like_their_twins_at::<F32x16>();
}

fn adaptive_rules_propagate_like_their_twins_at<V: Vector>() {
    for shift in 0..EDGES.len() {
        let (p0, g) = (edges(N, shift), edges(N, shift + 3));
        // State buffers are sums of squares: non-negative, but may be ∞,
        // NaN or subnormal after a fault.
        let s0: Vec<f32> = edges(N, shift + 5).iter().map(|v| v.abs()).collect();

        let h = AdagradStep {
            clr: 0.01,
            weight_decay: 0.0,
            eps: 1e-10,
            grad_scale: 1.0,
        };
        let (mut a, mut b, mut sa, mut sb) = (p0.clone(), p0.clone(), s0.clone(), s0.clone());
        adagrad::<V>(&mut a, &g, &mut sa, &h);
        adagrad_scalar(&mut b, &g, &mut sb, &h);
        check("adagrad params", &a, &b, 1e-6);
        check("adagrad sum", &sa, &sb, 1e-6);

        for centered in [false, true] {
            let h = RmspropStep {
                lr: 0.01,
                alpha: 0.99,
                eps: 1e-8,
                weight_decay: 0.0,
                momentum: 0.9,
                grad_scale: 1.0,
            };
            let (mut a, mut b) = (p0.clone(), p0.clone());
            let (mut sqa, mut sqb) = (s0.clone(), s0.clone());
            let (mut ga, mut gb) = (edges(N, shift + 1), edges(N, shift + 1));
            let (mut ma, mut mb) = (edges(N, shift + 2), edges(N, shift + 2));
            rmsprop::<V>(
                &mut a,
                &g,
                RmspropState {
                    square_avg: &mut sqa,
                    grad_avg: centered.then_some(&mut ga[..]),
                    momentum_buffer: Some(&mut ma),
                },
                &h,
            );
            rmsprop_scalar(
                &mut b,
                &g,
                RmspropState {
                    square_avg: &mut sqb,
                    grad_avg: centered.then_some(&mut gb[..]),
                    momentum_buffer: Some(&mut mb),
                },
                &h,
            );
            check(
                &format!("rmsprop params (shift {shift}, centered {centered})"),
                &a,
                &b,
                1e-6,
            );
            check("rmsprop square_avg", &sqa, &sqb, 1e-6);
            check("rmsprop momentum", &ma, &mb, 1e-6);
        }

        for (decoupled, amsgrad) in [(false, false), (true, false), (false, true)] {
            let h = AdamStep::new(1e-3, 0.9, 0.999, 1e-8, 0.01, decoupled, amsgrad, 3, 1.0);
            let (mut a, mut b) = (p0.clone(), p0.clone());
            let (mut ma, mut mb) = (edges(N, shift + 1), edges(N, shift + 1));
            let (mut va, mut vb) = (s0.clone(), s0.clone());
            let (mut xa, mut xb) = (s0.clone(), s0.clone());
            adam::<V>(
                &mut a,
                &g,
                &mut ma,
                &mut va,
                amsgrad.then_some(&mut xa[..]),
                &h,
            );
            adam_scalar(
                &mut b,
                &g,
                &mut mb,
                &mut vb,
                amsgrad.then_some(&mut xb[..]),
                &h,
            );
            check("adam params", &a, &b, 1e-6);
            check("adam exp_avg", &ma, &mb, 1e-6);
            check("adam exp_avg_sq", &va, &vb, 1e-6);
        }
    }
}

#[test]
fn a_nan_gradient_is_never_zeroed() {
    a_nan_gradient_is_never_zeroed_at::<F32x8>();
    a_nan_gradient_is_never_zeroed_at::<F32x16>();
}

fn a_nan_gradient_is_never_zeroed_at<V: Vector>() {
    // One NaN in the gradient must reach its parameter under every rule.
    let mut g = vec![0.5f32; 19];
    g[13] = f32::NAN;
    let mut p = vec![1.0f32; 19];
    sgd::<V>(
        &mut p,
        &g,
        &SgdStep {
            lr: 0.1,
            weight_decay: 0.0,
            grad_scale: 1.0,
        },
    );
    assert!(p[13].is_nan() && p[12].is_finite());
    let mut p = vec![1.0f32; 19];
    let (mut m, mut v) = (vec![0.0; 19], vec![0.0; 19]);
    adam::<V>(
        &mut p,
        &g,
        &mut m,
        &mut v,
        None,
        &AdamStep::new(1e-3, 0.9, 0.999, 1e-8, 0.0, false, false, 1, 1.0),
    );
    assert!(p[13].is_nan() && m[13].is_nan() && v[13].is_nan() && p[12].is_finite());
}

/// GEMM inputs: as [`EDGES`] but with huge values whose products and sums
/// of up to 300 terms stay finite (1e17² · 300 < f32::MAX), so that a NaN or
/// an infinity in the result can only come from a NaN or infinity in the
/// inputs, whatever order the sum is taken in (fused or not).
const GEMM_EDGES: [f32; 12] = [
    f32::NAN,
    f32::INFINITY,
    f32::NEG_INFINITY,
    1e-40,
    -3e-39,
    f32::MIN_POSITIVE,
    1e17,
    -1e17,
    0.0,
    -0.0,
    1.5,
    -0.75,
];

fn gemm_edges(n: usize, shift: usize, nonfinite_every: usize) -> Vec<f32> {
    // Non-finite values are spread thinly (one in `nonfinite_every`), or
    // every entry of C would be NaN and the test would prove little.
    (0..n)
        .map(|i| {
            let v = GEMM_EDGES[(i * 5 + shift) % GEMM_EDGES.len()];
            if !v.is_finite() && i % nonfinite_every != 0 {
                1.0
            } else {
                v
            }
        })
        .collect()
}

#[test]
fn gemm_with_faulty_inputs_matches_the_naive_loop() {
    // Sizes that exercise full tiles, edge tiles and two k blocks.
    for (m, k, n) in [(7, 5, 17), (13, 300, 33)] {
        for shift in 0..4 {
            let a = gemm_edges(m * k, shift, (m * k / 40).max(3));
            let b = gemm_edges(k * n, shift + 1, (k * n / 40).max(3));
            let bias = gemm_edges(n, shift + 2, 5);
            for epi in [
                Epilogue::None,
                Epilogue::bias(&bias),
                Epilogue::bias_relu(&bias),
            ] {
                let av = MatRef::row_major(&a, m, k).unwrap();
                let bv = MatRef::row_major(&b, k, n).unwrap();
                for kernel in descent_core::Kernel::ALL {
                    let cfg = descent_core::Config::new(
                        kernel,
                        &descent_core::gemm::blocking::Caches::detect(),
                    );
                    let (cf, cn) =
                        fast_and_naive(&cfg, 1.0, av, bv, 0.0, &vec![f32::NAN; m * n], epi);
                    let mut classes = [0usize; 3];
                    for (i, (x, y)) in cf.iter().zip(&cn).enumerate() {
                        let what = format!("{m}x{k}x{n} shift {shift} [{i}]: fast {x}, naive {y}");
                        if y.is_nan() {
                            assert!(x.is_nan(), "{what}");
                            classes[0] += 1;
                        } else if y.is_infinite() {
                            assert_eq!(x, y, "{what}");
                            classes[1] += 1;
                        } else {
                            // Terms of ±1e34 cancel: the error scales with the
                            // sum of |terms|, not with the result.
                            assert!(x.is_finite(), "{what}");
                            assert!(
                                (x - y).abs() <= 1e-5 * 1e34 * k as f32 + 1e-3 * y.abs(),
                                "{what}"
                            );
                            classes[2] += 1;
                        }
                    }
                    if k == 300 {
                        // The sweep met every class, or it proved nothing.
                        assert!(
                            classes.iter().all(|&c| c > 0),
                            "{m}x{k}x{n}: classes {classes:?}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn gemm_overflow_is_infinite_not_clamped() {
    let (m, k, n) = (6, 4, 16);
    let a = vec![3e38f32; m * k];
    let b = vec![2.0f32; k * n];
    let mut c = vec![0.0f32; m * n];
    let av = MatRef::row_major(&a, m, k).unwrap();
    let bv = MatRef::row_major(&b, k, n).unwrap();
    matmul(
        &Compute::serial(),
        1.0,
        av,
        bv,
        0.0,
        MatMut::row_major(&mut c, m, n).unwrap(),
        Epilogue::relu(),
    )
    .unwrap();
    assert!(c.iter().all(|v| *v == f32::INFINITY), "{c:?}");
}
