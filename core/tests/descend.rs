//! SGD's step, and momentum's, fused into the GEMM that makes its gradient
//! (`gemm::matmul_descend`, `gemm::matmul_descend_with`): the step must be
//! the very bits of storing the product with `matmul` and stepping by it
//! with the rule's kernel (C and the momentum buffer), under
//! every kernel and every known CPU's blocking, on any number of threads;
//! the sum of squares it returns must be the product's to a few `f32`
//! ulps, and the same bits on any number of threads.

mod common;

use descent_core::gemm::{matmul_descend, matmul_descend_with, DescentStep};
use descent_core::simd::Wide;
use descent_core::step::{momentum, sgd, MomentumStep, SgdStep};
use descent_core::{matmul, Compute, Config, Epilogue, MatMut, MatRef};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn random(n: usize, rng: &mut ChaCha8Rng) -> Vec<f32> {
    (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// The rule a case steps C by.
#[derive(Clone, Copy, Debug)]
enum Rule {
    /// SGD at rate η.
    Sgd(f32),
    /// Momentum after its first step: (γ, μ, τ, s, Nesterov).
    Momentum(f32, f32, f32, f32, bool),
}

/// Momentum's constants after its first step, without weight decay.
fn momentum_step(lr: f32, mu: f32, damp: f32, gs: f32, nesterov: bool) -> MomentumStep {
    MomentumStep {
        lr,
        weight_decay: 0.0,
        momentum: mu,
        dampening: damp,
        nesterov,
        first_step: false,
        grad_scale: gs,
    }
}

/// One case: A (m × k) as stored `dy` (k × m, transposed, the way a
/// weight's gradient `dYᵀ·X` reads dY) or row-major, B (k × n) row-major,
/// C (m × n) stepped by `rule`.
#[allow(clippy::too_many_arguments)]
fn check(
    label: &str,
    cfg: &Config,
    m: usize,
    k: usize,
    n: usize,
    a_t: bool,
    rule: Rule,
    rng: &mut ChaCha8Rng,
) {
    let (a, b, w) = (random(m * k, rng), random(k * n, rng), random(m * n, rng));
    let buf0 = random(m * n, rng);
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
    let mut want_buf = buf0.clone();
    match rule {
        Rule::Sgd(eta) => {
            let h = SgdStep {
                lr: eta,
                weight_decay: 0.0,
                grad_scale: 1.0,
            };
            sgd::<Wide>(&mut want, &g[..], &h);
        }
        Rule::Momentum(lr, mu, damp, gs, nesterov) => {
            let h = momentum_step(lr, mu, damp, gs, nesterov);
            momentum::<Wide>(&mut want, &g[..], &mut want_buf, &h);
        }
    }
    let exact: f64 = g.iter().map(|&v| f64::from(v) * f64::from(v)).sum();
    let mut first: Option<(Vec<u32>, u64)> = None;
    for threads in [1, 2, 3] {
        let cx = Compute::threads(threads).with_gemm(*cfg);
        let mut c = w.clone();
        let mut buf = buf0.clone();
        let mut sq = Vec::new();
        let cv = MatMut::new(&mut c, m, n, n, 1).unwrap();
        let got = match rule {
            Rule::Sgd(eta) => matmul_descend(&cx, eta, av(), bv(), cv, &mut sq),
            Rule::Momentum(lr, mu, damp, gs, nesterov) => {
                let step = DescentStep::Momentum {
                    step: momentum_step(lr, mu, damp, gs, nesterov),
                    buf: &mut buf,
                };
                matmul_descend_with(&cx, step, av(), bv(), cv, &mut sq)
            }
        }
        .unwrap();
        let case = format!("{label}: {m}x{k}x{n} a_t={a_t} {rule:?} threads={threads}");
        let Some(total) = got else {
            // Deeper than a k block: nothing done.
            assert!(k > 64, "{case}: declined a shallow product");
            assert_eq!(bits(&c), bits(&w), "{case}: declined but wrote C");
            assert_eq!(bits(&buf), bits(&buf0), "{case}: declined but wrote b");
            return;
        };
        assert_eq!(
            bits(&c),
            bits(&want),
            "{case}: not the stored product's step"
        );
        assert_eq!(
            bits(&buf),
            bits(&want_buf),
            "{case}: not the stored product's momentum buffer"
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
                check(&label, &cfg, m, k, n, a_t, Rule::Sgd(0.05), &mut rng);
            }
        }
        // Maximizing steps the other way; a zero rate leaves C, but the
        // squares are still summed.
        check(&label, &cfg, 13, 7, 37, true, Rule::Sgd(-0.3), &mut rng);
        check(&label, &cfg, 13, 7, 37, true, Rule::Sgd(0.0), &mut rng);
    }
}

#[test]
fn momentums_step_is_the_stored_products_on_any_threads() {
    let mut rng = ChaCha8Rng::seed_from_u64(31);
    let shapes = [
        (128, 64, 784),
        (10, 64, 64),
        (1, 1, 1),
        (13, 7, 37),
        (200, 17, 9),
        (3, 5, 8300),
        (7, 1000, 9),
    ];
    // Heavy ball; Nesterov, dampened and maximizing.
    let rules = [
        Rule::Momentum(0.05, 0.9, 0.0, 1.0, false),
        Rule::Momentum(0.01, 0.8, 0.25, -1.0, true),
    ];
    for (label, cfg) in common::known_cpu_configs() {
        for &(m, k, n) in &shapes {
            for rule in rules {
                check(&label, &cfg, m, k, n, true, rule, &mut rng);
            }
        }
        check(&label, &cfg, 13, 7, 37, false, rules[1], &mut rng);
    }
}

/// `matmul_descend_with` on one thread: C (2 × 2) stepped by A (2 × 3,
/// row-major in `a`) times B (3 × 2, row-major in `b`).
fn descend_2x3x2(
    step: DescentStep,
    a: &[f32],
    b: &[f32],
    c: &mut [f32],
) -> descent_core::Result<Option<f64>> {
    matmul_descend_with(
        &Compute::serial(),
        step,
        MatRef::new(a, 2, 3, 3, 1).unwrap(),
        MatRef::new(b, 3, 2, 2, 1).unwrap(),
        MatMut::new(c, 2, 2, 2, 1).unwrap(),
        &mut Vec::new(),
    )
}

/// The store does not do weight decay or the first step's `b ← g`: such a
/// step is declined, and nothing is written.
#[test]
fn momentum_with_decay_or_on_its_first_step_is_declined() {
    let (a, b) = (vec![1.0; 6], vec![1.0; 6]);
    for (decay, first) in [(0.01, false), (0.0, true)] {
        let (mut c, mut buf) = (vec![0.5; 4], vec![0.25; 4]);
        let step = DescentStep::Momentum {
            step: MomentumStep {
                weight_decay: decay,
                first_step: first,
                ..momentum_step(0.1, 0.9, 0.0, 1.0, false)
            },
            buf: &mut buf,
        };
        let r = descend_2x3x2(step, &a, &b, &mut c);
        assert_eq!(r.unwrap(), None, "decay {decay}, first {first}");
        assert_eq!((c, buf), (vec![0.5; 4], vec![0.25; 4]));
    }
}

#[test]
fn a_short_momentum_buffer_is_an_error() {
    let (a, b, mut c) = (vec![0.0; 6], vec![0.0; 6], vec![0.0; 4]);
    let mut buf = vec![0.0; 3];
    let step = DescentStep::Momentum {
        step: momentum_step(0.1, 0.9, 0.0, 1.0, false),
        buf: &mut buf,
    };
    let r = descend_2x3x2(step, &a, &b, &mut c);
    assert!(r.is_err());
    assert_eq!(c, vec![0.0; 4], "nothing written");
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
