//! The hyper-parameters a user gives, by PyTorch's names, and how a rule's
//! config takes them: [`FromHyper`].

use serde::{Deserialize, Serialize};

/// Every hyper-parameter of every optimizer, by PyTorch's names: `None`
/// (or `false`) keeps the default. Checkpoints store it as JSON under
/// these field names; a field it lacks (a checkpoint written before the
/// field existed) is the default, and the fields added since are written
/// only when given, so an older config reads and writes the same JSON.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Hyper {
    /// Learning rate (default: [`OptimizerKind::default_lr`](crate::OptimizerKind::default_lr)).
    pub lr: Option<f32>,
    /// Momentum μ (SGD kinds, RMSprop).
    pub momentum: Option<f32>,
    /// Dampening of SGD's momentum buffer.
    pub dampening: Option<f32>,
    /// Weight decay (L2, or decoupled for AdamW).
    pub weight_decay: Option<f32>,
    /// Step uphill.
    pub maximize: bool,
    /// AdaGrad's lr decay.
    pub lr_decay: Option<f32>,
    /// AdaGrad's initial accumulator value.
    pub initial_accumulator_value: Option<f32>,
    /// The denominator's ε (AdaGrad, RMSprop, the Adam family, Adadelta).
    pub eps: Option<f32>,
    /// RMSprop's smoothing constant α; ASGD's power α of ηₜ's decay.
    pub alpha: Option<f32>,
    /// RMSprop's centred variant.
    pub centered: bool,
    /// Adam's β₁.
    pub beta1: Option<f32>,
    /// Adam's β₂.
    pub beta2: Option<f32>,
    /// Adam's AMSGrad variant.
    pub amsgrad: bool,
    /// Random search's perturbation scale σ.
    pub sigma: Option<f32>,
    /// Random search's σ decay per step.
    pub sigma_decay: Option<f32>,
    /// Adadelta's ρ.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rho: Option<f32>,
    /// NAdam's momentum decay ψ.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub momentum_decay: Option<f32>,
    /// NAdam's and RAdam's decoupled weight decay (AdamW's form).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub decoupled_weight_decay: bool,
    /// Rprop's `(η₋, η₊)`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub etas: Option<[f32; 2]>,
    /// Rprop's `(smallest, largest)` step size.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step_sizes: Option<[f32; 2]>,
    /// ASGD's decay term λ.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lambd: Option<f32>,
    /// ASGD's t₀, the step averaging starts at.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub t0: Option<f32>,
    /// Schedule-Free's built-in warm-up, in steps.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warmup_steps: Option<u64>,
    /// Schedule-Free's power r of the step count in its averaging weights.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub r: Option<f32>,
    /// Schedule-Free's power of the largest lr in its averaging weights.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight_lr_power: Option<f32>,
    /// Adafactor's c in `1 − β₂ₜ = t^c`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub beta2_decay: Option<f32>,
    /// Adafactor's ε₁ (None: f32's machine epsilon).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eps1: Option<f32>,
    /// Adafactor's ε₂.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eps2: Option<f32>,
    /// Adafactor's d, the cap on its update's RMS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clip_threshold: Option<f32>,
    /// Muon's Newton–Schulz steps.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ns_steps: Option<u32>,
    /// Muon's Newton–Schulz coefficients (a, b, c).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ns_coefficients: Option<[f32; 3]>,
    /// The learning rate of the AdamW Muon runs on the vectors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aux_lr: Option<f32>,
    /// L-BFGS's iterations per step.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_iter: Option<u32>,
    /// L-BFGS's evaluations per step.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_eval: Option<u32>,
    /// L-BFGS's gradient tolerance.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tolerance_grad: Option<f32>,
    /// L-BFGS's step and loss-change tolerance.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tolerance_change: Option<f32>,
    /// L-BFGS's history length.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history_size: Option<u32>,
    /// L-BFGS's line search, torch's `line_search_fn`: `"strong-wolfe"` or
    /// `"none"` (the default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line_search: Option<String>,
}

/// How a config takes the hyper-parameters a user gave: `base` (PyTorch's
/// defaults for the kind, or descent's preset of it, e.g. momentum's
/// μ = 0.9) with every field of `h` that is given put in, the learning
/// rate `lr` and the clipping threshold. Implemented by each rule's config,
/// beside the rule.
pub trait FromHyper: Sized {
    /// The config: `base` overridden by what `h` gives.
    fn from_hyper(base: Self, h: &Hyper, lr: f32, clip_norm: Option<f32>, seed: u64) -> Self;

    /// One line with every setting, for a run's header.
    fn describe(&self) -> String;
}
