//! Every optimizer converges on a convex quadratic, and the momentum and
//! adaptive ones on the 2-D Rosenbrock function, within a stated budget.

use descent_optim::Compute;
use descent_optim::*;

/// `f(x) = ½·Σ aᵢ(xᵢ − bᵢ)²` with curvatures aᵢ from 1 to 10 (condition
/// number 10) and minimum b; ∇f = a·(x − b).
struct Quadratic {
    a: Vec<f32>,
    b: Vec<f32>,
}

impl Quadratic {
    fn new(n: usize) -> Self {
        Quadratic {
            a: (0..n)
                .map(|i| 1.0 + 9.0 * i as f32 / (n - 1) as f32)
                .collect(),
            b: (0..n).map(|i| (i as f32 * 0.37).sin()).collect(),
        }
    }
    fn loss(&self, x: &[f32]) -> f64 {
        x.iter()
            .zip(&self.a)
            .zip(&self.b)
            .map(|((&x, &a), &b)| 0.5 * a as f64 * ((x - b) as f64).powi(2))
            .sum()
    }
    fn grad(&self, x: &[f32], g: &mut [f32]) {
        for i in 0..x.len() {
            g[i] = self.a[i] * (x[i] - self.b[i]);
        }
    }
}

/// Runs `budget` steps on the quadratic from x = 2 and checks the loss fell
/// below `tol` (the start is ≈ 20).
fn quadratic(mut opt: Box<dyn Optimizer>, budget: usize, tol: f64) {
    let q = Quadratic::new(16);
    let mut x = vec![2.0f32; 16];
    let mut g = vec![0.0f32; 16];
    let start = q.loss(&x);
    for _ in 0..budget {
        q.grad(&x, &mut g);
        opt.step(&Compute::serial(), &mut x, &g).unwrap();
    }
    let end = q.loss(&x);
    eprintln!("{}: {start} -> {end}", opt.name());
    assert!(
        end < tol,
        "{}: loss {start} -> {end} after {budget} steps (want < {tol})",
        opt.name()
    );
}

#[test]
fn sgd_converges_on_quadratic() {
    // lr = 0.15 < 2/a_max: plain gradient descent contracts by 0.85 per step
    // along the flattest direction.
    let o = Sgd::new(SgdConfig {
        lr: 0.15,
        ..Default::default()
    })
    .unwrap();
    quadratic(Box::new(o), 200, 1e-10);
}

#[test]
fn momentum_and_nesterov_converge_on_quadratic() {
    for nesterov in [false, true] {
        let o = Sgd::new(SgdConfig {
            lr: 0.05,
            momentum: 0.5,
            nesterov,
            ..Default::default()
        })
        .unwrap();
        quadratic(Box::new(o), 200, 1e-10);
    }
}

#[test]
fn adagrad_converges_on_quadratic() {
    let o = Adagrad::new(AdagradConfig {
        lr: 0.5,
        ..Default::default()
    })
    .unwrap();
    quadratic(Box::new(o), 500, 1e-8);
}

#[test]
fn rmsprop_converges_on_quadratic() {
    // Each step moves a coordinate by about lr (the gradient is normalised),
    // so lr = 1e-2 needs a few hundred steps to cross the distance of ≈ 2.5.
    for (centered, momentum) in [(false, 0.0), (true, 0.0), (false, 0.5)] {
        let o = Rmsprop::new(RmspropConfig {
            lr: 1e-2,
            centered,
            momentum,
            ..Default::default()
        })
        .unwrap();
        quadratic(Box::new(o), 3000, 1e-8);
    }
}

#[test]
fn adam_and_adamw_converge_on_quadratic() {
    for (cfg, tol) in [
        (
            AdamConfig {
                lr: 0.05,
                ..Default::default()
            },
            1e-6,
        ),
        (
            AdamConfig {
                lr: 0.05,
                amsgrad: true,
                ..Default::default()
            },
            1e-6,
        ),
        // AdamW's decay moves the fixed point towards 0 by O(λ·|b|).
        (
            AdamConfig {
                lr: 0.05,
                weight_decay: 1e-4,
                ..AdamConfig::adamw()
            },
            1e-5,
        ),
    ] {
        quadratic(Box::new(Adam::new(cfg).unwrap()), 2000, tol);
    }
}

/// `f(x, y) = (1 − x)² + 100·(y − x²)²`, minimum at (1, 1); start (−1.2, 1).
fn rosenbrock(mut opt: Box<dyn Optimizer>, budget: usize, tol: f32) {
    let mut p = [-1.2f32, 1.0];
    let mut g = [0.0f32; 2];
    for _ in 0..budget {
        let (x, y) = (p[0], p[1]);
        g[0] = -2.0 * (1.0 - x) - 400.0 * x * (y - x * x);
        g[1] = 200.0 * (y - x * x);
        opt.step(&Compute::serial(), &mut p, &g).unwrap();
    }
    let d = ((p[0] - 1.0).powi(2) + (p[1] - 1.0).powi(2)).sqrt();
    assert!(
        d < tol,
        "{}: ended at {p:?}, {d} from (1, 1) after {budget} steps",
        opt.name()
    );
}

#[test]
fn momentum_and_nesterov_converge_on_rosenbrock() {
    for nesterov in [false, true] {
        let o = Sgd::new(SgdConfig {
            lr: 1e-3,
            momentum: 0.9,
            nesterov,
            ..Default::default()
        })
        .unwrap();
        rosenbrock(Box::new(o), 20_000, 1e-3);
    }
}

#[test]
fn adagrad_converges_on_rosenbrock() {
    let o = Adagrad::new(AdagradConfig {
        lr: 0.5,
        ..Default::default()
    })
    .unwrap();
    rosenbrock(Box::new(o), 20_000, 1e-2);
}

#[test]
fn rmsprop_converges_on_rosenbrock() {
    let o = Rmsprop::new(RmspropConfig {
        lr: 1e-3,
        ..Default::default()
    })
    .unwrap();
    rosenbrock(Box::new(o), 20_000, 1e-2);
}

#[test]
fn adam_converges_on_rosenbrock() {
    for cfg in [
        AdamConfig {
            lr: 0.02,
            ..Default::default()
        },
        AdamConfig {
            lr: 0.02,
            amsgrad: true,
            ..Default::default()
        },
        AdamConfig {
            lr: 0.02,
            weight_decay: 0.0,
            ..AdamConfig::adamw()
        },
    ] {
        rosenbrock(Box::new(Adam::new(cfg).unwrap()), 20_000, 1e-2);
    }
}
