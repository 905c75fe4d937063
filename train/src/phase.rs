//! Where a training step's time goes. The step's code calls
//! [`Probe::done`] each time one of its phases has finished; a profiler's
//! probe reads a clock there, and the time since the previous call is that
//! phase's. Between two calls there is nothing but the phase's own work, so
//! the phases of a step add up to the step.
//!
//! The network reports its own phases (each layer's GEMMs, activations and
//! the loss: [`descent_nn::Phase`]); the trainer adds what happens around
//! the network. Training itself passes `&mut ()`, whose `done` is empty and
//! inlined away: the probed code and the unprobed code are the same code.

/// One phase of a training step (or of the epoch around it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Phase {
    /// Copying the batch's rows and labels out of the training set.
    Gather,
    /// A phase of the network's forward, loss or backward.
    Net(descent_nn::Phase),
    /// The optimizer's step: the gradient's norm, then its fused update of
    /// every parameter.
    Update,
    /// A random-search step (its candidates' forward passes and losses).
    Search,
    /// The test-set evaluation after an epoch.
    Eval,
}

impl Phase {
    /// A short name: `gather`, `forward 1`, `dW 2`, `relu′ 1`, `update`, …
    /// (`activation` names the hidden activation).
    pub fn label(self, activation: &str) -> String {
        match self {
            Phase::Gather => "gather".into(),
            Phase::Net(p) => p.label(activation),
            Phase::Update => "update".into(),
            Phase::Search => "search".into(),
            Phase::Eval => "eval".into(),
        }
    }

    /// The GEMM phases (`forward`, `dW`, `dX`, and the evaluation, which is
    /// forward GEMMs): what a roofline compares with the FMA peak rather
    /// than with a bandwidth.
    pub fn is_gemm(self) -> bool {
        use descent_nn::Phase as N;
        matches!(
            self,
            Phase::Eval | Phase::Net(N::Forward(_) | N::WeightGrad(_) | N::InputGrad(_))
        )
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

/// A trainer's probe seen by the network: its phases arrive as
/// [`Phase::Net`].
pub(crate) struct NetProbe<'a, P: Probe>(pub &'a mut P);

impl<P: Probe> descent_nn::Probe for NetProbe<'_, P> {
    #[inline(always)]
    fn done(&mut self, phase: descent_nn::Phase) {
        self.0.done(Phase::Net(phase));
    }
}
