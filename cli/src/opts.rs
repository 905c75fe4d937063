//! The command line: every subcommand and flag of `descent`, parsed by clap.
//!
//! Hyper-parameter flags carry the names of the `descent-optim` config
//! fields (PyTorch's names, with `-` for `_`); a flag left out keeps the
//! optimizer's default, which the run header prints.

use std::path::PathBuf;

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use clap::{Args, Parser, Subcommand, ValueEnum};
use descent_optim::{Hyper, OptimizerKind};
use descent_train::data::Normalize;
use descent_train::{OnDivergence, RunConfig, ScheduleName};

/// descent: train an MLP on raw MNIST with each optimizer, compare them, and
/// profile the kernels while they run.
#[derive(Debug, Parser)]
#[command(name = "descent", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train one MLP with one optimizer.
    Train(TrainArgs),
    /// Train one model per optimizer (and batch size) from the same initial
    /// weights and batch order; write a table, plots and a report.
    Compare(CompareArgs),
    /// Run one run of a study planned by `compare` (by its id), writing its
    /// result into the study's directory.
    RunOne(RunOneArgs),
    /// Build a study's tables and pictures from the results in its
    /// directories, naming the runs that are missing.
    Report(ReportArgs),
    /// Train with one optimizer at several learning rates; plot accuracy and
    /// loss against lr.
    Sweep(SweepArgs),
    /// Loss landscapes: optimizers' paths on a 2-D test function; or the
    /// network's own (with --data, --model or --interpolate): the surface
    /// around a model, the loss on the line between two, and optimizers'
    /// paths on the PCA plane of their trajectories.
    Landscape(LandscapeArgs),
    /// Evaluate a checkpoint on the test set: accuracy, per-class accuracy
    /// and the confusion matrix.
    Eval(EvalArgs),
    /// Check backprop against finite differences on a small net.
    Gradcheck(GradcheckArgs),
    /// Print the SIMD level of this build, the caches and the GEMM
    /// configuration derived from them, the cores and the data found.
    Info(InfoArgs),
    /// Time every phase of real training steps against this machine's
    /// measured roofs (FMA peak, cache and DRAM bandwidth): a table,
    /// profile.json, profile.md, roofline.svg and index.html.
    Profile(ProfileArgs),
}

/// Where MNIST lives and how pixels are scaled.
#[derive(Debug, Clone, Args)]
pub struct DataArgs {
    /// Directory holding the four MNIST IDX files (raw or .gz); default:
    /// $DESCENT_DATA, else data/mnist.
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Pixel normalisation after scaling to [0, 1]: standard (mean 0.1307,
    /// std 0.3081), half ((x − 0.5)/0.5) or none.
    #[arg(long, default_value = "standard", value_name = "KIND")]
    pub normalize: Normalize,
}

/// `descent info`.
#[derive(Debug, Clone, Args)]
pub struct InfoArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Also print the GEMM configuration (kernel, kc/mc/nc, packing rule)
    /// the cache model derives for other caches: a CPU of descent's table
    /// (zen1, zen3, zen5, skylake-sp, icelake-sp, sapphire-rapids, tiny,
    /// huge), `all` for the whole table, or sizes such as
    /// `l1d=32K,l2=512K,l3=32M`.
    #[arg(long, value_name = "CPU|all|SIZES")]
    pub caches: Option<String>,
}

/// A closed set of names a flag selects from; `--help` lists each with
/// its line of help, and a wrong name is clap's error naming the flag.
pub trait Choice: Copy + Send + Sync + 'static {
    /// Every choice, in the order `--help` lists them.
    fn all() -> &'static [Self];
    /// The name on the command line.
    fn name(self) -> &'static str;
    /// One line of help.
    fn about(self) -> &'static str;
}

/// clap's parser for a [`Choice`].
pub fn choice<T: Choice>() -> impl TypedValueParser<Value = T> {
    PossibleValuesParser::new(
        T::all()
            .iter()
            .map(|c| PossibleValue::new(c.name()).help(c.about())),
    )
    .map(|s: String| {
        *T::all()
            .iter()
            .find(|c| c.name() == s)
            .expect("clap admits the listed names only")
    })
}

macro_rules! choice {
    ($t:ty, $name:ident, $about:ident) => {
        impl Choice for $t {
            fn all() -> &'static [Self] {
                &<$t>::ALL
            }
            fn name(self) -> &'static str {
                self.$name()
            }
            fn about(self) -> &'static str {
                self.$about()
            }
        }
    };
}

choice!(OptimizerKind, as_str, about);

/// One name of a list of optimizers: a kind, or `all` of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pick {
    /// This kind.
    One(OptimizerKind),
    /// Every kind, in the table's order.
    All,
}

/// clap's parser for a [`Pick`]: every kind's name (with its help) and `all`.
pub fn pick() -> impl TypedValueParser<Value = Pick> {
    PossibleValuesParser::new(
        OptimizerKind::ALL
            .iter()
            .map(|k| PossibleValue::new(k.as_str()).help(k.about()))
            .chain([PossibleValue::new("all").help("every optimizer above")]),
    )
    .map(|s: String| match s.parse() {
        Ok(k) => Pick::One(k),
        Err(_) => Pick::All,
    })
}

/// The kinds a list of [`Pick`]s names, each once, in the order given
/// (`all` expands to the table's order).
pub fn picked(picks: &[Pick]) -> Vec<OptimizerKind> {
    let mut out: Vec<OptimizerKind> = Vec::new();
    for p in picks {
        let kinds = match p {
            Pick::One(k) => std::slice::from_ref(k),
            Pick::All => &OptimizerKind::ALL[..],
        };
        for &k in kinds {
            if !out.contains(&k) {
                out.push(k);
            }
        }
    }
    out
}
choice!(ScheduleName, name, about);
choice!(OnDivergence, name, about);

/// Every hyper-parameter of the optimizers: `None` keeps the default.
#[derive(Debug, Clone, Default, PartialEq, Args)]
pub struct HyperArgs {
    /// Learning rate (default per optimizer: printed in the run header).
    #[arg(long)]
    pub lr: Option<f32>,
    /// Momentum factor μ (momentum, nesterov, rmsprop, muon; momentum and
    /// nesterov default to 0.9, muon to 0.95).
    #[arg(long)]
    pub momentum: Option<f32>,
    /// Dampening of the momentum buffer (SGD).
    #[arg(long)]
    pub dampening: Option<f32>,
    /// Weight decay: L2 added to the gradient, decoupled for adamw.
    #[arg(long)]
    pub weight_decay: Option<f32>,
    /// Step uphill (maximise the loss) as PyTorch's `maximize`.
    #[arg(long)]
    pub maximize: bool,
    /// AdaGrad's lr decay: lr / (1 + (t − 1)·lr_decay).
    #[arg(long)]
    pub lr_decay: Option<f32>,
    /// AdaGrad's initial accumulator value.
    #[arg(long)]
    pub initial_accumulator_value: Option<f32>,
    /// Term added to the denominator (adagrad, rmsprop, the adam family,
    /// adadelta).
    #[arg(long)]
    pub eps: Option<f32>,
    /// RMSprop's smoothing constant α; ASGD's power α of its step's decay.
    #[arg(long)]
    pub alpha: Option<f32>,
    /// RMSprop: normalise by the centred second moment.
    #[arg(long)]
    pub centered: bool,
    /// Adam's β₁.
    #[arg(long)]
    pub beta1: Option<f32>,
    /// Adam's β₂.
    #[arg(long)]
    pub beta2: Option<f32>,
    /// Adam: the AMSGrad variant.
    #[arg(long)]
    pub amsgrad: bool,
    /// Random search: the perturbation scale σ.
    #[arg(long)]
    pub sigma: Option<f32>,
    /// Random search: σ is multiplied by this after every step.
    #[arg(long)]
    pub sigma_decay: Option<f32>,
    /// Adadelta's ρ, the decay of its two running averages.
    #[arg(long)]
    pub rho: Option<f32>,
    /// NAdam's momentum decay ψ: μₜ = β₁·(1 − ½·0.96^(t·ψ)).
    #[arg(long)]
    pub momentum_decay: Option<f32>,
    /// NAdam, RAdam: decay the weights themselves (AdamW's form).
    #[arg(long)]
    pub decoupled_weight_decay: bool,
    /// Rprop's step-size factors `η₋,η₊` after a sign change and while
    /// the sign holds.
    #[arg(long, value_name = "ETA_MINUS,ETA_PLUS", value_parser = pair)]
    pub etas: Option<[f32; 2]>,
    /// Rprop's smallest and largest step size, `MIN,MAX`.
    #[arg(long, value_name = "MIN,MAX", value_parser = pair)]
    pub step_sizes: Option<[f32; 2]>,
    /// ASGD's decay term λ.
    #[arg(long)]
    pub lambd: Option<f32>,
    /// ASGD's t₀, the step its averaging starts at.
    #[arg(long)]
    pub t0: Option<f32>,
    /// Schedule-Free AdamW's own linear warm-up, in steps (its
    /// `warmup_steps`).
    #[arg(long, value_name = "STEPS")]
    pub schedule_free_warmup: Option<u64>,
    /// Schedule-Free AdamW's power r of the step count in its averaging
    /// weights.
    #[arg(long)]
    pub r: Option<f32>,
    /// Schedule-Free AdamW's power of the largest lr in its averaging
    /// weights.
    #[arg(long)]
    pub weight_lr_power: Option<f32>,
    /// Adafactor's c of its second moment's decay, 1 − β₂ₜ = t^c.
    #[arg(long, allow_hyphen_values = true)]
    pub beta2_decay: Option<f32>,
    /// Adafactor's ε₁, the floor of its second moment (default: f32's
    /// machine epsilon).
    #[arg(long)]
    pub eps1: Option<f32>,
    /// Adafactor's ε₂, the floor of the weights' RMS in its step.
    #[arg(long)]
    pub eps2: Option<f32>,
    /// Adafactor's d: its update's RMS is capped at d.
    #[arg(long)]
    pub clip_threshold: Option<f32>,
    /// Muon's Newton–Schulz steps.
    #[arg(long)]
    pub ns_steps: Option<u32>,
    /// Muon's Newton–Schulz coefficients `a,b,c`.
    #[arg(long, value_name = "A,B,C", value_parser = triple, allow_hyphen_values = true)]
    pub ns_coefficients: Option<[f32; 3]>,
    /// The learning rate of the AdamW Muon runs on the biases.
    #[arg(long)]
    pub aux_lr: Option<f32>,
    /// L-BFGS: iterations per step (torch's max_iter).
    #[arg(long)]
    pub max_iter: Option<u32>,
    /// L-BFGS: evaluations per step (default max_iter·5/4).
    #[arg(long)]
    pub max_eval: Option<u32>,
    /// L-BFGS: stop a step when max|g| is at most this.
    #[arg(long)]
    pub tolerance_grad: Option<f32>,
    /// L-BFGS: stop a step when a step or the loss change is below this.
    #[arg(long)]
    pub tolerance_change: Option<f32>,
    /// L-BFGS: (s, y) pairs kept.
    #[arg(long)]
    pub history_size: Option<u32>,
    /// L-BFGS's line search: none (torch's default) or strong-wolfe.
    #[arg(long, value_name = "none|strong-wolfe", value_parser = ["none", "strong-wolfe"])]
    pub line_search: Option<String>,
}

/// How the model is trained: everything but the optimizer.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Epochs to train (with --resume: the total to reach).
    #[arg(long, default_value_t = 5)]
    pub epochs: usize,
    /// Examples per step (gd ignores it: its batch is the whole set; 1 is
    /// pure SGD).
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    /// Hidden layer widths, comma separated.
    #[arg(long, default_value = "128,64", value_delimiter = ',')]
    pub hidden: Vec<usize>,
    /// Activation after every hidden layer: relu, sigmoid or tanh.
    #[arg(long, default_value = "relu")]
    pub activation: String,
    /// Seed of the initial weights, the batch order and random search.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Learning-rate schedule.
    #[arg(long, default_value = "constant", value_parser = choice::<ScheduleName>())]
    pub schedule: ScheduleName,
    /// Step schedule: epochs between decays.
    #[arg(long, default_value_t = 1)]
    pub step_size: usize,
    /// Step/exponential decay factor; plateau: the reduction factor.
    #[arg(long)]
    pub gamma: Option<f32>,
    /// Cosine: the final lr.
    #[arg(long, default_value_t = 0.0)]
    pub eta_min: f32,
    /// Plateau: epochs without improvement before the lr is reduced.
    #[arg(long, default_value_t = 2)]
    pub patience: usize,
    /// Linear warm-up from 0 to lr over this many steps.
    #[arg(long, default_value_t = 0)]
    pub warmup: u64,
    /// Clip the gradient to this global L2 norm.
    #[arg(long)]
    pub clip_norm: Option<f32>,
    /// Threads for the step (GEMMs, gather, gradient norm, optimizer) and
    /// the test pass; 0: every core this process may use. Results are
    /// bit-identical for any number.
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Keep the data's order instead of shuffling every epoch.
    #[arg(long)]
    pub no_shuffle: bool,
    /// Stop after this many optimizer steps in total.
    #[arg(long)]
    pub max_steps: Option<u64>,
    /// Evaluate the test set every epoch with batches of this size.
    #[arg(long, default_value_t = 1000)]
    pub eval_batch_size: usize,
    /// Also evaluate the test set (the validation split while tuning)
    /// every N optimizer steps, so that time to an accuracy is known to N
    /// steps rather than an epoch. Evaluation time is not counted as
    /// training time.
    #[arg(long, value_name = "N")]
    pub eval_every: Option<u64>,
    /// What to do when the loss or gradient stops being finite: stop (exit
    /// code 3) or skip-step (drop that step and count it).
    #[arg(long, default_value = "stop", value_parser = choice::<OnDivergence>())]
    pub on_divergence: OnDivergence,
    /// Hide the progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// Two numbers `a,b` (Rprop's `--etas`, `--step-sizes`).
fn pair(s: &str) -> Result<[f32; 2], String> {
    let parts: Vec<&str> = s.split(',').map(str::trim).collect();
    let [a, b] = parts[..] else {
        return Err(format!("expected two numbers `a,b`, got {s:?}"));
    };
    let num = |x: &str| {
        x.parse::<f32>()
            .map_err(|e| format!("{x:?} is not a number: {e}"))
    };
    Ok([num(a)?, num(b)?])
}

/// Three numbers `a,b,c` (Muon's `--ns-coefficients`).
fn triple(s: &str) -> Result<[f32; 3], String> {
    let parts: Vec<&str> = s.split(',').map(str::trim).collect();
    let [a, b, c] = parts[..] else {
        return Err(format!("expected three numbers `a,b,c`, got {s:?}"));
    };
    let num = |x: &str| {
        x.parse::<f32>()
            .map_err(|e| format!("{x:?} is not a number: {e}"))
    };
    Ok([num(a)?, num(b)?, num(c)?])
}

impl HyperArgs {
    /// The library's hyper-parameters: the flags given, field by field.
    pub fn hyper(&self) -> Hyper {
        Hyper {
            lr: self.lr,
            momentum: self.momentum,
            dampening: self.dampening,
            weight_decay: self.weight_decay,
            maximize: self.maximize,
            lr_decay: self.lr_decay,
            initial_accumulator_value: self.initial_accumulator_value,
            eps: self.eps,
            alpha: self.alpha,
            centered: self.centered,
            beta1: self.beta1,
            beta2: self.beta2,
            amsgrad: self.amsgrad,
            sigma: self.sigma,
            sigma_decay: self.sigma_decay,
            rho: self.rho,
            momentum_decay: self.momentum_decay,
            decoupled_weight_decay: self.decoupled_weight_decay,
            etas: self.etas,
            step_sizes: self.step_sizes,
            lambd: self.lambd,
            t0: self.t0,
            warmup_steps: self.schedule_free_warmup,
            r: self.r,
            weight_lr_power: self.weight_lr_power,
            beta2_decay: self.beta2_decay,
            eps1: self.eps1,
            eps2: self.eps2,
            clip_threshold: self.clip_threshold,
            ns_steps: self.ns_steps,
            ns_coefficients: self.ns_coefficients,
            aux_lr: self.aux_lr,
            max_iter: self.max_iter,
            max_eval: self.max_eval,
            tolerance_grad: self.tolerance_grad,
            tolerance_change: self.tolerance_change,
            history_size: self.history_size,
            line_search: self.line_search.clone(),
        }
    }
}

impl RunArgs {
    /// The threads `--threads` asks for: 0 is every core this process may
    /// use (`std::thread::available_parallelism`); more than that is run
    /// as asked (the bits are the same) after a warning naming both.
    pub fn thread_count(&self) -> usize {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        match self.threads {
            0 => cores,
            t => {
                if t > cores {
                    eprintln!(
                        "warning: --threads {t} is more than the {cores} cores this process may \
                         use (available_parallelism): the threads will take turns on them"
                    );
                }
                t
            }
        }
    }

    /// The library's run config of `optimizer` with `hyper` and these flags.
    pub fn config(
        &self,
        optimizer: OptimizerKind,
        hyper: Hyper,
        normalize: Normalize,
    ) -> RunConfig {
        RunConfig {
            optimizer,
            hyper,
            epochs: self.epochs,
            batch_size: self.batch_size,
            hidden: self.hidden.clone(),
            activation: self.activation.clone(),
            seed: self.seed,
            schedule: self.schedule,
            step_size: self.step_size,
            gamma: self.gamma,
            eta_min: self.eta_min,
            patience: self.patience,
            warmup: self.warmup,
            clip_norm: self.clip_norm,
            shuffle: !self.no_shuffle,
            max_steps: self.max_steps,
            normalize: normalize.name().to_string(),
            eval_batch_size: self.eval_batch_size,
            on_divergence: self.on_divergence,
            eval_every: self.eval_every,
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct TrainArgs {
    /// The optimizer.
    #[arg(long, default_value = "sgd", value_parser = choice::<OptimizerKind>())]
    pub optimizer: OptimizerKind,
    #[command(flatten)]
    pub hyper: HyperArgs,
    #[command(flatten)]
    pub run: RunArgs,
    #[command(flatten)]
    pub data: DataArgs,
    /// Initial weights from a safetensors file (written by descent or by
    /// PyTorch); optimizer state is not read.
    #[arg(long, value_name = "PATH")]
    pub init: Option<PathBuf>,
    /// Write a checkpoint here at the end of every epoch (atomically).
    #[arg(long, value_name = "PATH")]
    pub save: Option<PathBuf>,
    /// Continue the run saved in this checkpoint up to --epochs in total.
    #[arg(long, value_name = "PATH")]
    pub resume: Option<PathBuf>,
    /// Write per-step and per-epoch metrics here (.jsonl or .csv).
    #[arg(long, value_name = "PATH")]
    pub metrics: Option<PathBuf>,
    /// Accept NaN/Inf weights in --init/--resume files.
    #[arg(long)]
    pub allow_nonfinite: bool,
}

/// The baselines `descent profile --compare` can time beside descent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Baseline {
    /// The matrixmultiply crate's sgemm, on one thread.
    Matrixmultiply,
}

#[derive(Debug, Clone, Args)]
pub struct ProfileArgs {
    /// The optimizer.
    #[arg(long, default_value = "sgd", value_parser = choice::<OptimizerKind>())]
    pub optimizer: OptimizerKind,
    #[command(flatten)]
    pub hyper: HyperArgs,
    #[command(flatten)]
    pub run: RunArgs,
    #[command(flatten)]
    pub data: DataArgs,
    /// Probed steps to time (as many unprobed steps run between them, to
    /// time the whole step).
    #[arg(long, default_value_t = 200)]
    pub steps: usize,
    /// Steps run first and not timed.
    #[arg(long, default_value_t = 20)]
    pub warmup_steps: usize,
    /// Also time every GEMM of the step alone with this baseline, on one
    /// thread, beside descent's kernel on one thread.
    #[arg(long, value_name = "BASELINE")]
    pub compare: Option<Baseline>,
    /// Directory for profile.json, profile.md, roofline.svg and index.html.
    #[arg(long, default_value = "out/profile", value_name = "DIR")]
    pub out: PathBuf,
}

/// What the loss plot's x axis counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum XAxis {
    Steps,
    Examples,
    Seconds,
}

#[derive(Debug, Clone, Args)]
pub struct CompareArgs {
    /// Optimizers to race, comma separated; `all` is every one.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "sgd,momentum,nesterov,adagrad,rmsprop,adam,adamw",
        value_parser = pick()
    )]
    pub optimizers: Vec<Pick>,
    /// Per-optimizer learning rates, e.g. `adam=3e-4,sgd=0.1`.
    #[arg(long, value_name = "OPT=LR,…")]
    pub lr: Option<String>,
    /// Seeds to run every optimizer with, e.g. `0,1,2` (initial weights,
    /// batch order and random search change with the seed): the table
    /// gives the mean and (min–max) of every figure, the charts the mean
    /// and a shaded band. Default: --seed.
    #[arg(long, value_delimiter = ',')]
    pub seeds: Option<Vec<u64>>,
    /// Tune each optimizer's lr first: a log grid around its default,
    /// scored by the validation loss on a split held out from the training
    /// set (the test set is never read), then compare at the best lrs.
    #[arg(long)]
    pub tune_lr: bool,
    /// --tune-lr's budget: grid points per optimizer (half a decade apart).
    #[arg(long, default_value_t = 5)]
    pub tune_points: usize,
    /// --tune-lr's budget: epochs per grid point (every optimizer sees the
    /// same examples; full-batch gd takes one step an epoch).
    #[arg(long, default_value_t = 1)]
    pub tune_epochs: usize,
    /// --tune-lr's budget in training examples per grid point, instead of
    /// --tune-epochs (the same examples for every optimizer).
    #[arg(long, value_name = "N", conflicts_with = "tune_steps")]
    pub tune_examples: Option<u64>,
    /// --tune-lr's budget in optimizer steps per grid point, instead of
    /// --tune-epochs (the same number of updates for every optimizer: gd
    /// then sees N full batches).
    #[arg(long, value_name = "N")]
    pub tune_steps: Option<u64>,
    /// --tune-lr: training examples held out as the validation split.
    #[arg(long, default_value_t = 10_000)]
    pub validation: usize,
    /// The test accuracy (%) whose first epoch the table reports: steps,
    /// examples and seconds to reach it, or "not reached".
    #[arg(long, default_value_t = 95.0, value_name = "PERCENT")]
    pub target_acc: f64,
    /// Batch sizes to run each optimizer with, e.g. `1,64,60000`; default
    /// --batch-size.
    #[arg(long, value_delimiter = ',')]
    pub batch_sizes: Option<Vec<usize>>,
    /// The loss plot's x axis.
    #[arg(long, value_enum, default_value = "steps")]
    pub x: XAxis,
    /// The study's directory: plan.json, each run's result in runs/<id>.json,
    /// and the report (metrics.csv, summary.md, the SVGs, index.html). Runs
    /// whose result is there already are not run again: re-running a
    /// command resumes it. Remove the directory for a fresh study (after a
    /// change to descent itself, say).
    #[arg(long, default_value = "out/compare")]
    pub out: PathBuf,
    /// Print the path of index.html at the end, to open in a browser.
    #[arg(long)]
    pub open: bool,
    /// Print the study's runs, one a line (id, label, full config as JSON),
    /// write them to OUT/plan.json, and run nothing. The ids are stable:
    /// a hash of each run's config.
    #[arg(long)]
    pub plan: bool,
    /// Run only the K-th of N slices of the study (K from 1), writing each
    /// result to OUT/runs/<id>.json, and leave the report to `descent report
    /// OUT`: one task of a job array, e.g. `--shard $SLURM_ARRAY_TASK_ID/8`.
    /// Runs already done in OUT are skipped, with or without --shard.
    #[arg(long, value_name = "K/N", value_parser = parse_shard)]
    pub shard: Option<crate::study::Shard>,
    /// Other hyper-parameters, applied to every optimizer that has them
    /// (--lr here is per optimizer, above).
    #[command(flatten)]
    pub hyper: CompareHyper,
    #[command(flatten)]
    pub run: RunArgs,
    #[command(flatten)]
    pub data: DataArgs,
}

fn parse_shard(s: &str) -> Result<crate::study::Shard, String> {
    s.parse()
}

/// `descent run-one`: one run of a study.
#[derive(Debug, Clone, Args)]
pub struct RunOneArgs {
    /// The run's id, as `compare --plan` prints it.
    pub id: String,
    /// The study's directory (compare's --out), holding plan.json.
    #[arg(long, value_name = "DIR")]
    pub study: PathBuf,
    /// Directory holding the four MNIST IDX files; default: $DESCENT_DATA,
    /// else data/mnist. (The normalization is the run's own.)
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Threads for the run; 0: every core. The bits are the same for any
    /// number.
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Hide the progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// `descent report`: a study's tables and pictures from its results.
#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// Study directories: the first holds plan.json; a run's result is
    /// taken from the first directory that has it (shards may have
    /// written to different places).
    #[arg(required = true, value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
    /// Where the report goes; default: the first DIR.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The loss plot's x axis; default: the study's.
    #[arg(long, value_enum)]
    pub x: Option<XAxis>,
    /// The test accuracy (%) whose time the table reports; default: the
    /// study's.
    #[arg(long, value_name = "PERCENT")]
    pub target_acc: Option<f64>,
}

/// The shared hyper-parameters of `compare` (all but lr).
#[derive(Debug, Clone, Default, Args)]
pub struct CompareHyper {
    /// Weight decay for every optimizer that has it (all but the random
    /// searches and rprop).
    #[arg(long)]
    pub weight_decay: Option<f32>,
    /// Momentum μ for momentum and nesterov.
    #[arg(long)]
    pub momentum: Option<f32>,
}

#[derive(Debug, Clone, Args)]
pub struct SweepArgs {
    /// The optimizer.
    #[arg(long, default_value = "adam", value_parser = choice::<OptimizerKind>())]
    pub optimizer: OptimizerKind,
    /// Learning rates, comma separated.
    #[arg(long, value_delimiter = ',', required = true)]
    pub lr: Vec<f32>,
    /// Output directory.
    #[arg(long, default_value = "out/sweep")]
    pub out: PathBuf,
    #[command(flatten)]
    pub run: RunArgs,
    #[command(flatten)]
    pub data: DataArgs,
}

#[derive(Debug, Clone, Args)]
pub struct LandscapeArgs {
    /// A 2-D test function: rosenbrock, beale, himmelblau, saddle or
    /// quadratic (the default mode, rosenbrock when nothing else is asked).
    #[arg(long)]
    pub function: Option<String>,
    /// The quadratic's condition number κ.
    #[arg(long, default_value_t = 10.0)]
    pub condition: f64,
    /// Optimizers, comma separated: on a 2-D function, or on the network
    /// (with --data and neither --model nor --interpolate), trained from
    /// the same initial weights and batch order for --epochs.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "sgd,momentum,nesterov,adagrad,rmsprop,adam",
        value_parser = choice::<OptimizerKind>()
    )]
    pub optimizers: Vec<OptimizerKind>,
    /// Start point `x,y` (default per function).
    #[arg(long, value_delimiter = ',', allow_hyphen_values = true, num_args = 1)]
    pub start: Option<Vec<f64>>,
    /// Steps per optimizer on a 2-D function (default per function:
    /// rosenbrock 2000, beale 1000, others 500).
    #[arg(long)]
    pub steps: Option<usize>,
    /// Per-optimizer learning rates, e.g. `adam=0.05,sgd=1e-3`.
    #[arg(long, value_name = "OPT=LR,…")]
    pub lr: Option<String>,
    /// Output directory: the CSVs, the SVGs and index.html.
    #[arg(long, default_value = "out/landscape")]
    pub out: PathBuf,
    /// The network's surface around this checkpoint, on two
    /// filter-normalised random directions.
    #[arg(long, value_name = "CKPT")]
    pub model: Option<PathBuf>,
    /// The network's loss on the line between two checkpoints `A,B`, from
    /// t = −0.5 to 1.5; repeat the flag for more pairs.
    #[arg(long, value_name = "A,B")]
    pub interpolate: Vec<String>,
    /// The examples the network is measured on: train or test.
    #[arg(long, default_value = "train", value_parser = ["train", "test"])]
    pub on: String,
    /// The first N examples of --on.
    #[arg(long, default_value_t = 10_000)]
    pub examples: usize,
    /// Grid points per side (odd, so that the grid holds its centre).
    #[arg(long, default_value_t = 41)]
    pub grid: usize,
    /// --model: the grid spans α, β ∈ [−S, S] (in units of the
    /// filter-normalised directions: 1 moves each neuron by its weights'
    /// norm). Paths: the margin around the paths, as a fraction of their
    /// extent.
    #[arg(long, default_value_t = 1.0, value_name = "S")]
    pub span: f64,
    /// Paths: the plane's window reaches this fraction of the paths'
    /// extent beyond them on every side.
    #[arg(long, default_value_t = 0.25)]
    pub margin: f64,
    /// Seed of the random directions (direction k is its stream k).
    #[arg(long, default_value_t = 0)]
    pub direction_seed: u64,
    /// Give the biases a random direction too (normalised to each bias
    /// vector's norm); by default they stay fixed, as in Li et al.
    #[arg(long)]
    pub bias_directions: bool,
    /// Points on each interpolation line.
    #[arg(long, default_value_t = 41)]
    pub line_points: usize,
    /// Paths: record the weights every K steps (default: ~100 points a
    /// path, more steps apart if --path-memory requires).
    #[arg(long, value_name = "K")]
    pub record_every: Option<u64>,
    /// Paths: the most memory the recorded weights may take, MiB.
    #[arg(long, default_value_t = 1024, value_name = "MIB")]
    pub path_memory: u64,
    /// Paths: how each optimizer trains (epochs, batch size, widths, seed…).
    #[command(flatten)]
    pub run: RunArgs,
    #[command(flatten)]
    pub data: DataArgs,
}

#[derive(Debug, Clone, Args)]
pub struct EvalArgs {
    /// The checkpoint (safetensors, written by descent or PyTorch).
    #[arg(long, value_name = "PATH")]
    pub model: PathBuf,
    /// Hidden widths, when the file is not descent's (PyTorch's has no
    /// metadata); read from the tensor shapes otherwise.
    #[arg(long, value_delimiter = ',')]
    pub hidden: Option<Vec<usize>>,
    /// Activation when the file does not record it.
    #[arg(long, default_value = "relu")]
    pub activation: String,
    /// Accept NaN/Inf weights.
    #[arg(long)]
    pub allow_nonfinite: bool,
    #[command(flatten)]
    pub data: DataArgs,
}

#[derive(Debug, Clone, Args)]
pub struct GradcheckArgs {
    /// Widths of the net to check.
    #[arg(long, value_delimiter = ',', default_value = "784,16,10")]
    pub sizes: Vec<usize>,
    /// Activation: relu, sigmoid or tanh.
    #[arg(long, default_value = "tanh")]
    pub activation: String,
    /// Examples in the batch.
    #[arg(long, default_value_t = 8)]
    pub batch: usize,
    /// Finite-difference step h.
    #[arg(long, default_value_t = 1e-2)]
    pub h: f32,
    /// Seed of the weights and inputs.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `descent train` with no flags runs the library's default config: the
    /// clap defaults above and `RunConfig::default()` cannot drift apart.
    #[test]
    fn the_flags_defaults_are_the_librarys() {
        let cli = Cli::parse_from(["descent", "train"]);
        let Command::Train(a) = cli.command else {
            panic!("not train")
        };
        let cfg = a.run.config(a.optimizer, a.hyper.hyper(), a.data.normalize);
        assert_eq!(cfg, RunConfig::default());
        assert_eq!(a.run.threads, 0, "every core by default");
    }
}
