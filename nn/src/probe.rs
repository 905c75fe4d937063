//! Where a training step's time goes. The step's code calls
//! [`Probe::done`] each time one of its phases has finished; a profiler's
//! probe reads a clock there, and the time since the previous call is that
//! phase's. Between two calls there is nothing but the phase's own work, so
//! the phases of a step add up to the step.
//!
//! Training itself passes `&mut ()`, whose `done` is empty and inlined
//! away: the probed code and the unprobed code are the same code.

/// One phase of a training step (or of the epoch around it). Layer indices
/// `l` are 0-based, as in [`crate::Mlp`]; [`Phase::label`] prints them
/// 1-based, as people count layers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Phase {
    /// Copying the batch's rows and labels out of the training set.
    Gather,
    /// Layer `l`'s forward GEMM `X·Wᵀ` with its fused epilogue (`+ b`, and
    /// ReLU when that is the activation).
    Forward(usize),
    /// The activation after layer `l`, when it is not fused into the GEMM
    /// (sigmoid, tanh).
    Activation(usize),
    /// Softmax cross-entropy: the loss and its gradient dZ.
    Loss,
    /// Layer `l`'s `dW = dYᵀ·X`.
    WeightGrad(usize),
    /// Layer `l`'s `db = Σ_rows dY`.
    BiasGrad(usize),
    /// Layer `l`'s `dX = dY·W` (not run for the first layer).
    InputGrad(usize),
    /// The backward of the activation after layer `l`: `dH ⊙= f′`.
    ActivationBackward(usize),
    /// `‖g‖₂` over every gradient.
    GradNorm,
    /// The optimizer's update of every parameter.
    Update,
    /// A random-search step (its candidates' forward passes and losses).
    Search,
    /// The test-set evaluation after an epoch.
    Eval,
}

impl Phase {
    /// A short name: `gather`, `forward 1`, `dW 2`, `relu′ 1`, `norm`, …
    /// (`activation` names the hidden activation).
    pub fn label(self, activation: &str) -> String {
        match self {
            Phase::Gather => "gather".into(),
            Phase::Forward(l) => format!("forward {}", l + 1),
            Phase::Activation(l) => format!("{activation} {}", l + 1),
            Phase::Loss => "softmax-CE".into(),
            Phase::WeightGrad(l) => format!("dW {}", l + 1),
            Phase::BiasGrad(l) => format!("db {}", l + 1),
            Phase::InputGrad(l) => format!("dX {}", l + 1),
            Phase::ActivationBackward(l) => format!("{activation}′ {}", l + 1),
            Phase::GradNorm => "grad norm".into(),
            Phase::Update => "update".into(),
            Phase::Search => "search".into(),
            Phase::Eval => "eval".into(),
        }
    }
}

/// Told when each phase of a step has finished.
pub trait Probe {
    /// `phase` has just finished.
    fn done(&mut self, phase: Phase);
}

/// No probe: what training passes. Compiles to nothing.
impl Probe for () {
    #[inline(always)]
    fn done(&mut self, _phase: Phase) {}
}
