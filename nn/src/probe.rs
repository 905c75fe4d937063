//! The network's phases, for a profiler to time. [`crate::Mlp`]'s probed
//! forward and backward call [`Probe::done`] each time one of a layer's
//! phases has finished; a profiler's probe reads a clock there. What
//! happens around the network (gathering a batch, the optimizer's update)
//! is the trainer's to report, not the network's.
//!
//! The unprobed methods pass `&mut ()`, whose `done` is empty and inlined
//! away: the probed code and the unprobed code are the same code.

/// One phase of the network's forward, loss or backward. Layer indices
/// `l` are 0-based, as in [`crate::Mlp`]; [`Phase::label`] prints them
/// 1-based, as people count layers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Phase {
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
}

impl Phase {
    /// A short name: `forward 1`, `dW 2`, `relu′ 1`, `softmax-CE`, …
    /// (`activation` names the hidden activation).
    pub fn label(self, activation: &str) -> String {
        match self {
            Phase::Forward(l) => format!("forward {}", l + 1),
            Phase::Activation(l) => format!("{activation} {}", l + 1),
            Phase::Loss => "softmax-CE".into(),
            Phase::WeightGrad(l) => format!("dW {}", l + 1),
            Phase::BiasGrad(l) => format!("db {}", l + 1),
            Phase::InputGrad(l) => format!("dX {}", l + 1),
            Phase::ActivationBackward(l) => format!("{activation}′ {}", l + 1),
        }
    }
}

/// Told when each of the network's phases has finished.
pub trait Probe {
    /// `phase` has just finished.
    fn done(&mut self, phase: Phase);
}

/// No probe: what training passes. Compiles to nothing.
impl Probe for () {
    #[inline(always)]
    fn done(&mut self, _phase: Phase) {}
}
