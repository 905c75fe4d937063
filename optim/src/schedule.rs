//! Learning-rate schedules, each optionally preceded by a linear warmup.
//!
//! A [`Schedule`] is a function of a counter `t` (0 at the start; the trainer
//! calls [`Schedule::advance`] once per epoch or once per step, whichever it
//! chooses) and, for reduce-on-plateau, of the metrics the trainer reports.
//! The trainer copies [`Schedule::lr`] into the optimizer with
//! [`crate::Optimizer::set_lr`]. All closed forms are computed in `f64`.

use crate::common;
use crate::error::{OptimError, Result};

/// The schedule after warmup (`u` counts from the end of warmup; γ₀ is the
/// base learning rate).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ScheduleKind {
    /// `γ = γ₀`.
    Constant,
    /// `γ = γ₀·gamma^⌊u / step_size⌋` (PyTorch `StepLR`).
    Step {
        /// Period of the decay (> 0).
        step_size: u64,
        /// Factor per period (finite, > 0).
        gamma: f32,
    },
    /// `γ = γ₀·gammaᵘ` (PyTorch `ExponentialLR`).
    Exponential {
        /// Factor per advance (finite, > 0).
        gamma: f32,
    },
    /// `γ = η_min + (γ₀ − η_min)·(1 + cos(π·min(u, t_max)/t_max))/2`
    /// (PyTorch `CosineAnnealingLR`'s closed form, held at η_min after
    /// `t_max` instead of rising again).
    Cosine {
        /// Length of the annealing (> 0).
        t_max: u64,
        /// Final learning rate (finite, ≥ 0).
        eta_min: f32,
    },
    /// Multiply γ by `factor` when the metric has not improved for more
    /// than `patience` reports (PyTorch `ReduceLROnPlateau`).
    ReduceOnPlateau(PlateauConfig),
}

/// Configuration of reduce-on-plateau; `Default` is PyTorch's
/// (`mode='min'`, `factor=0.1`, `patience=10`, `threshold=1e-4` relative,
/// `cooldown=0`, `min_lr=0`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlateauConfig {
    /// Watch for a maximum (e.g. accuracy) instead of a minimum (loss).
    pub maximize: bool,
    /// Factor applied on a plateau, in [0, 1).
    pub factor: f32,
    /// Reports without improvement tolerated before reducing.
    pub patience: u64,
    /// Relative improvement that counts (finite, ≥ 0): a new value is
    /// better if `< best·(1 − threshold)` (min) or `> best·(1 + threshold)` (max).
    pub threshold: f32,
    /// Reports to wait after a reduction before counting again.
    pub cooldown: u64,
    /// Floor of the learning rate (finite, ≥ 0).
    pub min_lr: f32,
}

impl Default for PlateauConfig {
    fn default() -> Self {
        PlateauConfig {
            maximize: false,
            factor: 0.1,
            patience: 10,
            threshold: 1e-4,
            cooldown: 0,
            min_lr: 0.0,
        }
    }
}

/// Linear warmup: for `t < steps`, `γ = γ_inner(0)·(s + (1 − s)·t/steps)`
/// with `s = start_factor` (PyTorch `LinearLR` followed by the inner
/// schedule, as `SequentialLR` with one milestone); from `t = steps` on, the
/// inner schedule runs with `u = t − steps`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Warmup {
    /// Warmup length (> 0).
    pub steps: u64,
    /// Factor at t = 0, in (0, 1] (PyTorch `LinearLR`'s default is 1/3).
    pub start_factor: f32,
}

/// The mutable part of a schedule, for checkpoints.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScheduleState {
    /// Advances so far.
    pub t: u64,
    /// Reduce-on-plateau's current learning rate.
    pub plateau_lr: f32,
    /// Reduce-on-plateau's best metric (±∞ before the first report).
    pub best: f32,
    /// Reports since the last improvement.
    pub num_bad: u64,
    /// Reports left in the cooldown.
    pub cooldown_counter: u64,
}

/// A learning-rate schedule (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    base_lr: f32,
    kind: ScheduleKind,
    warmup: Option<Warmup>,
    state: ScheduleState,
}

const NAME: &str = "schedule";

impl Schedule {
    /// A schedule starting at `t = 0`; fails naming the first invalid field.
    pub fn new(base_lr: f32, kind: ScheduleKind, warmup: Option<Warmup>) -> Result<Self> {
        common::non_negative(NAME, "base_lr", base_lr)?;
        let positive_count = |field: &'static str, v: u64| {
            if v == 0 {
                Err(OptimError::InvalidConfig {
                    optimizer: NAME,
                    field,
                    value: "0".into(),
                    reason: "must be > 0",
                })
            } else {
                Ok(())
            }
        };
        let mut best = f32::INFINITY;
        match kind {
            ScheduleKind::Constant => {}
            ScheduleKind::Step { step_size, gamma } => {
                positive_count("step_size", step_size)?;
                common::positive(NAME, "gamma", gamma)?;
            }
            ScheduleKind::Exponential { gamma } => common::positive(NAME, "gamma", gamma)?,
            ScheduleKind::Cosine { t_max, eta_min } => {
                positive_count("t_max", t_max)?;
                common::non_negative(NAME, "eta_min", eta_min)?;
            }
            ScheduleKind::ReduceOnPlateau(p) => {
                if !(0.0..1.0).contains(&p.factor) {
                    return Err(OptimError::InvalidConfig {
                        optimizer: NAME,
                        field: "factor",
                        value: p.factor.to_string(),
                        reason: "must be in [0, 1)",
                    });
                }
                common::non_negative(NAME, "threshold", p.threshold)?;
                common::non_negative(NAME, "min_lr", p.min_lr)?;
                if p.maximize {
                    best = f32::NEG_INFINITY;
                }
            }
        }
        if let Some(w) = warmup {
            positive_count("warmup.steps", w.steps)?;
            if !(w.start_factor > 0.0 && w.start_factor <= 1.0) {
                return Err(OptimError::InvalidConfig {
                    optimizer: NAME,
                    field: "warmup.start_factor",
                    value: w.start_factor.to_string(),
                    reason: "must be in (0, 1]",
                });
            }
        }
        Ok(Schedule {
            base_lr,
            kind,
            warmup,
            state: ScheduleState {
                t: 0,
                plateau_lr: base_lr,
                best,
                num_bad: 0,
                cooldown_counter: 0,
            },
        })
    }

    /// A constant learning rate.
    pub fn constant(lr: f32) -> Result<Self> {
        Schedule::new(lr, ScheduleKind::Constant, None)
    }

    /// The schedule's kind.
    pub fn kind(&self) -> &ScheduleKind {
        &self.kind
    }

    /// Advances so far.
    pub fn t(&self) -> u64 {
        self.state.t
    }

    fn warmup_steps(&self) -> u64 {
        self.warmup.map_or(0, |w| w.steps)
    }

    /// The inner schedule's learning rate at `u` (counted from the end of
    /// warmup), in `f64`.
    fn inner(&self, u: u64) -> f64 {
        let b = self.base_lr as f64;
        let e = |x: u64| x.min(i32::MAX as u64) as i32;
        match self.kind {
            ScheduleKind::Constant => b,
            ScheduleKind::Step { step_size, gamma } => b * (gamma as f64).powi(e(u / step_size)),
            ScheduleKind::Exponential { gamma } => b * (gamma as f64).powi(e(u)),
            ScheduleKind::Cosine { t_max, eta_min } => {
                let m = eta_min as f64;
                let x = u.min(t_max) as f64 / t_max as f64;
                m + (b - m) * (1.0 + (std::f64::consts::PI * x).cos()) / 2.0
            }
            ScheduleKind::ReduceOnPlateau(_) => self.state.plateau_lr as f64,
        }
    }

    /// The learning rate at the current `t`.
    pub fn lr(&self) -> f32 {
        let t = self.state.t;
        match self.warmup {
            Some(w) if t < w.steps => {
                let s = w.start_factor as f64;
                (self.inner(0) * (s + (1.0 - s) * t as f64 / w.steps as f64)) as f32
            }
            _ => self.inner(t - self.warmup_steps()) as f32,
        }
    }

    /// Moves to `t + 1` and returns the new learning rate. Reduce-on-plateau
    /// needs the monitored `metric` (reports during warmup are ignored);
    /// other kinds ignore it.
    pub fn advance(&mut self, metric: Option<f32>) -> Result<f32> {
        if let ScheduleKind::ReduceOnPlateau(p) = self.kind {
            let metric = metric.ok_or(OptimError::MetricRequired)?;
            if self.state.t >= self.warmup_steps() {
                self.plateau(&p, metric);
            }
        }
        self.state.t += 1;
        Ok(self.lr())
    }

    /// PyTorch's `ReduceLROnPlateau.step` (relative threshold).
    fn plateau(&mut self, p: &PlateauConfig, metric: f32) {
        let s = &mut self.state;
        let better = if p.maximize {
            metric > s.best * (1.0 + p.threshold)
        } else {
            metric < s.best * (1.0 - p.threshold)
        };
        if better {
            s.best = metric;
            s.num_bad = 0;
        } else {
            s.num_bad += 1;
        }
        if s.cooldown_counter > 0 {
            s.cooldown_counter -= 1;
            s.num_bad = 0;
        }
        if s.num_bad > p.patience {
            let old = s.plateau_lr;
            let new = (old * p.factor).max(p.min_lr);
            // PyTorch skips reductions smaller than its eps = 1e-8.
            if old - new > 1e-8 {
                s.plateau_lr = new;
            }
            s.cooldown_counter = p.cooldown;
            s.num_bad = 0;
        }
    }

    /// The state to checkpoint (the configuration is the caller's).
    pub fn export_state(&self) -> ScheduleState {
        self.state
    }

    /// Restores a checkpointed state; the schedule then continues exactly.
    pub fn import_state(&mut self, state: &ScheduleState) -> Result<()> {
        common::non_negative(NAME, "plateau_lr", state.plateau_lr)?;
        if state.best.is_nan() {
            return Err(OptimError::InvalidConfig {
                optimizer: NAME,
                field: "best",
                value: state.best.to_string(),
                reason: "an imported best metric must not be NaN",
            });
        }
        self.state = *state;
        Ok(())
    }
}
