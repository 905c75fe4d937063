//! What decides a run's numbers: [`RunConfig`], checked before anything is
//! allocated, and the learning-rate schedule it asks for.

use descent_nn::Activation;
use descent_optim::{
    Hyper, OptimizerConfig, OptimizerKind, PlateauConfig, Schedule, ScheduleKind, Warmup,
};
use serde::{Deserialize, Serialize};

use crate::data::Dataset;
use crate::TrainError;

/// The learning-rate schedules a run can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScheduleName {
    /// The lr stays as given.
    Constant,
    /// lr · gamma^⌊epoch / step_size⌋.
    Step,
    /// lr · gamma^epoch.
    Exponential,
    /// Cosine annealing from lr to eta_min over the run's epochs.
    Cosine,
    /// lr · gamma when the test loss has not improved for `patience` epochs.
    Plateau,
}

impl ScheduleName {
    /// Every schedule, in the order help texts list them.
    pub const ALL: [ScheduleName; 5] = [
        ScheduleName::Constant,
        ScheduleName::Step,
        ScheduleName::Exponential,
        ScheduleName::Cosine,
        ScheduleName::Plateau,
    ];

    /// The name, e.g. `"cosine"`.
    pub fn name(self) -> &'static str {
        match self {
            ScheduleName::Constant => "constant",
            ScheduleName::Step => "step",
            ScheduleName::Exponential => "exponential",
            ScheduleName::Cosine => "cosine",
            ScheduleName::Plateau => "plateau",
        }
    }

    /// What the schedule computes, in one line.
    pub fn about(self) -> &'static str {
        match self {
            ScheduleName::Constant => "the lr stays as given",
            ScheduleName::Step => "lr · gamma^⌊epoch / step-size⌋",
            ScheduleName::Exponential => "lr · gamma^epoch",
            ScheduleName::Cosine => "cosine annealing from lr to eta-min over the run",
            ScheduleName::Plateau => "lr · gamma when the test loss stalls for patience epochs",
        }
    }
}

/// What a non-finite loss or gradient does to a run: the divergence policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnDivergence {
    /// End the run with [`TrainError::Diverged`], the last checkpoint intact.
    Stop,
    /// Drop the step (no update), count it, continue.
    SkipStep,
}

impl OnDivergence {
    /// Both policies.
    pub const ALL: [OnDivergence; 2] = [OnDivergence::Stop, OnDivergence::SkipStep];

    /// The name, e.g. `"skip-step"`.
    pub fn name(self) -> &'static str {
        match self {
            OnDivergence::Stop => "stop",
            OnDivergence::SkipStep => "skip-step",
        }
    }

    /// What the policy does, in one line.
    pub fn about(self) -> &'static str {
        match self {
            OnDivergence::Stop => "end the run (the last checkpoint stays intact)",
            OnDivergence::SkipStep => "drop that step, count it, continue",
        }
    }
}

/// The settings that decide a run's numbers, saved as JSON in checkpoints.
/// The thread count is not among them: it changes the speed, never the bits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunConfig {
    /// The optimizer.
    pub optimizer: OptimizerKind,
    /// Its hyper-parameters as given (`None`: the default).
    pub hyper: Hyper,
    /// Total epochs.
    pub epochs: usize,
    /// Examples per step (the whole set for `gd`).
    pub batch_size: usize,
    /// Hidden widths.
    pub hidden: Vec<usize>,
    /// `relu`, `sigmoid` or `tanh`.
    pub activation: String,
    /// Seed of the initial weights, the batch order and random search.
    pub seed: u64,
    /// The lr schedule.
    pub schedule: ScheduleName,
    /// Step schedule period, in epochs.
    pub step_size: usize,
    /// Step/exponential/plateau factor (default 0.1, 0.9, 0.1).
    pub gamma: Option<f32>,
    /// Cosine's final lr.
    pub eta_min: f32,
    /// Plateau patience, in epochs.
    pub patience: usize,
    /// Linear warm-up length, in steps.
    pub warmup: u64,
    /// Clip the gradient to this global L2 norm.
    pub clip_norm: Option<f32>,
    /// Shuffle every epoch.
    pub shuffle: bool,
    /// Stop after this many steps in total.
    pub max_steps: Option<u64>,
    /// Pixel normalisation name (recorded; the data is loaded by the caller).
    pub normalize: String,
    /// Test-set evaluation batch.
    pub eval_batch_size: usize,
    /// What a non-finite loss or gradient does.
    pub on_divergence: OnDivergence,
    /// Also evaluate the test set after every this many steps (besides
    /// each epoch's end), so that time to an accuracy is known to that
    /// many steps. Evaluation time is not training time.
    /// (Left out of the JSON when unset, so older configs keep their
    /// exact text and a study's ids.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eval_every: Option<u64>,
}

impl Default for RunConfig {
    /// SGD at its default lr on 784-128-64-10 ReLU, 5 epochs of batch 64,
    /// seed 0, constant lr, shuffled, standard normalisation: the defaults
    /// of `descent train`.
    fn default() -> Self {
        RunConfig {
            optimizer: OptimizerKind::Sgd,
            hyper: Hyper::default(),
            epochs: 5,
            batch_size: 64,
            hidden: vec![128, 64],
            activation: "relu".to_string(),
            seed: 0,
            schedule: ScheduleName::Constant,
            step_size: 1,
            gamma: None,
            eta_min: 0.0,
            patience: 2,
            warmup: 0,
            clip_norm: None,
            shuffle: true,
            max_steps: None,
            normalize: "standard".to_string(),
            eval_batch_size: 1000,
            eval_every: None,
            on_divergence: OnDivergence::Stop,
        }
    }
}

fn config(field: &'static str, message: impl Into<String>) -> TrainError {
    TrainError::Config {
        field,
        message: message.into(),
    }
}

impl RunConfig {
    /// The activation, parsed.
    pub fn activation(&self) -> Result<Activation, TrainError> {
        Activation::from_name(&self.activation).ok_or_else(|| {
            config(
                "activation",
                format!(
                    "unknown activation {:?} (expected relu, sigmoid or tanh)",
                    self.activation
                ),
            )
        })
    }

    /// The layer widths `[dim, hidden…, 10]` for inputs of width `dim`.
    pub fn sizes(&self, dim: usize) -> Vec<usize> {
        let mut s = vec![dim];
        s.extend(&self.hidden);
        s.push(10);
        s
    }

    /// The optimizer's full config: the hyper-parameters given, the
    /// defaults for the rest (see [`OptimizerKind::default_lr`]).
    pub fn optimizer_config(&self) -> Result<OptimizerConfig, TrainError> {
        Ok(OptimizerConfig::new(
            self.optimizer,
            &self.hyper,
            self.clip_norm,
            self.seed,
        )?)
    }

    /// Checks every setting, the optimizer's included, without allocating
    /// anything: errors name the field and what is wrong.
    pub fn validate(&self) -> Result<(), TrainError> {
        self.activation()?;
        if self.batch_size == 0 {
            return Err(config("batch_size", "must be at least 1"));
        }
        if self.eval_batch_size == 0 {
            return Err(config("eval_batch_size", "must be at least 1"));
        }
        if self.eval_every == Some(0) {
            return Err(config("eval_every", "must be at least 1 (steps)"));
        }
        if let Some(i) = self.hidden.iter().position(|&h| h == 0) {
            return Err(config(
                "hidden",
                format!(
                    "width {} (position {}) must be at least 1",
                    self.hidden[i],
                    i + 1
                ),
            ));
        }
        if self.step_size == 0 {
            return Err(config("step_size", "must be at least 1"));
        }
        if let Some(c) = self.clip_norm {
            if !(c.is_finite() && c > 0.0) {
                return Err(config(
                    "clip_norm",
                    format!("{c} must be finite and positive"),
                ));
            }
        }
        self.optimizer_config()?.build()?;
        Ok(())
    }

    /// Examples per step on a training set of `n` examples: all of them for
    /// full-batch `gd`, else `batch_size` (at most `n`).
    pub fn batch_rows(&self, n: usize) -> usize {
        if self.optimizer == OptimizerKind::Gd {
            n
        } else {
            self.batch_size.min(n)
        }
    }

    /// Whether an epoch's batches of `b` out of `n` examples are drawn in a
    /// shuffled order (a full batch in order is the same gradient).
    pub fn shuffle_batch(&self, b: usize, n: usize) -> bool {
        self.shuffle && b < n
    }

    /// Steps per epoch: ⌈N / B⌉, or 1 for full-batch `gd`.
    pub fn steps_per_epoch(&self, train: &Dataset) -> usize {
        let n = train.len().max(1);
        n.div_ceil(self.batch_rows(n).max(1))
    }

    /// The lr schedule for `steps_per_epoch` steps an epoch, and whether it
    /// advances once per epoch (plateau, on the test loss) rather than per
    /// step.
    ///
    /// Warm-up counts steps; the epoch-based kinds are expressed in steps
    /// so that they change the lr exactly at epoch boundaries as PyTorch's
    /// per-epoch schedulers do (step: every `step_size` epochs; exponential:
    /// every epoch), except cosine, which anneals smoothly per step over the
    /// whole run.
    pub fn schedule(
        &self,
        base_lr: f32,
        steps_per_epoch: u64,
    ) -> Result<(Schedule, bool), TrainError> {
        let spe = steps_per_epoch.max(1);
        let (kind, per_epoch) = match self.schedule {
            ScheduleName::Constant => (ScheduleKind::Constant, false),
            ScheduleName::Step => (
                ScheduleKind::Step {
                    step_size: self.step_size as u64 * spe,
                    gamma: self.gamma.unwrap_or(0.1),
                },
                false,
            ),
            ScheduleName::Exponential => (
                ScheduleKind::Step {
                    step_size: spe,
                    gamma: self.gamma.unwrap_or(0.9),
                },
                false,
            ),
            ScheduleName::Cosine => (
                ScheduleKind::Cosine {
                    t_max: (self.epochs as u64 * spe)
                        .saturating_sub(self.warmup)
                        .max(1),
                    eta_min: self.eta_min,
                },
                false,
            ),
            ScheduleName::Plateau => (
                ScheduleKind::ReduceOnPlateau(PlateauConfig {
                    factor: self.gamma.unwrap_or(0.1),
                    patience: self.patience as u64,
                    ..PlateauConfig::default()
                }),
                true,
            ),
        };
        let warmup = (self.warmup > 0).then_some(Warmup {
            steps: self.warmup,
            start_factor: 1.0 / 3.0,
        });
        if per_epoch && warmup.is_some() {
            return Err(config(
                "warmup",
                "counts steps, but plateau advances once per epoch: use a step-based schedule with --warmup",
            ));
        }
        let s =
            Schedule::new(base_lr, kind, warmup).map_err(|e| config("schedule", e.to_string()))?;
        Ok((s, per_epoch))
    }
}

/// The bytes a model of layer widths `sizes` needs at the least: its
/// weights and their gradients, `2 · 4 · Σ (sᵢ·sᵢ₊₁ + sᵢ₊₁)` (optimizer
/// state and activations come on top). `None` if that overflows `u64`.
pub fn model_min_bytes(sizes: &[usize]) -> Option<u64> {
    let mut params: u64 = 0;
    for w in sizes.windows(2) {
        let (i, o) = (w[0] as u64, w[1] as u64);
        params = params.checked_add(i.checked_mul(o)?.checked_add(o)?)?;
    }
    params.checked_mul(8)
}

/// The memory the system can still give this process, in bytes:
/// `MemAvailable` of `/proc/meminfo` (Linux), or `None` where unknown.
pub fn available_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// Refuses, before anything is allocated, a model whose weights and
/// gradients alone need more than `available` bytes (when known), naming
/// both numbers, so a model of 100 000-wide layers is an error rather than
/// an allocation failure that aborts the process.
pub fn check_model_fits(sizes: &[usize], available: Option<u64>) -> Result<(), TrainError> {
    let need = model_min_bytes(sizes);
    let too_large = match (need, available) {
        (None, _) => true,
        (Some(n), Some(a)) => n > a,
        (Some(_), None) => false,
    };
    if !too_large {
        return Ok(());
    }
    let need = need.map_or("more than 2^64".to_string(), |n| n.to_string());
    let have = available.map_or("an unknown amount".to_string(), |a| a.to_string());
    Err(config(
        "hidden",
        format!(
            "the model {sizes:?} needs at least {need} bytes for its weights and gradients, \
             but this machine has {have} bytes available (MemAvailable)"
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 784-128-64-10 has 109 386 parameters: 875 088 bytes of weights and
    /// gradients; an overflowing size is refused whatever the machine has.
    #[test]
    fn the_memory_check_counts_weights_and_gradients() {
        assert_eq!(model_min_bytes(&[784, 128, 64, 10]), Some(8 * 109_386));
        assert!(check_model_fits(&[784, 128, 64, 10], Some(875_088)).is_ok());
        let err = check_model_fits(&[784, 128, 64, 10], Some(875_087)).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.starts_with("hidden: ") && msg.contains("875088") && msg.contains("875087"),
            "{msg}"
        );
        assert!(check_model_fits(&[784, 128, 64, 10], None).is_ok());
        assert_eq!(model_min_bytes(&[usize::MAX, usize::MAX]), None);
        assert!(check_model_fits(&[usize::MAX, 2], None).is_err());
    }

    /// Checkpoints written before the config moved into the library (the
    /// optimizer a plain string, the hyper-parameters the CLI's flags)
    /// still parse, and the JSON written now has the same shape.
    #[test]
    fn the_config_json_is_the_one_checkpoints_hold() {
        let old = r#"{"optimizer":"random-search","hyper":{"lr":null,"momentum":null,"dampening":null,"weight_decay":null,"maximize":false,"lr_decay":null,"initial_accumulator_value":null,"eps":null,"alpha":null,"centered":false,"beta1":null,"beta2":null,"amsgrad":false,"sigma":0.5,"sigma_decay":null},"epochs":2,"batch_size":64,"hidden":[128,64],"activation":"relu","seed":3,"schedule":"cosine","step_size":1,"gamma":null,"eta_min":0.0,"patience":2,"warmup":0,"clip_norm":null,"shuffle":true,"max_steps":null,"normalize":"standard","eval_batch_size":1000,"on_divergence":"skip-step"}"#;
        let c: RunConfig = serde_json::from_str(old).unwrap();
        assert_eq!(c.optimizer, OptimizerKind::RandomSearch);
        assert_eq!(c.hyper.sigma, Some(0.5));
        assert_eq!(c.schedule, ScheduleName::Cosine);
        assert_eq!(c.on_divergence, OnDivergence::SkipStep);
        assert_eq!(serde_json::to_string(&c).unwrap(), old);
    }

    /// Each invalid setting is refused naming its field.
    #[test]
    fn validation_names_the_field() {
        let field = |c: RunConfig| match c.validate() {
            Err(TrainError::Config { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        let d = RunConfig::default;
        assert!(d().validate().is_ok());
        assert_eq!(
            field(RunConfig {
                batch_size: 0,
                ..d()
            }),
            "batch_size"
        );
        assert_eq!(
            field(RunConfig {
                eval_batch_size: 0,
                ..d()
            }),
            "eval_batch_size"
        );
        assert_eq!(
            field(RunConfig {
                hidden: vec![3, 0],
                ..d()
            }),
            "hidden"
        );
        assert_eq!(
            field(RunConfig {
                step_size: 0,
                ..d()
            }),
            "step_size"
        );
        assert_eq!(
            field(RunConfig {
                clip_norm: Some(-1.0),
                ..d()
            }),
            "clip_norm"
        );
        assert_eq!(
            field(RunConfig {
                activation: "gelu".into(),
                ..d()
            }),
            "activation"
        );
        let plateau = RunConfig {
            schedule: ScheduleName::Plateau,
            warmup: 3,
            ..d()
        };
        assert!(matches!(
            plateau.schedule(0.1, 10),
            Err(TrainError::Config {
                field: "warmup",
                ..
            })
        ));
    }
}
