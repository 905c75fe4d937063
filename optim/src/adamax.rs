//! Adamax: Adam with the infinity norm in place of the second moment.

use crate::common;
use crate::driver::{torch_fields, Driven, Rule, Slots};
use crate::error::Result;
use crate::hyper::{FromHyper, Hyper};
use descent_core::simd::Wide;
use descent_core::step::{adamax, AdamaxStep, GradIn};

const NAME: &str = "adamax";

/// Configuration of [`Adamax`]; the fields are `torch.optim.Adamax`'s
/// (`betas` as two fields).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamaxConfig {
    /// Learning rate γ (finite, ≥ 0).
    pub lr: f32,
    /// β₁, decay of the first moment, in [0, 1).
    pub beta1: f32,
    /// β₂, decay of the infinity norm, in [0, 1).
    pub beta2: f32,
    /// ε added to `|g|` (finite, > 0).
    pub eps: f32,
    /// L2 weight decay λ (finite, ≥ 0), added to the gradient.
    pub weight_decay: f32,
    /// Step uphill: maximize the objective instead of minimizing it.
    pub maximize: bool,
    /// Clip the gradient to this global L2 norm before the step.
    pub clip_norm: Option<f32>,
}

impl Default for AdamaxConfig {
    /// PyTorch's defaults: `lr = 2e-3`, `betas = (0.9, 0.999)`,
    /// `eps = 1e-8`, `weight_decay = 0`; no clipping.
    fn default() -> Self {
        AdamaxConfig {
            lr: 2e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            maximize: false,
            clip_norm: None,
        }
    }
}

impl AdamaxConfig {
    /// Checks every field; the error names the first invalid one.
    pub fn validate(&self) -> Result<()> {
        common::non_negative(NAME, "lr", self.lr)?;
        common::half_open_unit(NAME, "beta1", self.beta1)?;
        common::half_open_unit(NAME, "beta2", self.beta2)?;
        common::positive(NAME, "eps", self.eps)?;
        common::non_negative(NAME, "weight_decay", self.weight_decay)?;
        common::clip(NAME, self.clip_norm)
    }
}

/// Adamax, as `torch.optim.Adamax`:
///
/// `g ← ±g·clip + λ·p`; `m ← β₁·m + (1 − β₁)·g`; `u ← max(β₂·u, |g| + ε)`;
/// `p ← p − (γ / (1 − β₁ᵗ))·m / u`, the bias correction in `f64`.
///
/// Kingma, Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015,
/// §7.1, <https://arxiv.org/abs/1412.6980>. As in PyTorch, ε is added to
/// `|g|` inside the maximum (the paper has no ε).
///
/// Departures from PyTorch: `eps = 0` is rejected, and `clip_norm` is
/// built in. State: `"exp_avg"`, `"exp_inf"`.
pub type Adamax = Driven<AdamaxConfig>;

impl Rule for AdamaxConfig {
    type Step = AdamaxStep;
    const SLOTS: &'static [&'static str] = &["exp_avg", "exp_inf"];

    fn name(&self) -> &'static str {
        NAME
    }

    fn validate(&self) -> Result<()> {
        AdamaxConfig::validate(self)
    }

    torch_fields!();

    fn step(&self, t: u64, _first: bool, grad_scale: f32, _carry: &mut [f64]) -> AdamaxStep {
        AdamaxStep::new(
            self.lr,
            self.beta1,
            self.beta2,
            self.eps,
            self.weight_decay,
            t,
            grad_scale,
        )
    }

    fn update(&self, h: &AdamaxStep, p: &mut [f32], g: impl GradIn<Wide>, [m, u, ..]: Slots) {
        adamax::<Wide>(p, g, m, u, h)
    }
}

impl FromHyper for AdamaxConfig {
    fn from_hyper(base: Self, h: &Hyper, lr: f32, clip_norm: Option<f32>, _seed: u64) -> Self {
        AdamaxConfig {
            lr,
            beta1: h.beta1.unwrap_or(base.beta1),
            beta2: h.beta2.unwrap_or(base.beta2),
            eps: h.eps.unwrap_or(base.eps),
            weight_decay: h.weight_decay.unwrap_or(base.weight_decay),
            maximize: h.maximize,
            clip_norm,
        }
    }

    fn describe(&self) -> String {
        format!(
            "lr {}, betas ({}, {}), eps {}, weight_decay {}, maximize {}",
            self.lr, self.beta1, self.beta2, self.eps, self.weight_decay, self.maximize
        )
    }
}
