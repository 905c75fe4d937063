//! ASGD: SGD with a decaying step and a running average of the weights.

use crate::common;
use crate::driver::{torch_fields, Driven, Rule, Slots};
use crate::error::Result;
use crate::hyper::{FromHyper, Hyper};
use descent_core::simd::Wide;
use descent_core::step::{asgd, decimal, AsgdStep, GradIn};

const NAME: &str = "asgd";

/// Configuration of [`Asgd`]; the fields are `torch.optim.ASGD`'s.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AsgdConfig {
    /// Learning rate γ (finite, ≥ 0).
    pub lr: f32,
    /// λ, the decay term (finite, ≥ 0).
    pub lambd: f32,
    /// α, the power of ηₜ's decay (finite, ≥ 0).
    pub alpha: f32,
    /// t₀, the step after which averaging starts (finite, ≥ 0).
    pub t0: f32,
    /// L2 weight decay (finite, ≥ 0), added to the gradient.
    pub weight_decay: f32,
    /// Step uphill: maximize the objective instead of minimizing it.
    pub maximize: bool,
    /// Clip the gradient to this global L2 norm before the step.
    pub clip_norm: Option<f32>,
}

impl Default for AsgdConfig {
    /// PyTorch's defaults: `lr = 1e-2`, `lambd = 1e-4`, `alpha = 0.75`,
    /// `t0 = 1e6`, `weight_decay = 0`; no clipping.
    fn default() -> Self {
        AsgdConfig {
            lr: 1e-2,
            lambd: 1e-4,
            alpha: 0.75,
            t0: 1e6,
            weight_decay: 0.0,
            maximize: false,
            clip_norm: None,
        }
    }
}

impl AsgdConfig {
    /// Checks every field; the error names the first invalid one.
    pub fn validate(&self) -> Result<()> {
        common::non_negative(NAME, "lr", self.lr)?;
        common::non_negative(NAME, "lambd", self.lambd)?;
        common::non_negative(NAME, "alpha", self.alpha)?;
        common::non_negative(NAME, "t0", self.t0)?;
        common::non_negative(NAME, "weight_decay", self.weight_decay)?;
        common::clip(NAME, self.clip_norm)
    }
}

/// Averaged SGD, as `torch.optim.ASGD`:
///
/// `g ← ±g·clip + λ_wd·p`; `p ← p·(1 − λ·ηₜ)`; `p ← p − ηₜ·g`;
/// `ax ← ax + μₜ·(p − ax)`; then, for the next step,
/// `ηₜ₊₁ = γ / (1 + λ·γ·t)^α` and `μₜ₊₁ = 1 / max(1, t − t₀)`
/// (`η₁ = γ`, `μ₁ = 1`).
///
/// Polyak, Juditsky, "Acceleration of Stochastic Approximation by
/// Averaging", SIAM J. Control Optim. 30(4), 1992. η and μ are carried
/// between steps as `f32`, as torch's state tensors, so a learning-rate
/// schedule reaches η one step later, as in torch. The averaged weights
/// `ax` are state: the model trained and evaluated is `p`, as in torch
/// (`ax` equals `p` until step t₀, 10⁶ by default).
///
/// Departure from PyTorch: `clip_norm` is built in. State: `"ax"`, and the
/// scalars `"eta"` and `"mu"`.
pub type Asgd = Driven<AsgdConfig>;

impl Rule for AsgdConfig {
    type Step = AsgdStep;
    const SLOTS: &'static [&'static str] = &["ax"];
    const CARRY: &'static [&'static str] = &["eta", "mu"];

    fn name(&self) -> &'static str {
        NAME
    }

    fn validate(&self) -> Result<()> {
        AsgdConfig::validate(self)
    }

    torch_fields!();

    fn carry_init(&self, i: usize) -> f64 {
        if i == 0 {
            // torch: `torch.as_tensor(lr)`, an f32 tensor.
            self.lr as f64
        } else {
            1.0
        }
    }

    fn step(&self, t: u64, _first: bool, grad_scale: f32, carry: &mut [f64]) -> AsgdStep {
        let h = AsgdStep::new(
            carry[0] as f32,
            carry[1] as f32,
            self.lambd,
            self.weight_decay,
            grad_scale,
        );
        // torch's new eta and mu, stored in its f32 tensors.
        let (lr, lambd, t) = (decimal(self.lr), decimal(self.lambd), t as f64);
        carry[0] = ((lr / (1.0 + lambd * lr * t).powf(decimal(self.alpha))) as f32) as f64;
        carry[1] = ((1.0 / (t - decimal(self.t0)).max(1.0)) as f32) as f64;
        h
    }

    fn update(&self, h: &AsgdStep, p: &mut [f32], g: impl GradIn<Wide>, [ax, ..]: Slots) {
        asgd::<Wide>(p, g, ax, h)
    }
}

impl FromHyper for AsgdConfig {
    fn from_hyper(base: Self, h: &Hyper, lr: f32, clip_norm: Option<f32>, _seed: u64) -> Self {
        AsgdConfig {
            lr,
            lambd: h.lambd.unwrap_or(base.lambd),
            alpha: h.alpha.unwrap_or(base.alpha),
            t0: h.t0.unwrap_or(base.t0),
            weight_decay: h.weight_decay.unwrap_or(base.weight_decay),
            maximize: h.maximize,
            clip_norm,
        }
    }

    fn describe(&self) -> String {
        format!(
            "lr {}, lambd {}, alpha {}, t0 {}, weight_decay {}, maximize {}",
            self.lr, self.lambd, self.alpha, self.t0, self.weight_decay, self.maximize
        )
    }
}
