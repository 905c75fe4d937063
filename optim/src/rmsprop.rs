//! RMSprop: divide by a running root-mean-square of the gradients.

use crate::common;
use crate::driver::{torch_fields, Driven, Rule, Slots};
use crate::error::Result;
use crate::hyper::{FromHyper, Hyper};
use descent_core::simd::Wide;
use descent_core::step::{rmsprop, GradIn, RmspropState, RmspropStep};

const NAME: &str = "rmsprop";

/// Configuration of [`Rmsprop`]; the fields are `torch.optim.RMSprop`'s.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RmspropConfig {
    /// Learning rate γ (finite, ≥ 0).
    pub lr: f32,
    /// Smoothing constant α, in [0, 1].
    pub alpha: f32,
    /// ε added to the root (finite, > 0).
    pub eps: f32,
    /// L2 weight decay λ (finite, ≥ 0), added to the gradient.
    pub weight_decay: f32,
    /// Momentum μ (finite, ≥ 0); 0 keeps no momentum buffer.
    pub momentum: f32,
    /// Centered: normalise by an estimate of the gradient's variance.
    pub centered: bool,
    /// Step uphill: maximize the objective instead of minimizing it.
    pub maximize: bool,
    /// Clip the gradient to this global L2 norm before the step.
    pub clip_norm: Option<f32>,
}

impl Default for RmspropConfig {
    /// PyTorch's defaults: `lr = 1e-2`, `alpha = 0.99`, `eps = 1e-8`, no
    /// weight decay, no momentum, not centered; no clipping.
    fn default() -> Self {
        RmspropConfig {
            lr: 1e-2,
            alpha: 0.99,
            eps: 1e-8,
            weight_decay: 0.0,
            momentum: 0.0,
            centered: false,
            maximize: false,
            clip_norm: None,
        }
    }
}

impl RmspropConfig {
    /// Checks every field; the error names the first invalid one.
    pub fn validate(&self) -> Result<()> {
        common::non_negative(NAME, "lr", self.lr)?;
        common::closed_unit(NAME, "alpha", self.alpha)?;
        common::positive(NAME, "eps", self.eps)?;
        common::non_negative(NAME, "weight_decay", self.weight_decay)?;
        common::non_negative(NAME, "momentum", self.momentum)?;
        common::clip(NAME, self.clip_norm)
    }
}

/// RMSprop, as `torch.optim.RMSprop`: `g ← ±g·clip + λ·p`,
/// `v ← α·v + (1 − α)·g²`; centered: `ḡ ← α·ḡ + (1 − α)·g` and
/// `d = √(v − ḡ²) + ε`, else `d = √v + ε`; with momentum `b ← μ·b + g/d`,
/// `p ← p − γ·b`, else `p ← p − γ·g/d`.
///
/// Hinton, Srivastava, Swersky, "Neural Networks for Machine Learning",
/// lecture 6e (2012),
/// <https://www.cs.toronto.edu/~tijmen/csc321/slides/lecture_slides_lec6.pdf>;
/// centered form: Graves, "Generating Sequences With Recurrent Neural
/// Networks" (2013), <https://arxiv.org/abs/1308.0850>.
///
/// Departures from PyTorch: `eps = 0` and `alpha > 1` are rejected (PyTorch
/// only requires ≥ 0), and `clip_norm` is built in. Like PyTorch, ε is added
/// outside the root, and all buffers start at zero (so early steps are large
/// — there is no bias correction).
///
/// State: `"square_avg"`, plus `"grad_avg"` (centered) and
/// `"momentum_buffer"` (μ > 0).
pub type Rmsprop = Driven<RmspropConfig>;

impl Rule for RmspropConfig {
    type Step = RmspropStep;
    const SLOTS: &'static [&'static str] = &["square_avg", "grad_avg", "momentum_buffer"];

    fn name(&self) -> &'static str {
        NAME
    }

    fn validate(&self) -> Result<()> {
        RmspropConfig::validate(self)
    }

    fn uses(&self, slot: usize) -> bool {
        match slot {
            0 => true,
            1 => self.centered,
            _ => self.momentum > 0.0,
        }
    }

    torch_fields!();

    fn step(&self, _t: u64, _first: bool, grad_scale: f32, _carry: &mut [f64]) -> RmspropStep {
        RmspropStep {
            lr: self.lr,
            alpha: self.alpha,
            eps: self.eps,
            weight_decay: self.weight_decay,
            momentum: self.momentum,
            grad_scale,
        }
    }

    fn update(&self, h: &RmspropStep, p: &mut [f32], g: impl GradIn<Wide>, [sq, ga, mb, _]: Slots) {
        let state = RmspropState {
            square_avg: sq,
            grad_avg: self.centered.then_some(ga),
            momentum_buffer: (self.momentum > 0.0).then_some(mb),
        };
        rmsprop::<Wide>(p, g, state, h)
    }
}

impl FromHyper for RmspropConfig {
    fn from_hyper(base: Self, h: &Hyper, lr: f32, clip_norm: Option<f32>, _seed: u64) -> Self {
        RmspropConfig {
            lr,
            alpha: h.alpha.unwrap_or(base.alpha),
            eps: h.eps.unwrap_or(base.eps),
            weight_decay: h.weight_decay.unwrap_or(base.weight_decay),
            momentum: h.momentum.unwrap_or(base.momentum),
            centered: h.centered,
            maximize: h.maximize,
            clip_norm,
        }
    }

    fn describe(&self) -> String {
        format!(
            "lr {}, alpha {}, eps {}, weight_decay {}, momentum {}, centered {}, maximize {}",
            self.lr,
            self.alpha,
            self.eps,
            self.weight_decay,
            self.momentum,
            self.centered,
            self.maximize
        )
    }
}
