//! AdaGrad: per-coordinate learning rates from the sum of squared gradients.

use crate::common::{self, named, prepare, take_buffers};
use crate::error::Result;
use crate::{OptimState, Optimizer, Pool, StepInfo, ALIGN};
use descent_core::par::split_mut;
use descent_core::simd::Wide;
use descent_core::step::{adagrad, AdagradStep};

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
#[derive(Debug, Clone)]
pub struct Adagrad {
    config: AdagradConfig,
    step: u64,
    sum: Vec<f32>,
}

impl Adagrad {
    /// A new optimizer; fails with the first invalid field.
    pub fn new(config: AdagradConfig) -> Result<Self> {
        config.validate()?;
        Ok(Adagrad {
            config,
            step: 0,
            sum: Vec::new(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &AdagradConfig {
        &self.config
    }
}

impl Optimizer for Adagrad {
    fn name(&self) -> &'static str {
        NAME
    }

    fn step_on(
        &mut self,
        pool: Option<&Pool>,
        params: &mut [f32],
        grads: &[f32],
        norm: Option<f32>,
    ) -> Result<StepInfo> {
        let c = self.config;
        let state_len = (self.step > 0).then_some(self.sum.len());
        let (info, gs) = prepare(
            NAME,
            params,
            grads,
            state_len,
            c.clip_norm,
            c.maximize,
            norm,
        )?;
        if self.step == 0 {
            self.sum = vec![c.initial_accumulator_value; params.len()];
        }
        self.step += 1;
        let h = AdagradStep {
            clr: AdagradStep::decayed_lr(c.lr, c.lr_decay, self.step),
            weight_decay: c.weight_decay,
            eps: c.eps,
            grad_scale: gs,
        };
        let bufs = [(params, 1), (&mut self.sum[..], 1)];
        split_mut(pool, grads.len(), ALIGN, bufs, &|r, [p, s]| {
            adagrad::<Wide>(p, &grads[r], s, &h)
        });
        Ok(info)
    }

    fn lr(&self) -> f32 {
        self.config.lr
    }

    fn set_lr(&mut self, lr: f32) -> Result<()> {
        common::non_negative(NAME, "lr", lr)?;
        self.config.lr = lr;
        Ok(())
    }

    fn steps(&self) -> u64 {
        self.step
    }

    fn export_state(&self) -> OptimState {
        named(self.step, &[("sum", &self.sum)])
    }

    fn import_state(&mut self, state: &OptimState) -> Result<()> {
        let mut bufs = take_buffers(NAME, state, &["sum"])?;
        self.sum = bufs.pop().unwrap_or_default();
        self.step = state.step;
        Ok(())
    }
}
