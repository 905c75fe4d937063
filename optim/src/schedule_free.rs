//! Schedule-Free AdamW: AdamW without a learning-rate schedule, whose
//! model is an average of its iterates.

use crate::common;
use crate::driver::{torch_fields, Driven, Rule, Slots};
use crate::error::{OptimError, Result};
use crate::hyper::{FromHyper, Hyper};
use descent_core::simd::Wide;
use descent_core::step::{
    bias_correction, decimal, schedule_free, schedule_free_x, GradIn, ScheduleFreeStep,
};

const NAME: &str = "schedule-free-adamw";

/// Configuration of [`ScheduleFreeAdamw`]; the fields are the
/// `schedulefree` package's `AdamWScheduleFree`'s (`betas` as two fields).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScheduleFreeConfig {
    /// Learning rate γ (finite, ≥ 0).
    pub lr: f32,
    /// β₁, the interpolation between z and x that gives y, in [0, 1)
    /// (x is recovered by dividing by it: β₁ = 0 is refused).
    pub beta1: f32,
    /// β₂, decay of the second moment, in [0, 1).
    pub beta2: f32,
    /// ε added to the bias-corrected root (finite, > 0).
    pub eps: f32,
    /// Weight decay λ (finite, ≥ 0), applied at y.
    pub weight_decay: f32,
    /// Steps of the built-in linear warm-up of γ (0: none).
    pub warmup_steps: u64,
    /// r, the power of the step count in the average's weights (finite, ≥ 0).
    pub r: f32,
    /// The power of the largest learning rate so far in the average's
    /// weights (finite, ≥ 0).
    pub weight_lr_power: f32,
    /// Step uphill: maximize the objective instead of minimizing it.
    pub maximize: bool,
    /// Clip the gradient to this global L2 norm before the step.
    pub clip_norm: Option<f32>,
}

impl Default for ScheduleFreeConfig {
    /// The reference's defaults: `lr = 0.0025`, `betas = (0.9, 0.999)`,
    /// `eps = 1e-8`, `weight_decay = 0`, `warmup_steps = 0`, `r = 0`,
    /// `weight_lr_power = 2`; no clipping.
    fn default() -> Self {
        ScheduleFreeConfig {
            lr: 0.0025,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            warmup_steps: 0,
            r: 0.0,
            weight_lr_power: 2.0,
            maximize: false,
            clip_norm: None,
        }
    }
}

impl ScheduleFreeConfig {
    /// Checks every field; the error names the first invalid one.
    pub fn validate(&self) -> Result<()> {
        common::non_negative(NAME, "lr", self.lr)?;
        common::half_open_unit(NAME, "beta1", self.beta1)?;
        if self.beta1 == 0.0 {
            return Err(OptimError::InvalidConfig {
                optimizer: NAME,
                field: "beta1",
                value: "0".into(),
                reason: "must be > 0: x = (y − (1 − β₁)·z) / β₁",
            });
        }
        common::half_open_unit(NAME, "beta2", self.beta2)?;
        common::positive(NAME, "eps", self.eps)?;
        common::non_negative(NAME, "weight_decay", self.weight_decay)?;
        common::non_negative(NAME, "r", self.r)?;
        common::non_negative(NAME, "weight_lr_power", self.weight_lr_power)?;
        common::clip(NAME, self.clip_norm)
    }
}

/// Schedule-Free AdamW, as the `schedulefree` package's
/// `AdamWScheduleFree` computes it. Three sequences: z, the base
/// optimizer's iterate; x, the weighted average of the z's, which is the
/// model; y = (1 − β₁)·z + β₁·x, where the gradient is taken. Step k
/// (from 0), with γₖ = γ·min(1, (k + 1)/warmup), γ_max the largest so far,
/// `wₖ = (k + 1)^r·γ_max^p`, `c = wₖ / Σᵢ≤ₖ wᵢ`:
///
/// `v ← β₂·v + (1 − β₂)·g²`; `ĝ = g / (√(v / (1 − β₂ᵏ⁺¹)) + ε) + λ·y`;
/// `y ← lerp(y, z, c) + γₖ(β₁(1 − c) − 1)·ĝ`; `z ← z − γₖ·ĝ`.
///
/// Defazio, Yang, Mehta, Mishchenko, Khaled, Cutkosky, "The Road Less
/// Scheduled", NeurIPS 2024, <https://arxiv.org/abs/2405.15682>.
///
/// The parameters the optimizer steps are y; the weights to evaluate and
/// save are x = lerp(y, z, 1 − 1/β₁) ([`crate::Optimizer::eval_weights`]),
/// which the trainer tests and writes as the model. `γ_max` and `Σw` are
/// carried from step to step, so a learning-rate schedule composes as in
/// the reference. Departure: `clip_norm` is built in. State: `"z"`,
/// `"exp_avg_sq"`, and the scalars `"lr_max"` and `"weight_sum"`.
pub type ScheduleFreeAdamw = Driven<ScheduleFreeConfig>;

impl Rule for ScheduleFreeConfig {
    type Step = ScheduleFreeStep;
    const SLOTS: &'static [&'static str] = &["z", "exp_avg_sq"];
    const CARRY: &'static [&'static str] = &["lr_max", "weight_sum"];

    fn name(&self) -> &'static str {
        NAME
    }

    fn validate(&self) -> Result<()> {
        ScheduleFreeConfig::validate(self)
    }

    torch_fields!();

    fn init_from_params(&self, slot: usize) -> bool {
        slot == 0
    }

    fn carry_init(&self, i: usize) -> f64 {
        if i == 0 {
            -1.0
        } else {
            0.0
        }
    }

    fn step(&self, t: u64, _first: bool, grad_scale: f32, carry: &mut [f64]) -> ScheduleFreeStep {
        let k = t - 1;
        let sched = if k < self.warmup_steps {
            (k + 1) as f64 / self.warmup_steps as f64
        } else {
            1.0
        };
        let lr = decimal(self.lr) * sched;
        let lr_max = lr.max(carry[0]);
        let weight =
            ((k + 1) as f64).powf(decimal(self.r)) * lr_max.powf(decimal(self.weight_lr_power));
        let weight_sum = carry[1] + weight;
        carry[0] = lr_max;
        carry[1] = weight_sum;
        let ckp1 = if weight_sum != 0.0 {
            weight / weight_sum
        } else {
            0.0
        };
        ScheduleFreeStep {
            beta2: self.beta2,
            eps: self.eps,
            weight_decay: self.weight_decay,
            inv_bias_correction2: (1.0 / bias_correction(self.beta2, t)) as f32,
            ckp1: ckp1 as f32,
            y_coef: (lr * (decimal(self.beta1) * (1.0 - ckp1) - 1.0)) as f32,
            lr: lr as f32,
            grad_scale,
        }
    }

    fn update(&self, h: &ScheduleFreeStep, p: &mut [f32], g: impl GradIn<Wide>, [z, v, ..]: Slots) {
        schedule_free::<Wide>(p, g, z, v, h)
    }

    fn eval_weights(&self, p: &[f32], slots: &[Vec<f32>]) -> Option<Vec<f32>> {
        let w = (1.0 - 1.0 / decimal(self.beta1)) as f32;
        let mut x = vec![0.0; p.len()];
        schedule_free_x::<Wide>(p, &slots[0], w, &mut x);
        Some(x)
    }
}

impl FromHyper for ScheduleFreeConfig {
    fn from_hyper(base: Self, h: &Hyper, lr: f32, clip_norm: Option<f32>, _seed: u64) -> Self {
        ScheduleFreeConfig {
            lr,
            beta1: h.beta1.unwrap_or(base.beta1),
            beta2: h.beta2.unwrap_or(base.beta2),
            eps: h.eps.unwrap_or(base.eps),
            weight_decay: h.weight_decay.unwrap_or(base.weight_decay),
            warmup_steps: h.warmup_steps.unwrap_or(base.warmup_steps),
            r: h.r.unwrap_or(base.r),
            weight_lr_power: h.weight_lr_power.unwrap_or(base.weight_lr_power),
            maximize: h.maximize,
            clip_norm,
        }
    }

    fn describe(&self) -> String {
        format!(
            "lr {}, betas ({}, {}), eps {}, weight_decay {}, warmup_steps {}, r {}, \
             weight_lr_power {}, maximize {}",
            self.lr,
            self.beta1,
            self.beta2,
            self.eps,
            self.weight_decay,
            self.warmup_steps,
            self.r,
            self.weight_lr_power,
            self.maximize
        )
    }
}
