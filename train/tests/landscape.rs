//! The network's loss landscape (`descent_train::landscape`): the
//! evaluator against the net's own `evaluate`, the linear trick against the
//! direct product, filter normalisation, the PCA's explained variance, and
//! a trained model's basin (on a small learnable IDX set, and on MNIST when
//! it is there).

mod common;

use std::path::Path;

use descent_core::gemm::blocking::Caches;
use descent_core::simd::Wide;
use descent_core::{matmul, ops, Compute, Epilogue, MatMut, MatRef};
use descent_nn::{layer_ranges, Activation, Mlp};
use descent_optim::OptimizerKind;
use descent_train::data::{Mnist, Normalize};
use descent_train::landscape::{
    directions::norm, filter_normalised, measure, pca2, Examples, Measured, Slice, SliceOptions,
};
use descent_train::{RunConfig, Trainer};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn random(n: usize, seed: u64, scale: f32) -> Vec<f32> {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|_| scale * (r.random::<f32>() - 0.5)).collect()
}

/// N examples of `dim` inputs with labels in 0..10.
fn examples(n: usize, dim: usize, seed: u64) -> (Vec<f32>, Vec<u32>) {
    let x = random(n * dim, seed, 2.0);
    let y = (0..n).map(|i| ((i * 7 + 3) % 10) as u32).collect();
    (x, y)
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-30)
}

/// The naive twin: the net's own forward pass at θ(c), point by point.
fn twin(net: &Mlp, slice: &Slice, c: &[f32], x: &[f32], y: &[u32]) -> Measured {
    let mut n = net.clone();
    let p = n.params_mut();
    match slice.origin {
        Some(o) => p.copy_from_slice(o),
        None => p.fill(0.0),
    }
    for (d, &ck) in slice.dirs.iter().zip(c) {
        if ck != 0.0 {
            for (v, &dv) in p.iter_mut().zip(d.iter()) {
                *v = ck.mul_add(dv, *v);
            }
        }
    }
    let (loss, acc) = n.evaluate(&Compute::serial(), x, y, 1000).unwrap();
    Measured {
        loss: loss as f64,
        accuracy: acc as f64,
    }
}

const SIZES: [usize; 4] = [37, 24, 16, 10];

#[test]
fn the_centre_is_the_model_and_every_point_matches_its_forward_pass() {
    let net = Mlp::new(&SIZES, Activation::Relu, 3).unwrap();
    let (x, y) = examples(777, SIZES[0], 1);
    let theta = net.params().to_vec();
    let d1 = filter_normalised(net.layout(), &theta, 5, 1, false).unwrap();
    let d2 = filter_normalised(net.layout(), &theta, 5, 2, true).unwrap();
    let slice = Slice {
        origin: Some(&theta),
        dirs: vec![&d1, &d2],
    };
    let coeffs = [0.0f32, 0.0, 0.5, -0.25, -1.0, 1.0, 0.1, 0.0, 0.0, -0.7];
    let ex = Examples { x: &x, labels: &y };
    let mut first: Option<Vec<Measured>> = None;
    for (threads, chunk) in [(1, 16), (2, 16), (3, 16), (1, 64), (2, 48)] {
        let opts = SliceOptions {
            chunk_rows: chunk,
            block_rows: chunk * 5,
        };
        let got = measure(&Compute::threads(threads), &net, &slice, &coeffs, ex, opts).unwrap();
        // (0, 0) is the model: the eval path's loss to 1e-6.
        let mut plain = net.clone();
        let (loss, acc) = plain.evaluate(&Compute::serial(), &x, &y, 1000).unwrap();
        assert!(
            rel(got[0].loss, loss as f64) < 1e-6,
            "{} vs {loss}",
            got[0].loss
        );
        assert!((got[0].accuracy - acc as f64).abs() < 1e-6);
        for (i, c) in coeffs.chunks(2).enumerate() {
            let want = twin(&net, &slice, c, &x, &y);
            assert!(
                rel(got[i].loss, want.loss) < 1e-5,
                "point {c:?}: {} vs {}",
                got[i].loss,
                want.loss
            );
            assert!((got[i].accuracy - want.accuracy).abs() <= 2.0 / 777.0);
        }
        // The thread count never changes a bit; the chunking only rounds.
        if chunk == 16 {
            match &first {
                None => first = Some(got),
                Some(f) => assert_eq!(f, &got, "{threads} threads"),
            }
        }
    }
}

#[test]
fn a_line_holds_its_ends_exactly() {
    let a = Mlp::new(&SIZES, Activation::Tanh, 1).unwrap();
    let b = Mlp::new(&SIZES, Activation::Tanh, 2).unwrap();
    let (x, y) = examples(300, SIZES[0], 9);
    let slice = Slice {
        origin: None,
        dirs: vec![a.params(), b.params()],
    };
    let ts = [-0.5f32, 0.0, 0.5, 1.0, 1.5];
    let coeffs: Vec<f32> = ts.iter().flat_map(|&t| [1.0 - t, t]).collect();
    let caches = Caches::known("zen3").unwrap();
    let opts = SliceOptions::for_net(&caches, &SIZES, 2, 300, 2);
    let got = measure(
        &Compute::threads(2),
        &a,
        &slice,
        &coeffs,
        Examples { x: &x, labels: &y },
        opts,
    )
    .unwrap();
    for (net, m) in [(&a, got[1]), (&b, got[3])] {
        let (loss, acc) = net
            .clone()
            .evaluate(&Compute::serial(), &x, &y, 1000)
            .unwrap();
        assert!(rel(m.loss, loss as f64) < 1e-6, "{} vs {loss}", m.loss);
        assert!((m.accuracy - acc as f64).abs() < 1e-6);
    }
    let mid = twin(&a, &slice, &coeffs[4..6], &x, &y);
    assert!(rel(got[2].loss, mid.loss) < 1e-5);
}

#[test]
fn directions_are_filter_normalised_and_reproducible() {
    let net = Mlp::new(&[50, 20, 10], Activation::Relu, 0).unwrap();
    let theta = net.params().to_vec();
    let d = filter_normalised(net.layout(), &theta, 11, 1, false).unwrap();
    for t in net.layout() {
        let r = t.range();
        if t.shape.len() == 2 {
            let cols = t.shape[1];
            for row in 0..t.shape[0] {
                let cells = r.start + row * cols..r.start + (row + 1) * cols;
                let (nd, nw) = (norm(&d[cells.clone()]), norm(&theta[cells]));
                assert!(rel(nd, nw) < 1e-5, "{} row {row}: {nd} vs {nw}", t.name);
            }
        } else {
            assert!(d[r].iter().all(|&v| v == 0.0), "{}: a fixed bias", t.name);
        }
    }
    assert_eq!(
        d,
        filter_normalised(net.layout(), &theta, 11, 1, false).unwrap()
    );
    let other = filter_normalised(net.layout(), &theta, 11, 2, false).unwrap();
    assert_ne!(d, other, "another stream is another direction");
    let with_b = filter_normalised(net.layout(), &theta, 11, 1, true).unwrap();
    let (w0, b0) = layer_ranges(net.layout(), 0);
    assert_eq!(
        with_b[w0.clone()],
        d[w0],
        "the weights' draws ignore the flag"
    );
    assert!(rel(norm(&with_b[b0.clone()]), norm(&theta[b0])) < 1e-5);
    assert!(filter_normalised(net.layout(), &theta[1..], 11, 1, false).is_err());
}

#[test]
fn the_linear_trick_gives_the_direct_pre_activations() {
    let (rows, s0, s1) = (29, 37, 24);
    let x = random(rows * s0, 1, 2.0);
    let w = random(s1 * s0, 2, 0.5);
    let d1 = random(s1 * s0, 3, 0.5);
    let d2 = random(s1 * s0, 4, 0.5);
    let b = random(s1, 5, 0.5);
    let (alpha, beta) = (0.37f32, -1.25f32);
    let cx = Compute::serial();
    // The stacked product, [X·Wᵀ | X·D₁ᵀ | X·D₂ᵀ].
    let stack: Vec<f32> = [&w, &d1, &d2]
        .iter()
        .flat_map(|m| m.iter().copied())
        .collect();
    let mut p = vec![0.0; rows * 3 * s1];
    matmul(
        &cx,
        1.0,
        MatRef::row_major(&x, rows, s0).unwrap(),
        MatRef::row_major(&stack, 3 * s1, s0).unwrap().t(),
        0.0,
        MatMut::row_major(&mut p, rows, 3 * s1).unwrap(),
        Epilogue::None,
    )
    .unwrap();
    let mut z = vec![0.0; rows * s1];
    ops::combine_rows::<Wide>(&p, s1, true, &[alpha, beta], Some(&b), false, &mut z);
    // Directly: X·(W + αD₁ + βD₂)ᵀ + b.
    let wp: Vec<f32> = (0..w.len())
        .map(|i| w[i] + alpha * d1[i] + beta * d2[i])
        .collect();
    let mut direct = vec![0.0; rows * s1];
    matmul(
        &cx,
        1.0,
        MatRef::row_major(&x, rows, s0).unwrap(),
        MatRef::row_major(&wp, s1, s0).unwrap().t(),
        0.0,
        MatMut::row_major(&mut direct, rows, s1).unwrap(),
        Epilogue::bias(&b),
    )
    .unwrap();
    for (i, (a, d)) in z.iter().zip(&direct).enumerate() {
        // Rounding of a 37-term sum of terms up to ~1.6 in size.
        assert!((a - d).abs() < 2e-5 * 37.0, "{i}: {a} vs {d}");
    }
}

#[test]
fn pca_reconstructs_the_points_with_its_explained_variance() {
    let dim = 501;
    // 40 points near a plane (two random directions) with a little noise
    // off it, and a larger offset.
    let (u, v) = (random(dim, 1, 2.0), random(dim, 2, 2.0));
    let offset = random(dim, 3, 10.0);
    let noise = random(40 * dim, 4, 0.02);
    let mut pts = Vec::new();
    for i in 0..40 {
        let (a, b) = ((i as f32 * 0.3).sin() * 3.0, (i as f32 * 0.17).cos());
        for j in 0..dim {
            pts.push(offset[j] + a * u[j] + b * v[j] + noise[i * dim + j]);
        }
    }
    let original = pts.clone();
    let pca = pca2(&Compute::threads(2), &mut pts, dim).unwrap();
    // Orthonormal.
    let d = |x: &[f32], y: &[f32]| descent_train::landscape::pca::dot(x, y);
    assert!((d(&pca.dirs[0], &pca.dirs[0]) - 1.0).abs() < 1e-5);
    assert!((d(&pca.dirs[1], &pca.dirs[1]) - 1.0).abs() < 1e-5);
    assert!(d(&pca.dirs[0], &pca.dirs[1]).abs() < 1e-4);
    // The projections carry the printed share of the spread.
    let total: f64 = original
        .chunks(dim)
        .map(|p| {
            p.iter()
                .zip(&pca.mean)
                .map(|(&a, &m)| (a as f64 - m as f64).powi(2))
                .sum::<f64>()
        })
        .sum();
    let kept: f64 = pca.coords.iter().map(|(a, b)| a * a + b * b).sum();
    let explained = pca.explained[0] + pca.explained[1];
    assert!(
        rel(kept / total, explained) < 1e-4,
        "{} vs {explained}",
        kept / total
    );
    assert!(explained > 0.99, "a plane and noise: {explained}");
    assert!(pca.explained[0] >= pca.explained[1]);
    // And each point is its projection plus what is off the plane.
    for (i, p) in original.chunks(dim).enumerate() {
        let (a, b) = pca.coords[i];
        let off: f64 = (0..dim)
            .map(|j| {
                let r = pca.mean[j] as f64 + a * pca.dirs[0][j] as f64 + b * pca.dirs[1][j] as f64;
                (p[j] as f64 - r).powi(2)
            })
            .sum::<f64>()
            .sqrt();
        assert!(
            off < 0.02 * (dim as f64).sqrt(),
            "point {i}: {off} off the plane"
        );
    }
    assert!(pca2(&Compute::serial(), &mut vec![1.0; 2 * dim], dim).is_err());
    assert!(pca2(&Compute::serial(), &mut vec![1.0; 3 * dim], dim).is_err());
}

/// A small learnable IDX set: 8×8 images whose class c lights the pixels
/// k ≡ c (mod 10), with a little texture.
fn learnable_set(dir: &Path, n_train: u32, n_test: u32) {
    let images = |n: u32| {
        let mut v = common::idx_header(0x08, &[n, 8, 8]);
        for i in 0..n as usize {
            for k in 0..64 {
                let on = k % 10 == i % 10;
                v.push(if on {
                    200
                } else {
                    ((i * 13 + k * 7) % 40) as u8
                });
            }
        }
        v
    };
    for (prefix, n) in [("train", n_train), ("t10k", n_test)] {
        common::write(dir, &format!("{prefix}-images-idx3-ubyte"), &images(n));
        common::write(
            dir,
            &format!("{prefix}-labels-idx1-ubyte"),
            &common::labels_bytes(n),
        );
    }
}

/// The loss of a trained model on a grid of span 1: the centre below every
/// edge point.
fn assert_basin(net: &Mlp, x: &[f32], y: &[u32]) {
    let theta = net.params().to_vec();
    let d1 = filter_normalised(net.layout(), &theta, 0, 1, false).unwrap();
    let d2 = filter_normalised(net.layout(), &theta, 0, 2, false).unwrap();
    let g = 7;
    let xs: Vec<f32> = (0..g).map(|i| (i as f32 - 3.0) / 3.0).collect();
    let coeffs: Vec<f32> = xs
        .iter()
        .flat_map(|&b| xs.iter().flat_map(move |&a| [a, b]))
        .collect();
    let slice = Slice {
        origin: Some(&theta),
        dirs: vec![&d1, &d2],
    };
    let opts = SliceOptions::for_net(&Caches::detect(), net.sizes(), 3, y.len(), 2);
    let ms = measure(
        &Compute::threads(2),
        net,
        &slice,
        &coeffs,
        Examples { x, labels: y },
        opts,
    )
    .unwrap();
    let centre = ms[3 * g + 3].loss;
    for j in 0..g {
        for i in 0..g {
            if i == 0 || j == 0 || i == g - 1 || j == g - 1 {
                let l = ms[j * g + i].loss;
                assert!(centre < l, "edge ({i}, {j}): {l} ≤ centre {centre}");
            }
        }
    }
}

fn trained(data: &Mnist, hidden: Vec<usize>, epochs: usize) -> Mlp {
    let cfg = RunConfig {
        optimizer: OptimizerKind::Adam,
        hidden,
        epochs,
        batch_size: 32,
        eval_batch_size: 500,
        ..RunConfig::default()
    };
    let mut t = Trainer::new(cfg, data, Compute::threads(2)).unwrap();
    t.run(&mut []).unwrap();
    t.net.clone()
}

#[test]
fn a_trained_model_sits_in_a_basin_on_a_small_set() {
    let dir = tempfile::tempdir().unwrap();
    learnable_set(dir.path(), 600, 200);
    let data = Mnist::load(dir.path(), Normalize::Standard).unwrap();
    let net = trained(&data, vec![16], 10);
    let (loss, acc) = net
        .clone()
        .evaluate(
            &Compute::serial(),
            data.train.images(),
            &data.train.labels,
            600,
        )
        .unwrap();
    assert!(
        acc > 0.9,
        "the set is learnable: accuracy {acc}, loss {loss}"
    );
    assert_basin(&net, data.train.images(), &data.train.labels);
}

#[test]
fn a_trained_model_sits_in_a_basin_on_mnist() {
    let Some(dir) = common::real_mnist() else {
        return;
    };
    let data = Mnist::load(&dir, Normalize::Standard).unwrap();
    let net = trained(&data, vec![128, 64], 1);
    let n = 2000;
    assert_basin(
        &net,
        &data.train.images()[..n * 784],
        &data.train.labels[..n],
    );
}

#[test]
fn chunks_balance_the_threads_and_fit_l3() {
    let zen3 = Caches::known("zen3").unwrap();
    let sizes = [784, 128, 64, 10];
    let o = SliceOptions::for_net(&zen3, &sizes, 3, 10_000, 2);
    assert_eq!(o.chunk_rows, 512);
    assert!(o.block_rows >= 8192 && o.block_rows % o.chunk_rows == 0);
    // Four chunks a thread at least.
    assert_eq!(
        SliceOptions::for_net(&zen3, &sizes, 3, 1000, 2).chunk_rows,
        128
    );
    assert_eq!(
        SliceOptions::for_net(&zen3, &sizes, 3, 100, 8).chunk_rows,
        64
    );
    // Every thread's stacked chunk in half of L3.
    let tiny = Caches::known("tiny").unwrap();
    let t = SliceOptions::for_net(&tiny, &sizes, 3, 100_000, 1);
    assert!(t.chunk_rows * 3 * 128 * 4 <= tiny.l3 / 2 || t.chunk_rows == 64);
    let many = SliceOptions::for_net(&zen3, &sizes, 3, 1_000_000, 64);
    assert!(many.block_rows >= 4 * 64 * many.chunk_rows);
}
