//! Adam and AdamW: one type, one fused kernel, L2 or decoupled weight decay.

use crate::common;
use crate::driver::{torch_fields, Driven, Rule, Slots};
use crate::error::Result;
use crate::hyper::{FromHyper, Hyper};
use descent_core::simd::Wide;
use descent_core::step::{adam, AdamStep, GradIn};

/// Configuration of [`Adam`]; the fields are `torch.optim.Adam`'s (betas as
/// two fields) plus `decoupled_weight_decay`, which makes it AdamW.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamConfig {
    /// Learning rate γ (finite, ≥ 0).
    pub lr: f32,
    /// β₁, decay of the first moment, in [0, 1).
    pub beta1: f32,
    /// β₂, decay of the second moment, in [0, 1).
    pub beta2: f32,
    /// ε added to the bias-corrected root (finite, > 0).
    pub eps: f32,
    /// Weight decay λ (finite, ≥ 0): L2 for Adam, decoupled for AdamW.
    pub weight_decay: f32,
    /// AMSGrad: divide by the running maximum of the second moment.
    pub amsgrad: bool,
    /// AdamW: decay the parameters (`p ← p·(1 − γ·λ)`) instead of adding
    /// `λ·p` to the gradient.
    pub decoupled_weight_decay: bool,
    /// Step uphill: maximize the objective instead of minimizing it.
    pub maximize: bool,
    /// Clip the gradient to this global L2 norm before the step.
    pub clip_norm: Option<f32>,
}

impl Default for AdamConfig {
    /// `torch.optim.Adam`'s defaults: `lr = 1e-3`, `betas = (0.9, 0.999)`,
    /// `eps = 1e-8`, `weight_decay = 0`, no AMSGrad; L2 decay; no clipping.
    fn default() -> Self {
        AdamConfig {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            amsgrad: false,
            decoupled_weight_decay: false,
            maximize: false,
            clip_norm: None,
        }
    }
}

impl AdamConfig {
    /// `torch.optim.AdamW`'s defaults: as [`AdamConfig::default`] but with
    /// decoupled weight decay `λ = 1e-2`.
    pub fn adamw() -> Self {
        AdamConfig {
            weight_decay: 1e-2,
            decoupled_weight_decay: true,
            ..AdamConfig::default()
        }
    }

    /// `"adam"`, or `"adamw"` with decoupled weight decay.
    pub fn name(&self) -> &'static str {
        if self.decoupled_weight_decay {
            "adamw"
        } else {
            "adam"
        }
    }

    /// Checks every field; the error names the first invalid one.
    pub fn validate(&self) -> Result<()> {
        let o = self.name();
        common::non_negative(o, "lr", self.lr)?;
        common::half_open_unit(o, "beta1", self.beta1)?;
        common::half_open_unit(o, "beta2", self.beta2)?;
        common::positive(o, "eps", self.eps)?;
        common::non_negative(o, "weight_decay", self.weight_decay)?;
        common::clip(o, self.clip_norm)
    }
}

/// Adam and AdamW, as `torch.optim.Adam` / `torch.optim.AdamW`:
///
/// `g ← ±g·clip`; Adam: `g ← g + λ·p`; AdamW: `p ← p·(1 − γ·λ)`;
/// `m ← β₁·m + (1 − β₁)·g`, `v ← β₂·v + (1 − β₂)·g²`;
/// AMSGrad: `v̂ ← max(v̂, v)`, used instead of `v` below;
/// `p ← p − (γ / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)`.
///
/// Bias correction is PyTorch's formulation: ε is added after dividing the
/// root by `√(1 − β₂ᵗ)` (not the paper's `ε̂` form), and the corrections are
/// computed in `f64` each step.
///
/// Kingma, Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015,
/// <https://arxiv.org/abs/1412.6980>; AMSGrad: Reddi, Kale, Kumar, "On the
/// Convergence of Adam and Beyond", ICLR 2018,
/// <https://openreview.net/forum?id=ryQu7f-RZ>; AdamW: Loshchilov, Hutter,
/// "Decoupled Weight Decay Regularization", ICLR 2019,
/// <https://arxiv.org/abs/1711.05101>. As in PyTorch, AdamW's decay is
/// scaled by γ (the paper's schedule multiplier η_t is the learning rate).
///
/// Departures from PyTorch: `eps = 0` is rejected, and `clip_norm` is
/// built in. State: `"exp_avg"`, `"exp_avg_sq"`, plus `"max_exp_avg_sq"`
/// with AMSGrad.
pub type Adam = Driven<AdamConfig>;

impl Rule for AdamConfig {
    type Step = AdamStep;
    const SLOTS: &'static [&'static str] = &["exp_avg", "exp_avg_sq", "max_exp_avg_sq"];

    fn name(&self) -> &'static str {
        AdamConfig::name(self)
    }

    fn validate(&self) -> Result<()> {
        AdamConfig::validate(self)
    }

    fn uses(&self, slot: usize) -> bool {
        slot < 2 || self.amsgrad
    }

    torch_fields!();

    fn step(&self, t: u64, _first: bool, grad_scale: f32, _carry: &mut [f64]) -> AdamStep {
        AdamStep::new(
            self.lr,
            self.beta1,
            self.beta2,
            self.eps,
            self.weight_decay,
            self.decoupled_weight_decay,
            self.amsgrad,
            t,
            grad_scale,
        )
    }

    fn update(&self, h: &AdamStep, p: &mut [f32], g: impl GradIn<Wide>, [m, v, vmax, _]: Slots) {
        adam::<Wide>(p, g, m, v, self.amsgrad.then_some(vmax), h)
    }
}

impl FromHyper for AdamConfig {
    fn from_hyper(base: Self, h: &Hyper, lr: f32, clip_norm: Option<f32>, _seed: u64) -> Self {
        AdamConfig {
            lr,
            beta1: h.beta1.unwrap_or(base.beta1),
            beta2: h.beta2.unwrap_or(base.beta2),
            eps: h.eps.unwrap_or(base.eps),
            weight_decay: h.weight_decay.unwrap_or(base.weight_decay),
            amsgrad: h.amsgrad,
            maximize: h.maximize,
            clip_norm,
            ..base
        }
    }

    fn describe(&self) -> String {
        format!(
            "lr {}, betas ({}, {}), eps {}, weight_decay {} ({}), amsgrad {}, maximize {}",
            self.lr,
            self.beta1,
            self.beta2,
            self.eps,
            self.weight_decay,
            if self.decoupled_weight_decay {
                "decoupled"
            } else {
                "L2"
            },
            self.amsgrad,
            self.maximize
        )
    }
}
