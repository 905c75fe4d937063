//! Adam and AdamW: one type, one fused kernel, L2 or decoupled weight decay.

use crate::common::{self, named, prepare, take_buffers};
use crate::error::Result;
use crate::{OptimState, Optimizer, Pool, StepInfo, ALIGN};
use descent_core::par::split_mut;
use descent_core::simd::Wide;
use descent_core::step::{adam, AdamStep};

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

    fn name(&self) -> &'static str {
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
#[derive(Debug, Clone)]
pub struct Adam {
    config: AdamConfig,
    step: u64,
    exp_avg: Vec<f32>,
    exp_avg_sq: Vec<f32>,
    max_exp_avg_sq: Vec<f32>,
}

impl Adam {
    /// A new optimizer; fails with the first invalid field.
    pub fn new(config: AdamConfig) -> Result<Self> {
        config.validate()?;
        Ok(Adam {
            config,
            step: 0,
            exp_avg: Vec::new(),
            exp_avg_sq: Vec::new(),
            max_exp_avg_sq: Vec::new(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &AdamConfig {
        &self.config
    }

    fn names(&self) -> &'static [&'static str] {
        if self.config.amsgrad {
            &["exp_avg", "exp_avg_sq", "max_exp_avg_sq"]
        } else {
            &["exp_avg", "exp_avg_sq"]
        }
    }
}

impl Optimizer for Adam {
    fn name(&self) -> &'static str {
        self.config.name()
    }

    fn step_on(
        &mut self,
        pool: Option<&Pool>,
        params: &mut [f32],
        grads: &[f32],
        norm: Option<f32>,
    ) -> Result<StepInfo> {
        let c = self.config;
        let o = c.name();
        let state_len = (self.step > 0).then_some(self.exp_avg.len());
        let (info, gs) = prepare(o, params, grads, state_len, c.clip_norm, c.maximize, norm)?;
        let n = params.len();
        if self.step == 0 {
            self.exp_avg = vec![0.0; n];
            self.exp_avg_sq = vec![0.0; n];
            if c.amsgrad {
                self.max_exp_avg_sq = vec![0.0; n];
            }
        }
        self.step += 1;
        let h = AdamStep::new(
            c.lr,
            c.beta1,
            c.beta2,
            c.eps,
            c.weight_decay,
            c.decoupled_weight_decay,
            c.amsgrad,
            self.step,
            gs,
        );
        // Without AMSGrad the max buffer is empty: 0 elements per unit.
        let bufs = [
            (params, 1),
            (&mut self.exp_avg[..], 1),
            (&mut self.exp_avg_sq[..], 1),
            (&mut self.max_exp_avg_sq[..], usize::from(c.amsgrad)),
        ];
        split_mut(pool, grads.len(), ALIGN, bufs, &|r, [p, m, v, vm]| {
            adam::<Wide>(p, &grads[r], m, v, c.amsgrad.then_some(vm), &h)
        });
        Ok(info)
    }

    fn lr(&self) -> f32 {
        self.config.lr
    }

    fn set_lr(&mut self, lr: f32) -> Result<()> {
        common::non_negative(self.config.name(), "lr", lr)?;
        self.config.lr = lr;
        Ok(())
    }

    fn steps(&self) -> u64 {
        self.step
    }

    fn export_state(&self) -> OptimState {
        let mut b = vec![("exp_avg", &self.exp_avg), ("exp_avg_sq", &self.exp_avg_sq)];
        if self.config.amsgrad {
            b.push(("max_exp_avg_sq", &self.max_exp_avg_sq));
        }
        named(self.step, &b)
    }

    fn import_state(&mut self, state: &OptimState) -> Result<()> {
        let mut bufs = take_buffers(self.config.name(), state, self.names())?.into_iter();
        self.exp_avg = bufs.next().unwrap_or_default();
        self.exp_avg_sq = bufs.next().unwrap_or_default();
        self.max_exp_avg_sq = bufs.next().unwrap_or_default();
        self.step = state.step;
        Ok(())
    }
}
