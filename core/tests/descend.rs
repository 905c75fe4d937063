//! SGD's step fused into the GEMM that makes its gradient
//! (`gemm::matmul_descend`): the step must be the very bits of storing the
//! product with `matmul` and stepping by it with the SGD kernel, under
//! every kernel and every known CPU's blocking, on any number of threads;
//! the sum of squares it returns must be the product's to a few `f32`
//! ulps, and the same bits on any number of threads.

mod common;

use descent_core::gemm::matmul_descend;
use descent_core::simd::Wide;
use descent_core::step::{sgd, SgdStep};
use descent_core::{matmul, Compute, Config, Epilogue, MatMut, MatRef};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn random(n: usize, rng: &mut ChaCha8Rng) -> Vec<f32> {
    (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// One case: A (m × k) as stored `dy` (k × m, transposed, the way a
/// weight's gradient `dYᵀ·X` reads dY) or row-major, B (k × n) row-major,
/// C (m × n) stepped by `eta`.
#[allow(clippy::too_many_arguments)]
fn check(
    label: &str,
    cfg: &Config,
    m: usize,
    k: usize,
    n: usize,
    a_t: bool,
    eta: f32,
    rng: &mut ChaCha8Rng,
) {
    let (a, b, w) = (random(m * k, rng), random(k * n, rng), random(m * n, rng));
    let av = || {
        if a_t {
            MatRef::new(&a, k, m, m, 1).unwrap().t()
        } else {
            MatRef::new(&a, m, k, k, 1).unwrap()
        }
    };
    let bv = || MatRef::new(&b, k, n, n, 1).unwrap();
    let serial = Compute::serial().with_gemm(*cfg);
    // The unfused path: store the product, then SGD's kernel.
    let mut g = vec![f32::NAN; m * n];
    matmul(
        &serial,
        1.0,
        av(),
        bv(),
        0.0,
        MatMut::new(&mut g, m, n, n, 1).unwrap(),
        Epilogue::None,
    )
    .unwrap();
    let mut want = w.clone();
    let h = SgdStep {
        lr: eta,
        weight_decay: 0.0,
        grad_scale: 1.0,
    };
    sgd::<Wide>(&mut want, &g[..], &h);
    let exact: f64 = g.iter().map(|&v| f64::from(v) * f64::from(v)).sum();
    let mut first: Option<(Vec<u32>, u64)> = None;
    for threads in [1, 2, 3] {
        let cx = Compute::threads(threads).with_gemm(*cfg);
        let mut c = w.clone();
        let mut sq = Vec::new();
        let got = matmul_descend(
            &cx,
            eta,
            av(),
            bv(),
            MatMut::new(&mut c, m, n, n, 1).unwrap(),
            &mut sq,
        )
        .unwrap();
        let case = format!("{label}: {m}x{k}x{n} a_t={a_t} eta={eta} threads={threads}");
        let Some(total) = got else {
            // Deeper than a k block: nothing done.
            assert!(k > 64, "{case}: declined a shallow product");
            assert_eq!(bits(&c), bits(&w), "{case}: declined but wrote C");
            return;
        };
        assert_eq!(
            bits(&c),
            bits(&want),
            "{case}: not the stored product's SGD step"
        );
        let tol = 4e-6 * exact + f64::from(f32::MIN_POSITIVE);
        assert!(
            (total - exact).abs() <= tol,
            "{case}: squares {total} vs {exact}"
        );
        match &first {
            None => first = Some((bits(&c), total.to_bits())),
            Some((c1, t1)) => {
                assert_eq!(&bits(&c), c1, "{case}: C differs from one thread's");
                assert_eq!(
                    total.to_bits(),
                    *t1,
                    "{case}: squares differ from one thread's"
                );
            }
        }
    }
}

#[test]
fn the_step_is_the_stored_products_sgd_step_on_any_threads() {
    let mut rng = ChaCha8Rng::seed_from_u64(29);
    // The MLP's three weights at batch 64 (m = O, k = B, n = I), odd and
    // tiny shapes, an n narrower than m (which a GEMM would split along m),
    // past a wide C's first NC block, and one deeper than any k block.
    let shapes = [
        (128, 64, 784),
        (64, 64, 128),
        (10, 64, 64),
        (1, 1, 1),
        (5, 3, 7),
        (13, 7, 37),
        (37, 100, 5),
        (200, 17, 9),
        (3, 5, 8300),
        (7, 1000, 9),
    ];
    for (label, cfg) in common::known_cpu_configs() {
        for &(m, k, n) in &shapes {
            for a_t in [true, false] {
                check(&label, &cfg, m, k, n, a_t, 0.05, &mut rng);
            }
        }
        // Maximizing steps the other way; a zero rate leaves C, but the
        // squares are still summed.
        check(&label, &cfg, 13, 7, 37, true, -0.3, &mut rng);
        check(&label, &cfg, 13, 7, 37, true, 0.0, &mut rng);
    }
}

#[test]
fn shapes_that_disagree_are_an_error() {
    let (a, b, mut c) = (vec![0.0; 6], vec![0.0; 6], vec![0.0; 9]);
    let r = matmul_descend(
        &Compute::serial(),
        0.1,
        MatRef::new(&a, 2, 3, 3, 1).unwrap(),
        MatRef::new(&b, 2, 3, 3, 1).unwrap(),
        MatMut::new(&mut c, 3, 3, 3, 1).unwrap(),
        &mut Vec::new(),
    );
    assert!(r.is_err());
}
