//! The optimizers on two-dimensional test functions: the classic terrain
//! for watching them move (as `scipy.optimize.rosen` is for SciPy's). The
//! two coordinates are a parameter buffer of length 2, stepped by the same
//! fused kernels that train the MLP.

pub mod functions;

use crate::{Compute, Hyper, OptimizerConfig, OptimizerKind, RandomSearchConfig, Result, Updater};
use functions::Function;

/// The default learning rate of `opt` on `f`: values that make each
/// optimizer's character visible within the default step budget from the
/// default start
/// (found by trying powers of ~3; see docs/optimizers.md, the landscapes).
pub fn default_lr(f: &Function, opt: OptimizerKind) -> f32 {
    use OptimizerKind::*;
    match f {
        Function::Rosenbrock => match opt {
            Gd | Sgd => 1e-3,
            Momentum | Nesterov => 1e-3,
            Adagrad => 0.5,
            Rmsprop => 0.01,
            Adam | Adamw => 0.05,
            Adamax => 0.05,
            Lion => 3e-3,
            Adadelta => 0.3,
            Nadam => 0.03,
            Radam | Rprop => 1e-2,
            Asgd => 1e-3,
            ScheduleFreeAdamw => 0.05,
            Adafactor => 0.3,
            Lbfgs => 1.0,
            Muon | RandomSearch | RandomSample => 0.0,
        },
        Function::Beale => match opt {
            Gd | Sgd => 1e-2,
            Momentum | Nesterov => 3e-3,
            Adagrad => 0.5,
            Rmsprop => 0.01,
            Adam | Adamw => 0.1,
            Adamax => 0.1,
            Lion => 1e-2,
            Adadelta => 1.0,
            Nadam => 0.1,
            Radam | Rprop => 1e-2,
            Asgd => 0.03,
            ScheduleFreeAdamw => 0.2,
            Adafactor => 1e-2,
            Lbfgs => 1.0,
            Muon | RandomSearch | RandomSample => 0.0,
        },
        Function::Himmelblau => match opt {
            Gd | Sgd => 1e-2,
            Momentum | Nesterov => 3e-3,
            Adagrad => 0.5,
            Rmsprop => 0.02,
            Adam | Adamw => 0.1,
            Adamax => 0.1,
            Lion => 1e-2,
            Adadelta => 1.0,
            Nadam => 0.1,
            Radam => 0.03,
            Rprop | Asgd => 1e-2,
            ScheduleFreeAdamw => 0.1,
            Adafactor => 0.1,
            Lbfgs => 1.0,
            Muon | RandomSearch | RandomSample => 0.0,
        },
        Function::Saddle => match opt {
            Gd | Sgd => 0.05,
            Momentum | Nesterov => 0.01,
            Adagrad => 0.1,
            Rmsprop => 0.01,
            Adam | Adamw => 0.01,
            Adamax => 0.01,
            Lion => 1e-2,
            Adadelta => 1.0,
            Nadam | Radam | Rprop | Asgd | ScheduleFreeAdamw => 1e-2,
            Adafactor => 1e-2,
            Lbfgs => 1.0,
            Muon | RandomSearch | RandomSample => 0.0,
        },
        Function::Quadratic { condition } => {
            // Stability of plain GD needs lr < 2/κ (the largest curvature).
            let l = condition.max(1.0) as f32;
            match opt {
                Gd | Sgd => 1.0 / l,
                Momentum | Nesterov => 0.3 / l,
                Adagrad => 0.5,
                Rmsprop => 0.01,
                Adam | Adamw => 0.05,
                Adamax => 0.05,
                Lion => 1e-2,
                Adadelta => 1.0,
                Nadam | Radam => 0.05,
                Rprop => 1e-2,
                Asgd => 1.0 / l,
                ScheduleFreeAdamw => 0.1,
                Adafactor => 1.0,
                Lbfgs => 1.0,
                Muon | RandomSearch | RandomSample => 0.0,
            }
        }
    }
}

/// The σ the random searches use on `f` (`None` for the gradient
/// methods): random search's default step, and for pure random search a
/// quarter of the function's window, so that draws around the origin cover
/// the region drawn.
pub fn search_sigma(f: &Function, opt: OptimizerKind) -> Option<f32> {
    match opt {
        OptimizerKind::RandomSearch => Some(RandomSearchConfig::default().sigma),
        OptimizerKind::RandomSample => {
            let (x0, x1, _, _) = f.window();
            Some(((x1 - x0) / 4.0) as f32)
        }
        _ => None,
    }
}

/// One optimizer's run on a landscape.
#[derive(Debug, Clone)]
pub struct LandscapeRun {
    /// The optimizer.
    pub opt: OptimizerKind,
    /// Its learning rate (0 for random search).
    pub lr: f32,
    /// Every iterate, the start first.
    pub path: Vec<(f64, f64)>,
    /// f at every iterate.
    pub losses: Vec<f64>,
}

impl LandscapeRun {
    /// The last iterate.
    pub fn end(&self) -> (f64, f64) {
        *self.path.last().expect("the path holds the start")
    }
}

/// Runs `opt` on `f` from `start` for `steps` steps with learning rate `lr`
/// (and PyTorch's other defaults; momentum 0.9 for momentum and nesterov).
/// The iterates are f32, as in training; f and ∇f are evaluated in f64 at
/// the f32 point and the gradient is rounded to f32. Stops early if the
/// iterate leaves the finite numbers.
pub fn run_optimizer(
    f: &Function,
    opt: OptimizerKind,
    lr: f32,
    start: (f64, f64),
    steps: usize,
    seed: u64,
) -> Result<LandscapeRun> {
    let mut p = [start.0 as f32, start.1 as f32];
    let mut path = vec![(p[0] as f64, p[1] as f64)];
    let mut losses = vec![f.value(p[0] as f64, p[1] as f64)];
    let value = |q: &[f32]| f.value(q[0] as f64, q[1] as f64);
    // The trainer's factory: PyTorch's defaults but lr (momentum 0.9 for
    // momentum and nesterov, σ = 0.1 for random search).
    let hyper = Hyper {
        lr: opt.uses_gradient().then_some(lr),
        sigma: search_sigma(f, opt),
        ..Hyper::default()
    };
    match OptimizerConfig::new(opt, &hyper, None, seed)?.build()? {
        Updater::Search(mut rs) => {
            for _ in 0..steps {
                rs.step(&mut p, |q| value(q) as f32);
                path.push((p[0] as f64, p[1] as f64));
                losses.push(value(&p));
            }
        }
        Updater::Lbfgs(mut o) => {
            // Each step is up to max_iter iterations on the exact function;
            // the path records the point after each step.
            for _ in 0..steps {
                let r = o.step(&mut p, |q: &[f32], g: &mut [f32]| -> Result<f32> {
                    let (gx, gy) = f.gradient(q[0] as f64, q[1] as f64);
                    g[0] = gx as f32;
                    g[1] = gy as f32;
                    Ok(value(q) as f32)
                });
                if r.is_err() || !(p[0].is_finite() && p[1].is_finite()) {
                    break;
                }
                path.push((p[0] as f64, p[1] as f64));
                losses.push(value(&p));
            }
        }
        Updater::Grad(mut o) => {
            for _ in 0..steps {
                let (gx, gy) = f.gradient(p[0] as f64, p[1] as f64);
                let g = [gx as f32, gy as f32];
                if !(g[0].is_finite() && g[1].is_finite()) {
                    break;
                }
                // A 2-D point is one thread's work.
                let info = o.step(&Compute::serial(), &mut p, &g)?;
                if !(info.applied && p[0].is_finite() && p[1].is_finite()) {
                    break;
                }
                path.push((p[0] as f64, p[1] as f64));
                losses.push(value(&p));
            }
        }
    }
    Ok(LandscapeRun {
        opt,
        lr,
        path,
        losses,
    })
}
