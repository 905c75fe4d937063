//! Lion: the sign of an interpolated momentum, one state buffer.

use crate::common;
use crate::driver::{torch_fields, Driven, Rule, Slots};
use crate::error::Result;
use crate::hyper::{FromHyper, Hyper};
use descent_core::simd::Wide;
use descent_core::step::{lion, GradIn, LionStep};

const NAME: &str = "lion";

/// Configuration of [`Lion`]; the fields are the `lion-pytorch` package's
/// (`betas` as two fields).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LionConfig {
    /// Learning rate η (finite, ≥ 0).
    pub lr: f32,
    /// β₁, the interpolation of the update direction, in [0, 1).
    pub beta1: f32,
    /// β₂, the decay of the momentum, in [0, 1).
    pub beta2: f32,
    /// Decoupled weight decay λ (finite, ≥ 0): `p ← p·(1 − η·λ)`.
    pub weight_decay: f32,
    /// Step uphill: maximize the objective instead of minimizing it.
    pub maximize: bool,
    /// Clip the gradient to this global L2 norm before the step.
    pub clip_norm: Option<f32>,
}

impl Default for LionConfig {
    /// `lion-pytorch`'s defaults: `lr = 1e-4`, `betas = (0.9, 0.99)`,
    /// `weight_decay = 0`; no clipping.
    fn default() -> Self {
        LionConfig {
            lr: 1e-4,
            beta1: 0.9,
            beta2: 0.99,
            weight_decay: 0.0,
            maximize: false,
            clip_norm: None,
        }
    }
}

impl LionConfig {
    /// Checks every field; the error names the first invalid one.
    pub fn validate(&self) -> Result<()> {
        common::non_negative(NAME, "lr", self.lr)?;
        common::half_open_unit(NAME, "beta1", self.beta1)?;
        common::half_open_unit(NAME, "beta2", self.beta2)?;
        common::non_negative(NAME, "weight_decay", self.weight_decay)?;
        common::clip(NAME, self.clip_norm)
    }
}

/// Lion, as `lion-pytorch` computes it:
///
/// `g ← ±g·clip`; `p ← p·(1 − η·λ)`; `c = β₁·m + (1 − β₁)·g`;
/// `p ← p − η·sign(c)`; `m ← β₂·m + (1 − β₂)·g`.
///
/// Chen et al., "Symbolic Discovery of Optimization Algorithms", NeurIPS
/// 2023, <https://arxiv.org/abs/2302.06675>. Every coordinate moves by η
/// (or stays, where `c = 0`): a Lion lr is some 3–10× smaller than Adam's.
///
/// Departures from `lion-pytorch`: `maximize` (as torch's optimizers have
/// it) and `clip_norm` are built in. State: `"exp_avg"`.
pub type Lion = Driven<LionConfig>;

impl Rule for LionConfig {
    type Step = LionStep;
    const SLOTS: &'static [&'static str] = &["exp_avg"];

    fn name(&self) -> &'static str {
        NAME
    }

    fn validate(&self) -> Result<()> {
        LionConfig::validate(self)
    }

    torch_fields!();

    fn step(&self, _t: u64, _first: bool, grad_scale: f32, _carry: &mut [f64]) -> LionStep {
        LionStep::new(
            self.lr,
            self.beta1,
            self.beta2,
            self.weight_decay,
            grad_scale,
        )
    }

    fn update(&self, h: &LionStep, p: &mut [f32], g: impl GradIn<Wide>, [m, ..]: Slots) {
        lion::<Wide>(p, g, m, h)
    }
}

impl FromHyper for LionConfig {
    fn from_hyper(base: Self, h: &Hyper, lr: f32, clip_norm: Option<f32>, _seed: u64) -> Self {
        LionConfig {
            lr,
            beta1: h.beta1.unwrap_or(base.beta1),
            beta2: h.beta2.unwrap_or(base.beta2),
            weight_decay: h.weight_decay.unwrap_or(base.weight_decay),
            maximize: h.maximize,
            clip_norm,
        }
    }

    fn describe(&self) -> String {
        format!(
            "lr {}, betas ({}, {}), weight_decay {} (decoupled), maximize {}",
            self.lr, self.beta1, self.beta2, self.weight_decay, self.maximize
        )
    }
}
