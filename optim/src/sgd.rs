//! Stochastic gradient descent, with optional heavy-ball or Nesterov momentum.

use crate::common;
use crate::driver::{torch_fields, Driven, Rule, Slots};
use crate::error::{OptimError, Result};
use crate::hyper::{FromHyper, Hyper};
use descent_core::simd::Wide;
use descent_core::step::{momentum, sgd, GradIn, MomentumStep, SgdStep};

const NAME: &str = "sgd";

/// Configuration of [`Sgd`]; the fields are `torch.optim.SGD`'s.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SgdConfig {
    /// Learning rate γ (finite, ≥ 0).
    pub lr: f32,
    /// Momentum μ (finite, ≥ 0); 0 is plain SGD with no state.
    pub momentum: f32,
    /// Dampening τ of the momentum buffer, in [0, 1].
    pub dampening: f32,
    /// L2 weight decay λ (finite, ≥ 0), added to the gradient.
    pub weight_decay: f32,
    /// Nesterov momentum (needs μ > 0 and τ = 0).
    pub nesterov: bool,
    /// Step uphill: maximize the objective instead of minimizing it.
    pub maximize: bool,
    /// Clip the gradient to this global L2 norm before the step (not a
    /// `torch.optim` option: PyTorch does it with `clip_grad_norm_`).
    pub clip_norm: Option<f32>,
}

impl Default for SgdConfig {
    /// PyTorch's defaults (torch ≥ 2.4): `lr = 1e-3`, no momentum, no
    /// dampening, no weight decay, no Nesterov; no clipping.
    fn default() -> Self {
        SgdConfig {
            lr: 1e-3,
            momentum: 0.0,
            dampening: 0.0,
            weight_decay: 0.0,
            nesterov: false,
            maximize: false,
            clip_norm: None,
        }
    }
}

impl SgdConfig {
    /// Checks every field; the error names the first invalid one.
    pub fn validate(&self) -> Result<()> {
        common::non_negative(NAME, "lr", self.lr)?;
        common::non_negative(NAME, "momentum", self.momentum)?;
        common::closed_unit(NAME, "dampening", self.dampening)?;
        common::non_negative(NAME, "weight_decay", self.weight_decay)?;
        if self.nesterov && (self.momentum <= 0.0 || self.dampening != 0.0) {
            return Err(OptimError::InvalidConfig {
                optimizer: NAME,
                field: "nesterov",
                value: format!(
                    "true (momentum = {}, dampening = {})",
                    self.momentum, self.dampening
                ),
                reason: "Nesterov momentum requires momentum > 0 and dampening = 0",
            });
        }
        common::clip(NAME, self.clip_norm)
    }
}

/// SGD, heavy-ball momentum and Nesterov momentum, exactly as
/// `torch.optim.SGD`:
///
/// `g ← ±g·clip + λ·p`; with μ > 0: `b ← g` on the first step, then
/// `b ← μ·b + (1 − τ)·g`, and `g ← g + μ·b` (Nesterov) or `g ← b`;
/// finally `p ← p − γ·g`.
///
/// This is PyTorch's momentum form (the learning rate multiplies the
/// buffer), not Sutskever et al.'s (where it is inside the buffer); the two
/// differ when γ changes during training. Nesterov: Sutskever, Martens, Dahl,
/// Hinton, "On the importance of initialization and momentum in deep
/// learning", ICML 2013, <http://proceedings.mlr.press/v28/sutskever13.html>.
///
/// Departures from PyTorch: `maximize` negates the gradient before weight
/// decay (as PyTorch's code does, not as its docs' pseudo-code says), and
/// `clip_norm` is built in. Batch, pure and mini-batch SGD are this one rule
/// driven with different batch sizes (see the crate docs).
///
/// State: `"momentum_buffer"` when μ > 0.
pub type Sgd = Driven<SgdConfig>;
impl Rule for SgdConfig {
    type Step = SgdRule;
    const SLOTS: &'static [&'static str] = &["momentum_buffer"];
    // Bound by its streams: a factored step saves dW's write and read-back.
    const PREFERS_FACTORED: bool = true;

    fn name(&self) -> &'static str {
        match (self.momentum != 0.0, self.nesterov) {
            (false, _) => "sgd",
            (true, false) => "momentum",
            (true, true) => "nesterov",
        }
    }

    fn validate(&self) -> Result<()> {
        SgdConfig::validate(self)
    }

    fn uses(&self, _slot: usize) -> bool {
        self.momentum != 0.0
    }

    torch_fields!();

    fn step(&self, _t: u64, first: bool, grad_scale: f32, _carry: &mut [f64]) -> SgdRule {
        if self.momentum == 0.0 {
            SgdRule::Plain(SgdStep {
                lr: self.lr,
                weight_decay: self.weight_decay,
                grad_scale,
            })
        } else {
            SgdRule::Momentum(MomentumStep {
                lr: self.lr,
                weight_decay: self.weight_decay,
                momentum: self.momentum,
                dampening: self.dampening,
                nesterov: self.nesterov,
                first_step: first,
                grad_scale,
            })
        }
    }

    fn descent_rate(&self, grad_scale: f32) -> Option<f32> {
        // `sgd` is `lr.mul_neg_add(s·g, p)` with s = ±1 and no decay: the
        // same product as `(s·lr).mul_neg_add(g, p)`.
        (self.momentum == 0.0 && self.weight_decay == 0.0).then_some(self.lr * grad_scale)
    }

    fn descent_momentum(&self, grad_scale: f32) -> Option<MomentumStep> {
        // `momentum` with no decay after its first step: `g ← s·g`, the
        // buffer, the step, which the GEMM's store repeats operation for
        // operation, with the constants `step` gives the stored path.
        match self.step(0, false, grad_scale, &mut []) {
            SgdRule::Momentum(h) if h.weight_decay == 0.0 => Some(h),
            _ => None,
        }
    }

    fn update(&self, step: &SgdRule, p: &mut [f32], g: impl GradIn<Wide>, [b, ..]: Slots) {
        match step {
            SgdRule::Plain(h) => sgd::<Wide>(p, g, h),
            SgdRule::Momentum(h) => momentum::<Wide>(p, g, b, h),
        }
    }
}

/// The scalars of one SGD step: plain, or with a momentum buffer.
#[derive(Debug, Clone, Copy)]
pub enum SgdRule {
    /// μ = 0: `p ← p − γ·(g + λ·p)`.
    Plain(SgdStep),
    /// μ > 0: heavy-ball or Nesterov.
    Momentum(MomentumStep),
}

impl FromHyper for SgdConfig {
    fn from_hyper(base: Self, h: &Hyper, lr: f32, clip_norm: Option<f32>, _seed: u64) -> Self {
        SgdConfig {
            lr,
            momentum: h.momentum.unwrap_or(base.momentum),
            dampening: h.dampening.unwrap_or(base.dampening),
            weight_decay: h.weight_decay.unwrap_or(base.weight_decay),
            maximize: h.maximize,
            clip_norm,
            ..base
        }
    }

    fn describe(&self) -> String {
        format!(
            "lr {}, momentum {}, dampening {}, weight_decay {}, nesterov {}, maximize {}",
            self.lr, self.momentum, self.dampening, self.weight_decay, self.nesterov, self.maximize
        )
    }
}
