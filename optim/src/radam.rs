//! RAdam: Adam whose adaptive step is rectified, and off while the variance
//! of its estimate is intractable.

use crate::common;
use crate::driver::{torch_fields, Driven, Rule, Slots};
use crate::error::Result;
use crate::hyper::{FromHyper, Hyper};
use descent_core::simd::Wide;
use descent_core::step::{radam, GradIn, RadamStep};

const NAME: &str = "radam";

/// Configuration of [`Radam`]; the fields are `torch.optim.RAdam`'s
/// (`betas` as two fields).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RadamConfig {
    /// Learning rate γ (finite, ≥ 0).
    pub lr: f32,
    /// β₁, decay of the first moment, in [0, 1).
    pub beta1: f32,
    /// β₂, decay of the second moment, in [0, 1).
    pub beta2: f32,
    /// ε added to `√v` (finite, > 0).
    pub eps: f32,
    /// Weight decay λ (finite, ≥ 0): L2, or decoupled with
    /// `decoupled_weight_decay`.
    pub weight_decay: f32,
    /// Decay the weights themselves, `p ← p·(1 − γ·λ)`, as AdamW.
    pub decoupled_weight_decay: bool,
    /// Step uphill: maximize the objective instead of minimizing it.
    pub maximize: bool,
    /// Clip the gradient to this global L2 norm before the step.
    pub clip_norm: Option<f32>,
}

impl Default for RadamConfig {
    /// PyTorch's defaults: `lr = 1e-3`, `betas = (0.9, 0.999)`,
    /// `eps = 1e-8`, `weight_decay = 0`, not decoupled; no clipping.
    fn default() -> Self {
        RadamConfig {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            decoupled_weight_decay: false,
            maximize: false,
            clip_norm: None,
        }
    }
}

impl RadamConfig {
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

/// RAdam, as `torch.optim.RAdam`:
///
/// `g ← ±g·clip + λ·p` (or `p ← p·(1 − γ·λ)` decoupled);
/// `m ← β₁·m + (1 − β₁)·g`; `v ← β₂·v + (1 − β₂)·g²`;
/// `ρ∞ = 2/(1 − β₂) − 1`, `ρₜ = ρ∞ − 2t·β₂ᵗ/(1 − β₂ᵗ)`;
/// if `ρₜ > 5`: `r = √((ρₜ−4)(ρₜ−2)ρ∞ / ((ρ∞−4)(ρ∞−2)ρₜ))` and
/// `p ← p − γ·r·√(1 − β₂ᵗ)/(1 − β₁ᵗ) · m/(√v + ε)`;
/// else `p ← p − γ/(1 − β₁ᵗ) · m` (SGD with momentum).
///
/// Liu et al., "On the Variance of the Adaptive Learning Rate and
/// Beyond", ICLR 2020, <https://arxiv.org/abs/1908.03265>. With the default
/// β₂ the adaptive step starts at step 6.
///
/// The per-step factor is one `f64` constant, so the kernel does one
/// multiply where torch does three tensor products; the results agree to
/// an ulp or two. Departures from PyTorch: `eps = 0` is rejected, and
/// `clip_norm` is built in. State: `"exp_avg"`, `"exp_avg_sq"`.
pub type Radam = Driven<RadamConfig>;

impl Rule for RadamConfig {
    type Step = RadamStep;
    const SLOTS: &'static [&'static str] = &["exp_avg", "exp_avg_sq"];

    fn name(&self) -> &'static str {
        NAME
    }

    fn validate(&self) -> Result<()> {
        RadamConfig::validate(self)
    }

    torch_fields!();

    fn step(&self, t: u64, _first: bool, grad_scale: f32, _carry: &mut [f64]) -> RadamStep {
        RadamStep::new(
            self.lr,
            self.beta1,
            self.beta2,
            self.eps,
            self.weight_decay,
            self.decoupled_weight_decay,
            t,
            grad_scale,
        )
    }

    fn update(&self, h: &RadamStep, p: &mut [f32], g: impl GradIn<Wide>, [m, v, ..]: Slots) {
        radam::<Wide>(p, g, m, v, h)
    }
}

impl FromHyper for RadamConfig {
    fn from_hyper(base: Self, h: &Hyper, lr: f32, clip_norm: Option<f32>, _seed: u64) -> Self {
        RadamConfig {
            lr,
            beta1: h.beta1.unwrap_or(base.beta1),
            beta2: h.beta2.unwrap_or(base.beta2),
            eps: h.eps.unwrap_or(base.eps),
            weight_decay: h.weight_decay.unwrap_or(base.weight_decay),
            decoupled_weight_decay: h.decoupled_weight_decay || base.decoupled_weight_decay,
            maximize: h.maximize,
            clip_norm,
        }
    }

    fn describe(&self) -> String {
        format!(
            "lr {}, betas ({}, {}), eps {}, weight_decay {}{}, maximize {}",
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
            self.maximize
        )
    }
}
