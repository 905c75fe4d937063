//! `descent landscape`: optimizers on 2-D test functions
//! (`descent_optim::landscape`), drawn as paths over the contours.

use std::io::Write;
use std::path::Path;

use descent_optim::landscape::functions::{self, Function};
use descent_optim::landscape::{default_lr, run_optimizer, search_sigma, LandscapeRun};

use crate::commands::parse_lr_map;
use crate::error::CliError;
use crate::opts::LandscapeArgs;
use descent_report::chart::{line_chart, Axes};
use descent_report::landscape::{contour_levels, PathSeries, Surface};
use descent_report::page::{self as report, Table};
use descent_report::Series;

fn out_err(dir: &Path, e: impl std::fmt::Display) -> CliError {
    CliError::Flag {
        flag: "--out".into(),
        message: format!("{}: {e}", dir.display()),
    }
}

pub mod net;

/// `descent landscape`: the network's landscape when --data, --model or
/// --interpolate is given, else a 2-D function's.
pub fn run(args: &LandscapeArgs) -> Result<(), CliError> {
    if args.data.data.is_some() || args.model.is_some() || !args.interpolate.is_empty() {
        if let Some(f) = &args.function {
            return Err(CliError::Flag {
                flag: "--function".into(),
                message: format!(
                    "{f} is a 2-D function; --data, --model and --interpolate measure the network"
                ),
            });
        }
        return net::run(args);
    }
    let mut f: Function = args
        .function
        .as_deref()
        .unwrap_or("rosenbrock")
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
            match search_sigma(f, r.opt) {
                Some(sigma) => format!("σ {sigma}"),
                None => format!("{}", r.lr),
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
    surface(f, paths)
        .write(&svg)
        .map_err(|e| out_err(&svg, e))?;
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
    line_chart(
        &loss_svg,
        &format!("{f}: loss per step"),
        Axes {
            x: "step",
            y: "f(x, y)",
            log_x: false,
            log_y,
            integer_x: true,
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

/// `f` sampled on a 121 × 121 grid over its window, with its contour
/// levels, minima and the optimizers' paths. Levels are log-spaced above
/// the lowest value when `f` has a minimum to fall towards and spans
/// decades (Rosenbrock spans ten); the saddle, unbounded below, is linear.
fn surface(f: &Function, paths: Vec<PathSeries>) -> Surface {
    const N: usize = 120;
    let (x0, x1, y0, y1) = f.window();
    let xs: Vec<f64> = (0..=N)
        .map(|i| x0 + (x1 - x0) * i as f64 / N as f64)
        .collect();
    let ys: Vec<f64> = (0..=N)
        .map(|j| y0 + (y1 - y0) * j as f64 / N as f64)
        .collect();
    let values: Vec<Vec<f64>> = ys
        .iter()
        .map(|&y| xs.iter().map(|&x| f.value(x, y)).collect())
        .collect();
    let minima = f.minima();
    let base = if minima.is_empty() {
        f64::INFINITY
    } else {
        0.0
    };
    let levels = contour_levels(&values, 14, base, !matches!(f, Function::Saddle));
    Surface {
        title: format!("{f}: optimizer paths"),
        x_label: "x".into(),
        y_label: "y".into(),
        xs,
        ys,
        values,
        levels,
        minima,
        paths,
        linear_colour: false,
    }
}
