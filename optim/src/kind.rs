//! Optimizers by name: **the kind table** ([`TABLE`]), one line per kind
//! with its name, what it is, descent's default learning rate, the
//! hyper-parameters it takes and the rule it builds; and the one factory
//! that turns a name and the hyper-parameters a user gave into a validated
//! optimizer. Adding a rule is its kernel (`descent_core::step`), its
//! [`crate::Rule`] and [`FromHyper`] (beside each other, in its own file),
//! a variant of [`OptimizerKind`] and a line here.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::driver::{Driven, Rule};
use crate::hyper::{FromHyper, Hyper};
use crate::lbfgs::{Lbfgs, LbfgsConfig};
use crate::{
    AdadeltaConfig, AdafactorConfig, AdagradConfig, AdamConfig, AdamaxConfig, AsgdConfig,
    LionConfig, MuonConfig, NadamConfig, OptimError, Optimizer, RadamConfig, RandomSearch,
    RandomSearchConfig, Result, RmspropConfig, RpropConfig, ScheduleFreeConfig, SearchMode,
    SgdConfig,
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
    /// Adamax, Adam with the infinity norm (`adamax`).
    Adamax,
    /// Lion, the sign of an interpolated momentum (`lion`).
    Lion,
    /// Adadelta, a step scaled by two running RMS values (`adadelta`).
    Adadelta,
    /// NAdam, Adam with Nesterov momentum (`nadam`).
    Nadam,
    /// RAdam, Adam with a rectified adaptive step (`radam`).
    Radam,
    /// Rprop, per-weight step sizes moved by the gradient's sign (`rprop`).
    Rprop,
    /// Averaged SGD (`asgd`).
    Asgd,
    /// Schedule-Free AdamW (`schedule-free-adamw`).
    ScheduleFreeAdamw,
    /// Adafactor, factored second moments (`adafactor`).
    Adafactor,
    /// Muon, orthogonalised momentum on every weight matrix (`muon`).
    Muon,
    /// L-BFGS, a quasi-Newton method, several evaluations a step (`lbfgs`).
    Lbfgs,
    /// Perturb the weights, keep them if the batch loss improves
    /// (`random-search`); uses no gradient.
    RandomSearch,
    /// Draw fresh random weights every step, keep the best on the batch
    /// loss (`random-sample`): pure random search, no gradient.
    RandomSample,
}

/// How a line of the table builds and describes its kind's optimizer.
trait Kind: Sync {
    /// The optimizer of `c`, every field validated.
    fn build(&self, c: &OptimizerConfig) -> Result<Updater>;
    /// One line with every setting of `c`.
    fn describe(&self, c: &OptimizerConfig) -> String;
    /// PyTorch's default lr for the kind (its base config's), if it has one.
    fn torch_lr(&self) -> Option<f32>;
}

/// A gradient rule `R` whose config starts from `base()`.
struct Grad<R>(fn() -> R);

impl<R: Rule + FromHyper> Grad<R> {
    fn config(&self, c: &OptimizerConfig) -> R {
        R::from_hyper((self.0)(), &c.hyper, c.lr, c.clip_norm, c.seed)
    }
}

impl<R: Rule + FromHyper> Kind for Grad<R> {
    fn build(&self, c: &OptimizerConfig) -> Result<Updater> {
        Ok(Updater::Grad(Box::new(Driven::new(self.config(c))?)))
    }
    fn describe(&self, c: &OptimizerConfig) -> String {
        self.config(c).describe()
    }
    fn torch_lr(&self) -> Option<f32> {
        Some((self.0)().lr())
    }
}

/// A rule that is not elementwise, so not on the driver (Adafactor, Muon):
/// its config builds its own optimizer.
pub(crate) trait Standalone: FromHyper + 'static {
    /// The optimizer, every field validated.
    fn build(self) -> Result<Box<dyn Optimizer>>;
    /// The learning rate.
    fn lr(&self) -> f32;
}

/// A [`Standalone`] rule whose config starts from `base()`.
struct Whole<C>(fn() -> C);

impl<C: Standalone> Whole<C> {
    fn config(&self, c: &OptimizerConfig) -> C {
        C::from_hyper((self.0)(), &c.hyper, c.lr, c.clip_norm, c.seed)
    }
}

impl<C: Standalone> Kind for Whole<C> {
    fn build(&self, c: &OptimizerConfig) -> Result<Updater> {
        Ok(Updater::Grad(self.config(c).build()?))
    }
    fn describe(&self, c: &OptimizerConfig) -> String {
        self.config(c).describe()
    }
    fn torch_lr(&self) -> Option<f32> {
        Some((self.0)().lr())
    }
}

/// L-BFGS starting from `base()`.
struct Quasi(fn() -> LbfgsConfig);

impl Quasi {
    fn config(&self, c: &OptimizerConfig) -> LbfgsConfig {
        LbfgsConfig::from_hyper((self.0)(), &c.hyper, c.lr, c.clip_norm, c.seed)
    }
}

impl Kind for Quasi {
    fn build(&self, c: &OptimizerConfig) -> Result<Updater> {
        if c.clip_norm.is_some() {
            return Err(OptimError::NotApplicable {
                optimizer: "lbfgs",
                field: "clip_norm",
            });
        }
        Ok(Updater::Lbfgs(Box::new(Lbfgs::new(self.config(c))?)))
    }
    fn describe(&self, c: &OptimizerConfig) -> String {
        self.config(c).describe()
    }
    fn torch_lr(&self) -> Option<f32> {
        Some((self.0)().lr)
    }
}

/// Random search starting from `base()`.
struct Search(fn() -> RandomSearchConfig);

impl Search {
    fn config(&self, c: &OptimizerConfig) -> RandomSearchConfig {
        RandomSearchConfig::from_hyper((self.0)(), &c.hyper, c.lr, c.clip_norm, c.seed)
    }
}

impl Kind for Search {
    fn build(&self, c: &OptimizerConfig) -> Result<Updater> {
        Ok(Updater::Search(Box::new(RandomSearch::new(
            self.config(c),
        )?)))
    }
    fn describe(&self, c: &OptimizerConfig) -> String {
        self.config(c).describe()
    }
    fn torch_lr(&self) -> Option<f32> {
        None
    }
}

/// One line of [`TABLE`].
struct Line {
    kind: OptimizerKind,
    name: &'static str,
    about: &'static str,
    /// descent's default lr (see [`OptimizerKind::default_lr`]); 0 without one.
    lr: f32,
    /// The fields of [`Hyper`] the kind takes.
    takes: &'static [&'static str],
    rule: &'static dyn Kind,
}

/// What every gradient rule takes.
const G: [&str; 3] = ["lr", "weight_decay", "maximize"];
/// What random search takes.
const S: [&str; 2] = ["sigma", "sigma_decay"];

/// `G` followed by `more`.
const fn g<const N: usize, const M: usize>(more: [&'static str; N]) -> [&'static str; M] {
    let mut out = [""; M];
    let mut i = 0;
    while i < M {
        out[i] = if i < 3 { G[i] } else { more[i - 3] };
        i += 1;
    }
    out
}

fn momentum() -> SgdConfig {
    SgdConfig {
        momentum: 0.9,
        ..SgdConfig::default()
    }
}

fn nesterov() -> SgdConfig {
    SgdConfig {
        nesterov: true,
        ..momentum()
    }
}

fn random_sample() -> RandomSearchConfig {
    RandomSearchConfig {
        mode: SearchMode::Sample,
        sigma: 0.05,
        ..RandomSearchConfig::default()
    }
}

/// **The kind table**, in the order tables list the kinds.
const TABLE: [Line; 21] = {
    use OptimizerKind as K;
    [
        Line {
            kind: K::Gd,
            name: "gd",
            about: "full-batch gradient descent: one SGD step per epoch",
            lr: 0.1,
            takes: &g::<2, 5>(["momentum", "dampening"]),
            rule: &Grad(SgdConfig::default),
        },
        Line {
            kind: K::Sgd,
            name: "sgd",
            about: "mini-batch SGD (batch 1: pure SGD)",
            lr: 0.01,
            takes: &g::<2, 5>(["momentum", "dampening"]),
            rule: &Grad(SgdConfig::default),
        },
        Line {
            kind: K::Momentum,
            name: "momentum",
            about: "SGD with heavy-ball momentum",
            lr: 0.01,
            takes: &g::<2, 5>(["momentum", "dampening"]),
            rule: &Grad(momentum),
        },
        Line {
            kind: K::Nesterov,
            name: "nesterov",
            about: "SGD with Nesterov momentum",
            lr: 0.01,
            takes: &g::<2, 5>(["momentum", "dampening"]),
            rule: &Grad(nesterov),
        },
        Line {
            kind: K::Adagrad,
            name: "adagrad",
            about: "AdaGrad",
            lr: 0.01,
            takes: &g::<3, 6>(["lr_decay", "initial_accumulator_value", "eps"]),
            rule: &Grad(AdagradConfig::default),
        },
        Line {
            kind: K::Rmsprop,
            name: "rmsprop",
            about: "RMSprop",
            lr: 0.001,
            takes: &g::<4, 7>(["momentum", "eps", "alpha", "centered"]),
            rule: &Grad(RmspropConfig::default),
        },
        Line {
            kind: K::Adam,
            name: "adam",
            about: "Adam",
            lr: 0.001,
            takes: &g::<4, 7>(["eps", "beta1", "beta2", "amsgrad"]),
            rule: &Grad(AdamConfig::default),
        },
        Line {
            kind: K::Adamw,
            name: "adamw",
            about: "AdamW (decoupled weight decay)",
            lr: 0.001,
            takes: &g::<4, 7>(["eps", "beta1", "beta2", "amsgrad"]),
            rule: &Grad(AdamConfig::adamw),
        },
        Line {
            kind: K::Adamax,
            name: "adamax",
            about: "Adamax (Adam with the infinity norm)",
            lr: 0.002,
            takes: &g::<3, 6>(["eps", "beta1", "beta2"]),
            rule: &Grad(AdamaxConfig::default),
        },
        Line {
            kind: K::Lion,
            name: "lion",
            about: "Lion (the sign of an interpolated momentum)",
            lr: 1e-4,
            takes: &g::<2, 5>(["beta1", "beta2"]),
            rule: &Grad(LionConfig::default),
        },
        Line {
            kind: K::Adadelta,
            name: "adadelta",
            about: "Adadelta (a step scaled by two running RMS values)",
            lr: 1.0,
            takes: &g::<2, 5>(["rho", "eps"]),
            rule: &Grad(AdadeltaConfig::default),
        },
        Line {
            kind: K::Nadam,
            name: "nadam",
            about: "NAdam (Adam with Nesterov momentum)",
            lr: 0.002,
            takes: &g::<5, 8>([
                "eps",
                "beta1",
                "beta2",
                "momentum_decay",
                "decoupled_weight_decay",
            ]),
            rule: &Grad(NadamConfig::default),
        },
        Line {
            kind: K::Radam,
            name: "radam",
            about: "RAdam (Adam with a rectified adaptive step)",
            lr: 0.001,
            takes: &g::<4, 7>(["eps", "beta1", "beta2", "decoupled_weight_decay"]),
            rule: &Grad(RadamConfig::default),
        },
        Line {
            kind: K::Rprop,
            name: "rprop",
            about: "Rprop (per-weight step sizes moved by the gradient's sign)",
            lr: 0.01,
            // torch's Rprop has no weight decay.
            takes: &["lr", "maximize", "etas", "step_sizes"],
            rule: &Grad(RpropConfig::default),
        },
        Line {
            kind: K::Asgd,
            name: "asgd",
            about: "averaged SGD (a decaying step and averaged weights)",
            lr: 0.01,
            takes: &g::<3, 6>(["lambd", "alpha", "t0"]),
            rule: &Grad(AsgdConfig::default),
        },
        Line {
            kind: K::ScheduleFreeAdamw,
            name: "schedule-free-adamw",
            about: "Schedule-Free AdamW (no schedule; the model is an average)",
            lr: 0.0025,
            takes: &g::<6, 9>([
                "eps",
                "beta1",
                "beta2",
                "warmup_steps",
                "r",
                "weight_lr_power",
            ]),
            rule: &Grad(ScheduleFreeConfig::default),
        },
        Line {
            kind: K::Adafactor,
            name: "adafactor",
            about: "Adafactor (row and column second moments, a relative step)",
            lr: 0.01,
            takes: &g::<4, 7>(["beta2_decay", "eps1", "eps2", "clip_threshold"]),
            rule: &Whole(AdafactorConfig::default),
        },
        Line {
            kind: K::Muon,
            name: "muon",
            about: "Muon (orthogonalised momentum on each weight matrix; AdamW on the biases)",
            lr: 0.02,
            takes: &[
                "lr",
                "weight_decay",
                "momentum",
                "eps",
                "ns_steps",
                "ns_coefficients",
                "aux_lr",
            ],
            rule: &Whole(MuonConfig::default),
        },
        Line {
            kind: K::Lbfgs,
            name: "lbfgs",
            about: "L-BFGS (quasi-Newton; up to max_iter evaluations on each batch)",
            lr: 1.0,
            takes: &[
                "lr",
                "max_iter",
                "max_eval",
                "tolerance_grad",
                "tolerance_change",
                "history_size",
                "line_search",
            ],
            rule: &Quasi(LbfgsConfig::default),
        },
        Line {
            kind: K::RandomSearch,
            name: "random-search",
            about: "random search: perturb, keep if the loss improves",
            lr: 0.0,
            takes: &S,
            rule: &Search(RandomSearchConfig::default),
        },
        Line {
            kind: K::RandomSample,
            name: "random-sample",
            about: "pure random search: fresh random weights, keep the best",
            lr: 0.0,
            takes: &S,
            rule: &Search(random_sample),
        },
    ]
};

// Line i is kind i, so a kind finds its line by its index.
const _: () = {
    let mut i = 0;
    while i < TABLE.len() {
        assert!(TABLE[i].kind as usize == i);
        i += 1;
    }
};

impl OptimizerKind {
    /// Every kind, in the order tables list them.
    pub const ALL: [OptimizerKind; TABLE.len()] = {
        let mut all = [OptimizerKind::Gd; TABLE.len()];
        let mut i = 0;
        while i < TABLE.len() {
            all[i] = TABLE[i].kind;
            i += 1;
        }
        all
    };

    fn line(self) -> &'static Line {
        &TABLE[self as usize]
    }

    /// The name, e.g. `"random-search"`.
    pub fn as_str(self) -> &'static str {
        self.line().name
    }

    /// One line on what the kind is, for `--help`.
    pub fn about(self) -> &'static str {
        self.line().about
    }

    /// Whether the kind has the hyper-parameter `field` (a field name of
    /// [`Hyper`], e.g. `"weight_decay"`; Rprop has none, as in torch).
    pub fn takes(self, field: &str) -> bool {
        self.line().takes.contains(&field)
    }

    /// Whether the kind steps along a gradient (all but the random
    /// searches).
    pub fn uses_gradient(self) -> bool {
        self.line().takes.contains(&"lr")
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
    /// | adamax | 2e-3 | 2e-3 | PyTorch's |
    /// | lion | 1e-4 (`lion-pytorch`) | 1e-4 | the reference's |
    /// | adadelta | 1 | 1 | PyTorch's (and its MNIST example's) |
    /// | nadam | 2e-3 | 2e-3 | PyTorch's |
    /// | radam | 1e-3 | 1e-3 | PyTorch's |
    /// | rprop | 1e-2 | 1e-2 | PyTorch's (only the first step reads it: it is the step sizes' start) |
    /// | asgd | 1e-2 | 1e-2 | PyTorch's |
    /// | schedule-free-adamw | 2.5e-3 (`schedulefree`) | 2.5e-3 | the reference's |
    /// | adafactor | 1e-2 | 1e-2 | PyTorch's (the relative step's cap) |
    /// | lbfgs | 1 | 1 | PyTorch's |
    /// | muon | 1e-3 | 2e-2 | Keller Jordan's reference rate; at 1e-3 the orthogonalised steps are too small to train in a few epochs |
    /// | random-search | – | – | no lr: it steps by σ (default 0.1) |
    /// | random-sample | – | – | no lr: it draws weights of scale σ (default 0.05, about PyTorch's init for 784 inputs) |
    ///
    /// Momentum and Nesterov also default to μ = 0.9 (PyTorch's SGD has
    /// μ = 0, which would make them plain SGD). Everything else is
    /// PyTorch's default.
    pub fn default_lr(self) -> f32 {
        self.line().lr
    }

    /// PyTorch's default learning rate for the kind (its config's
    /// `Default`), `None` for random search; see [`OptimizerKind::default_lr`].
    pub fn pytorch_lr(self) -> Option<f32> {
        self.line().rule.torch_lr()
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

impl Hyper {
    /// Errors with [`OptimError::NotApplicable`], naming the first field
    /// given that `kind` does not have (a typo'd flag should not be
    /// silently ignored).
    pub fn check_applicable(&self, kind: OptimizerKind) -> Result<()> {
        let given: [(&'static str, bool); 38] = [
            ("lr", self.lr.is_some()),
            ("momentum", self.momentum.is_some()),
            ("dampening", self.dampening.is_some()),
            ("weight_decay", self.weight_decay.is_some()),
            ("maximize", self.maximize),
            ("lr_decay", self.lr_decay.is_some()),
            (
                "initial_accumulator_value",
                self.initial_accumulator_value.is_some(),
            ),
            ("eps", self.eps.is_some()),
            ("alpha", self.alpha.is_some()),
            ("centered", self.centered),
            ("beta1", self.beta1.is_some()),
            ("beta2", self.beta2.is_some()),
            ("amsgrad", self.amsgrad),
            ("sigma", self.sigma.is_some()),
            ("sigma_decay", self.sigma_decay.is_some()),
            ("rho", self.rho.is_some()),
            ("momentum_decay", self.momentum_decay.is_some()),
            ("decoupled_weight_decay", self.decoupled_weight_decay),
            ("etas", self.etas.is_some()),
            ("step_sizes", self.step_sizes.is_some()),
            ("lambd", self.lambd.is_some()),
            ("t0", self.t0.is_some()),
            ("warmup_steps", self.warmup_steps.is_some()),
            ("r", self.r.is_some()),
            ("weight_lr_power", self.weight_lr_power.is_some()),
            ("beta2_decay", self.beta2_decay.is_some()),
            ("eps1", self.eps1.is_some()),
            ("eps2", self.eps2.is_some()),
            ("clip_threshold", self.clip_threshold.is_some()),
            ("ns_steps", self.ns_steps.is_some()),
            ("ns_coefficients", self.ns_coefficients.is_some()),
            ("aux_lr", self.aux_lr.is_some()),
            ("max_iter", self.max_iter.is_some()),
            ("max_eval", self.max_eval.is_some()),
            ("tolerance_grad", self.tolerance_grad.is_some()),
            ("tolerance_change", self.tolerance_change.is_some()),
            ("history_size", self.history_size.is_some()),
            ("line_search", self.line_search.is_some()),
        ];
        let takes = kind.line().takes;
        match given.iter().find(|(field, g)| *g && !takes.contains(field)) {
            Some(&(field, _)) => Err(OptimError::NotApplicable {
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
pub struct OptimizerConfig {
    /// The kind.
    pub kind: OptimizerKind,
    /// The hyper-parameters given (the rest are the kind's defaults).
    pub hyper: Hyper,
    /// The learning rate: the one given, else [`OptimizerKind::default_lr`].
    pub lr: f32,
    /// Clip the gradient to this global L2 norm before each step.
    pub clip_norm: Option<f32>,
    /// The seed of random search.
    pub seed: u64,
}

/// What updates the weights: a gradient optimizer or random search.
pub enum Updater {
    /// Every kind but random search.
    Grad(Box<dyn Optimizer>),
    /// Gradient-free: perturb, keep if the batch loss improves.
    Search(Box<RandomSearch>),
    /// L-BFGS: steps with a closure that re-evaluates the batch.
    Lbfgs(Box<Lbfgs>),
}

impl Updater {
    /// The learning rate (0 for random search).
    pub fn lr(&self) -> f32 {
        match self {
            Updater::Grad(o) => o.lr(),
            Updater::Search(_) => 0.0,
            Updater::Lbfgs(o) => o.lr(),
        }
    }

    /// The gradient optimizer, or `None` for random search.
    pub fn into_gradient(self) -> Option<Box<dyn Optimizer>> {
        match self {
            Updater::Grad(o) => Some(o),
            Updater::Search(_) | Updater::Lbfgs(_) => None,
        }
    }
}

impl OptimizerConfig {
    /// **The optimizer factory**: the config of `kind` from the fields of
    /// `h` that are given, descent's default lr
    /// ([`OptimizerKind::default_lr`]) and the kind's defaults (PyTorch's,
    /// with momentum's and Nesterov's μ = 0.9) for the rest; `clip_norm`
    /// clips by global norm, `seed` seeds random search. Errors name a
    /// field `kind` does not have; the values themselves are checked by
    /// [`OptimizerConfig::build`].
    pub fn new(kind: OptimizerKind, h: &Hyper, clip_norm: Option<f32>, seed: u64) -> Result<Self> {
        h.check_applicable(kind)?;
        if let Some(ls) = &h.line_search {
            if ls != "none" && ls != "strong-wolfe" {
                return Err(OptimError::InvalidConfig {
                    optimizer: "lbfgs",
                    field: "line_search",
                    value: ls.clone(),
                    reason: "must be none or strong-wolfe",
                });
            }
        }
        Ok(OptimizerConfig {
            kind,
            hyper: h.clone(),
            lr: h.lr.unwrap_or(kind.default_lr()),
            clip_norm,
            seed,
        })
    }

    /// The optimizer, every field validated (the error names the field and
    /// its value).
    pub fn build(&self) -> Result<Updater> {
        self.kind.line().rule.build(self)
    }

    /// One line with every setting, for a run's header.
    pub fn describe(&self) -> String {
        self.kind.line().rule.describe(self)
    }
}
