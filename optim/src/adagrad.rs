//! AdaGrad: per-coordinate learning rates from the sum of squared gradients.

use crate::common;
use crate::driver::{torch_fields, Driven, Rule, Slots};
use crate::error::Result;
use crate::hyper::{FromHyper, Hyper};
use descent_core::simd::Wide;
use descent_core::step::{adagrad, AdagradStep, GradIn};

const NAME: &str = "adagrad";

/// Configuration of [`Adagrad`]; the fields are `torch.optim.Adagrad`'s.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdagradConfig {
    /// Learning rate γ (finite, ≥ 0).
    pub lr: f32,
    /// Learning-rate decay η (finite, ≥ 0): step t uses `γ / (1 + (t − 1)·η)`.
    pub lr_decay: f32,
    /// L2 weight decay λ (finite, ≥ 0), added to the gradient.
    pub weight_decay: f32,
    /// Starting value of the accumulator `S` (finite, ≥ 0).
    pub initial_accumulator_value: f32,
    /// ε added to `√S` (finite, > 0).
    pub eps: f32,
    /// Step uphill: maximize the objective instead of minimizing it.
    pub maximize: bool,
    /// Clip the gradient to this global L2 norm before the step.
    pub clip_norm: Option<f32>,
}

impl Default for AdagradConfig {
    /// PyTorch's defaults: `lr = 1e-2`, `lr_decay = 0`, `weight_decay = 0`,
    /// `initial_accumulator_value = 0`, `eps = 1e-10`; no clipping.
    fn default() -> Self {
        AdagradConfig {
            lr: 1e-2,
            lr_decay: 0.0,
            weight_decay: 0.0,
            initial_accumulator_value: 0.0,
            eps: 1e-10,
            maximize: false,
            clip_norm: None,
        }
    }
}

impl AdagradConfig {
    /// Checks every field; the error names the first invalid one.
    pub fn validate(&self) -> Result<()> {
        common::non_negative(NAME, "lr", self.lr)?;
        common::non_negative(NAME, "lr_decay", self.lr_decay)?;
        common::non_negative(NAME, "weight_decay", self.weight_decay)?;
        common::non_negative(
            NAME,
            "initial_accumulator_value",
            self.initial_accumulator_value,
        )?;
        common::positive(NAME, "eps", self.eps)?;
        common::clip(NAME, self.clip_norm)
    }
}

/// AdaGrad, as `torch.optim.Adagrad`: `g ← ±g·clip + λ·p`, `S ← S + g²`,
/// `p ← p − γ_t·g / (√S + ε)` with `γ_t = γ / (1 + (t − 1)·η)`.
///
/// Duchi, Hazan, Singer, "Adaptive Subgradient Methods for Online Learning
/// and Stochastic Optimization", JMLR 12 (2011),
/// <https://jmlr.org/papers/v12/duchi11a.html>.
///
/// Departures from PyTorch: `eps = 0` is rejected (PyTorch allows it), and
/// `clip_norm` is built in. State: `"sum"`.
pub type Adagrad = Driven<AdagradConfig>;

impl Rule for AdagradConfig {
    type Step = AdagradStep;
    const SLOTS: &'static [&'static str] = &["sum"];

    fn name(&self) -> &'static str {
        NAME
    }

    fn validate(&self) -> Result<()> {
        AdagradConfig::validate(self)
    }

    fn init(&self, _slot: usize) -> f32 {
        self.initial_accumulator_value
    }

    torch_fields!();

    fn step(&self, t: u64, _first: bool, grad_scale: f32, _carry: &mut [f64]) -> AdagradStep {
        AdagradStep {
            clr: AdagradStep::decayed_lr(self.lr, self.lr_decay, t),
            weight_decay: self.weight_decay,
            eps: self.eps,
            grad_scale,
        }
    }

    fn update(&self, h: &AdagradStep, p: &mut [f32], g: impl GradIn<Wide>, [sum, ..]: Slots) {
        adagrad::<Wide>(p, g, sum, h)
    }
}

impl FromHyper for AdagradConfig {
    fn from_hyper(base: Self, h: &Hyper, lr: f32, clip_norm: Option<f32>, _seed: u64) -> Self {
        AdagradConfig {
            lr,
            lr_decay: h.lr_decay.unwrap_or(base.lr_decay),
            weight_decay: h.weight_decay.unwrap_or(base.weight_decay),
            initial_accumulator_value: h
                .initial_accumulator_value
                .unwrap_or(base.initial_accumulator_value),
            eps: h.eps.unwrap_or(base.eps),
            maximize: h.maximize,
            clip_norm,
        }
    }

    fn describe(&self) -> String {
        format!(
            "lr {}, lr_decay {}, weight_decay {}, initial_accumulator_value {}, eps {}, maximize {}",
            self.lr,
            self.lr_decay,
            self.weight_decay,
            self.initial_accumulator_value,
            self.eps,
            self.maximize
        )
    }
}
