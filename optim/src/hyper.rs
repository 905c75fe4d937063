//! The hyper-parameters a user gives, by PyTorch's names, and how a rule's
//! config takes them: [`FromHyper`].

use serde::{Deserialize, Serialize};

/// Every hyper-parameter of every optimizer, by PyTorch's names: `None`
/// (or `false`) keeps the default. Checkpoints store it as JSON under
/// these field names.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Hyper {
    /// Learning rate (default: [`OptimizerKind::default_lr`]).
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
    #[serde(default)]
    pub rho: Option<f32>,
    /// NAdam's momentum decay ψ.
    #[serde(default)]
    pub momentum_decay: Option<f32>,
    /// NAdam's and RAdam's decoupled weight decay (AdamW's form).
    #[serde(default)]
    pub decoupled_weight_decay: bool,
    /// Rprop's `(η₋, η₊)`.
    #[serde(default)]
    pub etas: Option<[f32; 2]>,
    /// Rprop's `(smallest, largest)` step size.
    #[serde(default)]
    pub step_sizes: Option<[f32; 2]>,
    /// ASGD's decay term λ.
    #[serde(default)]
    pub lambd: Option<f32>,
    /// ASGD's t₀, the step averaging starts at.
    #[serde(default)]
    pub t0: Option<f32>,
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
