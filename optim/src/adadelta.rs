//! Adadelta: a step scaled by the ratio of two running RMS values.

use crate::common;
use crate::driver::{torch_fields, Driven, Rule, Slots};
use crate::error::Result;
use crate::hyper::{FromHyper, Hyper};
use descent_core::simd::Wide;
use descent_core::step::{adadelta, AdadeltaStep, GradIn};

const NAME: &str = "adadelta";

/// Configuration of [`Adadelta`]; the fields are `torch.optim.Adadelta`'s.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdadeltaConfig {
    /// Learning rate γ (finite, ≥ 0), a factor on the computed step.
    pub lr: f32,
    /// ρ, decay of both running averages, in [0, 1].
    pub rho: f32,
    /// ε inside both square roots (finite, > 0).
    pub eps: f32,
    /// L2 weight decay λ (finite, ≥ 0), added to the gradient.
    pub weight_decay: f32,
    /// Step uphill: maximize the objective instead of minimizing it.
    pub maximize: bool,
    /// Clip the gradient to this global L2 norm before the step.
    pub clip_norm: Option<f32>,
}

impl Default for AdadeltaConfig {
    /// PyTorch's defaults: `lr = 1`, `rho = 0.9`, `eps = 1e-6`,
    /// `weight_decay = 0`; no clipping.
    fn default() -> Self {
        AdadeltaConfig {
            lr: 1.0,
            rho: 0.9,
            eps: 1e-6,
            weight_decay: 0.0,
            maximize: false,
            clip_norm: None,
        }
    }
}

impl AdadeltaConfig {
    /// Checks every field; the error names the first invalid one.
    pub fn validate(&self) -> Result<()> {
        common::non_negative(NAME, "lr", self.lr)?;
        common::closed_unit(NAME, "rho", self.rho)?;
        common::positive(NAME, "eps", self.eps)?;
        common::non_negative(NAME, "weight_decay", self.weight_decay)?;
        common::clip(NAME, self.clip_norm)
    }
}

/// Adadelta, as `torch.optim.Adadelta`:
///
/// `g ← ±g·clip + λ·p`; `v ← ρ·v + (1 − ρ)·g²`;
/// `Δ = √(u + ε) / √(v + ε) · g`; `u ← ρ·u + (1 − ρ)·Δ²`; `p ← p − γ·Δ`.
///
/// Zeiler, "ADADELTA: An Adaptive Learning Rate Method", 2012,
/// <https://arxiv.org/abs/1212.5701>. The paper has no learning rate
/// (γ = 1, PyTorch's default).
///
/// Departures from PyTorch: `eps = 0` is rejected (the first step would be
/// 0/0), and `clip_norm` is built in. State: `"square_avg"`, `"acc_delta"`.
pub type Adadelta = Driven<AdadeltaConfig>;

impl Rule for AdadeltaConfig {
    type Step = AdadeltaStep;
    const SLOTS: &'static [&'static str] = &["square_avg", "acc_delta"];

    fn name(&self) -> &'static str {
        NAME
    }

    fn validate(&self) -> Result<()> {
        AdadeltaConfig::validate(self)
    }

    torch_fields!();

    fn step(&self, _t: u64, _first: bool, grad_scale: f32, _carry: &mut [f64]) -> AdadeltaStep {
        AdadeltaStep {
            lr: self.lr,
            rho: self.rho,
            eps: self.eps,
            weight_decay: self.weight_decay,
            grad_scale,
        }
    }

    fn update(&self, h: &AdadeltaStep, p: &mut [f32], g: impl GradIn<Wide>, [v, u, ..]: Slots) {
        adadelta::<Wide>(p, g, v, u, h)
    }
}

impl FromHyper for AdadeltaConfig {
    fn from_hyper(base: Self, h: &Hyper, lr: f32, clip_norm: Option<f32>, _seed: u64) -> Self {
        AdadeltaConfig {
            lr,
            rho: h.rho.unwrap_or(base.rho),
            eps: h.eps.unwrap_or(base.eps),
            weight_decay: h.weight_decay.unwrap_or(base.weight_decay),
            maximize: h.maximize,
            clip_norm,
        }
    }

    fn describe(&self) -> String {
        format!(
            "lr {}, rho {}, eps {}, weight_decay {}, maximize {}",
            self.lr, self.rho, self.eps, self.weight_decay, self.maximize
        )
    }
}
