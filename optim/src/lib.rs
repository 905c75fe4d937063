//! # descent-optim
//!
//! descent's optimizers over a flat parameter buffer: all of a model's
//! parameters in one `&mut [f32]`, the gradients in one `&[f32]` of the same
//! layout, and state buffers of that length owned by the optimizer. Each
//! step is one fused pass over memory (the kernels live in
//! [`descent_core::step`]), preceded by one read-only pass over the
//! gradients for their norm.
//!
//! | type | rule | PyTorch |
//! |---|---|---|
//! | [`Sgd`] | SGD, heavy-ball momentum, Nesterov | `torch.optim.SGD` |
//! | [`Adagrad`] | AdaGrad | `torch.optim.Adagrad` |
//! | [`Rmsprop`] | RMSprop (centered, momentum) | `torch.optim.RMSprop` |
//! | [`Adam`] | Adam, AMSGrad, AdamW | `torch.optim.Adam`, `torch.optim.AdamW` |
//! | [`Adamax`] | Adamax | `torch.optim.Adamax` |
//! | [`Lion`] | Lion | `lion-pytorch`'s `Lion` |
//! | [`Adadelta`] | Adadelta | `torch.optim.Adadelta` |
//! | [`Nadam`] | NAdam (and NAdamW) | `torch.optim.NAdam` |
//! | [`Radam`] | RAdam (and RAdamW) | `torch.optim.RAdam` |
//! | [`Rprop`] | Rprop | `torch.optim.Rprop` |
//! | [`Asgd`] | averaged SGD | `torch.optim.ASGD` |
//! | [`Adafactor`] | Adafactor | `torch.optim.Adafactor` |
//! | [`Muon`] | Muon (AdamW on the vectors) | `torch.optim.Muon` |
//! | [`Lbfgs`] | L-BFGS (a closure re-evaluates the batch) | `torch.optim.LBFGS` |
//! | [`ScheduleFreeAdamw`] | Schedule-Free AdamW | `schedulefree`'s `AdamWScheduleFree` |
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
//! **The gradient norm is the optimizer's.** Every step first computes
//! `‖g‖₂` in one read-only pass and reports it in [`StepInfo::grad_norm`],
//! for the trainer to log and to watch for divergence. A non-finite norm
//! updates nothing ([`StepInfo::applied`] is false; PyTorch would write
//! NaN into every parameter). Every config has `clip_norm: Option<f32>`:
//! the kernels then multiply the gradient by `min(1, clip_norm/(‖g‖ +
//! 1e-6))` inside the same pass, as `torch.nn.utils.clip_grad_norm_`
//! followed by `step()` would.
//!
//! **One driver.** Every gradient rule runs on [`Driven`] (see
//! [`driver`]): a rule is its state slots, its hyper-parameters and one
//! fused kernel.
//!
//! **Checkpoints.** [`Optimizer::export_state`] returns the step count and
//! the named state buffers (PyTorch's `state_dict` names); importing them
//! into an optimizer with the same config continues bit for bit like an
//! uninterrupted run. Schedules ([`Schedule`]) and [`RandomSearch`] export
//! their own state the same way.

mod adadelta;
mod adafactor;
mod adagrad;
mod adam;
mod adamax;
mod asgd;
mod common;
pub mod driver;
pub mod error;
mod hyper;
mod kind;
pub mod landscape;
mod layout;
mod lbfgs;
mod lion;
mod muon;
mod nadam;
mod radam;
mod random_search;
mod rmsprop;
mod rprop;
pub mod schedule;
mod schedule_free;
mod sgd;

pub use adadelta::{Adadelta, AdadeltaConfig};
pub use adafactor::{Adafactor, AdafactorConfig};
pub use adagrad::{Adagrad, AdagradConfig};
pub use adam::{Adam, AdamConfig};
pub use adamax::{Adamax, AdamaxConfig};
pub use asgd::{Asgd, AsgdConfig};
pub use descent_core::gemm::DescentStep;
pub use descent_core::step::{Factor, Factored};
pub use descent_core::Compute;
pub use driver::{Driven, Rule};
pub use error::{OptimError, Result};
pub use hyper::{FromHyper, Hyper};
pub use kind::{OptimizerConfig, OptimizerKind, Updater};
pub use layout::Block;
pub use lbfgs::{two_loop, Lbfgs, LbfgsConfig, LbfgsInfo};
pub use lion::{Lion, LionConfig};
pub use muon::{newton_schulz, Muon, MuonConfig};
pub use nadam::{Nadam, NadamConfig};
pub use radam::{Radam, RadamConfig};
pub use random_search::{
    RandomSearch, RandomSearchConfig, RandomSearchState, SearchMode, SearchStep,
};
pub use rmsprop::{Rmsprop, RmspropConfig};
pub use rprop::{Rprop, RpropConfig};
pub use schedule::{PlateauConfig, Schedule, ScheduleKind, ScheduleState, Warmup};
pub use schedule_free::{ScheduleFreeAdamw, ScheduleFreeConfig};
pub use sgd::{Sgd, SgdConfig};

/// What a step reports to the trainer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepInfo {
    /// `‖g‖₂` of the gradient given, before clipping.
    pub grad_norm: f32,
    /// The factor the gradient was multiplied by (1 without clipping).
    pub clip_scale: f32,
    /// The parameters and the state were updated: false when `grad_norm`
    /// is not finite, and then nothing was touched (not even the step
    /// count).
    pub applied: bool,
}

/// An optimizer's checkpoint: the step count and its named state buffers
/// (empty before the first step).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OptimState {
    /// Steps taken.
    pub step: u64,
    /// `(name, buffer)` pairs, e.g. `("exp_avg", m)`.
    pub buffers: Vec<(String, Vec<f32>)>,
    /// `(name, value)` pairs of the scalars a rule carries between steps
    /// ([`Rule::CARRY`], e.g. NAdam's `("mu_product", Πμ)`); empty for
    /// most rules, and before the first step.
    pub scalars: Vec<(String, f64)>,
}

/// Where [`Optimizer::step`] may cut the flat buffers between threads:
/// multiples of 64 elements (four cache lines), so that no two threads
/// write one line and every piece starts on a SIMD vector boundary.
pub const ALIGN: usize = 64;
// Every width a kernel may run at divides the cut, so each piece starts on a
// vector boundary at any width, not only this build's.
const _: () = assert!(ALIGN % descent_core::simd::MAX_LANES == 0);

/// A gradient-based optimizer over a flat parameter buffer.
pub trait Optimizer: Send {
    /// Short name, e.g. `"adam"`, `"nesterov"`.
    fn name(&self) -> &'static str;

    /// One update of `params` from `grads` (same length; after the first
    /// step, also the length of the state), the fused pass split over
    /// `cx`'s threads: each updates a contiguous piece of the flat buffers,
    /// cut at multiples of [`ALIGN`] elements. The update is elementwise,
    /// so the result is the same bits for any thread count. Errors on a
    /// length mismatch, leaving everything untouched.
    fn step(&mut self, cx: &Compute, params: &mut [f32], grads: &[f32]) -> Result<StepInfo>;

    /// One update from a gradient given by its factors ([`Factored`]: each
    /// weight's `dYᵀ·X` and each bias's `Σ_b dY` at a few rows) instead of
    /// its values. The rule's kernel makes each element in registers as it
    /// reads it, so the gradient is never stored or read back. `norm` is
    /// `‖g‖₂` as the caller computed it from the factors (a rank-1 block's
    /// is `‖dy‖·‖x‖`); it is reported, never recomputed.
    ///
    /// Returns `None`, touching nothing, when this optimizer cannot take
    /// the step so: its rule is not elementwise (the default), or the step
    /// would depend on the norm's last bits (a non-finite or huge norm
    /// skips the step; a clipping factor other than 1 scales it). The
    /// caller then stores the gradient and calls [`Optimizer::step`]. When
    /// taken, the parameters and state are the bits [`Optimizer::step`]
    /// gives for the stored gradient.
    fn step_factored(
        &mut self,
        _cx: &Compute,
        _params: &mut [f32],
        _norm: f32,
        _grad: &dyn Factored,
    ) -> Result<Option<StepInfo>> {
        Ok(None)
    }

    /// Whether the update is elementwise (each parameter's new value from
    /// its own gradient and state alone), so that [`Optimizer::step_factored`]
    /// can take a step; false by default (Adafactor, Muon).
    fn elementwise(&self) -> bool {
        false
    }

    /// Whether a step from factors is also the faster one for this rule, so
    /// that a trainer should take it at a few rows ([`Rule::PREFERS_FACTORED`]);
    /// false by default.
    fn prefers_factored(&self) -> bool {
        false
    }

    /// The step a GEMM may apply to the weights as it makes their gradient
    /// (`descent_core::gemm::matmul_descend_with`), for a gradient whose
    /// norm is at most `bound`: `Some` when this step would be exactly that
    /// on every element, whatever g. That is plain SGD (no momentum, no
    /// weight decay: `p ← η.mul_neg_add(g, p)`, η = ±lr, − when
    /// maximizing), or SGD with momentum after its first step (no weight
    /// decay), with the momentum buffer for the caller to step in place;
    /// and a finite `bound` far below overflow (a non-finite norm would
    /// skip the step) with clipping, if any, idle at `bound`. `None` (the
    /// default) otherwise: the caller stores the gradient.
    fn descent(&mut self, _bound: f32) -> Option<DescentStep<'_>> {
        None
    }

    /// Completes a step whose `descended` ranges of `params` the caller
    /// has stepped already at [`Optimizer::descent`] (in order, not
    /// overlapping): counts it and steps the rest from `grads` (same
    /// length; the descended ranges of it are not read), as
    /// [`Optimizer::step`] would. `norm` is `‖g‖₂` as the caller summed
    /// it; it is reported, never recomputed. An optimizer without a
    /// descent rate fails (the default).
    fn step_descended(
        &mut self,
        _cx: &Compute,
        _params: &mut [f32],
        _grads: &[f32],
        _norm: f32,
        _descended: &[std::ops::Range<usize>],
    ) -> Result<StepInfo> {
        Err(OptimError::NoDescent {
            optimizer: self.name(),
        })
    }

    /// The current learning rate.
    fn lr(&self) -> f32;

    /// Sets the learning rate (finite, ≥ 0), e.g. from a [`Schedule`].
    fn set_lr(&mut self, lr: f32) -> Result<()>;

    /// Steps taken.
    fn steps(&self) -> u64;

    /// Tells the optimizer where each parameter tensor lies in the flat
    /// buffer (`blocks` tile it in order). The rules that treat matrices as
    /// matrices (Adafactor, Muon) need it, and check it; the elementwise
    /// rules ignore it. The trainer binds every optimizer it builds.
    fn bind(&mut self, _blocks: &[Block]) -> Result<()> {
        Ok(())
    }

    /// The weights to evaluate and to save as the model, when they are not
    /// `params`, the weights the gradient is taken at: Schedule-Free's
    /// averaged x (the reference's `optimizer.eval()`), computed from
    /// `params` (its y) and its state. `None` for every other rule, and
    /// before the first step.
    fn eval_weights(&self, _params: &[f32]) -> Option<Vec<f32>> {
        None
    }

    /// The step count and state buffers, for a checkpoint.
    fn export_state(&self) -> OptimState;

    /// Restores a checkpoint taken from an optimizer with the same config:
    /// the buffer names must be exactly those this config uses, all of one
    /// length, and present iff `step > 0`.
    fn import_state(&mut self, state: &OptimState) -> Result<()>;
}
