//! `descent compare`: every optimizer on the same data, seeds and budget,
//! each run timed and measured alone, then the tables (accuracy, time to
//! a target, memory), the loss and accuracy charts and the summary.

use descent_core::Compute;
use std::path::{Path, PathBuf};

use descent_optim::{Hyper, OptimizerKind};
use descent_report::chart::{min_max, tick_label, Axis, Band, Chart};
use descent_report::page::{self as report, Table};
use descent_report::Series;
use descent_train::metrics::{EpochRecord, StepRecord};
use descent_train::tune::{self, Budget, PerPoint, Tuned};
use descent_train::{Observer, RunConfig, TrainError, Trainer};

use crate::commands::{io_flag, load_data, parse_lr_map};
use crate::console::Console;
use crate::data::Mnist;
use crate::error::CliError;
use crate::metrics::{smooth, History, CSV_HEADER};
use crate::opts::{CompareArgs, DataArgs, ReportArgs, RunOneArgs, XAxis};
use crate::study::{self, Plan, PlannedRun};
use descent_train::data::Normalize;

/// One finished (or diverged) run of `compare` or `sweep`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct RunResult {
    /// Run label, e.g. `adam` or `sgd/b64`.
    pub label: String,
    /// The config it ran.
    pub cfg: RunConfig,
    /// The lr it used.
    #[serde(with = "descent_train::metrics::nonfinite")]
    pub lr: f32,
    /// What it measured.
    pub history: History,
    /// Total training seconds.
    #[serde(with = "descent_train::metrics::nonfinite")]
    pub seconds: f64,
    /// The divergence message, if it diverged.
    pub diverged: Option<String>,
    /// Parameters of the model.
    pub params: usize,
    /// Bytes of optimizer state ([`Trainer::optimizer_state_bytes`]).
    pub state_bytes: u64,
    /// Bytes the run's training needs ([`Trainer::training_bytes`]).
    pub train_bytes: u64,
    /// The process's peak resident memory during this run, in bytes: the
    /// peak (VmHWM) is reset before the run (Linux). It includes the data
    /// set and what earlier runs left to the allocator.
    pub peak_rss: Option<u64>,
}

/// Resets the process's peak resident set size to the current one (Linux
/// ≥ 4.0: writing 5 to `/proc/self/clear_refs`).
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// `VmHWM` of `/proc/self/status`: the process's peak resident set size,
/// in bytes (Linux).
pub fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Trains `cfg` on `data` to the end or to a divergence (which is recorded,
/// not returned: a comparison goes on with the other runs).
pub fn run_one(
    label: &str,
    cfg: RunConfig,
    data: &Mnist,
    threads: usize,
    quiet: bool,
) -> Result<RunResult, CliError> {
    run_resumable(label, cfg, data, threads, quiet, None)
}

/// Where a study's run keeps its place while it trains: its checkpoint
/// and its step records, rewritten at the end of every epoch and when a
/// signal stops it, so that the next attempt continues from there.
pub struct RunFiles<'a> {
    /// The run's checkpoint (model, optimizer state, place in the epoch).
    pub checkpoint: &'a Path,
    /// Its step records so far, as JSON.
    pub steps: &'a Path,
}

impl RunFiles<'_> {
    /// Writes the step records, then the checkpoint, each atomically. A
    /// stop between the two leaves records ahead of the checkpoint, and
    /// the resume drops those.
    fn save(&self, t: &mut Trainer<'_>) -> Result<(), TrainError> {
        let json = serde_json::to_vec(&t.history.steps).expect("step records serialize");
        descent_train::checkpoint::write_atomic(self.steps, &json)?;
        t.save(self.checkpoint)
    }
}

impl Observer for RunFiles<'_> {
    fn epoch_ended(&mut self, t: &mut Trainer<'_>, _rec: &EpochRecord) -> Result<(), TrainError> {
        self.save(t)
    }
}

/// [`run_one`], keeping its place in `files` when given: it resumes from
/// them if they are there, saves them at every epoch's end, and when
/// SIGINT or SIGTERM stops it after a step it saves them and returns
/// [`CliError::Interrupted`].
pub fn run_resumable(
    label: &str,
    cfg: RunConfig,
    data: &Mnist,
    threads: usize,
    quiet: bool,
    mut files: Option<RunFiles<'_>>,
) -> Result<RunResult, CliError> {
    let reset = reset_peak_rss();
    let cx = Compute::threads(threads);
    // The lr the run was configured with (a resumed schedule may have
    // moved the optimizer's).
    let lr = cfg.optimizer_config()?.build()?.lr();
    let mut t = match files.as_ref().filter(|f| f.checkpoint.exists()) {
        Some(f) => resume_run(label, &cfg, data, &cx, f)?,
        None => Trainer::new(cfg, data, cx)?,
    };
    let mut console = Console::new(format!("{label:>12} "), !quiet);
    let outcome = {
        let mut observers: Vec<&mut dyn Observer> = vec![&mut console];
        if let Some(f) = files.as_mut() {
            t.stop = Some(&crate::signal::STOP);
            observers.push(f);
        }
        t.run(&mut observers)
    };
    let diverged = match outcome {
        Ok(()) => None,
        Err(e @ TrainError::Diverged { .. }) => {
            println!("{label:>12} {e}");
            Some(e.to_string())
        }
        Err(TrainError::Interrupted { epoch, step }) => {
            let (signal, code) = crate::signal::received().unwrap_or(("a signal", 130));
            let f = files.as_ref().expect("only a run with files is stopped");
            f.save(&mut t)?;
            return Err(CliError::Interrupted {
                signal,
                message: format!(
                    "{label} stopped in epoch {epoch} after step {step}; saved {}",
                    f.checkpoint.display()
                ),
                code,
            });
        }
        Err(e) => return Err(e.into()),
    };
    Ok(RunResult {
        label: label.to_string(),
        cfg: t.cfg.clone(),
        lr,
        seconds: t.seconds,
        history: std::mem::take(&mut t.history),
        diverged,
        params: t.net.num_params(),
        state_bytes: t.optimizer_state_bytes(),
        train_bytes: t.training_bytes(),
        peak_rss: peak_rss().filter(|_| reset),
    })
}

/// The run saved in `f`, which must be `cfg`'s, with its step records.
fn resume_run<'d>(
    label: &str,
    cfg: &RunConfig,
    data: &'d Mnist,
    cx: &Compute,
    f: &RunFiles<'_>,
) -> Result<Trainer<'d>, CliError> {
    let bad = |message: String| CliError::Study {
        path: f.checkpoint.to_path_buf(),
        message,
    };
    let mut t = Trainer::resume(f.checkpoint, data, cfg.epochs, cfg.max_steps, cx, false)?;
    if &t.cfg != cfg {
        return Err(bad(
            "holds another run's config; remove it to start this run afresh".into(),
        ));
    }
    let read_err = |e: &dyn std::fmt::Display| CliError::Study {
        path: f.steps.to_path_buf(),
        message: e.to_string(),
    };
    let bytes = std::fs::read(f.steps).map_err(|e| read_err(&e))?;
    let steps: Vec<StepRecord> = serde_json::from_slice(&bytes).map_err(|e| read_err(&e))?;
    t.history.steps = steps.into_iter().filter(|s| s.step <= t.step).collect();
    if t.history.steps.len() as u64 != t.step {
        return Err(bad(format!(
            "is at step {}, but {} holds {} step records",
            t.step,
            f.steps.display(),
            t.history.steps.len()
        )));
    }
    println!(
        "{label:>12} resuming at step {} (epoch {}, {} steps into it)",
        t.step,
        t.epoch + 1,
        t.progress.steps_done
    );
    Ok(t)
}

/// The first test-set measurement whose accuracy reaches `target` (a
/// fraction), each epoch's end and every `--eval-every` steps:
/// `(steps, examples, training seconds)` up to it.
pub fn time_to(r: &RunResult, target: f64) -> Option<(u64, u64, f64)> {
    r.history
        .accuracy_points()
        .into_iter()
        .find(|p| p.3 as f64 >= target)
        .map(|(step, examples, seconds, _)| (step, examples, seconds))
}

fn mib(bytes: f64) -> String {
    format!("{:.1} MiB", bytes / (1u64 << 20) as f64)
}

/// [`summary_table`] as two tables that fit a page: the results (run, lr,
/// batch, seeds, losses, accuracy, status) and the cost (time to the
/// target, state, memory, seconds, throughput).
pub fn summary_tables(results: &[RunResult], target: f64) -> [Table; 2] {
    let t = summary_table(results, target);
    [
        t.columns(&[0, 1, 2, 3, 4, 5, 6, 15]),
        t.columns(&[0, 7, 8, 9, 10, 11, 12, 13, 14]),
    ]
}

/// The runs grouped by label (one per seed), in first-seen order.
pub fn groups(results: &[RunResult]) -> Vec<Vec<&RunResult>> {
    let mut g: Vec<Vec<&RunResult>> = Vec::new();
    for r in results {
        match g.iter_mut().find(|v| v[0].label == r.label) {
            Some(v) => v.push(r),
            None => g.push(vec![r]),
        }
    }
    g
}

/// `mean` of the values, or `mean (min–max)` over several seeds, each
/// printed by `f`; `–` when there is none.
fn spread(values: &[f64], f: impl Fn(f64) -> String) -> String {
    let vals: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if vals.is_empty() {
        return "–".into();
    }
    let mean = vals.iter().sum::<f64>() / vals.len() as f64;
    if vals.len() == 1 {
        return f(mean);
    }
    let (lo, hi) = min_max(vals.iter().copied());
    if lo == hi {
        return f(mean);
    }
    format!("{} ({}–{})", f(mean), f(lo), f(hi))
}

/// The summary table of `compare`: one row per run, or with several seeds
/// one row per optimizer with the mean and (min–max) over the seeds; the
/// steps, examples and seconds to the first epoch at `target` test
/// accuracy (a fraction); the optimizer state and the peak memory.
pub fn summary_table(results: &[RunResult], target: f64) -> Table {
    let pct = tick_label(100.0 * target, false);
    let to = |what: &str| format!("{what} to {pct}%");
    let mut t = Table::new(&[
        "run",
        "lr",
        "batch",
        "seeds",
        "train loss",
        "test loss",
        "test acc",
        &to("steps"),
        &to("examples"),
        &to("seconds"),
        "optimizer state",
        "training memory",
        "peak RSS",
        "seconds",
        "examples/s",
        "status",
    ]);
    for g in groups(results) {
        let r = g[0];
        let last = |f: fn(&crate::metrics::EpochRecord) -> f32| -> Vec<f64> {
            g.iter()
                .filter_map(|r| r.history.epochs.last().map(|e| f(e) as f64))
                .collect()
        };
        let secs: Vec<f64> = g.iter().map(|r| r.seconds).collect();
        let rate: Vec<f64> = g
            .iter()
            .map(|r| {
                let examples = r.history.steps.last().map_or(0, |s| s.examples);
                examples as f64 / r.seconds.max(1e-9)
            })
            .collect();
        let diverged = g.iter().filter(|r| r.diverged.is_some()).count();
        let reached: Vec<(u64, u64, f64)> = g.iter().filter_map(|r| time_to(r, target)).collect();
        let reach = |f: fn(&(u64, u64, f64)) -> f64, show: fn(f64) -> String| {
            let v: Vec<f64> = reached.iter().map(f).collect();
            match reached.len() {
                0 => "not reached".to_string(),
                k if k == g.len() => spread(&v, show),
                k => format!("{} ({k}/{} seeds)", spread(&v, show), g.len()),
            }
        };
        t.rows.push(vec![
            r.label.clone(),
            if !r.cfg.optimizer.uses_gradient() {
                "–".into()
            } else {
                format!("{}", r.lr)
            },
            if r.cfg.optimizer == OptimizerKind::Gd {
                "all".into()
            } else {
                r.cfg.batch_size.to_string()
            },
            g.iter()
                .map(|r| r.cfg.seed.to_string())
                .collect::<Vec<_>>()
                .join(","),
            spread(&last(|e| e.train_loss), |v| format!("{v:.4}")),
            spread(&last(|e| e.test_loss), |v| format!("{v:.4}")),
            spread(&last(|e| e.test_accuracy), |v| format!("{:.2}%", 100.0 * v)),
            reach(|x| x.0 as f64, |v| format!("{v:.0}")),
            reach(|x| x.1 as f64, |v| format!("{v:.0}")),
            reach(|x| x.2, |v| format!("{v:.2}")),
            format!(
                "{} ({}×)",
                mib(r.state_bytes as f64),
                tick_label(r.state_bytes as f64 / 4.0 / r.params.max(1) as f64, false)
            ),
            mib(r.train_bytes as f64),
            spread(
                &g.iter()
                    .filter_map(|r| r.peak_rss)
                    .map(|b| b as f64)
                    .collect::<Vec<_>>(),
                mib,
            ),
            spread(&secs, |v| format!("{v:.2}")),
            spread(&rate, |v| format!("{v:.0}")),
            match diverged {
                0 => "ok".into(),
                _ if g.len() == 1 => "diverged".into(),
                d => format!("{d}/{} diverged", g.len()),
            },
        ]);
    }
    t
}

/// Writes every run's records to `path` as one CSV with a leading `run`
/// column.
pub fn write_runs_csv(path: &Path, results: &[RunResult]) -> Result<(), CliError> {
    use std::io::Write;
    let f = std::fs::File::create(path).map_err(|e| io_flag("--out", path, e))?;
    let mut w = std::io::BufWriter::new(f);
    let io = |e| io_flag("--out", path, e);
    writeln!(w, "run,{CSV_HEADER}").map_err(io)?;
    let seeded = groups(results).iter().any(|g| g.len() > 1);
    for r in results {
        let label = if seeded {
            format!("{}/s{}", r.label, r.cfg.seed)
        } else {
            r.label.clone()
        };
        for s in &r.history.steps {
            writeln!(
                w,
                "{},step,{},{},{},{},{},{},{},,,,,",
                label, s.epoch, s.step, s.loss, s.grad_norm, s.lr, s.examples, s.seconds
            )
            .map_err(io)?;
        }
        for e in &r.history.epochs {
            writeln!(
                w,
                "{},epoch,{},{},,,,,{},{},{},{},{},{}",
                label,
                e.epoch,
                e.step,
                e.seconds,
                e.train_loss,
                e.test_loss,
                e.test_accuracy,
                e.examples_per_sec,
                e.skipped_steps
            )
            .map_err(io)?;
        }
    }
    w.flush().map_err(io)
}

/// At most `max` evenly spaced points of a long series (the plots of a
/// 60 000-step run would otherwise be megabytes of SVG).
fn thin<T: Copy + PartialEq>(points: Vec<T>, max: usize) -> Vec<T> {
    if points.len() <= max {
        return points;
    }
    let stride = points.len().div_ceil(max);
    let last = *points.last().expect("non-empty");
    let mut out: Vec<_> = points.into_iter().step_by(stride).collect();
    if out.last() != Some(&last) {
        out.push(last);
    }
    out
}

/// The smoothed training-loss curve of each run against `x`: with several
/// seeds, the mean over them and a (min, max) band.
pub fn loss_series(results: &[RunResult], x: XAxis) -> (Vec<Series>, Vec<Option<Band>>) {
    let curve = |r: &RunResult| -> Vec<(f64, f64)> {
        let losses: Vec<f64> = r.history.steps.iter().map(|s| s.loss as f64).collect();
        // Smoothing over ~1% of the run, at least a few steps.
        let beta = 1.0 - 1.0 / (losses.len() as f64 / 100.0).clamp(1.0, 200.0);
        let sm = smooth(&losses, beta);
        r.history
            .steps
            .iter()
            .zip(sm)
            .map(|(s, l)| {
                let xv = match x {
                    XAxis::Steps => s.step as f64,
                    XAxis::Examples => s.examples as f64,
                    XAxis::Seconds => s.seconds,
                };
                (xv, l)
            })
            .collect()
    };
    mean_and_band(results, curve, 1500)
}

/// Per label, the mean over seeds of `curve` point by point (the first
/// seed's x, as long as the shortest run) and the (min, max) band, both
/// thinned to at most `max` points; no band for a single seed.
fn mean_and_band(
    results: &[RunResult],
    curve: impl Fn(&RunResult) -> Vec<(f64, f64)>,
    max: usize,
) -> (Vec<Series>, Vec<Option<Band>>) {
    let mut series = Vec::new();
    let mut bands = Vec::new();
    for g in groups(results) {
        let curves: Vec<Vec<(f64, f64)>> = g.iter().map(|r| curve(r)).collect();
        let n = curves.iter().map(Vec::len).min().unwrap_or(0);
        let mut mean = Vec::with_capacity(n);
        let mut band = Vec::with_capacity(n);
        for i in 0..n {
            let ys: Vec<f64> = curves.iter().map(|c| c[i].1).collect();
            let m = ys.iter().sum::<f64>() / ys.len() as f64;
            let (lo, hi) = min_max(ys.iter().copied());
            mean.push((curves[0][i].0, m));
            band.push((curves[0][i].0, lo, hi));
        }
        series.push(Series {
            name: g[0].label.clone(),
            points: thin(mean, max),
        });
        bands.push((g.len() > 1).then(|| Band {
            points: thin(band, max),
        }));
    }
    (series, bands)
}

/// `descent compare`.
pub fn compare(args: &CompareArgs) -> Result<(), CliError> {
    let lrs = parse_lr_map("--lr", args.lr.as_deref())?;
    let batch_sizes = args
        .batch_sizes
        .clone()
        .unwrap_or_else(|| vec![args.run.batch_size]);
    let optimizers = crate::opts::picked(&args.optimizers);
    if optimizers.is_empty() {
        return Err(CliError::Flag {
            flag: "--optimizers".into(),
            message: "name at least one optimizer".into(),
        });
    }
    let mut plan = Vec::new();
    for &opt in &optimizers {
        for &b in &batch_sizes {
            let mut hyper = Hyper {
                lr: lrs.get(&opt).copied(),
                weight_decay: args
                    .hyper
                    .weight_decay
                    .filter(|_| opt.takes("weight_decay")),
                ..Hyper::default()
            };
            if matches!(opt, OptimizerKind::Momentum | OptimizerKind::Nesterov) {
                hyper.momentum = args.hyper.momentum;
            }
            let mut run = args.run.clone();
            run.batch_size = b;
            let cfg = run.config(opt, hyper, args.data.normalize);
            cfg.validate()?;
            let label = if batch_sizes.len() > 1 && opt != OptimizerKind::Gd {
                format!("{opt}/b{b}")
            } else {
                opt.to_string()
            };
            if plan.iter().any(|(l, _): &(String, RunConfig)| *l == label) {
                continue; // gd ignores the batch size: run it once.
            }
            plan.push((label, cfg));
        }
    }
    check_target(args.target_acc)?;
    let seeds = args.seeds.clone().unwrap_or_else(|| vec![args.run.seed]);
    if seeds.is_empty() {
        return Err(CliError::flag("--seeds", "name at least one seed"));
    }
    std::fs::create_dir_all(&args.out).map_err(|e| io_flag("--out", &args.out, e))?;
    let data = load_data(&args.data)?;
    let threads = args.run.thread_count();
    // With --plan, standard output is the plan alone (one run a line).
    let say = |line: String| {
        if args.plan {
            eprintln!("{line}")
        } else {
            println!("{line}")
        }
    };
    say(format!(
        "descent compare: {} runs × {} seeds ({}), {} epochs, {threads} threads, GEMM kernel {}",
        plan.len(),
        seeds.len(),
        seeds
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(","),
        args.run.epochs,
        descent_core::Config::native().kernel.describe()
    ));
    let tuned = if args.tune_lr {
        if args.lr.is_some() {
            return Err(CliError::flag(
                "--lr",
                "cannot be combined with --tune-lr, which chooses the lrs",
            ));
        }
        let (flag, per_point) = match (args.tune_examples, args.tune_steps) {
            (Some(n), _) => ("--tune-examples", PerPoint::Examples(n)),
            (_, Some(n)) => ("--tune-steps", PerPoint::Steps(n)),
            _ => ("--tune-epochs", PerPoint::Epochs(args.tune_epochs)),
        };
        if args.tune_points == 0 {
            return Err(CliError::flag("--tune-points", "must be at least 1"));
        }
        if per_point.steps(1, 1) == 0 {
            return Err(CliError::flag(flag, "must be at least 1"));
        }
        if args.validation == 0 || args.validation >= data.train.len() {
            return Err(CliError::flag(
                "--validation",
                format!(
                    "{} must be between 1 and the training set's {} examples",
                    args.validation,
                    data.train.len() - 1
                ),
            ));
        }
        say(format!(
            "tuning the lr: {} grid points per optimizer, {per_point} each, on {} training examples scored on {} held out",
            args.tune_points,
            data.train.len() - args.validation,
            args.validation
        ));
        let tuning = tune::tuning_data(&data, args.validation);
        let budget = Budget {
            points: args.tune_points,
            per_point,
        };
        let mut report = |label: &str, lr: f32, loss: Option<f32>| {
            say(format!(
                "  tune {label:>12}: lr {lr:<9} validation loss {}",
                loss.map_or("diverged".to_string(), |l| format!("{l:.4}"))
            ));
        };
        let tuned = tune::tune(
            &plan,
            &tuning,
            budget,
            &Compute::threads(threads),
            &mut report,
        )?;
        for (label, cfg) in &mut plan {
            if let Some(t) = tuned.iter().find(|t| &t.label == label) {
                cfg.hyper.lr = Some(t.best);
            }
        }
        tuned
    } else {
        Vec::new()
    };
    for (label, cfg) in &plan {
        say(format!(
            "  {label:>12}: {}",
            cfg.optimizer_config()?.describe()
        ));
    }
    // The study: every seed of every run, seed-major (every optimizer's
    // first seed before any second one, so an interrupted comparison still
    // compares), each with the id of its config.
    let mut runs = Vec::new();
    for &seed in &seeds {
        for (label, cfg) in &plan {
            let config = RunConfig {
                seed,
                ..cfg.clone()
            };
            runs.push(PlannedRun {
                id: study::run_id(&config),
                label: label.clone(),
                config,
            });
        }
    }
    let plan = Plan {
        format: study::FORMAT,
        x: args.x,
        target_acc: args.target_acc,
        tuned,
        runs,
    };
    study::write_plan(&args.out, &plan)?;
    if args.plan {
        study::print_plan(&plan);
        eprintln!("wrote {}", study::plan_path(&args.out).display());
        return Ok(());
    }
    // Each run in a process of its own (`descent run-one`): its peak RSS
    // is then its own, and a crash or a kill loses that run alone.
    let data_dir = descent_train::data::data_dir(args.data.data.as_deref());
    crate::signal::install();
    let child = study::Child {
        dir: &args.out,
        data: &data_dir,
        threads,
        quiet: args.run.quiet,
    };
    let (mut ran, mut done) = (0, 0);
    for (i, run) in plan.runs.iter().enumerate() {
        if args.shard.is_some_and(|s| !s.contains(i)) {
            continue;
        }
        if study::result_path(&args.out, &run.id).exists() {
            println!(
                "{:>12} done already ({})",
                study::shown_label(&plan, run),
                run.id
            );
            done += 1;
            continue;
        }
        if let Err(e) = child.run(&run.id) {
            // Ctrl-C reaches the child and this process alike: the child
            // saves its place, and this one says how to go on.
            if let Some((signal, code)) = crate::signal::received() {
                return Err(CliError::Interrupted {
                    signal,
                    message: format!(
                        "the study in {} stopped with {} of its runs done; the same command resumes it (the stopped run from its checkpoint)",
                        args.out.display(),
                        done + ran
                    ),
                    code,
                });
            }
            return Err(e);
        }
        ran += 1;
    }
    if let Some(shard) = args.shard {
        println!(
            "shard {shard}: ran {ran} run(s), {done} done already; when every shard is done: descent report {}",
            args.out.display()
        );
        return Ok(());
    }
    report(
        &plan,
        std::slice::from_ref(&args.out),
        &args.out,
        args.x,
        args.target_acc,
        args.open,
    )
}

/// `descent run-one ID --study DIR`: trains the planned run `ID` and stores
/// its result in DIR/runs (nothing if it is there already).
pub fn run_one_cmd(args: &RunOneArgs) -> Result<(), CliError> {
    let plan = study::read_plan(&args.study)?;
    let run = plan
        .runs
        .iter()
        .find(|r| r.id == args.id)
        .ok_or_else(|| CliError::Study {
            path: study::plan_path(&args.study),
            message: format!(
                "no run `{}` among its {} (`descent compare … --plan` lists them)",
                args.id,
                plan.runs.len()
            ),
        })?;
    let shown = study::shown_label(&plan, run);
    if study::load_result(&args.study, &run.id)?.is_some() {
        println!("{shown:>12} done already ({})", run.id);
        return Ok(());
    }
    let normalize: Normalize = run.config.normalize.parse().map_err(|e| CliError::Study {
        path: study::plan_path(&args.study),
        message: format!("run {}: {e}", run.id),
    })?;
    let data = load_data(&DataArgs {
        data: args.data.clone(),
        normalize,
    })?;
    let threads = match args.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        t => t,
    };
    crate::signal::install();
    let (checkpoint, steps) = (
        study::checkpoint_path(&args.study, &run.id),
        study::steps_path(&args.study, &run.id),
    );
    let files = RunFiles {
        checkpoint: &checkpoint,
        steps: &steps,
    };
    let mut r = run_resumable(
        &shown,
        run.config.clone(),
        &data,
        threads,
        args.quiet,
        Some(files),
    )?;
    r.label = run.label.clone();
    if !study::store_result(&args.study, &run.id, &r)? {
        println!(
            "{shown:>12} another process stored run {} first; kept its result",
            run.id
        );
    }
    // The result is whole on disk. The run's last checkpoint (saved at its
    // last epoch's end) stays as its model, loadable by PyTorch; the step
    // records kept beside it are in the result now.
    let model = study::model_path(&args.study, &run.id);
    if checkpoint.exists() {
        std::fs::rename(&checkpoint, &model).map_err(|e| CliError::Study {
            path: model.clone(),
            message: format!("cannot move {} here: {e}", checkpoint.display()),
        })?;
    }
    match std::fs::remove_file(&steps) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(CliError::Study {
                path: steps.clone(),
                message: format!("cannot remove: {e}"),
            })
        }
        _ => {}
    }
    Ok(())
}

/// `descent report DIR…`: the study's tables and pictures from the results
/// found, naming the runs that have none.
pub fn report_cmd(args: &ReportArgs) -> Result<(), CliError> {
    let plan = study::read_plan(&args.dirs[0])?;
    let target = args.target_acc.unwrap_or(plan.target_acc);
    check_target(target)?;
    let out = args.out.clone().unwrap_or_else(|| args.dirs[0].clone());
    std::fs::create_dir_all(&out).map_err(|e| io_flag("--out", &out, e))?;
    report(
        &plan,
        &args.dirs,
        &out,
        args.x.unwrap_or(plan.x),
        target,
        false,
    )
}

fn check_target(target_acc: f64) -> Result<(), CliError> {
    if target_acc > 0.0 && target_acc <= 100.0 {
        Ok(())
    } else {
        Err(CliError::flag(
            "--target-acc",
            format!("{target_acc} is not a percentage in (0, 100]"),
        ))
    }
}

/// Writes the report of `plan` from the results found in `dirs` into `out`.
fn report(
    plan: &Plan,
    dirs: &[PathBuf],
    out: &Path,
    x: XAxis,
    target_acc: f64,
    open: bool,
) -> Result<(), CliError> {
    let (results, missing) = study::collect(plan, dirs)?;
    if results.is_empty() {
        return Err(CliError::Study {
            path: dirs[0].clone(),
            message: format!(
                "none of the study's {} runs has a result yet",
                plan.runs.len()
            ),
        });
    }
    if !missing.is_empty() {
        println!(
            "{} of the {} runs have no result yet; the report leaves them out:",
            missing.len(),
            plan.runs.len()
        );
        for r in &missing {
            println!("  {} {}", r.id, study::shown_label(plan, r));
        }
    }
    write_compare_outputs(out, &results, &plan.tuned, x, target_acc / 100.0)?;
    let [results_table, cost] = summary_tables(&results, target_acc / 100.0);
    println!("\n{}\n{}", results_table.text(), cost.text());
    let index = out.join("index.html");
    if open {
        println!("open {}", index.display());
    } else {
        println!("wrote {}", out.display());
    }
    Ok(())
}

/// The accuracy axis' range when some runs end far below the best (gd
/// after one epoch, random search at 10%): the range of the runs that end
/// within 20 points of the best, so their differences are not squeezed
/// into a few pixels; the others are named under the chart. `None` when
/// every run is close.
pub fn accuracy_range(series: &[Series]) -> Option<(f64, f64)> {
    let last = |s: &Series| s.points.last().map(|p| p.1).filter(|v| v.is_finite());
    let best = series
        .iter()
        .filter_map(last)
        .fold(f64::NEG_INFINITY, f64::max);
    let close = |s: &&Series| last(s).is_some_and(|v| v >= best - 20.0);
    if series.iter().all(|s| close(&s)) {
        return None;
    }
    let (lo, hi) = min_max(
        series
            .iter()
            .filter(close)
            .flat_map(|s| s.points.iter().map(|p| p.1)),
    );
    let pad = ((hi - lo) * 0.05).max(0.1);
    Some((lo - pad, (hi + pad).min(100.0)))
}

/// The lr search of `--tune-lr`: each optimizer's grid with its validation
/// losses and the lr chosen.
pub fn tune_table(tuned: &[Tuned]) -> Table {
    let mut t = Table::new(&[
        "run",
        "steps a point",
        "lr tried: validation loss",
        "lr chosen",
    ]);
    for r in tuned {
        let grid = r
            .grid
            .iter()
            .map(|(lr, l)| match l {
                Some(l) => format!("{lr}: {l:.4}"),
                None => format!("{lr}: diverged"),
            })
            .collect::<Vec<_>>()
            .join(", ");
        t.rows.push(vec![
            r.label.clone(),
            r.steps.to_string(),
            grid,
            r.best.to_string(),
        ]);
    }
    t
}

/// Writes metrics.csv, summary.md, loss.svg, accuracy.svg and index.html
/// (and tune.svg with the lr search).
/// `target` is the test accuracy (a fraction) whose time the table gives.
pub fn write_compare_outputs(
    out: &Path,
    results: &[RunResult],
    tuned: &[Tuned],
    x: XAxis,
    target: f64,
) -> Result<(), CliError> {
    write_runs_csv(&out.join("metrics.csv"), results)?;
    let [table, cost] = summary_tables(results, target);
    let md = out.join("summary.md");
    let mut text = format!(
        "# {}\n\n{}\n## Cost\n\n{}",
        report::command_line(),
        table.markdown(),
        cost.markdown()
    );
    if !tuned.is_empty() {
        text.push_str(&format!(
            "\n## Learning rates\n\n{}",
            tune_table(tuned).markdown()
        ));
    }
    std::fs::write(&md, text).map_err(|e| io_flag("--out", &md, e))?;
    let plot_err = |e: descent_report::ReportError| CliError::Flag {
        flag: "--out".into(),
        message: e.to_string(),
    };
    let x_label = match x {
        XAxis::Steps => "optimizer steps",
        XAxis::Examples => "training examples seen",
        XAxis::Seconds => "training seconds",
    };
    let (series, bands) = loss_series(results, x);
    Chart {
        title: "Training loss (smoothed)".into(),
        x: Axis {
            label: x_label.into(),
            log: x != XAxis::Seconds && results.iter().any(|r| r.history.steps.len() > 5000),
            integer: x != XAxis::Seconds,
        },
        y: Axis::log("cross-entropy loss"),
        series,
        bands,
        markers: false,
        y_range: None,
        paired: false,
    }
    .write(&out.join("loss.svg"))
    .map_err(plot_err)?;
    // Against steps when the runs measured between epochs' ends
    // (--eval-every), else per epoch.
    let by_step = results.iter().any(|r| !r.history.evals.is_empty());
    let (acc, acc_bands) = mean_and_band(
        results,
        |r| {
            if by_step {
                r.history
                    .accuracy_points()
                    .iter()
                    .map(|p| (p.0 as f64, 100.0 * p.3 as f64))
                    .collect()
            } else {
                r.history
                    .epochs
                    .iter()
                    .map(|e| (e.epoch as f64, 100.0 * e.test_accuracy as f64))
                    .collect()
            }
        },
        1500,
    );
    Chart {
        title: if by_step {
            "Test accuracy (every --eval-every steps and each epoch's end)".into()
        } else {
            "Test accuracy per epoch".into()
        },
        x: if by_step {
            Axis::linear("optimizer steps").integer()
        } else {
            Axis::linear("epoch").integer()
        },
        y: Axis::linear("test accuracy (%)"),
        y_range: accuracy_range(&acc),
        paired: false,
        series: acc,
        bands: acc_bands,
        markers: true,
    }
    .write(&out.join("accuracy.svg"))
    .map_err(plot_err)?;
    let mut images = vec![
        (
            "loss.svg",
            "Training loss per step (exponentially smoothed)",
        ),
        (
            "accuracy.svg",
            if by_step {
                "Test accuracy every --eval-every steps and at each epoch's end"
            } else {
                "Test accuracy at the end of each epoch"
            },
        ),
    ];
    let mut tables = vec![("Summary", &table), ("Cost", &cost)];
    let lr_table = tune_table(tuned);
    if !tuned.is_empty() {
        Chart {
            title: "Learning-rate search: validation loss".into(),
            x: Axis::log("learning rate"),
            y: Axis::log("validation loss (held out from training)"),
            series: tuned
                .iter()
                .map(|t| Series {
                    name: t.label.clone(),
                    points: t
                        .grid
                        .iter()
                        .map(|&(lr, l)| (lr as f64, l.map_or(f64::NAN, f64::from)))
                        .collect(),
                })
                .collect(),
            bands: Vec::new(),
            markers: true,
            y_range: None,
            paired: false,
        }
        .write(&out.join("tune.svg"))
        .map_err(plot_err)?;
        images.push((
            "tune.svg",
            "Validation loss of each lr tried (diverged runs left out)",
        ));
        tables.push(("Learning rates", &lr_table));
    }
    report::write_index(
        out,
        &report::command_line(),
        &format!(
            "For each seed, every run starts from the same initial weights and sees the same batch order. With several seeds, the table gives the mean and (min–max) over them, the charts the mean and a shaded min–max band. With --tune-lr, each optimizer's lr was chosen first on a validation split held out from the training set. Training memory is weights, gradients, optimizer state and one batch's activations with their gradients; peak RSS is the process's resident memory during the run (the data set included, and what earlier runs left to the allocator); the whole process peaked at {}.",
            peak_rss().map_or("an unknown amount".to_string(), |b| mib(b as f64))
        ),
        &tables,
        &images,
    )
    .map_err(|e| io_flag("--out", out, e))?;
    Ok(())
}
