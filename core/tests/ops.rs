//! Every SIMD elementwise / reduction kernel against its scalar twin, on
//! every length 0..=67 (all tail lengths of 8- and 16-lane vectors, up to eight
//! vector bodies) and
//! one large length, starting at offsets 0..4 of a buffer so the slices are
//! unaligned, plus edge values (NaN, ±∞, −0, subnormals, ±1e4 logits).
//!
//! The width-generic kernels run at every width ([`F32x8`], the AVX2 path,
//! and [`F32x16`], the AVX-512 path; each is correct on every machine), so
//! the path another CPU takes is tested here too.
//!
//! Tolerances: kernels that perform the same operations in the same order
//! (axpy, scale, add, relu, relu_backward, col_sums_acc, max, argmax) must be
//! bit-identical, at every width. `sum_squares` reassociates the sum
//! (`4·LANES` partial sums) and
//! the twin sums in f64, so they agree to a relative 1e-5·√n bound;
//! softmax-CE's SIMD `exp` is a polynomial, so 1e-5 relative on the loss
//! and 1e-6 absolute per gradient element (gradients are ≤ 1/B in size).

use descent_core::ops;
use descent_core::simd::{F32x16, F32x8, Vector};
use descent_core::CoreError;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const LARGE: usize = 100_003;

fn lengths() -> impl Iterator<Item = usize> {
    (0..=67).chain(std::iter::once(LARGE))
}

fn random(rng: &mut ChaCha8Rng, len: usize) -> Vec<f32> {
    (0..len).map(|_| rng.random_range(-2.0f32..2.0)).collect()
}

/// Edge values mixed into a random vector at fixed positions.
fn with_edges(mut v: Vec<f32>) -> Vec<f32> {
    let edges = [
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        -0.0,
        0.0,
        f32::MIN_POSITIVE / 4.0,
        -f32::MIN_POSITIVE / 8.0,
        1e30,
    ];
    for (i, e) in edges.iter().enumerate() {
        let at = i * 5 + 1;
        if at < v.len() {
            v[at] = *e;
        }
    }
    v
}

fn same_bits(a: &[f32], b: &[f32], what: &str) {
    assert_eq!(a.len(), b.len());
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()),
            "{what}: element {i} differs: {x} vs {y} (len {})",
            a.len()
        );
    }
}

/// The elementwise kernels on vectors `V` against their scalar twins.
fn elementwise_at_width<V: Vector>(seed: u64) {
    let w = V::LANES;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for len in lengths() {
        for off in 0..4 {
            let xb = random(&mut rng, len + off);
            let yb = random(&mut rng, len + off);
            let x = &xb[off..];
            let y0 = &yb[off..];

            let (mut f, mut s) = (y0.to_vec(), y0.to_vec());
            ops::axpy::<V>(-0.37, x, &mut f);
            ops::axpy_scalar(-0.37, x, &mut s);
            same_bits(&f, &s, &format!("axpy x{w}"));

            let (mut f, mut s) = (x.to_vec(), x.to_vec());
            ops::scale::<V>(1.7, &mut f);
            ops::scale_scalar(1.7, &mut s);
            same_bits(&f, &s, &format!("scale x{w}"));

            let (mut f, mut s) = (vec![0.0; len], vec![0.0; len]);
            ops::add::<V>(x, y0, &mut f);
            ops::add_scalar(x, y0, &mut s);
            same_bits(&f, &s, &format!("add x{w}"));

            let xe = with_edges(x.to_vec());
            let (mut f, mut s) = (xe.clone(), xe.clone());
            ops::relu::<V>(&mut f);
            ops::relu_scalar(&mut s);
            same_bits(&f, &s, &format!("relu x{w}"));

            let (mut f, mut s) = (y0.to_vec(), y0.to_vec());
            ops::relu_backward::<V>(&xe, &mut f);
            ops::relu_backward_scalar(&xe, &mut s);
            same_bits(&f, &s, &format!("relu_backward x{w}"));
        }
    }
}

#[test]
fn elementwise_kernels_equal_scalar_twins_at_every_width() {
    elementwise_at_width::<F32x8>(7);
    elementwise_at_width::<F32x16>(7);
}

#[test]
fn relu_keeps_nan_and_zeroes_negatives() {
    let mut x = vec![
        f32::NAN,
        -1.0,
        -0.0,
        2.0,
        f32::NEG_INFINITY,
        f32::INFINITY,
        -3.0,
        0.5,
        -7.0,
    ];
    ops::relu::<F32x8>(&mut x);
    assert!(x[0].is_nan());
    assert_eq!(&x[1..], &[0.0, 0.0, 2.0, 0.0, f32::INFINITY, 0.0, 0.5, 0.0]);
    // The mask passes the gradient only where the output was positive.
    let mut d = vec![1.0; 9];
    ops::relu_backward::<F32x8>(&x, &mut d);
    assert_eq!(d, vec![0.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0]);
    let mut d16 = vec![1.0; 9];
    ops::relu_backward::<F32x16>(&x, &mut d16);
    assert_eq!(d16, d);
}

#[test]
fn reductions_equal_scalar_twins() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for len in lengths() {
        for off in 0..4 {
            let xb = random(&mut rng, len + off);
            let x = &xb[off..];

            // The f64 dot product: every product exact, so only the order
            // of the f64 sums differs from the twin's (a few f64 ulps of
            // the sum of magnitudes).
            let y = random(&mut rng, len);
            let (d, d0) = (ops::dot_f64(x, &y), ops::dot_f64_scalar(x, &y));
            let mag = ops::dot_f64_scalar(
                &x.iter().map(|v| v.abs()).collect::<Vec<_>>(),
                &y.iter().map(|v| v.abs()).collect::<Vec<_>>(),
            );
            assert!(
                (d - d0).abs() <= 1e-14 * mag,
                "dot_f64 len {len}: {d} vs {d0}"
            );

            let s = ops::sum_squares_scalar(x);
            let tol = 1e-5 * (len.max(1) as f32).sqrt() * s.max(1e-30);
            for (w, f) in [
                (8, ops::sum_squares::<F32x8>(x)),
                (16, ops::sum_squares::<F32x16>(x)),
            ] {
                assert!(
                    (f - s).abs() <= tol,
                    "sum_squares x{w} len {len}: {f} vs {s}"
                );
            }

            assert_eq!(
                ops::max(x).to_bits(),
                ops::max_scalar(x).to_bits(),
                "max len {len}"
            );
            assert_eq!(ops::argmax(x), ops::argmax_scalar(x), "argmax len {len}");

            let xe = with_edges(x.to_vec());
            let (f, s) = (ops::max(&xe), ops::max_scalar(&xe));
            assert!(
                f.to_bits() == s.to_bits() || (f.is_nan() && s.is_nan()),
                "max edges len {len}"
            );
            assert_eq!(
                ops::argmax(&xe),
                ops::argmax_scalar(&xe),
                "argmax edges len {len}"
            );
        }
    }
}

#[test]
fn column_sums_and_row_reductions_equal_scalar_twins() {
    let mut rng = ChaCha8Rng::seed_from_u64(13);
    for rows in [0, 1, 2, 7, 64] {
        for cols in (0..=67).chain([784]) {
            for off in 0..3 {
                let xb = random(&mut rng, rows * cols + off);
                let x = &xb[off..];
                let init = random(&mut rng, cols);
                let (mut f, mut s) = (init.clone(), init.clone());
                ops::col_sums_acc(x, rows, cols, &mut f);
                ops::col_sums_acc_scalar(x, rows, cols, &mut s);
                same_bits(&f, &s, "col_sums_acc");

                if cols > 0 {
                    let mut rm = vec![0.0; rows];
                    ops::row_max(x, rows, cols, &mut rm);
                    let mut ra = vec![0; rows];
                    ops::row_argmax(x, rows, cols, &mut ra);
                    for i in 0..rows {
                        let row = &x[i * cols..(i + 1) * cols];
                        assert_eq!(rm[i], ops::max_scalar(row));
                        assert_eq!(ra[i], ops::argmax_scalar(row));
                    }
                }
            }
        }
    }
}

fn check_softmax(z: &[f32], labels: &[u32], cols: usize) {
    let mut df = vec![f32::NAN; z.len()];
    let mut ds = vec![f32::NAN; z.len()];
    let lf = ops::softmax_cross_entropy(z, labels, cols, &mut df).unwrap();
    let ls = ops::softmax_cross_entropy_scalar(z, labels, cols, &mut ds).unwrap();
    assert!(lf.is_finite(), "loss not finite: {lf}");
    assert!(
        (lf - ls).abs() <= 1e-5 * ls.abs().max(1.0),
        "loss {lf} vs {ls} (cols {cols})"
    );
    for (i, (a, b)) in df.iter().zip(&ds).enumerate() {
        assert!(a.is_finite(), "grad {i} not finite");
        assert!((a - b).abs() <= 1e-6, "grad {i}: {a} vs {b} (cols {cols})");
    }
    // Each row of the gradient sums to zero: Σ_j softmax_j − 1 = 0.
    let rows = labels.len();
    for i in 0..rows {
        let s: f32 = df[i * cols..(i + 1) * cols].iter().sum();
        assert!(s.abs() <= 1e-6, "row {i} of dz sums to {s}");
    }
}

#[test]
fn softmax_cross_entropy_equals_scalar_twin() {
    let mut rng = ChaCha8Rng::seed_from_u64(17);
    for cols in 1..=67 {
        for rows in [1, 3, 8, 19] {
            for off in 0..3 {
                let zb: Vec<f32> = (0..rows * cols + off)
                    .map(|_| rng.random_range(-8.0f32..8.0))
                    .collect();
                let labels: Vec<u32> = (0..rows)
                    .map(|_| rng.random_range(0..cols as u32))
                    .collect();
                check_softmax(&zb[off..], &labels, cols);
            }
        }
    }
}

#[test]
fn softmax_cross_entropy_is_finite_for_huge_logits() {
    // Logits of ±1e4: without the max shift exp would overflow to ∞.
    let cols = 10;
    let mut z = vec![0.0f32; 4 * cols];
    for (i, v) in z.iter_mut().enumerate() {
        *v = if i % 3 == 0 { 1e4 } else { -1e4 };
    }
    let labels = [0u32, 1, 9, 3];
    check_softmax(&z, &labels, cols);
    let mut dz = vec![0.0; z.len()];
    let loss = ops::softmax_cross_entropy(&z, &labels, cols, &mut dz).unwrap();
    // Row 0 puts its label on a 1e4 logit shared with others, row 1 puts it
    // on a −1e4 logit: that row alone costs ≈ 2e4 nats.
    assert!(loss > 4e3 && loss.is_finite(), "loss {loss}");
}

#[test]
fn softmax_cross_entropy_group_with_an_infinite_logit_runs_row_by_row() {
    // Rows of 10 run eight at a time; a +∞ logit in row 3 sends its group
    // of eight down the row-at-a-time path. The loss is then not finite
    // (the trainer's check reports it), and the other rows' gradients are
    // still their scalar twin's.
    let (rows, cols) = (16, 10);
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let mut z: Vec<f32> = (0..rows * cols)
        .map(|_| rng.random_range(-4.0f32..4.0))
        .collect();
    z[3 * cols + 4] = f32::INFINITY;
    let labels: Vec<u32> = (0..rows).map(|i| (i % cols) as u32).collect();
    let (mut df, mut ds) = (vec![0.0; z.len()], vec![0.0; z.len()]);
    let lf = ops::softmax_cross_entropy(&z, &labels, cols, &mut df).unwrap();
    ops::softmax_cross_entropy_scalar(&z, &labels, cols, &mut ds).unwrap();
    assert!(!lf.is_finite(), "loss {lf}");
    for i in (0..rows).filter(|&i| i != 3) {
        for j in 0..cols {
            let (a, b) = (df[i * cols + j], ds[i * cols + j]);
            assert!((a - b).abs() <= 1e-6, "row {i} col {j}: {a} vs {b}");
        }
    }
}

#[test]
fn softmax_cross_entropy_known_value() {
    // Uniform logits over 10 classes: loss = ln 10, dz = (0.1 − onehot)/B.
    let z = vec![3.0f32; 20];
    let mut dz = vec![0.0; 20];
    let loss = ops::softmax_cross_entropy(&z, &[2, 7], 10, &mut dz).unwrap();
    assert!((loss - 10f32.ln()).abs() < 1e-6);
    assert!((dz[2] - (0.1 - 1.0) / 2.0).abs() < 1e-7);
    assert!((dz[0] - 0.05).abs() < 1e-7);
}

#[test]
fn softmax_cross_entropy_rejects_bad_label() {
    let z = vec![0.0f32; 20];
    let mut dz = vec![0.0; 20];
    let err = ops::softmax_cross_entropy(&z, &[1, 10], 10, &mut dz).unwrap_err();
    assert!(
        matches!(
            err,
            CoreError::BadLabel {
                row: 1,
                label: 10,
                classes: 10
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("10"), "{err}");
}

/// `combine_rows` on vectors `V` against its scalar twin: odd widths,
/// unaligned slices, edge values, with and without origin, bias and ReLU.
fn combine_rows_at_width<V: Vector>(seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for n in [1, 3, 7, 8, 15, 16, 17, 33, 67] {
        for k in 1..=3 {
            for lead in [false, true] {
                for rows in [1, 2, 5] {
                    let width = (usize::from(lead) + k) * n;
                    let off = (n + k) % 3;
                    let src = with_edges(random(&mut rng, rows * width + off));
                    let src = &src[off..];
                    let b = random(&mut rng, n);
                    // One coefficient zero: its block's NaNs must not leak.
                    let c: Vec<f32> = (0..k)
                        .map(|i| {
                            if i == 1 {
                                0.0
                            } else {
                                rng.random_range(-2.0..2.0)
                            }
                        })
                        .collect();
                    for (bias, relu) in [(None, false), (Some(&b[..]), true), (Some(&b[..]), false)]
                    {
                        let mut y = vec![f32::NAN; rows * n];
                        let mut ys = vec![1.0; rows * n];
                        ops::combine_rows::<V>(src, n, lead, &c, bias, relu, &mut y);
                        ops::combine_rows_scalar(src, n, lead, &c, bias, relu, &mut ys);
                        same_bits(&y, &ys, &format!("combine_rows n {n} k {k} lead {lead}"));
                    }
                }
            }
        }
    }
}

#[test]
fn combine_rows_equals_its_twin_at_every_width_and_skips_zero_terms() {
    combine_rows_at_width::<F32x8>(41);
    combine_rows_at_width::<F32x16>(42);
    // All coefficients zero: the origin plus the bias, bit for bit, though
    // the other block is NaN.
    let src = [1.5f32, -2.0, f32::NAN, f32::NAN];
    let mut y = [0.0; 2];
    ops::combine_rows::<F32x8>(&src, 2, true, &[0.0], Some(&[0.25, 1.0]), true, &mut y);
    assert_eq!(y, [1.75, 0.0]);
    // Written out: 0.5·s₁ − 1·s₂, no origin.
    let src = [2.0f32, 4.0, 1.0, 1.0];
    ops::combine_rows_scalar(&src, 2, false, &[0.5, -1.0], None, false, &mut y);
    assert_eq!(y, [0.0, 1.0]);
}

#[test]
fn cross_entropy_sum_is_softmax_cross_entropy_without_the_gradient() {
    let mut rng = ChaCha8Rng::seed_from_u64(23);
    for cols in [1, 2, 7, 8, 9, 10, 16, 17, 33] {
        for rows in [1, 3, 8, 29] {
            for off in 0..3 {
                let zb: Vec<f32> = (0..rows * cols + off)
                    .map(|_| rng.random_range(-8.0f32..8.0))
                    .collect();
                let z = &zb[off..];
                let labels: Vec<u32> = (0..rows)
                    .map(|_| rng.random_range(0..cols as u32))
                    .collect();
                let (sum, hits) = ops::cross_entropy_sum(z, &labels, cols).unwrap();
                let (sum_s, hits_s) = ops::cross_entropy_sum_scalar(z, &labels, cols).unwrap();
                assert!(
                    (sum - sum_s).abs() <= 1e-5 * sum_s.abs().max(1.0),
                    "{sum} vs {sum_s}"
                );
                assert_eq!(hits, hits_s);
                // Row by row the training loss' own terms: the mean agrees.
                let mut dz = vec![0.0; z.len()];
                let mean = ops::softmax_cross_entropy(z, &labels, cols, &mut dz).unwrap();
                assert!((sum / rows as f64 - mean as f64).abs() <= 1e-6 * (mean as f64).max(1.0));
                let want = z
                    .chunks(cols)
                    .zip(&labels)
                    .filter(|(r, &y)| ops::argmax(r) == y as usize)
                    .count();
                assert_eq!(hits, want);
            }
        }
    }
    assert!(ops::cross_entropy_sum(&[0.0; 4], &[0, 2], 2).is_err());
    // A group of eight with an infinite or NaN logit falls back to the
    // rows one at a time: the same loss (NaN where it is) and the same hits.
    for edge in [f32::INFINITY, f32::NEG_INFINITY, f32::NAN] {
        let mut z: Vec<f32> = (0..16 * 10).map(|i| ((i * 7) % 11) as f32 * 0.5).collect();
        z[3 * 10 + 4] = edge;
        let labels: Vec<u32> = (0..16).map(|i| (i % 10) as u32).collect();
        let (sum, hits) = ops::cross_entropy_sum(&z, &labels, 10).unwrap();
        let (sum_s, hits_s) = ops::cross_entropy_sum_scalar(&z, &labels, 10).unwrap();
        assert_eq!(sum.is_nan(), sum_s.is_nan(), "{edge}: {sum} vs {sum_s}");
        if !sum.is_nan() {
            assert!(
                (sum - sum_s).abs() <= 1e-5 * sum_s.abs().max(1.0),
                "{edge}: {sum} vs {sum_s}"
            );
        }
        assert_eq!(hits, hits_s, "{edge}");
    }
}
