//! The training loop behind `descent train`, `compare` and `sweep`.
//!
//! One step: gather the mini-batch (the epoch's permutation, seeded by
//! `(seed, epoch)`), forward + softmax-CE + a backward that writes the gradient
//! (`descent-nn`), the gradient's L2 norm (one SIMD read pass), then the
//! optimizer's fused update over the flat parameter buffer
//! (`descent-optim`). Batch GD, pure SGD and mini-batch SGD are the same SGD
//! rule driven with batch sizes N, 1 and B.
//!
//! Everything that decides the numbers (initial weights, batch order,
//! random-search draws) comes from the seed, and every kernel gives the same
//! bits whatever `--threads` is, so a run is reproducible bit for bit, and a
//! resumed run continues exactly like an uninterrupted one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use descent_core::AlignedVec;
use descent_nn::{Activation, Loss, Mlp, NnError, Targets};
use descent_optim::{
    Adagrad, AdagradConfig, Adam, AdamConfig, OptimError, OptimState, Optimizer, PlateauConfig,
    RandomSearch, RandomSearchConfig, RandomSearchState, Rmsprop, RmspropConfig, Schedule,
    ScheduleKind, ScheduleState, Sgd, SgdConfig, Warmup,
};
use indicatif::{ProgressBar, ProgressStyle};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::checkpoint::{self, names, CheckpointError, LoadOptions};
use crate::data::{DataError, Dataset, Mnist};
use crate::metrics::{EpochRecord, History, MetricsError, MetricsWriter, StepRecord};
use crate::opts::{HyperArgs, OnDivergence, OptName, RunArgs, ScheduleName};

/// Everything that can end a run early.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// A flag or hyper-parameter is invalid.
    #[error("{flag}: {message}")]
    Flag {
        /// The flag, e.g. `--beta1`.
        flag: String,
        /// What is wrong.
        message: String,
    },
    /// The data could not be read.
    #[error(transparent)]
    Data(#[from] DataError),
    /// A checkpoint could not be read or written.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// The metrics file could not be written.
    #[error(transparent)]
    Metrics(#[from] MetricsError),
    /// An optimizer config or state is invalid.
    #[error("optimizer: {0}")]
    Optim(#[from] OptimError),
    /// The network rejected its input (a bug or a model that does not fit).
    #[error("model: {0}")]
    Nn(#[from] NnError),
    /// A checkpoint does not describe a run descent can resume.
    #[error("--resume {path}: {message}")]
    Resume {
        /// The checkpoint.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// The loss or gradient stopped being finite.
    #[error(
        "diverged at epoch {epoch}, step {step}: {what} is {value} (largest gradient norm seen: {max_grad_norm}); {}",
        match last_checkpoint {
            Some(p) => format!("the last checkpoint, {}, is intact", p.display()),
            None => "no checkpoint was written".to_string(),
        }
    )]
    Diverged {
        /// 1-based epoch.
        epoch: usize,
        /// The step that produced the non-finite value (1-based).
        step: u64,
        /// `loss` or `gradient norm`.
        what: &'static str,
        /// The value seen.
        value: f32,
        /// The largest finite gradient norm seen before.
        max_grad_norm: f32,
        /// The last checkpoint written by this run, if any.
        last_checkpoint: Option<PathBuf>,
    },
}

impl TrainError {
    /// The process exit code: 3 for divergence, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            TrainError::Diverged { .. } => 3,
            _ => 1,
        }
    }
}

fn flag(flag: &str, message: impl Into<String>) -> TrainError {
    TrainError::Flag {
        flag: flag.to_string(),
        message: message.into(),
    }
}

/// The settings that decide a run's numbers (saved in checkpoints, printed
/// in the run header). `threads` is not among them: it changes speed only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunConfig {
    /// The optimizer's CLI name.
    pub optimizer: String,
    /// Hyper-parameters as given (None: the optimizer's default).
    pub hyper: HyperArgs,
    /// Total epochs.
    pub epochs: usize,
    /// Examples per step (the whole set for `gd`).
    pub batch_size: usize,
    /// Hidden widths.
    pub hidden: Vec<usize>,
    /// `relu`, `sigmoid` or `tanh`.
    pub activation: String,
    /// The run's seed.
    pub seed: u64,
    /// The lr schedule.
    pub schedule: ScheduleName,
    /// Step schedule period, in epochs.
    pub step_size: usize,
    /// Step/exponential/plateau factor.
    pub gamma: Option<f32>,
    /// Cosine's final lr.
    pub eta_min: f32,
    /// Plateau patience, in epochs.
    pub patience: usize,
    /// Warm-up length in steps.
    pub warmup: u64,
    /// Gradient clipping norm.
    pub clip_norm: Option<f32>,
    /// Shuffle every epoch.
    pub shuffle: bool,
    /// Stop after this many steps.
    pub max_steps: Option<u64>,
    /// Pixel normalisation name.
    pub normalize: String,
    /// Test-set evaluation batch.
    pub eval_batch_size: usize,
    /// What a non-finite loss or gradient does.
    pub on_divergence: OnDivergence,
}

impl RunConfig {
    /// The config of `--optimizer opt` with `hyper` and `run`.
    pub fn new(opt: OptName, hyper: &HyperArgs, run: &RunArgs, normalize: &str) -> Self {
        Self {
            optimizer: opt.name().to_string(),
            hyper: hyper.clone(),
            epochs: run.epochs,
            batch_size: run.batch_size,
            hidden: run.hidden.clone(),
            activation: run.activation.clone(),
            seed: run.seed,
            schedule: run.schedule,
            step_size: run.step_size,
            gamma: run.gamma,
            eta_min: run.eta_min,
            patience: run.patience,
            warmup: run.warmup,
            clip_norm: run.clip_norm,
            shuffle: !run.no_shuffle,
            max_steps: run.max_steps,
            normalize: normalize.to_string(),
            eval_batch_size: run.eval_batch_size,
            on_divergence: run.on_divergence,
        }
    }

    /// The optimizer, parsed.
    pub fn opt(&self) -> Result<OptName, TrainError> {
        OptName::parse(&self.optimizer).ok_or_else(|| {
            flag(
                "--optimizer",
                format!("unknown optimizer {:?}", self.optimizer),
            )
        })
    }

    /// The activation, parsed.
    pub fn activation(&self) -> Result<Activation, TrainError> {
        Activation::from_name(&self.activation).ok_or_else(|| {
            flag(
                "--activation",
                format!(
                    "unknown activation {:?} (expected relu, sigmoid or tanh)",
                    self.activation
                ),
            )
        })
    }

    /// The layer widths `[784, hidden…, 10]` for inputs of width `dim`.
    pub fn sizes(&self, dim: usize) -> Vec<usize> {
        let mut s = vec![dim];
        s.extend(&self.hidden);
        s.push(10);
        s
    }

    /// Checks what the optimizer and nn configs do not: sizes and counts.
    pub fn validate(&self) -> Result<(), TrainError> {
        self.opt()?;
        self.activation()?;
        if self.batch_size == 0 {
            return Err(flag("--batch-size", "must be at least 1"));
        }
        if self.eval_batch_size == 0 {
            return Err(flag("--eval-batch-size", "must be at least 1"));
        }
        if let Some(i) = self.hidden.iter().position(|&h| h == 0) {
            return Err(flag(
                "--hidden",
                format!(
                    "width {} (position {}) must be at least 1",
                    self.hidden[i],
                    i + 1
                ),
            ));
        }
        if self.step_size == 0 {
            return Err(flag("--step-size", "must be at least 1"));
        }
        if let Some(c) = self.clip_norm {
            if !(c.is_finite() && c > 0.0) {
                return Err(flag(
                    "--clip-norm",
                    format!("{c} must be finite and positive"),
                ));
            }
        }
        check_applicable(self.opt()?, &self.hyper)?;
        Ok(())
    }
}

/// The default learning rate of each optimizer in the CLI: values that train
/// the 784-128-64-10 MLP well at batch 64 (PyTorch's own defaults where they
/// do; SGD has no default in PyTorch, and RMSprop's 0.01 is too high here).
pub fn default_lr(opt: OptName) -> f32 {
    match opt {
        // One step per epoch: a larger step is stable on the full batch.
        OptName::Gd => 0.1,
        OptName::Sgd | OptName::Momentum | OptName::Nesterov => 0.01,
        OptName::Adagrad => 0.01,
        OptName::Rmsprop => 0.001,
        OptName::Adam | OptName::Adamw => 0.001,
        OptName::RandomSearch => 0.0,
    }
}

/// Errors when a flag is given that the optimizer does not have.
fn check_applicable(opt: OptName, h: &HyperArgs) -> Result<(), TrainError> {
    use OptName::*;
    let sgd_like = matches!(opt, Gd | Sgd | Momentum | Nesterov);
    let checks: [(&str, bool, bool); 15] = [
        ("--lr", h.lr.is_some(), opt != RandomSearch),
        (
            "--momentum",
            h.momentum.is_some(),
            sgd_like || opt == Rmsprop,
        ),
        ("--dampening", h.dampening.is_some(), sgd_like),
        (
            "--weight-decay",
            h.weight_decay.is_some(),
            opt != RandomSearch,
        ),
        ("--maximize", h.maximize, opt != RandomSearch),
        ("--lr-decay", h.lr_decay.is_some(), opt == Adagrad),
        (
            "--initial-accumulator-value",
            h.initial_accumulator_value.is_some(),
            opt == Adagrad,
        ),
        (
            "--eps",
            h.eps.is_some(),
            matches!(opt, Adagrad | Rmsprop | Adam | Adamw),
        ),
        ("--alpha", h.alpha.is_some(), opt == Rmsprop),
        ("--centered", h.centered, opt == Rmsprop),
        ("--beta1", h.beta1.is_some(), matches!(opt, Adam | Adamw)),
        ("--beta2", h.beta2.is_some(), matches!(opt, Adam | Adamw)),
        ("--amsgrad", h.amsgrad, matches!(opt, Adam | Adamw)),
        ("--sigma", h.sigma.is_some(), opt == RandomSearch),
        (
            "--sigma-decay",
            h.sigma_decay.is_some(),
            opt == RandomSearch,
        ),
    ];
    for (name, given, applies) in checks {
        if given && !applies {
            return Err(flag(
                name,
                format!("{} has no such hyper-parameter", opt.name()),
            ));
        }
    }
    Ok(())
}

/// What updates the weights: a gradient optimizer or random search.
pub enum Updater {
    /// Every optimizer but random search.
    Grad(Box<dyn Optimizer>),
    /// Gradient-free: perturb, keep if the batch loss improves.
    Search(Box<RandomSearch>),
}

/// The full config of an optimizer: the flags given, PyTorch's defaults
/// (and the CLI's default lr) for the rest.
#[derive(Debug, Clone)]
pub enum OptConfig {
    /// gd, sgd, momentum, nesterov.
    Sgd(SgdConfig),
    /// adagrad.
    Adagrad(AdagradConfig),
    /// rmsprop.
    Rmsprop(RmspropConfig),
    /// adam, adamw.
    Adam(AdamConfig),
    /// random-search.
    RandomSearch(RandomSearchConfig),
}

impl OptConfig {
    /// Fills in the config of `cfg`'s optimizer (not yet validated).
    pub fn of(cfg: &RunConfig) -> Result<Self, TrainError> {
        let opt = cfg.opt()?;
        let h = &cfg.hyper;
        let lr = h.lr.unwrap_or(default_lr(opt));
        Ok(match opt {
            OptName::Gd | OptName::Sgd | OptName::Momentum | OptName::Nesterov => {
                let d = SgdConfig::default();
                let mu = if matches!(opt, OptName::Momentum | OptName::Nesterov) {
                    0.9
                } else {
                    0.0
                };
                OptConfig::Sgd(SgdConfig {
                    lr,
                    momentum: h.momentum.unwrap_or(mu),
                    dampening: h.dampening.unwrap_or(d.dampening),
                    weight_decay: h.weight_decay.unwrap_or(d.weight_decay),
                    nesterov: opt == OptName::Nesterov,
                    maximize: h.maximize,
                    clip_norm: cfg.clip_norm,
                })
            }
            OptName::Adagrad => {
                let d = AdagradConfig::default();
                OptConfig::Adagrad(AdagradConfig {
                    lr,
                    lr_decay: h.lr_decay.unwrap_or(d.lr_decay),
                    weight_decay: h.weight_decay.unwrap_or(d.weight_decay),
                    initial_accumulator_value: h
                        .initial_accumulator_value
                        .unwrap_or(d.initial_accumulator_value),
                    eps: h.eps.unwrap_or(d.eps),
                    maximize: h.maximize,
                    clip_norm: cfg.clip_norm,
                })
            }
            OptName::Rmsprop => {
                let d = RmspropConfig::default();
                OptConfig::Rmsprop(RmspropConfig {
                    lr,
                    alpha: h.alpha.unwrap_or(d.alpha),
                    eps: h.eps.unwrap_or(d.eps),
                    weight_decay: h.weight_decay.unwrap_or(d.weight_decay),
                    momentum: h.momentum.unwrap_or(d.momentum),
                    centered: h.centered,
                    maximize: h.maximize,
                    clip_norm: cfg.clip_norm,
                })
            }
            OptName::Adam | OptName::Adamw => {
                let d = if opt == OptName::Adam {
                    AdamConfig::default()
                } else {
                    AdamConfig::adamw()
                };
                OptConfig::Adam(AdamConfig {
                    lr,
                    beta1: h.beta1.unwrap_or(d.beta1),
                    beta2: h.beta2.unwrap_or(d.beta2),
                    eps: h.eps.unwrap_or(d.eps),
                    weight_decay: h.weight_decay.unwrap_or(d.weight_decay),
                    amsgrad: h.amsgrad,
                    decoupled_weight_decay: d.decoupled_weight_decay,
                    maximize: h.maximize,
                    clip_norm: cfg.clip_norm,
                })
            }
            OptName::RandomSearch => {
                let d = RandomSearchConfig::default();
                OptConfig::RandomSearch(RandomSearchConfig {
                    sigma: h.sigma.unwrap_or(d.sigma),
                    sigma_decay: h.sigma_decay.unwrap_or(d.sigma_decay),
                    seed: cfg.seed,
                    ..d
                })
            }
        })
    }

    /// One line with every setting, for the run header.
    pub fn describe(&self) -> String {
        match self {
            OptConfig::Sgd(c) => format!(
                "lr {}, momentum {}, dampening {}, weight_decay {}, nesterov {}, maximize {}",
                c.lr, c.momentum, c.dampening, c.weight_decay, c.nesterov, c.maximize
            ),
            OptConfig::Adagrad(c) => format!(
                "lr {}, lr_decay {}, weight_decay {}, initial_accumulator_value {}, eps {}, maximize {}",
                c.lr, c.lr_decay, c.weight_decay, c.initial_accumulator_value, c.eps, c.maximize
            ),
            OptConfig::Rmsprop(c) => format!(
                "lr {}, alpha {}, eps {}, weight_decay {}, momentum {}, centered {}, maximize {}",
                c.lr, c.alpha, c.eps, c.weight_decay, c.momentum, c.centered, c.maximize
            ),
            OptConfig::Adam(c) => format!(
                "lr {}, betas ({}, {}), eps {}, weight_decay {} ({}), amsgrad {}, maximize {}",
                c.lr,
                c.beta1,
                c.beta2,
                c.eps,
                c.weight_decay,
                if c.decoupled_weight_decay { "decoupled" } else { "L2" },
                c.amsgrad,
                c.maximize
            ),
            OptConfig::RandomSearch(c) => format!(
                "sigma {}, sigma_decay {}, min_sigma {}",
                c.sigma, c.sigma_decay, c.min_sigma
            ),
        }
    }
}

impl Updater {
    /// Builds the optimizer of `cfg` (defaults filled in, every field
    /// validated by descent-optim, whose error names the field).
    pub fn build(cfg: &RunConfig) -> Result<Self, TrainError> {
        Ok(match OptConfig::of(cfg)? {
            OptConfig::Sgd(c) => Updater::Grad(Box::new(Sgd::new(c)?)),
            OptConfig::Adagrad(c) => Updater::Grad(Box::new(Adagrad::new(c)?)),
            OptConfig::Rmsprop(c) => Updater::Grad(Box::new(Rmsprop::new(c)?)),
            OptConfig::Adam(c) => Updater::Grad(Box::new(Adam::new(c)?)),
            OptConfig::RandomSearch(c) => Updater::Search(Box::new(RandomSearch::new(c)?)),
        })
    }

    /// The learning rate (0 for random search).
    pub fn lr(&self) -> f32 {
        match self {
            Updater::Grad(o) => o.lr(),
            Updater::Search(_) => 0.0,
        }
    }

    /// A one-line description of the optimizer's settings for the header.
    pub fn describe(cfg: &RunConfig) -> Result<String, TrainError> {
        Ok(OptConfig::of(cfg)?.describe())
    }
}

/// Builds the lr schedule of `cfg` for `steps_per_epoch` steps an epoch.
///
/// The schedule is advanced once per optimizer step, so warm-up counts
/// steps; the epoch-based kinds are expressed in steps so that they change
/// the lr exactly at epoch boundaries as PyTorch's per-epoch schedulers do
/// (step: every `step_size` epochs; exponential: every epoch), except
/// cosine, which anneals smoothly per step over the whole run. Plateau is
/// advanced once per epoch with the test loss.
pub fn build_schedule(
    cfg: &RunConfig,
    base_lr: f32,
    steps_per_epoch: u64,
) -> Result<(Schedule, bool), TrainError> {
    let spe = steps_per_epoch.max(1);
    let gamma = cfg.gamma;
    let (kind, per_epoch) = match cfg.schedule {
        ScheduleName::Constant => (ScheduleKind::Constant, false),
        ScheduleName::Step => (
            ScheduleKind::Step {
                step_size: cfg.step_size as u64 * spe,
                gamma: gamma.unwrap_or(0.1),
            },
            false,
        ),
        ScheduleName::Exponential => (
            ScheduleKind::Step {
                step_size: spe,
                gamma: gamma.unwrap_or(0.9),
            },
            false,
        ),
        ScheduleName::Cosine => (
            ScheduleKind::Cosine {
                t_max: (cfg.epochs as u64 * spe).saturating_sub(cfg.warmup).max(1),
                eta_min: cfg.eta_min,
            },
            false,
        ),
        ScheduleName::Plateau => (
            ScheduleKind::ReduceOnPlateau(PlateauConfig {
                factor: gamma.unwrap_or(0.1),
                patience: cfg.patience as u64,
                ..PlateauConfig::default()
            }),
            true,
        ),
    };
    let warmup = (cfg.warmup > 0).then_some(Warmup {
        steps: cfg.warmup,
        start_factor: 1.0 / 3.0,
    });
    if per_epoch && warmup.is_some() {
        return Err(flag("--warmup", "counts steps, but plateau advances once per epoch: use a step-based schedule with --warmup"));
    }
    let s = Schedule::new(base_lr, kind, warmup).map_err(|e| flag("--schedule", e.to_string()))?;
    Ok((s, per_epoch))
}

/// The state of a run in progress.
pub struct Trainer<'d> {
    /// The run's settings.
    pub cfg: RunConfig,
    data: &'d Mnist,
    /// The model.
    pub net: Mlp,
    /// The optimizer.
    pub updater: Updater,
    schedule: Schedule,
    schedule_per_epoch: bool,
    /// Epochs completed.
    pub epoch: usize,
    /// Steps taken.
    pub step: u64,
    /// Examples seen.
    pub examples: u64,
    /// Training seconds so far.
    pub seconds: f64,
    max_grad_norm: f32,
    /// What the run measured.
    pub history: History,
    perm: Vec<usize>,
    /// The gathered batch, line-aligned: it is B of dW₁ = dH₁ᵀ·X, whose
    /// rows the GEMM reads in place 16 floats at a time.
    xb: AlignedVec,
    yb: Vec<u32>,
    search_params: Vec<f32>,
    /// Last checkpoint written (named when the run diverges).
    pub last_checkpoint: Option<PathBuf>,
}

/// Where per-run output goes.
#[derive(Default)]
pub struct Sinks<'a> {
    /// Per-step and per-epoch records.
    pub metrics: Option<&'a mut MetricsWriter>,
    /// Write a checkpoint here after every epoch.
    pub save: Option<&'a Path>,
    /// Show a progress bar.
    pub progress: bool,
    /// Print one line per epoch.
    pub print: bool,
    /// Prefix of the epoch lines (the optimizer in `compare`).
    pub label: String,
}

/// The bytes a model of layer widths `sizes` needs at the least: its
/// weights and their gradients, `2 · 4 · Σ (sᵢ·sᵢ₊₁ + sᵢ₊₁)` (optimizer
/// state and activations come on top). `None` if that overflows `u64`.
pub fn model_min_bytes(sizes: &[usize]) -> Option<u64> {
    let mut params: u64 = 0;
    for w in sizes.windows(2) {
        let (i, o) = (w[0] as u64, w[1] as u64);
        params = params.checked_add(i.checked_mul(o)?.checked_add(o)?)?;
    }
    params.checked_mul(8)
}

/// The memory the system can still give this process, in bytes:
/// `MemAvailable` of `/proc/meminfo` (Linux), or `None` where unknown.
pub fn available_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// Refuses, before anything is allocated, a model whose weights and
/// gradients alone need more than `available` bytes (when known), naming
/// both numbers, so `--hidden 100000,100000` is an error rather than an
/// allocation failure that aborts the process.
pub fn check_model_fits(sizes: &[usize], available: Option<u64>) -> Result<(), TrainError> {
    let need = model_min_bytes(sizes);
    let too_large = match (need, available) {
        (None, _) => true,
        (Some(n), Some(a)) => n > a,
        (Some(_), None) => false,
    };
    if !too_large {
        return Ok(());
    }
    let need = need.map_or("more than 2^64".to_string(), |n| n.to_string());
    let have = available.map_or("an unknown amount".to_string(), |a| a.to_string());
    Err(flag(
        "--hidden",
        format!(
            "the model {sizes:?} needs at least {need} bytes for its weights and gradients, \
             but this machine has {have} bytes available (MemAvailable)"
        ),
    ))
}

impl<'d> Trainer<'d> {
    /// A fresh run: weights from the seed (or `init`), optimizer state empty.
    pub fn new(cfg: RunConfig, data: &'d Mnist, threads: usize) -> Result<Self, TrainError> {
        cfg.validate()?;
        let sizes = cfg.sizes(data.train.dim());
        check_model_fits(&sizes, available_memory())?;
        let mut net = Mlp::new(&sizes, cfg.activation()?, cfg.seed)?;
        net.set_threads(threads);
        let updater = Updater::build(&cfg)?;
        let spe = steps_per_epoch(&cfg, &data.train) as u64;
        let (schedule, schedule_per_epoch) = build_schedule(&cfg, updater.lr(), spe)?;
        let n = net.num_params();
        Ok(Self {
            cfg,
            data,
            net,
            updater,
            schedule,
            schedule_per_epoch,
            epoch: 0,
            step: 0,
            examples: 0,
            seconds: 0.0,
            max_grad_norm: 0.0,
            history: History::default(),
            perm: Vec::new(),
            xb: AlignedVec::new(),
            yb: Vec::new(),
            search_params: Vec::with_capacity(n),
            last_checkpoint: None,
        })
    }

    /// Loads weights only from `path` (descent's or PyTorch's safetensors).
    pub fn load_weights(&mut self, path: &Path, allow_nonfinite: bool) -> Result<(), TrainError> {
        let ck = checkpoint::load_checkpoint_with(path, LoadOptions { allow_nonfinite })?;
        let layout = self.net.layout().to_vec();
        let params = self.net.params_mut();
        for t in &layout {
            ck.copy_tensor(&t.name, &t.shape, &mut params[t.range()])?;
        }
        Ok(())
    }

    /// Steps in one epoch of this run.
    pub fn steps_per_epoch(&self) -> usize {
        steps_per_epoch(&self.cfg, &self.data.train)
    }

    /// Trains until `cfg.epochs` epochs (or `max_steps` steps) are done.
    pub fn run(&mut self, sinks: &mut Sinks) -> Result<(), TrainError> {
        while self.epoch < self.cfg.epochs && !self.reached_max_steps() {
            self.run_epoch(sinks)?;
        }
        if let Some(m) = sinks.metrics.as_deref_mut() {
            m.flush()?;
        }
        Ok(())
    }

    fn reached_max_steps(&self) -> bool {
        self.cfg.max_steps.is_some_and(|m| self.step >= m)
    }

    /// One epoch: every mini-batch of the epoch's permutation, then the
    /// test-set evaluation, the epoch record and the checkpoint.
    pub fn run_epoch(&mut self, sinks: &mut Sinks) -> Result<EpochRecord, TrainError> {
        let data = self.data;
        let train = &data.train;
        let n = train.len();
        let d = train.dim();
        let b = if self.cfg.optimizer == OptName::Gd.name() {
            n
        } else {
            self.cfg.batch_size.min(n)
        };
        let full_batch = b == n;
        self.perm.clear();
        self.perm.extend(0..n);
        if self.cfg.shuffle && !full_batch {
            // The epoch's order depends on (seed, epoch) only, so a resumed
            // run sees the same batches as an uninterrupted one.
            let mut rng = ChaCha8Rng::seed_from_u64(self.cfg.seed);
            rng.set_stream(self.epoch as u64 + 1);
            self.perm.shuffle(&mut rng);
        }
        let steps = n.div_ceil(b);
        let bar = if sinks.progress {
            let bar = ProgressBar::new(steps as u64);
            bar.set_style(
                ProgressStyle::with_template(
                    "{prefix} {bar:30} {pos}/{len} steps {msg} [{elapsed}<{eta}]",
                )
                .expect("a valid template")
                .progress_chars("=> "),
            );
            bar.set_prefix(format!(
                "{}epoch {}/{}",
                sinks.label,
                self.epoch + 1,
                self.cfg.epochs
            ));
            Some(bar)
        } else {
            None
        };
        let start = Instant::now();
        let (mut loss_sum, mut loss_count) = (0.0f64, 0u64);
        let mut skipped = 0u64;
        let mut epoch_examples = 0u64;
        for s in 0..steps {
            if self.reached_max_steps() {
                break;
            }
            let lo = s * b;
            let hi = (lo + b).min(n);
            let rows = hi - lo;
            // The whole set in order needs no copy: it is the batch.
            let (x, y): (&[f32], &[u32]) = if full_batch {
                (&train.images, &train.labels)
            } else {
                self.xb.resize(rows * d, 0.0);
                self.yb.resize(rows, 0);
                train.gather(&self.perm[lo..hi], &mut self.xb, &mut self.yb);
                (&self.xb, &self.yb)
            };
            // The lr this step uses (the schedule's, set just below); the
            // record must not show the previous step's.
            let lr = match &self.updater {
                Updater::Grad(_) => self.schedule.lr(),
                Updater::Search(_) => 0.0,
            };
            let (loss, grad_norm) = match &mut self.updater {
                Updater::Grad(opt) => {
                    opt.set_lr(lr)?;
                    // Writes this batch's gradient (β = 0 into every dW), so
                    // no separate pass clears the buffer first.
                    let loss = self.net.batch_grads(x, y)?;
                    let gn = descent_core::step::grad_norm(self.net.grads());
                    let bad = if !loss.is_finite() {
                        Some(("loss", loss))
                    } else if !gn.is_finite() {
                        Some(("gradient norm", gn))
                    } else {
                        None
                    };
                    if let Some((what, value)) = bad {
                        match self.cfg.on_divergence {
                            OnDivergence::Stop => {
                                if let Some(bar) = &bar {
                                    bar.abandon();
                                }
                                return Err(TrainError::Diverged {
                                    epoch: self.epoch + 1,
                                    step: self.step + 1,
                                    what,
                                    value,
                                    max_grad_norm: self.max_grad_norm,
                                    last_checkpoint: self.last_checkpoint.clone(),
                                });
                            }
                            OnDivergence::SkipStep => {
                                skipped += 1;
                                continue;
                            }
                        }
                    }
                    self.max_grad_norm = self.max_grad_norm.max(gn);
                    let (p, g) = self.net.params_and_grads();
                    // The norm of this step, computed once: logged, checked
                    // above, and the clipping factor's (with --clip-norm).
                    opt.step_with_norm(p, g, Some(gn))?;
                    (loss, gn)
                }
                Updater::Search(rs) => {
                    // The loss is compared on one batch: the current weights'
                    // and the candidate's, so forget the last batch's best.
                    rs.reset_best();
                    self.search_params.clear();
                    self.search_params.extend_from_slice(self.net.params());
                    let net = &mut self.net;
                    let r = rs.step(&mut self.search_params, |cand| {
                        net.params_mut().copy_from_slice(cand);
                        match net.forward(x, rows) {
                            Ok(_) => net
                                .loss_grad(Loss::SoftmaxCrossEntropy, Targets::Labels(y))
                                .unwrap_or(f32::NAN),
                            Err(_) => f32::NAN,
                        }
                    });
                    self.net.params_mut().copy_from_slice(&self.search_params);
                    if !r.loss.is_finite() {
                        return Err(TrainError::Diverged {
                            epoch: self.epoch + 1,
                            step: self.step + 1,
                            what: "loss",
                            value: r.loss,
                            max_grad_norm: self.max_grad_norm,
                            last_checkpoint: self.last_checkpoint.clone(),
                        });
                    }
                    (r.loss, f32::NAN)
                }
            };
            if !self.schedule_per_epoch {
                self.schedule.advance(None)?;
            }
            self.step += 1;
            self.examples += rows as u64;
            epoch_examples += rows as u64;
            loss_sum += loss as f64;
            loss_count += 1;
            let rec = StepRecord {
                step: self.step,
                epoch: self.epoch + 1,
                loss,
                grad_norm,
                lr,
                examples: self.examples,
                seconds: self.seconds + start.elapsed().as_secs_f64(),
            };
            self.history.steps.push(rec);
            if let Some(m) = sinks.metrics.as_deref_mut() {
                m.step(&rec)?;
            }
            if let Some(bar) = &bar {
                if s % 16 == 0 || s + 1 == steps {
                    let secs = start.elapsed().as_secs_f64().max(1e-9);
                    bar.set_position(s as u64 + 1);
                    bar.set_message(format!(
                        "loss {:.4} {:.0} ex/s",
                        loss_sum / loss_count as f64,
                        epoch_examples as f64 / secs
                    ));
                }
            }
        }
        let secs = start.elapsed().as_secs_f64();
        self.seconds += secs;
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        let (test_loss, test_acc) = self.net.evaluate(
            &data.test.images,
            &data.test.labels,
            self.cfg.eval_batch_size,
        )?;
        if self.schedule_per_epoch {
            self.schedule.advance(Some(test_loss))?;
        }
        self.epoch += 1;
        let rec = EpochRecord {
            epoch: self.epoch,
            step: self.step,
            train_loss: if loss_count > 0 {
                (loss_sum / loss_count as f64) as f32
            } else {
                f32::NAN
            },
            test_loss,
            test_accuracy: test_acc,
            seconds: secs,
            examples_per_sec: epoch_examples as f64 / secs.max(1e-9),
            skipped_steps: skipped,
        };
        self.history.epochs.push(rec);
        if let Some(m) = sinks.metrics.as_deref_mut() {
            m.epoch(&rec)?;
        }
        if sinks.print {
            println!(
                "{}epoch {:>3}/{}  train loss {:.4}  test loss {:.4}  test acc {:6.2}%  {:6.2} s  {:>8.0} ex/s{}",
                sinks.label,
                rec.epoch,
                self.cfg.epochs,
                rec.train_loss,
                rec.test_loss,
                100.0 * rec.test_accuracy,
                rec.seconds,
                rec.examples_per_sec,
                if skipped > 0 { format!("  ({skipped} steps skipped)") } else { String::new() }
            );
        }
        if let Some(path) = sinks.save {
            self.save(path)?;
            self.last_checkpoint = Some(path.to_path_buf());
        }
        Ok(rec)
    }

    /// Writes the model, the optimizer state and the run's progress to
    /// `path` (atomically).
    pub fn save(&self, path: &Path) -> Result<(), TrainError> {
        let layout = self.net.layout();
        let params = self.net.params();
        let mut owned: Vec<(String, Vec<usize>, Vec<f32>)> = Vec::new();
        let mut meta = BTreeMap::new();
        meta.insert(names::FORMAT.to_string(), names::FORMAT_VERSION.to_string());
        meta.insert(
            names::CONFIG.to_string(),
            serde_json::to_string(&self.cfg).expect("config serialises"),
        );
        meta.insert(names::EPOCH.to_string(), self.epoch.to_string());
        meta.insert(names::STEP.to_string(), self.step.to_string());
        meta.insert("examples".to_string(), self.examples.to_string());
        meta.insert("seconds".to_string(), self.seconds.to_string());
        meta.insert(
            "max_grad_norm_bits".to_string(),
            self.max_grad_norm.to_bits().to_string(),
        );
        meta.insert(
            "schedule".to_string(),
            schedule_json(&self.schedule.export_state()),
        );
        meta.insert(
            "history_epochs".to_string(),
            serde_json::to_string(&self.history.epochs).expect("records serialise"),
        );
        match &self.updater {
            Updater::Grad(opt) => {
                let st = opt.export_state();
                meta.insert("optim_step".to_string(), st.step.to_string());
                meta.insert("optim".to_string(), opt.name().to_string());
                for (buf, data) in &st.buffers {
                    for t in layout {
                        owned.push((
                            names::optim(buf, &t.name),
                            t.shape.clone(),
                            data[t.range()].to_vec(),
                        ));
                    }
                }
            }
            Updater::Search(rs) => {
                let st = rs.export_state();
                meta.insert(
                    names::RNG.to_string(),
                    serde_json::json!({
                        "step": st.step,
                        "best_loss_bits": st.best_loss.map(f32::to_bits),
                        "seed": st.seed,
                        "word_pos": st.word_pos.to_string(),
                    })
                    .to_string(),
                );
            }
        }
        let mut tensors: Vec<(&str, &[usize], &[f32])> = layout
            .iter()
            .map(|t| (t.name.as_str(), t.shape.as_slice(), &params[t.range()]))
            .collect();
        tensors.extend(
            owned
                .iter()
                .map(|(n, s, d)| (n.as_str(), s.as_slice(), d.as_slice())),
        );
        checkpoint::save_checkpoint(path, &tensors, &meta)?;
        Ok(())
    }

    /// Continues the run saved at `path`: its config (with `epochs` and
    /// `max_steps` replaced by the caller's), weights, optimizer state,
    /// schedule and progress.
    pub fn resume(
        path: &Path,
        data: &'d Mnist,
        epochs: usize,
        max_steps: Option<u64>,
        threads: usize,
        allow_nonfinite: bool,
    ) -> Result<Self, TrainError> {
        let ck = checkpoint::load_checkpoint_with(path, LoadOptions { allow_nonfinite })?;
        let bad = |message: String| TrainError::Resume {
            path: path.to_path_buf(),
            message,
        };
        let fmt = ck.meta(names::FORMAT)?;
        if fmt != names::FORMAT_VERSION {
            return Err(bad(format!(
                "format {fmt:?} is not {:?}",
                names::FORMAT_VERSION
            )));
        }
        let mut cfg: RunConfig = serde_json::from_str(ck.meta(names::CONFIG)?).map_err(|e| {
            bad(format!(
                "metadata {:?} is not a descent run config: {e}",
                names::CONFIG
            ))
        })?;
        cfg.epochs = epochs;
        cfg.max_steps = max_steps;
        let mut t = Trainer::new(cfg, data, threads)?;
        let layout = t.net.layout().to_vec();
        {
            let params = t.net.params_mut();
            for p in &layout {
                ck.copy_tensor(&p.name, &p.shape, &mut params[p.range()])?;
            }
        }
        t.epoch = ck.meta_parse(names::EPOCH)?;
        t.step = ck.meta_parse(names::STEP)?;
        t.examples = ck.meta_parse("examples")?;
        t.seconds = ck.meta_parse("seconds")?;
        t.max_grad_norm = f32::from_bits(ck.meta_parse("max_grad_norm_bits")?);
        t.schedule
            .import_state(&parse_schedule(ck.meta("schedule")?).map_err(&bad)?)?;
        t.history.epochs = serde_json::from_str(ck.meta("history_epochs")?)
            .map_err(|e| bad(format!("metadata \"history_epochs\": {e}")))?;
        let n = t.net.num_params();
        match &mut t.updater {
            Updater::Grad(opt) => {
                let step: u64 = ck.meta_parse("optim_step")?;
                // Buffer names in file order, each assembled from its
                // per-parameter tensors into the flat layout.
                let mut bufs: Vec<(String, Vec<f32>)> = Vec::new();
                for tensor in ck.with_prefix(names::OPTIM_PREFIX) {
                    let rest = &tensor.name[names::OPTIM_PREFIX.len()..];
                    let Some((buf, _)) = rest.split_once('/') else {
                        return Err(bad(format!(
                            "tensor {:?} is not optim/BUFFER/PARAM",
                            tensor.name
                        )));
                    };
                    if !bufs.iter().any(|(b, _)| b == buf) {
                        bufs.push((buf.to_string(), vec![0.0; n]));
                    }
                }
                for (buf, flat) in &mut bufs {
                    for p in &layout {
                        ck.copy_tensor(
                            &names::optim(buf, &p.name),
                            &p.shape,
                            &mut flat[p.range()],
                        )?;
                    }
                }
                opt.import_state(&OptimState {
                    step,
                    buffers: bufs,
                })?;
            }
            Updater::Search(rs) => {
                let v: serde_json::Value = serde_json::from_str(ck.meta(names::RNG)?)
                    .map_err(|e| bad(format!("metadata \"rng\": {e}")))?;
                let st = (|| {
                    Some(RandomSearchState {
                        step: v["step"].as_u64()?,
                        best_loss: v["best_loss_bits"]
                            .as_u64()
                            .map(|b| f32::from_bits(b as u32)),
                        seed: v["seed"].as_u64()?,
                        word_pos: v["word_pos"].as_str()?.parse().ok()?,
                    })
                })()
                .ok_or_else(|| bad("metadata \"rng\" lacks step, seed or word_pos".to_string()))?;
                rs.import_state(&st)?;
            }
        }
        Ok(t)
    }
}

/// Steps per epoch: ⌈N / B⌉, or 1 for full-batch `gd`.
pub fn steps_per_epoch(cfg: &RunConfig, train: &Dataset) -> usize {
    let n = train.len().max(1);
    if cfg.optimizer == OptName::Gd.name() {
        1
    } else {
        n.div_ceil(cfg.batch_size.clamp(1, n))
    }
}

fn schedule_json(s: &ScheduleState) -> String {
    serde_json::json!({
        "t": s.t,
        "plateau_lr_bits": s.plateau_lr.to_bits(),
        "best_bits": s.best.to_bits(),
        "num_bad": s.num_bad,
        "cooldown_counter": s.cooldown_counter,
    })
    .to_string()
}

fn parse_schedule(s: &str) -> Result<ScheduleState, String> {
    let v: serde_json::Value =
        serde_json::from_str(s).map_err(|e| format!("metadata \"schedule\": {e}"))?;
    let u = |k: &str| {
        v[k].as_u64()
            .ok_or_else(|| format!("metadata \"schedule\" lacks {k}"))
    };
    Ok(ScheduleState {
        t: u("t")?,
        plateau_lr: f32::from_bits(u("plateau_lr_bits")? as u32),
        best: f32::from_bits(u("best_bits")? as u32),
        num_bad: u("num_bad")?,
        cooldown_counter: u("cooldown_counter")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 784-128-64-10 has 109 386 parameters: 875 088 bytes of weights and
    /// gradients; an overflowing size is refused whatever the machine has.
    #[test]
    fn the_memory_check_counts_weights_and_gradients() {
        assert_eq!(model_min_bytes(&[784, 128, 64, 10]), Some(8 * 109_386));
        assert!(check_model_fits(&[784, 128, 64, 10], Some(875_088)).is_ok());
        let err = check_model_fits(&[784, 128, 64, 10], Some(875_087)).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("--hidden") && msg.contains("875088") && msg.contains("875087"),
            "{msg}"
        );
        assert!(check_model_fits(&[784, 128, 64, 10], None).is_ok());
        assert_eq!(model_min_bytes(&[usize::MAX, usize::MAX]), None);
        assert!(check_model_fits(&[usize::MAX, 2], None).is_err());
    }
}
