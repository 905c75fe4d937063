//! NAdam: Adam with Nesterov momentum and a warming momentum schedule.

use crate::common;
use crate::driver::{torch_fields, Driven, Rule, Slots};
use crate::error::Result;
use crate::hyper::{FromHyper, Hyper};
use descent_core::simd::Wide;
use descent_core::step::{nadam, nadam_mu, GradIn, NadamStep};

const NAME: &str = "nadam";

/// Configuration of [`Nadam`]; the fields are `torch.optim.NAdam`'s
/// (`betas` as two fields).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NadamConfig {
    /// Learning rate γ (finite, ≥ 0).
    pub lr: f32,
    /// β₁, decay of the first moment, in [0, 1).
    pub beta1: f32,
    /// β₂, decay of the second moment, in [0, 1).
    pub beta2: f32,
    /// ε added to the bias-corrected root (finite, > 0).
    pub eps: f32,
    /// Weight decay λ (finite, ≥ 0): L2, or decoupled with
    /// `decoupled_weight_decay`.
    pub weight_decay: f32,
    /// ψ of the momentum schedule `μₜ = β₁·(1 − ½·0.96^(t·ψ))` (finite, ≥ 0).
    pub momentum_decay: f32,
    /// Decay the weights themselves, `p ← p·(1 − γ·λ)`, as AdamW (torch's
    /// `decoupled_weight_decay`, "NAdamW").
    pub decoupled_weight_decay: bool,
    /// Step uphill: maximize the objective instead of minimizing it.
    pub maximize: bool,
    /// Clip the gradient to this global L2 norm before the step.
    pub clip_norm: Option<f32>,
}

impl Default for NadamConfig {
    /// PyTorch's defaults: `lr = 2e-3`, `betas = (0.9, 0.999)`,
    /// `eps = 1e-8`, `weight_decay = 0`, `momentum_decay = 4e-3`, not
    /// decoupled; no clipping.
    fn default() -> Self {
        NadamConfig {
            lr: 2e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            momentum_decay: 4e-3,
            decoupled_weight_decay: false,
            maximize: false,
            clip_norm: None,
        }
    }
}

impl NadamConfig {
    /// Checks every field; the error names the first invalid one.
    pub fn validate(&self) -> Result<()> {
        common::non_negative(NAME, "lr", self.lr)?;
        common::half_open_unit(NAME, "beta1", self.beta1)?;
        common::half_open_unit(NAME, "beta2", self.beta2)?;
        common::positive(NAME, "eps", self.eps)?;
        common::non_negative(NAME, "weight_decay", self.weight_decay)?;
        common::non_negative(NAME, "momentum_decay", self.momentum_decay)?;
        common::clip(NAME, self.clip_norm)
    }
}

/// NAdam, as `torch.optim.NAdam`:
///
/// `g ← ±g·clip + λ·p` (or `p ← p·(1 − γ·λ)` decoupled);
/// `μₜ = β₁·(1 − ½·0.96^(t·ψ))`, `Πₜ = Πᵢ≤ₜ μᵢ`;
/// `m ← β₁·m + (1 − β₁)·g`; `v ← β₂·v + (1 − β₂)·g²`;
/// `d = √(v / (1 − β₂ᵗ)) + ε`;
/// `p ← p − γ(1 − μₜ)/(1 − Πₜ) · g/d − γμₜ₊₁/(1 − Πₜμₜ₊₁) · m/d`.
///
/// Dozat, "Incorporating Nesterov Momentum into Adam", ICLR 2016
/// workshop, <https://openreview.net/forum?id=OM0jvwB8jIp57ZJjtNEZ>.
/// `Πₜ` is carried from step to step as an `f32`, as PyTorch's
/// `mu_product` tensor, so it rounds as torch's does.
///
/// Departures from PyTorch: `eps = 0` is rejected, and `clip_norm` is
/// built in. State: `"exp_avg"`, `"exp_avg_sq"`, and the scalar
/// `"mu_product"`.
pub type Nadam = Driven<NadamConfig>;

impl Rule for NadamConfig {
    type Step = NadamStep;
    const SLOTS: &'static [&'static str] = &["exp_avg", "exp_avg_sq"];
    const CARRY: &'static [&'static str] = &["mu_product"];

    fn name(&self) -> &'static str {
        NAME
    }

    fn validate(&self) -> Result<()> {
        NadamConfig::validate(self)
    }

    torch_fields!();

    fn carry_init(&self, _i: usize) -> f64 {
        1.0
    }

    fn step(&self, t: u64, _first: bool, grad_scale: f32, carry: &mut [f64]) -> NadamStep {
        // torch: `mu_product *= mu`, an f32 tensor times a Python float,
        // which the kernel takes as an f32.
        let mu = nadam_mu(self.beta1, self.momentum_decay, t) as f32;
        let mu_product = carry[0] as f32 * mu;
        carry[0] = mu_product as f64;
        NadamStep::new(
            self.lr,
            self.beta1,
            self.beta2,
            self.eps,
            self.weight_decay,
            self.decoupled_weight_decay,
            self.momentum_decay,
            t,
            mu_product,
            grad_scale,
        )
    }

    fn update(&self, h: &NadamStep, p: &mut [f32], g: impl GradIn<Wide>, [m, v, ..]: Slots) {
        nadam::<Wide>(p, g, m, v, h)
    }
}

impl FromHyper for NadamConfig {
    fn from_hyper(base: Self, h: &Hyper, lr: f32, clip_norm: Option<f32>, _seed: u64) -> Self {
        NadamConfig {
            lr,
            beta1: h.beta1.unwrap_or(base.beta1),
            beta2: h.beta2.unwrap_or(base.beta2),
            eps: h.eps.unwrap_or(base.eps),
            weight_decay: h.weight_decay.unwrap_or(base.weight_decay),
            momentum_decay: h.momentum_decay.unwrap_or(base.momentum_decay),
            decoupled_weight_decay: h.decoupled_weight_decay || base.decoupled_weight_decay,
            maximize: h.maximize,
            clip_norm,
        }
    }

    fn describe(&self) -> String {
        format!(
            "lr {}, betas ({}, {}), eps {}, weight_decay {}{}, momentum_decay {}, maximize {}",
            self.lr,
            self.beta1,
            self.beta2,
            self.eps,
            self.weight_decay,
            if self.decoupled_weight_decay {
                " (decoupled)"
            } else {
                ""
            },
            self.momentum_decay,
            self.maximize
        )
    }
}
