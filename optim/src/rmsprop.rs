//! RMSprop: divide by a running root-mean-square of the gradients.

use crate::common::{self, named, prepare, take_buffers};
use crate::error::Result;
use crate::{OptimState, Optimizer, Pool, StepInfo, ALIGN};
use descent_core::par::split_mut;
use descent_core::simd::Wide;
use descent_core::step::{rmsprop, RmspropState, RmspropStep};

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
#[derive(Debug, Clone)]
pub struct Rmsprop {
    config: RmspropConfig,
    step: u64,
    square_avg: Vec<f32>,
    grad_avg: Vec<f32>,
    momentum_buffer: Vec<f32>,
}

impl Rmsprop {
    /// A new optimizer; fails with the first invalid field.
    pub fn new(config: RmspropConfig) -> Result<Self> {
        config.validate()?;
        Ok(Rmsprop {
            config,
            step: 0,
            square_avg: Vec::new(),
            grad_avg: Vec::new(),
            momentum_buffer: Vec::new(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &RmspropConfig {
        &self.config
    }

    fn names(&self) -> Vec<&'static str> {
        let mut n = vec!["square_avg"];
        if self.config.centered {
            n.push("grad_avg");
        }
        if self.config.momentum > 0.0 {
            n.push("momentum_buffer");
        }
        n
    }
}

impl Optimizer for Rmsprop {
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
        let state_len = (self.step > 0).then_some(self.square_avg.len());
        let (info, gs) = prepare(
            NAME,
            params,
            grads,
            state_len,
            c.clip_norm,
            c.maximize,
            norm,
        )?;
        let n = params.len();
        if self.step == 0 {
            self.square_avg = vec![0.0; n];
            if c.centered {
                self.grad_avg = vec![0.0; n];
            }
            if c.momentum > 0.0 {
                self.momentum_buffer = vec![0.0; n];
            }
        }
        self.step += 1;
        let h = RmspropStep {
            lr: c.lr,
            alpha: c.alpha,
            eps: c.eps,
            weight_decay: c.weight_decay,
            momentum: c.momentum,
            grad_scale: gs,
        };
        // An unused buffer is empty: 0 elements per unit, its parts empty.
        let bufs = [
            (params, 1),
            (&mut self.square_avg[..], 1),
            (&mut self.grad_avg[..], usize::from(c.centered)),
            (&mut self.momentum_buffer[..], usize::from(c.momentum > 0.0)),
        ];
        split_mut(pool, grads.len(), ALIGN, bufs, &|r, [p, sq, ga, mb]| {
            let state = RmspropState {
                square_avg: sq,
                grad_avg: c.centered.then_some(ga),
                momentum_buffer: (c.momentum > 0.0).then_some(mb),
            };
            rmsprop::<Wide>(p, &grads[r], state, &h)
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
        let mut b = vec![("square_avg", &self.square_avg)];
        if self.config.centered {
            b.push(("grad_avg", &self.grad_avg));
        }
        if self.config.momentum > 0.0 {
            b.push(("momentum_buffer", &self.momentum_buffer));
        }
        named(self.step, &b)
    }

    fn import_state(&mut self, state: &OptimState) -> Result<()> {
        let names = self.names();
        let mut bufs = take_buffers(NAME, state, &names)?.into_iter();
        self.square_avg = bufs.next().unwrap_or_default();
        self.grad_avg = if self.config.centered {
            bufs.next().unwrap_or_default()
        } else {
            Vec::new()
        };
        self.momentum_buffer = if self.config.momentum > 0.0 {
            bufs.next().unwrap_or_default()
        } else {
            Vec::new()
        };
        self.step = state.step;
        Ok(())
    }
}
