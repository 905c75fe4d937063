//! Rprop: a step size per weight, moved by the gradient's sign alone.

use crate::common;
use crate::driver::{torch_fields, Driven, Rule, Slots};
use crate::error::{OptimError, Result};
use crate::hyper::{FromHyper, Hyper};
use descent_core::simd::Wide;
use descent_core::step::{rprop, GradIn, RpropStep};

const NAME: &str = "rprop";

/// Configuration of [`Rprop`]; the fields are `torch.optim.Rprop`'s
/// (`etas` and `step_sizes` as two fields each).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RpropConfig {
    /// The step size every weight starts with (finite, ≥ 0). Only the
    /// first step reads it, as in PyTorch: a schedule has no effect after.
    pub lr: f32,
    /// η₋, the factor after a sign change, in (0, 1).
    pub eta_minus: f32,
    /// η₊, the factor while the sign holds, > 1.
    pub eta_plus: f32,
    /// The smallest step size (finite, ≥ 0).
    pub step_min: f32,
    /// The largest step size (finite, ≥ `step_min`).
    pub step_max: f32,
    /// Step uphill: maximize the objective instead of minimizing it.
    pub maximize: bool,
    /// Clip the gradient to this global L2 norm before the step (which only
    /// the sign reaches: the clipping has no effect but to count).
    pub clip_norm: Option<f32>,
}

impl Default for RpropConfig {
    /// PyTorch's defaults: `lr = 1e-2`, `etas = (0.5, 1.2)`,
    /// `step_sizes = (1e-6, 50)`; no clipping.
    fn default() -> Self {
        RpropConfig {
            lr: 1e-2,
            eta_minus: 0.5,
            eta_plus: 1.2,
            step_min: 1e-6,
            step_max: 50.0,
            maximize: false,
            clip_norm: None,
        }
    }
}

impl RpropConfig {
    /// Checks every field; the error names the first invalid one.
    pub fn validate(&self) -> Result<()> {
        common::non_negative(NAME, "lr", self.lr)?;
        let bad = |field, value: f32, reason| OptimError::InvalidConfig {
            optimizer: NAME,
            field,
            value: value.to_string(),
            reason,
        };
        if !(self.eta_minus > 0.0 && self.eta_minus < 1.0) {
            return Err(bad("etas", self.eta_minus, "η₋ must be in (0, 1)"));
        }
        if !(self.eta_plus > 1.0 && self.eta_plus.is_finite()) {
            return Err(bad("etas", self.eta_plus, "η₊ must be finite and > 1"));
        }
        common::non_negative(NAME, "step_sizes", self.step_min)?;
        if !(self.step_max >= self.step_min && self.step_max.is_finite()) {
            return Err(bad(
                "step_sizes",
                self.step_max,
                "the largest step size must be finite and >= the smallest",
            ));
        }
        common::clip(NAME, self.clip_norm)
    }
}

/// Rprop, as `torch.optim.Rprop`:
///
/// `g ← ±g·clip`; `f = η₊` where `g·g_prev > 0`, `η₋` where `< 0`, else 1;
/// `δ ← clamp(δ·f, δ_min, δ_max)`; `g ← 0` where `g·g_prev < 0`;
/// `p ← p − sign(g)·δ`; `g_prev ← g`. The step sizes δ start at `lr`.
///
/// Riedmiller, Braun, "A Direct Adaptive Method for Faster Backpropagation
/// Learning: The RPROP Algorithm", ICNN 1993. This is the variant torch
/// implements (Rprop⁻ with the gradient zeroed after a sign change, so the
/// next step does not shrink δ again). A full-batch method by design: on
/// mini-batches the sign of the gradient flips with the batch.
///
/// PyTorch's Rprop has no weight decay, and neither has this one.
/// Departure: `clip_norm` is accepted (it cannot change a sign). State:
/// `"prev"`, `"step_size"`.
pub type Rprop = Driven<RpropConfig>;

impl Rule for RpropConfig {
    type Step = RpropStep;
    const SLOTS: &'static [&'static str] = &["prev", "step_size"];

    fn name(&self) -> &'static str {
        NAME
    }

    fn validate(&self) -> Result<()> {
        RpropConfig::validate(self)
    }

    torch_fields!();

    /// `prev` starts at 0, `step_size` at the learning rate.
    fn init(&self, slot: usize) -> f32 {
        if slot == 1 {
            self.lr
        } else {
            0.0
        }
    }

    fn step(&self, _t: u64, _first: bool, grad_scale: f32, _carry: &mut [f64]) -> RpropStep {
        RpropStep {
            eta_minus: self.eta_minus,
            eta_plus: self.eta_plus,
            step_min: self.step_min,
            step_max: self.step_max,
            grad_scale,
        }
    }

    fn update(&self, h: &RpropStep, p: &mut [f32], g: impl GradIn<Wide>, [prev, d, ..]: Slots) {
        rprop::<Wide>(p, g, prev, d, h)
    }
}

impl FromHyper for RpropConfig {
    fn from_hyper(base: Self, h: &Hyper, lr: f32, clip_norm: Option<f32>, _seed: u64) -> Self {
        let [eta_minus, eta_plus] = h.etas.unwrap_or([base.eta_minus, base.eta_plus]);
        let [step_min, step_max] = h.step_sizes.unwrap_or([base.step_min, base.step_max]);
        RpropConfig {
            lr,
            eta_minus,
            eta_plus,
            step_min,
            step_max,
            maximize: h.maximize,
            clip_norm,
        }
    }

    fn describe(&self) -> String {
        format!(
            "lr {}, etas ({}, {}), step_sizes ({}, {}), maximize {}",
            self.lr, self.eta_minus, self.eta_plus, self.step_min, self.step_max, self.maximize
        )
    }
}
