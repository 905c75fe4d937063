//! Stochastic gradient descent, with optional heavy-ball or Nesterov momentum.

use crate::common::{self, named, prepare, take_buffers};
use crate::error::{OptimError, Result};
use crate::{OptimState, Optimizer, Pool, StepInfo, ALIGN};
use descent_core::par::split_mut;
use descent_core::simd::Wide;
use descent_core::step::{momentum, sgd, MomentumStep, SgdStep};

const NAME: &str = "sgd";

/// Configuration of [`Sgd`]; the fields are `torch.optim.SGD`'s.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SgdConfig {
    /// Learning rate γ (finite, ≥ 0).
    pub lr: f32,
    /// Momentum μ (finite, ≥ 0); 0 is plain SGD with no state.
    pub momentum: f32,
    /// Dampening τ of the momentum buffer, in [0, 1].
    pub dampening: f32,
    /// L2 weight decay λ (finite, ≥ 0), added to the gradient.
    pub weight_decay: f32,
    /// Nesterov momentum (needs μ > 0 and τ = 0).
    pub nesterov: bool,
    /// Step uphill: maximize the objective instead of minimizing it.
    pub maximize: bool,
    /// Clip the gradient to this global L2 norm before the step (not a
    /// `torch.optim` option: PyTorch does it with `clip_grad_norm_`).
    pub clip_norm: Option<f32>,
}

impl Default for SgdConfig {
    /// PyTorch's defaults (torch ≥ 2.4): `lr = 1e-3`, no momentum, no
    /// dampening, no weight decay, no Nesterov; no clipping.
    fn default() -> Self {
        SgdConfig {
            lr: 1e-3,
            momentum: 0.0,
            dampening: 0.0,
            weight_decay: 0.0,
            nesterov: false,
            maximize: false,
            clip_norm: None,
        }
    }
}

impl SgdConfig {
    /// Checks every field; the error names the first invalid one.
    pub fn validate(&self) -> Result<()> {
        common::non_negative(NAME, "lr", self.lr)?;
        common::non_negative(NAME, "momentum", self.momentum)?;
        common::closed_unit(NAME, "dampening", self.dampening)?;
        common::non_negative(NAME, "weight_decay", self.weight_decay)?;
        if self.nesterov && (self.momentum <= 0.0 || self.dampening != 0.0) {
            return Err(OptimError::InvalidConfig {
                optimizer: NAME,
                field: "nesterov",
                value: format!(
                    "true (momentum = {}, dampening = {})",
                    self.momentum, self.dampening
                ),
                reason: "Nesterov momentum requires momentum > 0 and dampening = 0",
            });
        }
        common::clip(NAME, self.clip_norm)
    }
}

/// SGD, heavy-ball momentum and Nesterov momentum, exactly as
/// `torch.optim.SGD`:
///
/// `g ← ±g·clip + λ·p`; with μ > 0: `b ← g` on the first step, then
/// `b ← μ·b + (1 − τ)·g`, and `g ← g + μ·b` (Nesterov) or `g ← b`;
/// finally `p ← p − γ·g`.
///
/// This is PyTorch's momentum form (the learning rate multiplies the
/// buffer), not Sutskever et al.'s (where it is inside the buffer); the two
/// differ when γ changes during training. Nesterov: Sutskever, Martens, Dahl,
/// Hinton, "On the importance of initialization and momentum in deep
/// learning", ICML 2013, <http://proceedings.mlr.press/v28/sutskever13.html>.
///
/// Departures from PyTorch: `maximize` negates the gradient before weight
/// decay (as PyTorch's code does, not as its docs' pseudo-code says), and
/// `clip_norm` is built in. Batch, pure and mini-batch SGD are this one rule
/// driven with different batch sizes (see the crate docs).
///
/// State: `"momentum_buffer"` when μ > 0.
#[derive(Debug, Clone)]
pub struct Sgd {
    config: SgdConfig,
    step: u64,
    buf: Vec<f32>,
}

impl Sgd {
    /// A new optimizer; fails with the first invalid field.
    pub fn new(config: SgdConfig) -> Result<Self> {
        config.validate()?;
        Ok(Sgd {
            config,
            step: 0,
            buf: Vec::new(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &SgdConfig {
        &self.config
    }

    fn names(&self) -> &'static [&'static str] {
        if self.config.momentum != 0.0 {
            &["momentum_buffer"]
        } else {
            &[]
        }
    }
}

impl Optimizer for Sgd {
    fn name(&self) -> &'static str {
        match (self.config.momentum != 0.0, self.config.nesterov) {
            (false, _) => "sgd",
            (true, false) => "momentum",
            (true, true) => "nesterov",
        }
    }

    fn step_on(
        &mut self,
        pool: Option<&Pool>,
        params: &mut [f32],
        grads: &[f32],
        norm: Option<f32>,
    ) -> Result<StepInfo> {
        let c = self.config;
        let state_len = (!self.buf.is_empty()).then_some(self.buf.len());
        let (info, gs) = prepare(
            NAME,
            params,
            grads,
            state_len,
            c.clip_norm,
            c.maximize,
            norm,
        )?;
        self.step += 1;
        if c.momentum == 0.0 {
            let h = SgdStep {
                lr: c.lr,
                weight_decay: c.weight_decay,
                grad_scale: gs,
            };
            split_mut(pool, params.len(), ALIGN, [(params, 1)], &|r, [p]| {
                sgd::<Wide>(p, &grads[r], &h)
            });
        } else {
            let first_step = self.buf.is_empty();
            if first_step {
                self.buf = vec![0.0; params.len()];
            }
            let h = MomentumStep {
                lr: c.lr,
                weight_decay: c.weight_decay,
                momentum: c.momentum,
                dampening: c.dampening,
                nesterov: c.nesterov,
                first_step,
                grad_scale: gs,
            };
            let bufs = [(params, 1), (&mut self.buf[..], 1)];
            split_mut(pool, grads.len(), ALIGN, bufs, &|r, [p, b]| {
                momentum::<Wide>(p, &grads[r], b, &h)
            });
        }
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
        if self.names().is_empty() {
            named(self.step, &[])
        } else {
            named(self.step, &[("momentum_buffer", &self.buf)])
        }
    }

    fn import_state(&mut self, state: &OptimState) -> Result<()> {
        let mut bufs = take_buffers(NAME, state, self.names())?;
        self.buf = bufs.pop().unwrap_or_default();
        self.step = state.step;
        Ok(())
    }
}
