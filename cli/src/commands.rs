//! The subcommands of `descent`: each takes its parsed flags and returns a
//! typed error that `main` prints (exit code 1, or 3 for a divergence).

use descent_core::Compute;
use std::collections::BTreeMap;
use std::path::Path;

use descent_nn::{gradcheck, Activation, Loss, Mlp, Targets};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use descent_optim::OptimizerKind;
use descent_train::{Observer, RunConfig, SaveEveryEpoch, TrainError, Trainer};

use crate::checkpoint::{self, LoadOptions};
use crate::console::Console;
use crate::data::{self, Mnist};
use crate::error::CliError;
use crate::metrics::MetricsWriter;
use crate::opts::{DataArgs, EvalArgs, GradcheckArgs, InfoArgs, TrainArgs};
use descent_report::page::{widths, Table};

/// Loads MNIST as `--data`/`--normalize` say.
pub fn load_data(args: &DataArgs) -> Result<Mnist, CliError> {
    let dir = data::data_dir(args.data.as_deref());
    Ok(data::Mnist::load(&dir, args.normalize)?)
}

pub(crate) fn io_flag(flag: &str, path: &Path, e: std::io::Error) -> CliError {
    CliError::Flag {
        flag: flag.to_string(),
        message: format!("{}: {e}", path.display()),
    }
}

/// `descent train`.
pub fn train(args: &TrainArgs) -> Result<(), CliError> {
    // From here a SIGINT or SIGTERM stops the run after a whole step (one
    // that arrives while the data loads stops it after the first).
    crate::signal::install();
    let fresh = args
        .run
        .config(args.optimizer, args.hyper.hyper(), args.data.normalize);
    // Everything about the flags is checked before the data is read and
    // before any training, so a typo costs nothing.
    fresh.validate()?;
    if let Some(p) = &args.save {
        checkpoint::check_writable(p)?;
    }
    let mut metrics = match &args.metrics {
        Some(p) => Some(MetricsWriter::create(p, args.resume.is_some())?),
        None => None,
    };
    if args.resume.is_some() && args.init.is_some() {
        return Err(CliError::Flag {
            flag: "--init".into(),
            message: "cannot be combined with --resume (the checkpoint has the weights)".into(),
        });
    }
    let data = load_data(&args.data)?;
    let threads = args.run.thread_count();
    let mut t = match &args.resume {
        Some(p) => Trainer::resume(
            p,
            &data,
            args.run.epochs,
            args.run.max_steps,
            &Compute::threads(threads),
            args.allow_nonfinite,
        )?,
        None => Trainer::new(fresh, &data, Compute::threads(threads))?,
    };
    if let Some(p) = &args.init {
        t.load_weights(p, args.allow_nonfinite)?;
    }
    print_header(&t, &data, threads)?;
    if t.epoch >= t.cfg.epochs {
        println!(
            "nothing to do: the checkpoint has {} epochs done (--epochs {})",
            t.epoch, t.cfg.epochs
        );
        return Ok(());
    }
    // What the run reports, in this order after every epoch: the metrics
    // record, the terminal line, the checkpoint.
    let mut console = Console::new("", !args.run.quiet);
    let mut save = args.save.as_deref().map(SaveEveryEpoch);
    let mut observers: Vec<&mut dyn Observer> = Vec::new();
    if let Some(m) = metrics.as_mut() {
        observers.push(m);
    }
    observers.push(&mut console);
    if let Some(s) = save.as_mut() {
        observers.push(s);
    }
    t.stop = Some(&crate::signal::STOP);
    match t.run(&mut observers) {
        Ok(()) => {}
        Err(TrainError::Interrupted { epoch, step }) => {
            drop(observers);
            let (signal, code) = crate::signal::received().unwrap_or(("a signal", 130));
            let message = match &args.save {
                Some(p) => {
                    // The trainer stopped between steps: its state is whole,
                    // and the checkpoint resumes at the next step.
                    t.save(p)?;
                    format!(
                        "stopped in epoch {epoch} after step {step}; saved {} (`descent train --resume {}` continues bit-identically)",
                        p.display(),
                        p.display()
                    )
                }
                None => {
                    format!("stopped in epoch {epoch} after step {step}; nothing saved (no --save)")
                }
            };
            return Err(CliError::Interrupted {
                signal,
                message,
                code,
            });
        }
        Err(e) => return Err(e.into()),
    }
    if let Some(p) = &args.save {
        println!("saved {}", p.display());
    }
    Ok(())
}

fn print_header(t: &Trainer, data: &Mnist, threads: usize) -> Result<(), CliError> {
    let c = &t.cfg;
    println!(
        "descent train: {} ({})",
        c.optimizer,
        c.optimizer_config()?.describe()
    );
    println!(
        "  model {} {}, {} parameters, seed {}",
        widths(&c.sizes(data.train.dim())),
        c.activation,
        t.net.num_params(),
        c.seed
    );
    println!(
        "  data {} train / {} test, normalize {}, batch {}, {} steps/epoch, epochs {}{}, shuffle {}",
        data.train.len(),
        data.test.len(),
        c.normalize,
        c.batch_rows(data.train.len()),
        t.steps_per_epoch(),
        c.epochs,
        if t.epoch > 0 { format!(" (resuming after {})", t.epoch) } else { String::new() },
        c.shuffle
    );
    println!(
        "  schedule {:?}, warmup {} steps, clip-norm {}, on-divergence {:?}, threads {threads}, GEMM kernel {}",
        c.schedule,
        c.warmup,
        c.clip_norm.map_or("off".to_string(), |v| v.to_string()),
        c.on_divergence,
        descent_core::Config::native().kernel.describe()
    );
    Ok(())
}

/// Parses `opt=lr,opt=lr` for `flag`.
pub fn parse_lr_map(flag: &str, s: Option<&str>) -> Result<BTreeMap<OptimizerKind, f32>, CliError> {
    let mut m = BTreeMap::new();
    let Some(s) = s else { return Ok(m) };
    for part in s.split(',').filter(|p| !p.trim().is_empty()) {
        let err = |msg: String| CliError::Flag {
            flag: flag.to_string(),
            message: msg,
        };
        let (name, v) = part
            .split_once('=')
            .ok_or_else(|| err(format!("{part:?} is not OPTIMIZER=LR (e.g. adam=3e-4)")))?;
        let opt: OptimizerKind = name
            .parse()
            .map_err(|_| err(format!("unknown optimizer {name:?}")))?;
        let lr: f32 = v
            .trim()
            .parse()
            .map_err(|_| err(format!("{v:?} is not a number (in {part:?})")))?;
        m.insert(opt, lr);
    }
    Ok(m)
}

/// Reads a model for `eval`: widths from the tensor shapes (`0.weight`,
/// `2.weight`, … in order), activation from descent's metadata if present.
pub fn load_model(args: &EvalArgs) -> Result<Mlp, CliError> {
    load_model_from(
        &args.model,
        "--model",
        args.hidden.as_deref(),
        &args.activation,
        args.allow_nonfinite,
    )
}

/// Reads the model at `path` (named by `flag` in errors): widths from the
/// tensor shapes, checked against `hidden` when given; the activation from
/// descent's metadata, else `activation`.
pub fn load_model_from(
    path: &Path,
    flag: &str,
    hidden: Option<&[usize]>,
    activation: &str,
    allow_nonfinite: bool,
) -> Result<Mlp, CliError> {
    let ck = checkpoint::load_checkpoint_with(path, LoadOptions { allow_nonfinite })?;
    let bad = |message: String| CliError::Flag {
        flag: format!("{flag} {}", path.display()),
        message,
    };
    let mut sizes = Vec::new();
    let mut l = 0;
    while let Some(w) = ck.get(&format!("{}.weight", 2 * l)) {
        if w.shape().len() != 2 {
            return Err(bad(format!(
                "tensor {} has shape {:?}, expected [out, in]",
                w.name,
                w.shape()
            )));
        }
        if l == 0 {
            sizes.push(w.shape()[1]);
        }
        sizes.push(w.shape()[0]);
        l += 1;
    }
    if sizes.is_empty() {
        return Err(bad(
            "has no tensor 0.weight: not an nn.Sequential MLP".to_string()
        ));
    }
    if let Some(h) = hidden {
        let want: Vec<usize> = h.to_vec();
        if sizes.len() < 2 || sizes[1..sizes.len() - 1] != want[..] {
            return Err(bad(format!(
                "holds widths {sizes:?}, not --hidden {want:?}"
            )));
        }
    }
    let act_name = match ck.metadata.get(checkpoint::names::CONFIG) {
        Some(c) => serde_json::from_str::<RunConfig>(c)
            .map(|c| c.activation)
            .unwrap_or_else(|_| activation.to_string()),
        None => activation.to_string(),
    };
    let act = Activation::from_name(&act_name).ok_or_else(|| CliError::Flag {
        flag: "--activation".into(),
        message: format!("unknown activation {act_name:?}"),
    })?;
    let mut net = Mlp::new(&sizes, act, 0)?;
    let layout = net.layout().to_vec();
    let params = net.params_mut();
    for t in &layout {
        ck.copy_tensor(&t.name, &t.shape, &mut params[t.range()])?;
    }
    Ok(net)
}

/// `descent eval`.
pub fn eval(args: &EvalArgs) -> Result<(), CliError> {
    let mut net = load_model(args)?;
    let data = load_data(&args.data)?;
    let test = &data.test;
    if net.sizes()[0] != test.dim() || *net.sizes().last().unwrap() != 10 {
        return Err(CliError::Flag {
            flag: format!("--model {}", args.model.display()),
            message: format!(
                "model widths {:?} do not fit {}-pixel images and 10 classes",
                net.sizes(),
                test.dim()
            ),
        });
    }
    let cx = Compute::serial();
    let pred = net.predict(&cx, test.images(), 1000)?;
    let (loss, acc) = net.evaluate(&cx, test.images(), &test.labels, 1000)?;
    let mut confusion = [[0usize; 10]; 10];
    for (&p, &y) in pred.iter().zip(&test.labels) {
        confusion[y as usize][p as usize] += 1;
    }
    println!(
        "{}: test loss {loss:.4}, accuracy {:.2}% ({} examples)",
        args.model.display(),
        100.0 * acc,
        test.len()
    );
    let mut t = Table::new(&["class", "examples", "accuracy"]);
    for (c, row) in confusion.iter().enumerate() {
        let n: usize = row.iter().sum();
        t.rows.push(vec![
            c.to_string(),
            n.to_string(),
            format!("{:.2}%", 100.0 * row[c] as f64 / n.max(1) as f64),
        ]);
    }
    println!("\n{}", t.text());
    let mut header = vec!["true \\ predicted".to_string()];
    header.extend((0..10).map(|c| c.to_string()));
    let mut m = Table {
        header,
        rows: Vec::new(),
    };
    for (c, row) in confusion.iter().enumerate() {
        let mut r = vec![c.to_string()];
        r.extend(row.iter().map(|v| v.to_string()));
        m.rows.push(r);
    }
    println!(
        "confusion matrix (rows: true class, columns: predicted)\n{}",
        m.text()
    );
    Ok(())
}

/// `descent gradcheck`.
pub fn gradcheck_cmd(args: &GradcheckArgs) -> Result<(), CliError> {
    let act = Activation::from_name(&args.activation).ok_or_else(|| CliError::Flag {
        flag: "--activation".into(),
        message: format!(
            "unknown activation {:?} (expected relu, sigmoid or tanh)",
            args.activation
        ),
    })?;
    if args.batch == 0 {
        return Err(CliError::Flag {
            flag: "--batch".into(),
            message: "must be at least 1".into(),
        });
    }
    if !(args.h.is_finite() && args.h > 0.0) {
        return Err(CliError::Flag {
            flag: "--h".into(),
            message: format!("{} must be finite and positive", args.h),
        });
    }
    let mut net = Mlp::new(&args.sizes, act, args.seed)?;
    let classes = *args.sizes.last().expect("validated by Mlp::new");
    let mut rng = ChaCha8Rng::seed_from_u64(args.seed ^ 0x9e37_79b9);
    let x: Vec<f32> = (0..args.batch * args.sizes[0])
        .map(|_| rng.random_range(-1.0f32..1.0))
        .collect();
    let labels: Vec<u32> = (0..args.batch)
        .map(|_| rng.random_range(0..classes as u32))
        .collect();
    println!(
        "gradcheck: {} {}, batch {}, central differences with h = {} (f32) and 1e-6 (f64)",
        widths(&args.sizes),
        act.name(),
        args.batch,
        args.h
    );
    let mut t = Table::new(&["tensor", "worst rel. error f32", "worst rel. error f64"]);
    let r32 = gradcheck(
        &mut net,
        &x,
        Loss::SoftmaxCrossEntropy,
        Targets::Labels(&labels),
        args.h,
    )?;
    let r64 = descent_nn::gradcheck_f64(
        &net,
        &x,
        Loss::SoftmaxCrossEntropy,
        Targets::Labels(&labels),
        1e-6,
    )?;
    for (a, b) in r32.iter().zip(&r64) {
        t.rows.push(vec![
            a.name.clone(),
            format!("{:.2e}", a.max_rel_err),
            format!("{:.2e}", b.max_rel_err),
        ]);
    }
    println!("{}", t.text());
    Ok(())
}

/// `descent info`.
pub fn info(args: &InfoArgs) -> Result<(), CliError> {
    use descent_core::gemm::blocking::{Caches, Forced, KNOWN_CPUS};
    println!("descent {}", env!("CARGO_PKG_VERSION"));
    println!("SIMD: {}", descent_core::simd::describe());
    let caches = Caches::detect();
    println!("caches ({}): {}", caches.source, caches.describe());
    let forced = Forced::from_env().unwrap_or_default();
    if forced.caches.is_some() || forced.kernel.is_some() {
        println!("  (forced by DESCENT_CACHES / DESCENT_KERNEL)");
    }
    println!("GEMM kernel: {}", descent_core::Config::native().describe());
    if let Some(spec) = &args.caches {
        let cpus: Vec<(String, Caches)> = if spec == "all" {
            KNOWN_CPUS
                .iter()
                .map(|c| (c.name.to_string(), c.caches))
                .chain([("this machine".to_string(), caches)])
                .collect()
        } else {
            let c = Caches::parse(spec).map_err(|m| CliError::flag("--caches", m))?;
            vec![(spec.clone(), c)]
        };
        println!("\n{}", gemm_configs(&cpus).text());
    }
    println!(
        "cores: {} (std::thread::available_parallelism)",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let dir = data::data_dir(args.data.data.as_deref());
    match data::find_mnist(&dir) {
        Ok(files) => {
            println!("data: {}", dir.display());
            for p in [
                &files.train_images,
                &files.train_labels,
                &files.test_images,
                &files.test_labels,
            ] {
                println!("  {}", p.display());
            }
        }
        Err(e) => println!("data: {e}"),
    }
    Ok(())
}

/// The GEMM configuration the cache model derives for each of `cpus`, per
/// kernel of the family: what another CPU would run.
pub fn gemm_configs(cpus: &[(String, descent_core::gemm::blocking::Caches)]) -> Table {
    use descent_core::{Config, Kernel};
    let mut header = vec!["caches".to_string(), "L1d / L2 / L3".to_string()];
    for k in Kernel::ALL {
        header.push(format!("{}×{}: kc (A packed) / mc / nc", k.mr(), k.nr()));
    }
    let mut t = Table::new(&header.iter().map(String::as_str).collect::<Vec<_>>());
    for (name, caches) in cpus {
        let mut row = vec![name.clone(), caches.describe()];
        for k in Kernel::ALL {
            let b = Config::new(k, caches).blocks;
            row.push(format!(
                "{} ({}) / {} / {}",
                b.kc, b.kc_packed_a, b.mc, b.nc
            ));
        }
        t.rows.push(row);
    }
    t
}
