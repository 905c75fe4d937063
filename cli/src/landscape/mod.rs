//! `descent landscape`: optimizers on 2-D test functions, through the same
//! fused kernels that train the MLP (the two coordinates are a parameter
//! buffer of length 2).

pub mod functions;

use std::io::Write;
use std::path::Path;

use descent_optim::{Hyper, OptimizerConfig, OptimizerKind, Updater};

use crate::commands::parse_lr_map;
use crate::error::CliError;
use crate::opts::LandscapeArgs;
use crate::plot::{self, Axes, PathSeries, Series};
use crate::report::{self, Table};
use functions::Function;

/// The default learning rate of `opt` on `f`: values that make each
/// optimizer's character visible within the default step budget from the
/// default start
/// (found by trying powers of ~3; see the README's landscape section).
pub fn default_lr(f: &Function, opt: OptimizerKind) -> f32 {
    use OptimizerKind::*;
    match f {
        Function::Rosenbrock => match opt {
            Gd | Sgd => 1e-3,
            Momentum | Nesterov => 1e-3,
            Adagrad => 0.5,
            Rmsprop => 0.01,
            Adam | Adamw => 0.05,
            RandomSearch => 0.0,
        },
        Function::Beale => match opt {
            Gd | Sgd => 1e-2,
            Momentum | Nesterov => 3e-3,
            Adagrad => 0.5,
            Rmsprop => 0.01,
            Adam | Adamw => 0.1,
            RandomSearch => 0.0,
        },
        Function::Himmelblau => match opt {
            Gd | Sgd => 1e-2,
            Momentum | Nesterov => 3e-3,
            Adagrad => 0.5,
            Rmsprop => 0.02,
            Adam | Adamw => 0.1,
            RandomSearch => 0.0,
        },
        Function::Saddle => match opt {
            Gd | Sgd => 0.05,
            Momentum | Nesterov => 0.01,
            Adagrad => 0.1,
            Rmsprop => 0.01,
            Adam | Adamw => 0.01,
            RandomSearch => 0.0,
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
                RandomSearch => 0.0,
            }
        }
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
) -> Result<LandscapeRun, CliError> {
    let mut p = [start.0 as f32, start.1 as f32];
    let mut path = vec![(p[0] as f64, p[1] as f64)];
    let mut losses = vec![f.value(p[0] as f64, p[1] as f64)];
    let value = |q: &[f32]| f.value(q[0] as f64, q[1] as f64);
    // The trainer's factory: PyTorch's defaults but lr (momentum 0.9 for
    // momentum and nesterov, σ = 0.1 for random search).
    let hyper = Hyper {
        lr: opt.uses_gradient().then_some(lr),
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
        Updater::Grad(mut o) => {
            for _ in 0..steps {
                let (gx, gy) = f.gradient(p[0] as f64, p[1] as f64);
                let g = [gx as f32, gy as f32];
                if !(g[0].is_finite() && g[1].is_finite()) {
                    break;
                }
                o.step(&mut p, &g)?;
                if !(p[0].is_finite() && p[1].is_finite()) {
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

fn out_err(dir: &Path, e: impl std::fmt::Display) -> CliError {
    CliError::Flag {
        flag: "--out".into(),
        message: format!("{}: {e}", dir.display()),
    }
}

/// `descent landscape`.
pub fn run(args: &LandscapeArgs) -> Result<(), CliError> {
    let mut f: Function = args
        .function
        .parse()
        .map_err(|e: functions::UnknownFunction| CliError::Flag {
            flag: "--function".into(),
            message: e.to_string(),
        })?;
    if let Function::Quadratic { condition } = &mut f {
        if !(args.condition.is_finite() && args.condition >= 1.0) {
            return Err(CliError::Flag {
                flag: "--condition".into(),
                message: format!("{} must be a finite number ≥ 1", args.condition),
            });
        }
        *condition = args.condition;
    }
    let start = match &args.start {
        None => f.default_start(),
        Some(v) if v.len() == 2 && v.iter().all(|c| c.is_finite()) => (v[0], v[1]),
        Some(v) => {
            return Err(CliError::Flag {
                flag: "--start".into(),
                message: format!("{v:?} is not two finite numbers x,y"),
            })
        }
    };
    if args.optimizers.is_empty() {
        return Err(CliError::Flag {
            flag: "--optimizers".into(),
            message: "name at least one optimizer".into(),
        });
    }
    let lrs = parse_lr_map("--lr", args.lr.as_deref())?;
    std::fs::create_dir_all(&args.out).map_err(|e| out_err(&args.out, e))?;
    let steps = args.steps.unwrap_or_else(|| f.default_steps());
    println!(
        "descent landscape: {f} from ({}, {}), {steps} steps",
        start.0, start.1
    );
    let mut runs = Vec::new();
    for &opt in &args.optimizers {
        let lr = lrs
            .get(&opt)
            .copied()
            .unwrap_or_else(|| default_lr(&f, opt));
        if !(lr.is_finite() && lr >= 0.0) {
            return Err(CliError::Flag {
                flag: "--lr".into(),
                message: format!("{}={lr} must be finite and ≥ 0", opt.as_str()),
            });
        }
        runs.push(run_optimizer(&f, opt, lr, start, steps, 0)?);
    }
    write_outputs(&args.out, &f, &runs)?;
    Ok(())
}

/// Writes paths.csv, landscape.svg, loss.svg and index.html; prints the
/// table.
pub fn write_outputs(out: &Path, f: &Function, runs: &[LandscapeRun]) -> Result<(), CliError> {
    let csv = out.join("paths.csv");
    let mut w = std::io::BufWriter::new(std::fs::File::create(&csv).map_err(|e| out_err(&csv, e))?);
    let mut write = || -> std::io::Result<()> {
        writeln!(w, "optimizer,lr,step,x,y,loss")?;
        for r in runs {
            for (i, ((x, y), l)) in r.path.iter().zip(&r.losses).enumerate() {
                writeln!(w, "{},{},{i},{x},{y},{l}", r.opt.as_str(), r.lr)?;
            }
        }
        w.flush()
    };
    write().map_err(|e| out_err(&csv, e))?;
    let mut table = Table::new(&[
        "optimizer",
        "lr",
        "steps",
        "final x",
        "final y",
        "final loss",
        "distance to minimum",
    ]);
    let mut paths = Vec::new();
    for r in runs {
        let (x, y) = r.end();
        let loss = *r.losses.last().expect("non-empty");
        let dist = f.distance_to_minimum(x, y);
        let dist_s = dist.map_or("–".to_string(), |d| format!("{d:.3e}"));
        table.rows.push(vec![
            r.opt.as_str().to_string(),
            if r.opt == OptimizerKind::RandomSearch {
                "σ 0.1".into()
            } else {
                format!("{}", r.lr)
            },
            (r.path.len() - 1).to_string(),
            format!("{x:.4}"),
            format!("{y:.4}"),
            format!("{loss:.3e}"),
            dist_s.clone(),
        ]);
        paths.push(PathSeries {
            label: format!("{} (loss {loss:.2e}, dist {dist_s})", r.opt.as_str()),
            points: r.path.clone(),
        });
    }
    println!("\n{}", table.text());
    let svg = out.join("landscape.svg");
    plot::landscape_chart(&svg, f, &paths).map_err(|e| out_err(&svg, e))?;
    // The saddle is unbounded below: its loss is plotted on a linear axis.
    let log_y = !matches!(f, Function::Saddle);
    let series: Vec<Series> = runs
        .iter()
        .map(|r| Series {
            name: r.opt.as_str().to_string(),
            points: r
                .losses
                .iter()
                .enumerate()
                .map(|(i, &l)| (i as f64, l))
                .collect(),
        })
        .collect();
    let loss_svg = out.join("loss.svg");
    plot::line_chart(
        &loss_svg,
        &format!("{f}: loss per step"),
        Axes {
            x: "step",
            y: "f(x, y)",
            log_x: false,
            log_y,
        },
        &series,
        false,
    )
    .map_err(|e| out_err(&loss_svg, e))?;
    report::write_index(
        out,
        &report::command_line(),
        "Each optimizer starts from the same point; ○ marks the start, ● the end, ✕ the minima.",
        &[("Final iterates", &table)],
        &[
            ("landscape.svg", "Paths over the contour lines"),
            ("loss.svg", "Loss per step"),
        ],
    )
    .map_err(|e| out_err(out, e))?;
    println!("wrote {}", out.display());
    Ok(())
}
