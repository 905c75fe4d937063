//! # descent-optim
//!
//! descent's optimizers over a flat parameter buffer: all of a model's
//! parameters in one `&mut [f32]`, the gradients in one `&[f32]` of the same
//! layout, and state buffers of that length owned by the optimizer. Each
//! step is one fused pass over memory (the kernels live in
//! [`descent_core::step`]), preceded by one read-only pass over the gradients
//! when clipping by global norm.
//!
//! | type | rule | PyTorch |
//! |---|---|---|
//! | [`Sgd`] | SGD, heavy-ball momentum, Nesterov | `torch.optim.SGD` |
//! | [`Adagrad`] | AdaGrad | `torch.optim.Adagrad` |
//! | [`Rmsprop`] | RMSprop (centered, momentum) | `torch.optim.RMSprop` |
//! | [`Adam`] | Adam, AMSGrad, AdamW | `torch.optim.Adam`, `torch.optim.AdamW` |
//! | [`RandomSearch`] | perturb and keep if better (no gradients) | — |
//!
//! Semantics and defaults are PyTorch's; each type's docs link the paper
//! and state where it departs. Every config has public fields, a `Default`
//! equal to PyTorch's, and `validate()`, which the constructors call and
//! which names the wrong field and its value.
//!
//! **Batch GD, pure SGD and mini-batch SGD are one rule.** They are [`Sgd`]
//! driven with gradients averaged over the whole training set, over one
//! example, or over a batch of B examples. Choosing the batch is the
//! trainer's job; this crate only sees the gradient it is given.
//!
//! **Clipping.** Every config has `clip_norm: Option<f32>`: the step first
//! computes `‖g‖₂` (reported in [`StepInfo::grad_norm`] so the trainer can
//! log it) and the kernels multiply the gradient by
//! `min(1, clip_norm/(‖g‖ + 1e-6))` inside the same pass, as
//! `torch.nn.utils.clip_grad_norm_` followed by `step()` would.
//!
//! **Checkpoints.** [`Optimizer::export_state`] returns the step count and
//! the named state buffers (PyTorch's `state_dict` names); importing them
//! into an optimizer with the same config continues bit for bit like an
//! uninterrupted run. Schedules ([`Schedule`]) and [`RandomSearch`] export
//! their own state the same way.

mod adagrad;
mod adam;
mod common;
pub mod error;
mod random_search;
mod rmsprop;
pub mod schedule;
mod sgd;

pub use adagrad::{Adagrad, AdagradConfig};
pub use adam::{Adam, AdamConfig};
pub use error::{OptimError, Result};
pub use random_search::{RandomSearch, RandomSearchConfig, RandomSearchState, SearchStep};
pub use rmsprop::{Rmsprop, RmspropConfig};
pub use schedule::{PlateauConfig, Schedule, ScheduleKind, ScheduleState, Warmup};
pub use sgd::{Sgd, SgdConfig};

use std::fmt;
use std::str::FromStr;

/// What a step reports to the trainer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepInfo {
    /// `‖g‖₂` before clipping, when the config clips (`None` otherwise: the
    /// norm pass is skipped).
    pub grad_norm: Option<f32>,
    /// The factor the gradient was multiplied by (1 without clipping).
    pub clip_scale: f32,
}

/// An optimizer's checkpoint: the step count and its named state buffers
/// (empty before the first step).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OptimState {
    /// Steps taken.
    pub step: u64,
    /// `(name, buffer)` pairs, e.g. `("exp_avg", m)`.
    pub buffers: Vec<(String, Vec<f32>)>,
}

/// A gradient-based optimizer over a flat parameter buffer.
pub trait Optimizer: Send {
    /// Short name, e.g. `"adam"`, `"nesterov"`.
    fn name(&self) -> &'static str;

    /// One update of `params` from `grads` (same length; after the first
    /// step, also the length of the state). Errors on a length mismatch,
    /// leaving everything untouched.
    fn step(&mut self, params: &mut [f32], grads: &[f32]) -> Result<StepInfo> {
        self.step_with_norm(params, grads, None)
    }

    /// As [`Optimizer::step`], given `norm = ‖grads‖₂` when the caller has
    /// already computed it (a trainer that logs it and checks it for
    /// divergence): gradient clipping then uses it instead of a second
    /// pass over the gradients. With `None` the norm is computed here, and
    /// only when the config clips.
    fn step_with_norm(
        &mut self,
        params: &mut [f32],
        grads: &[f32],
        norm: Option<f32>,
    ) -> Result<StepInfo>;

    /// The current learning rate.
    fn lr(&self) -> f32;

    /// Sets the learning rate (finite, ≥ 0), e.g. from a [`Schedule`].
    fn set_lr(&mut self, lr: f32) -> Result<()>;

    /// Steps taken.
    fn steps(&self) -> u64;

    /// The step count and state buffers, for a checkpoint.
    fn export_state(&self) -> OptimState;

    /// Restores a checkpoint taken from an optimizer with the same config:
    /// the buffer names must be exactly those this config uses, all of one
    /// length, and present iff `step > 0`.
    fn import_state(&mut self, state: &OptimState) -> Result<()>;
}

/// The optimizers [`build`] knows, by CLI name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OptimizerKind {
    /// Plain SGD (`sgd`).
    Sgd,
    /// SGD with heavy-ball momentum (`momentum`).
    Momentum,
    /// SGD with Nesterov momentum (`nesterov`).
    Nesterov,
    /// AdaGrad (`adagrad`).
    Adagrad,
    /// RMSprop (`rmsprop`).
    Rmsprop,
    /// Adam (`adam`).
    Adam,
    /// AdamW (`adamw`).
    Adamw,
}

impl OptimizerKind {
    /// Every kind, in CLI order.
    pub const ALL: [OptimizerKind; 7] = [
        OptimizerKind::Sgd,
        OptimizerKind::Momentum,
        OptimizerKind::Nesterov,
        OptimizerKind::Adagrad,
        OptimizerKind::Rmsprop,
        OptimizerKind::Adam,
        OptimizerKind::Adamw,
    ];

    /// The CLI name.
    pub fn as_str(&self) -> &'static str {
        match self {
            OptimizerKind::Sgd => "sgd",
            OptimizerKind::Momentum => "momentum",
            OptimizerKind::Nesterov => "nesterov",
            OptimizerKind::Adagrad => "adagrad",
            OptimizerKind::Rmsprop => "rmsprop",
            OptimizerKind::Adam => "adam",
            OptimizerKind::Adamw => "adamw",
        }
    }
}

impl fmt::Display for OptimizerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OptimizerKind {
    type Err = OptimError;

    /// Parses a CLI name (case-insensitive).
    fn from_str(s: &str) -> Result<Self> {
        let l = s.to_ascii_lowercase();
        OptimizerKind::ALL
            .into_iter()
            .find(|k| k.as_str() == l)
            .ok_or_else(|| OptimError::UnknownOptimizer {
                name: s.to_string(),
            })
    }
}

/// The common knobs [`build`] takes; `None` means the kind's default.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct BuildConfig {
    /// Learning rate (default: PyTorch's for the kind).
    pub lr: Option<f32>,
    /// Momentum (SGD kinds and RMSprop only; `momentum` and `nesterov`
    /// default to 0.9, PyTorch has no default there).
    pub momentum: Option<f32>,
    /// Weight decay (default: PyTorch's for the kind: 0, or 1e-2 for AdamW).
    pub weight_decay: Option<f32>,
    /// Step uphill.
    pub maximize: bool,
    /// Clip the gradient to this global L2 norm.
    pub clip_norm: Option<f32>,
}

/// Builds an optimizer of `kind` from PyTorch's defaults overridden by `cfg`;
/// fails naming the invalid field (or `momentum` for a kind without it).
pub fn build(kind: OptimizerKind, cfg: &BuildConfig) -> Result<Box<dyn Optimizer>> {
    let no_momentum = |name: &'static str| match cfg.momentum {
        Some(m) => Err(OptimError::InvalidConfig {
            optimizer: name,
            field: "momentum",
            value: m.to_string(),
            reason: "this optimizer has no momentum option",
        }),
        None => Ok(()),
    };
    Ok(match kind {
        OptimizerKind::Sgd | OptimizerKind::Momentum | OptimizerKind::Nesterov => {
            let d = SgdConfig::default();
            let default_mu = if kind == OptimizerKind::Sgd { 0.0 } else { 0.9 };
            Box::new(Sgd::new(SgdConfig {
                lr: cfg.lr.unwrap_or(d.lr),
                momentum: cfg.momentum.unwrap_or(default_mu),
                weight_decay: cfg.weight_decay.unwrap_or(d.weight_decay),
                nesterov: kind == OptimizerKind::Nesterov,
                maximize: cfg.maximize,
                clip_norm: cfg.clip_norm,
                ..d
            })?)
        }
        OptimizerKind::Adagrad => {
            no_momentum("adagrad")?;
            let d = AdagradConfig::default();
            Box::new(Adagrad::new(AdagradConfig {
                lr: cfg.lr.unwrap_or(d.lr),
                weight_decay: cfg.weight_decay.unwrap_or(d.weight_decay),
                maximize: cfg.maximize,
                clip_norm: cfg.clip_norm,
                ..d
            })?)
        }
        OptimizerKind::Rmsprop => {
            let d = RmspropConfig::default();
            Box::new(Rmsprop::new(RmspropConfig {
                lr: cfg.lr.unwrap_or(d.lr),
                momentum: cfg.momentum.unwrap_or(d.momentum),
                weight_decay: cfg.weight_decay.unwrap_or(d.weight_decay),
                maximize: cfg.maximize,
                clip_norm: cfg.clip_norm,
                ..d
            })?)
        }
        OptimizerKind::Adam | OptimizerKind::Adamw => {
            let d = if kind == OptimizerKind::Adam {
                no_momentum("adam")?;
                AdamConfig::default()
            } else {
                no_momentum("adamw")?;
                AdamConfig::adamw()
            };
            Box::new(Adam::new(AdamConfig {
                lr: cfg.lr.unwrap_or(d.lr),
                weight_decay: cfg.weight_decay.unwrap_or(d.weight_decay),
                maximize: cfg.maximize,
                clip_norm: cfg.clip_norm,
                ..d
            })?)
        }
    })
}
