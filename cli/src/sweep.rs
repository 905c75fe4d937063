//! `descent sweep`: one optimizer at several learning rates, from the same
//! initial weights and batch order; final test accuracy and loss against lr
//! (log axis), diverged runs marked rather than fatal.

use crate::commands::load_data;
use crate::compare::{run_one, write_runs_csv, RunResult};
use crate::error::CliError;
use crate::opts::SweepArgs;
use descent_optim::Hyper;
use descent_report::chart::{line_chart, Axes};
use descent_report::page::{self as report, Table};
use descent_report::Series;

/// The sweep's table: one row per lr.
pub fn sweep_table(results: &[RunResult]) -> Table {
    let mut t = Table::new(&[
        "lr",
        "train loss",
        "test loss",
        "test acc",
        "seconds",
        "status",
    ]);
    for r in results {
        let last = r.history.epochs.last();
        let f = |v: Option<f32>, pct: bool| match v {
            Some(v) if pct => format!("{:.2}%", 100.0 * v),
            Some(v) => format!("{v:.4}"),
            None => "–".into(),
        };
        t.rows.push(vec![
            format!("{}", r.lr),
            f(last.map(|e| e.train_loss), false),
            f(last.map(|e| e.test_loss), false),
            f(last.map(|e| e.test_accuracy), true),
            format!("{:.2}", r.seconds),
            if r.diverged.is_some() {
                "diverged".into()
            } else {
                "ok".into()
            },
        ]);
    }
    t
}

/// `descent sweep`.
pub fn sweep(args: &SweepArgs) -> Result<(), CliError> {
    if let Some(bad) = args.lr.iter().find(|l| !(l.is_finite() && **l > 0.0)) {
        return Err(CliError::Flag {
            flag: "--lr".into(),
            message: format!("{bad} must be finite and positive (the plot's axis is logarithmic)"),
        });
    }
    let mut plan = Vec::new();
    for &lr in &args.lr {
        let hyper = Hyper {
            lr: Some(lr),
            ..Hyper::default()
        };
        let cfg = args.run.config(args.optimizer, hyper, args.data.normalize);
        cfg.validate()?;
        plan.push((format!("lr={lr}"), cfg));
    }
    std::fs::create_dir_all(&args.out).map_err(|e| CliError::Flag {
        flag: "--out".into(),
        message: format!("{}: {e}", args.out.display()),
    })?;
    let data = load_data(&args.data)?;
    let threads = args.run.thread_count();
    let mut results = Vec::new();
    for (label, cfg) in plan {
        results.push(run_one(&label, cfg, &data, threads, args.run.quiet)?);
    }
    let table = sweep_table(&results);
    println!("\n{}", table.text());
    let out = &args.out;
    let err = |e: String| CliError::Flag {
        flag: "--out".into(),
        message: e,
    };
    write_runs_csv(&out.join("metrics.csv"), &results)?;
    std::fs::write(
        out.join("summary.md"),
        format!("# {}\n\n{}", report::command_line(), table.markdown()),
    )
    .map_err(|e| err(e.to_string()))?;
    // Converged runs as a line; diverged ones as separate markers at the
    // bottom of the accuracy axis (their final accuracy is meaningless).
    let point = |r: &RunResult, acc: bool| {
        r.history.epochs.last().map(|e| {
            (
                r.lr as f64,
                if acc {
                    100.0 * e.test_accuracy as f64
                } else {
                    e.test_loss as f64
                },
            )
        })
    };
    let ok: Vec<&RunResult> = results.iter().filter(|r| r.diverged.is_none()).collect();
    let bad: Vec<&RunResult> = results.iter().filter(|r| r.diverged.is_some()).collect();
    let acc = vec![
        Series {
            name: args.optimizer.as_str().to_string(),
            points: ok.iter().filter_map(|r| point(r, true)).collect(),
        },
        Series {
            name: "diverged".into(),
            points: bad.iter().map(|r| (r.lr as f64, 0.0)).collect(),
        },
    ];
    line_chart(
        &out.join("accuracy.svg"),
        &format!(
            "{}: final test accuracy against lr",
            args.optimizer.as_str()
        ),
        Axes {
            x: "learning rate",
            y: "test accuracy (%)",
            log_x: true,
            log_y: false,
            integer_x: false,
        },
        &acc,
        true,
    )
    .map_err(|e| err(e.to_string()))?;
    let loss = vec![Series {
        name: args.optimizer.as_str().to_string(),
        points: ok.iter().filter_map(|r| point(r, false)).collect(),
    }];
    line_chart(
        &out.join("loss.svg"),
        &format!("{}: final test loss against lr", args.optimizer.as_str()),
        Axes {
            x: "learning rate",
            y: "test loss",
            log_x: true,
            log_y: true,
            integer_x: false,
        },
        &loss,
        true,
    )
    .map_err(|e| err(e.to_string()))?;
    report::write_index(
        out,
        &report::command_line(),
        "Diverged runs are listed in the table and drawn at 0% accuracy.",
        &[("Sweep", &table)],
        &[
            ("accuracy.svg", "Final test accuracy"),
            ("loss.svg", "Final test loss (converged runs)"),
        ],
    )
    .map_err(|e| err(e.to_string()))?;
    println!("wrote {}", out.display());
    Ok(())
}
