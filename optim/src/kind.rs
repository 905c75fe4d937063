//! Optimizers by name: the one list of names, the one table of default
//! learning rates, and the one factory that turns a name and the
//! hyper-parameters a user gave into a validated optimizer.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{
    Adagrad, AdagradConfig, Adam, AdamConfig, OptimError, Optimizer, RandomSearch,
    RandomSearchConfig, Result, Rmsprop, RmspropConfig, SearchMode, Sgd, SgdConfig,
};

/// Every optimizer descent trains with, by the name the command line and
/// the checkpoints use (`serde` writes the same names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OptimizerKind {
    /// Full-batch gradient descent (`gd`): the SGD rule, one step per epoch
    /// on the whole training set.
    Gd,
    /// Mini-batch SGD (`sgd`); batch 1 is pure stochastic GD.
    Sgd,
    /// SGD with heavy-ball momentum (`momentum`).
    Momentum,
    /// SGD with Nesterov momentum (`nesterov`).
    Nesterov,
    /// AdaGrad (`adagrad`).
    Adagrad,
    /// RMSprop (`rmsprop`).
    Rmsprop,
    /// Adam (`adam`).
    Adam,
    /// Adam with decoupled weight decay (`adamw`).
    Adamw,
    /// Perturb the weights, keep them if the batch loss improves
    /// (`random-search`); uses no gradient.
    RandomSearch,
    /// Draw fresh random weights every step, keep the best on the batch
    /// loss (`random-sample`): pure random search, no gradient.
    RandomSample,
}

impl OptimizerKind {
    /// Every kind, in the order tables list them.
    pub const ALL: [OptimizerKind; 10] = [
        OptimizerKind::Gd,
        OptimizerKind::Sgd,
        OptimizerKind::Momentum,
        OptimizerKind::Nesterov,
        OptimizerKind::Adagrad,
        OptimizerKind::Rmsprop,
        OptimizerKind::Adam,
        OptimizerKind::Adamw,
        OptimizerKind::RandomSearch,
        OptimizerKind::RandomSample,
    ];

    /// The name, e.g. `"random-search"`.
    pub fn as_str(self) -> &'static str {
        match self {
            OptimizerKind::Gd => "gd",
            OptimizerKind::Sgd => "sgd",
            OptimizerKind::Momentum => "momentum",
            OptimizerKind::Nesterov => "nesterov",
            OptimizerKind::Adagrad => "adagrad",
            OptimizerKind::Rmsprop => "rmsprop",
            OptimizerKind::Adam => "adam",
            OptimizerKind::Adamw => "adamw",
            OptimizerKind::RandomSearch => "random-search",
            OptimizerKind::RandomSample => "random-sample",
        }
    }

    /// One line on what the kind is, for `--help`.
    pub fn about(self) -> &'static str {
        match self {
            OptimizerKind::Gd => "full-batch gradient descent: one SGD step per epoch",
            OptimizerKind::Sgd => "mini-batch SGD (batch 1: pure SGD)",
            OptimizerKind::Momentum => "SGD with heavy-ball momentum",
            OptimizerKind::Nesterov => "SGD with Nesterov momentum",
            OptimizerKind::Adagrad => "AdaGrad",
            OptimizerKind::Rmsprop => "RMSprop",
            OptimizerKind::Adam => "Adam",
            OptimizerKind::Adamw => "AdamW (decoupled weight decay)",
            OptimizerKind::RandomSearch => "random search: perturb, keep if the loss improves",
            OptimizerKind::RandomSample => {
                "pure random search: fresh random weights, keep the best"
            }
        }
    }

    /// Whether the kind steps along a gradient (all but the random
    /// searches).
    pub fn uses_gradient(self) -> bool {
        !matches!(
            self,
            OptimizerKind::RandomSearch | OptimizerKind::RandomSample
        )
    }

    /// The learning rate descent uses when none is given: **the one table
    /// of default learning rates.**
    ///
    /// The configs' `Default`s (`SgdConfig::default()`, …) are PyTorch's
    /// and stay so, for code that ports a PyTorch script. The factory
    /// ([`OptimizerConfig::new`]), and so the trainer and the command line,
    /// use this column instead, where PyTorch's value trains the
    /// 784-128-64-10 MLP on MNIST at batch 64 badly:
    ///
    /// | kind | PyTorch | descent | why descent's |
    /// |---|---|---|---|
    /// | gd | 1e-3 | 0.1 | one step per epoch: the full-batch gradient is exact, a large step is stable |
    /// | sgd, momentum, nesterov | 1e-3 | 0.01 | 1e-3 (PyTorch ≥ 2.4's default; before, lr was required) barely moves in one epoch |
    /// | adagrad | 1e-2 | 1e-2 | PyTorch's |
    /// | rmsprop | 1e-2 | 1e-3 | 1e-2 makes the loss oscillate; 1e-3 is Keras' default |
    /// | adam, adamw | 1e-3 | 1e-3 | PyTorch's |
    /// | random-search | – | – | no lr: it steps by σ (default 0.1) |
    /// | random-sample | – | – | no lr: it draws weights of scale σ (default 0.05, about PyTorch's init for 784 inputs) |
    ///
    /// Momentum and Nesterov also default to μ = 0.9 (PyTorch's SGD has
    /// μ = 0, which would make them plain SGD). Everything else is
    /// PyTorch's default.
    pub fn default_lr(self) -> f32 {
        match self {
            OptimizerKind::Gd => 0.1,
            OptimizerKind::Sgd | OptimizerKind::Momentum | OptimizerKind::Nesterov => 0.01,
            OptimizerKind::Adagrad => 0.01,
            OptimizerKind::Rmsprop => 0.001,
            OptimizerKind::Adam | OptimizerKind::Adamw => 0.001,
            OptimizerKind::RandomSearch | OptimizerKind::RandomSample => 0.0,
        }
    }

    /// PyTorch's default learning rate for the kind (its config's
    /// `Default`), `None` for random search; see [`OptimizerKind::default_lr`].
    pub fn pytorch_lr(self) -> Option<f32> {
        match self {
            OptimizerKind::Gd
            | OptimizerKind::Sgd
            | OptimizerKind::Momentum
            | OptimizerKind::Nesterov => Some(SgdConfig::default().lr),
            OptimizerKind::Adagrad => Some(AdagradConfig::default().lr),
            OptimizerKind::Rmsprop => Some(RmspropConfig::default().lr),
            OptimizerKind::Adam => Some(AdamConfig::default().lr),
            OptimizerKind::Adamw => Some(AdamConfig::adamw().lr),
            OptimizerKind::RandomSearch | OptimizerKind::RandomSample => None,
        }
    }

    fn sgd_like(self) -> bool {
        matches!(
            self,
            OptimizerKind::Gd
                | OptimizerKind::Sgd
                | OptimizerKind::Momentum
                | OptimizerKind::Nesterov
        )
    }
}

impl fmt::Display for OptimizerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OptimizerKind {
    type Err = OptimError;

    /// Parses a name (case-insensitive, surrounding blanks ignored).
    fn from_str(s: &str) -> Result<Self> {
        let l = s.trim().to_ascii_lowercase();
        OptimizerKind::ALL
            .into_iter()
            .find(|k| k.as_str() == l)
            .ok_or_else(|| OptimError::UnknownOptimizer {
                name: s.to_string(),
            })
    }
}

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
    /// The denominator's ε (AdaGrad, RMSprop, Adam, AdamW).
    pub eps: Option<f32>,
    /// RMSprop's smoothing constant α.
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
}

impl Hyper {
    /// Errors with [`OptimError::NotApplicable`], naming the first field
    /// given that `kind` does not have (a typo'd flag should not be
    /// silently ignored).
    pub fn check_applicable(&self, kind: OptimizerKind) -> Result<()> {
        use OptimizerKind::*;
        let k = kind;
        let adam = matches!(k, Adam | Adamw);
        let fields: [(&'static str, bool, bool); 15] = [
            ("lr", self.lr.is_some(), k.uses_gradient()),
            (
                "momentum",
                self.momentum.is_some(),
                k.sgd_like() || k == Rmsprop,
            ),
            ("dampening", self.dampening.is_some(), k.sgd_like()),
            (
                "weight_decay",
                self.weight_decay.is_some(),
                k.uses_gradient(),
            ),
            ("maximize", self.maximize, k.uses_gradient()),
            ("lr_decay", self.lr_decay.is_some(), k == Adagrad),
            (
                "initial_accumulator_value",
                self.initial_accumulator_value.is_some(),
                k == Adagrad,
            ),
            (
                "eps",
                self.eps.is_some(),
                adam || matches!(k, Adagrad | Rmsprop),
            ),
            ("alpha", self.alpha.is_some(), k == Rmsprop),
            ("centered", self.centered, k == Rmsprop),
            ("beta1", self.beta1.is_some(), adam),
            ("beta2", self.beta2.is_some(), adam),
            ("amsgrad", self.amsgrad, adam),
            ("sigma", self.sigma.is_some(), !k.uses_gradient()),
            (
                "sigma_decay",
                self.sigma_decay.is_some(),
                !k.uses_gradient(),
            ),
        ];
        match fields.iter().find(|(_, given, applies)| *given && !applies) {
            Some(&(field, ..)) => Err(OptimError::NotApplicable {
                optimizer: kind.as_str(),
                field,
            }),
            None => Ok(()),
        }
    }
}

/// The full config of one optimizer: what [`OptimizerConfig::new`] makes of
/// a kind and the hyper-parameters given.
#[derive(Debug, Clone, PartialEq)]
pub enum OptimizerConfig {
    /// gd, sgd, momentum, nesterov.
    Sgd(SgdConfig),
    /// adagrad.
    Adagrad(AdagradConfig),
    /// rmsprop.
    Rmsprop(RmspropConfig),
    /// adam, adamw.
    Adam(AdamConfig),
    /// random-search.
    RandomSearch(RandomSearchConfig),
}

/// What updates the weights: a gradient optimizer or random search.
pub enum Updater {
    /// Every kind but random search.
    Grad(Box<dyn Optimizer>),
    /// Gradient-free: perturb, keep if the batch loss improves.
    Search(Box<RandomSearch>),
}

impl Updater {
    /// The learning rate (0 for random search).
    pub fn lr(&self) -> f32 {
        match self {
            Updater::Grad(o) => o.lr(),
            Updater::Search(_) => 0.0,
        }
    }

    /// The gradient optimizer, or `None` for random search.
    pub fn into_gradient(self) -> Option<Box<dyn Optimizer>> {
        match self {
            Updater::Grad(o) => Some(o),
            Updater::Search(_) => None,
        }
    }
}

impl OptimizerConfig {
    /// **The optimizer factory**: the config of `kind` from the fields of
    /// `h` that are given, descent's default lr
    /// ([`OptimizerKind::default_lr`]) and PyTorch's defaults for the rest;
    /// `clip_norm` clips by global norm, `seed` seeds random search.
    /// Errors name a field `kind` does not have; the values themselves are
    /// checked by [`OptimizerConfig::build`].
    pub fn new(kind: OptimizerKind, h: &Hyper, clip_norm: Option<f32>, seed: u64) -> Result<Self> {
        h.check_applicable(kind)?;
        let lr = h.lr.unwrap_or(kind.default_lr());
        Ok(match kind {
            OptimizerKind::Gd
            | OptimizerKind::Sgd
            | OptimizerKind::Momentum
            | OptimizerKind::Nesterov => {
                let d = SgdConfig::default();
                let mu = if matches!(kind, OptimizerKind::Momentum | OptimizerKind::Nesterov) {
                    0.9
                } else {
                    d.momentum
                };
                OptimizerConfig::Sgd(SgdConfig {
                    lr,
                    momentum: h.momentum.unwrap_or(mu),
                    dampening: h.dampening.unwrap_or(d.dampening),
                    weight_decay: h.weight_decay.unwrap_or(d.weight_decay),
                    nesterov: kind == OptimizerKind::Nesterov,
                    maximize: h.maximize,
                    clip_norm,
                })
            }
            OptimizerKind::Adagrad => {
                let d = AdagradConfig::default();
                OptimizerConfig::Adagrad(AdagradConfig {
                    lr,
                    lr_decay: h.lr_decay.unwrap_or(d.lr_decay),
                    weight_decay: h.weight_decay.unwrap_or(d.weight_decay),
                    initial_accumulator_value: h
                        .initial_accumulator_value
                        .unwrap_or(d.initial_accumulator_value),
                    eps: h.eps.unwrap_or(d.eps),
                    maximize: h.maximize,
                    clip_norm,
                })
            }
            OptimizerKind::Rmsprop => {
                let d = RmspropConfig::default();
                OptimizerConfig::Rmsprop(RmspropConfig {
                    lr,
                    alpha: h.alpha.unwrap_or(d.alpha),
                    eps: h.eps.unwrap_or(d.eps),
                    weight_decay: h.weight_decay.unwrap_or(d.weight_decay),
                    momentum: h.momentum.unwrap_or(d.momentum),
                    centered: h.centered,
                    maximize: h.maximize,
                    clip_norm,
                })
            }
            OptimizerKind::Adam | OptimizerKind::Adamw => {
                let d = if kind == OptimizerKind::Adam {
                    AdamConfig::default()
                } else {
                    AdamConfig::adamw()
                };
                OptimizerConfig::Adam(AdamConfig {
                    lr,
                    beta1: h.beta1.unwrap_or(d.beta1),
                    beta2: h.beta2.unwrap_or(d.beta2),
                    eps: h.eps.unwrap_or(d.eps),
                    weight_decay: h.weight_decay.unwrap_or(d.weight_decay),
                    amsgrad: h.amsgrad,
                    decoupled_weight_decay: d.decoupled_weight_decay,
                    maximize: h.maximize,
                    clip_norm,
                })
            }
            OptimizerKind::RandomSearch | OptimizerKind::RandomSample => {
                let d = RandomSearchConfig::default();
                let (mode, sigma) = if kind == OptimizerKind::RandomSample {
                    (SearchMode::Sample, 0.05)
                } else {
                    (SearchMode::Perturb, d.sigma)
                };
                OptimizerConfig::RandomSearch(RandomSearchConfig {
                    sigma: h.sigma.unwrap_or(sigma),
                    sigma_decay: h.sigma_decay.unwrap_or(d.sigma_decay),
                    seed,
                    mode,
                    ..d
                })
            }
        })
    }

    /// The optimizer, every field validated (the error names the field and
    /// its value).
    pub fn build(&self) -> Result<Updater> {
        Ok(match *self {
            OptimizerConfig::Sgd(c) => Updater::Grad(Box::new(Sgd::new(c)?)),
            OptimizerConfig::Adagrad(c) => Updater::Grad(Box::new(Adagrad::new(c)?)),
            OptimizerConfig::Rmsprop(c) => Updater::Grad(Box::new(Rmsprop::new(c)?)),
            OptimizerConfig::Adam(c) => Updater::Grad(Box::new(Adam::new(c)?)),
            OptimizerConfig::RandomSearch(c) => Updater::Search(Box::new(RandomSearch::new(c)?)),
        })
    }

    /// One line with every setting, for a run's header.
    pub fn describe(&self) -> String {
        match self {
            OptimizerConfig::Sgd(c) => format!(
                "lr {}, momentum {}, dampening {}, weight_decay {}, nesterov {}, maximize {}",
                c.lr, c.momentum, c.dampening, c.weight_decay, c.nesterov, c.maximize
            ),
            OptimizerConfig::Adagrad(c) => format!(
                "lr {}, lr_decay {}, weight_decay {}, initial_accumulator_value {}, eps {}, maximize {}",
                c.lr, c.lr_decay, c.weight_decay, c.initial_accumulator_value, c.eps, c.maximize
            ),
            OptimizerConfig::Rmsprop(c) => format!(
                "lr {}, alpha {}, eps {}, weight_decay {}, momentum {}, centered {}, maximize {}",
                c.lr, c.alpha, c.eps, c.weight_decay, c.momentum, c.centered, c.maximize
            ),
            OptimizerConfig::Adam(c) => format!(
                "lr {}, betas ({}, {}), eps {}, weight_decay {} ({}), amsgrad {}, maximize {}",
                c.lr,
                c.beta1,
                c.beta2,
                c.eps,
                c.weight_decay,
                if c.decoupled_weight_decay { "decoupled" } else { "L2" },
                c.amsgrad,
                c.maximize
            ),
            OptimizerConfig::RandomSearch(c) => format!(
                "sigma {}, sigma_decay {}, min_sigma {}, {}",
                c.sigma,
                c.sigma_decay,
                c.min_sigma,
                match c.mode {
                    SearchMode::Perturb => "candidates θ + σ·z",
                    SearchMode::Sample => "candidates σ·z (fresh weights)",
                }
            ),
        }
    }
}
