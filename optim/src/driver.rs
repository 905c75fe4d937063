//! The one optimizer driver. A gradient rule is three things: its state
//! slots (buffers as long as the parameters), its hyper-parameters, and one
//! fused kernel that updates a piece of the parameters and of every slot in
//! a single pass ([`Rule`]). Everything else every rule needs is here, once:
//!
//! 1. check the lengths of the step's buffers;
//! 2. compute `‖g‖₂` (logged by the trainer, the clipping factor, and the
//!    divergence check: a non-finite norm updates nothing);
//! 3. create the slots on the first step;
//! 4. count the step and turn the hyper-parameters into the step's scalars
//!    (bias corrections, decayed rates) in `f64`;
//! 5. split the fused pass over the context's threads, cut at [`ALIGN`];
//! 6. the learning rate, and the slots' export and import for checkpoints.
//!
//! So adding a rule is its kernel in `descent_core::step`, an `impl Rule`
//! for its config, and a line in the kind table ([`crate::OptimizerKind`]).

use descent_core::gemm::DescentStep;
use descent_core::par::split_mut;
use descent_core::simd::Wide;
use descent_core::step::{
    clip_scale, grad_norm, grad_scale, Factored, GradIn, MomentumStep, Segment,
};
use descent_core::Compute;

use crate::common::{self, take_buffers};
use crate::error::{OptimError, Result};
use crate::{OptimState, Optimizer, StepInfo, ALIGN};

/// The most state slots a rule may have.
pub const MAX_SLOTS: usize = 4;

/// The most scalars a rule may carry from step to step ([`Rule::CARRY`]).
pub const MAX_CARRY: usize = 4;

/// One piece of every slot a kernel receives: the used slots, in the order
/// of [`Rule::SLOTS`], and an empty slice for each slot the config does not
/// use (and past the rule's last).
pub type Slots<'a> = [&'a mut [f32]; MAX_SLOTS];

/// A gradient rule on the shared driver ([`Driven`]): implemented by each
/// optimizer's config.
pub trait Rule: Clone + Send + Sync + 'static {
    /// The step's scalars, computed once per step and shared by the pieces.
    type Step: Sync;

    /// The names of every slot the rule can have, in kernel order: its
    /// `torch.optim` `state_dict` names (e.g. `"exp_avg"`).
    const SLOTS: &'static [&'static str];

    /// Short name for errors and logs, e.g. `"adamw"`.
    fn name(&self) -> &'static str;

    /// Checks every field; the error names the first invalid one.
    fn validate(&self) -> Result<()>;

    /// Whether this config uses slot `i` of [`Rule::SLOTS`] (all by
    /// default; AMSGrad's maximum, say, only with `amsgrad`).
    fn uses(&self, _slot: usize) -> bool {
        true
    }

    /// The value slot `i` starts at on the first step (0 by default).
    fn init(&self, _slot: usize) -> f32 {
        0.0
    }

    /// Whether slot `i` starts as a copy of the parameters instead
    /// (Schedule-Free's z); false by default.
    fn init_from_params(&self, _slot: usize) -> bool {
        false
    }

    /// The weights to evaluate and save as the model, when they are not
    /// the parameters the gradient is taken at: Schedule-Free's x, from y
    /// (`p`) and its slots. `None` (the default) for every other rule.
    fn eval_weights(&self, _p: &[f32], _slots: &[Vec<f32>]) -> Option<Vec<f32>> {
        None
    }

    /// The names of the scalars the rule carries from step to step besides
    /// the step count, in `torch.optim`'s `state_dict` names: values that
    /// depend on the learning rates of earlier steps or on a product over
    /// them (NAdam's `mu_product`, ASGD's `eta` and `mu`). None by default.
    /// They are saved with the slots, so a resume is exact.
    const CARRY: &'static [&'static str] = &[];

    /// Whether a trainer should hand this rule its gradient as factors at
    /// a few rows ([`Optimizer::prefers_factored`]). Every rule can take a
    /// factored step; this says where it was measured to pay: a rule whose
    /// pass is bound by its streams gains the stored gradient's write and
    /// read-back, one bound by its own arithmetic (Adam's √ and divide) does
    /// not, and ran slower a row at a time (`bench small_batch`, Ice Lake:
    /// SGD 22 against 43 µs a batch-1 step, momentum 49 against 54, Adam 153
    /// against 116). False by default.
    const PREFERS_FACTORED: bool = false;

    /// The value carried scalar `i` starts at on the first step.
    fn carry_init(&self, _i: usize) -> f64 {
        0.0
    }

    /// The learning rate.
    fn lr(&self) -> f32;

    /// Sets the learning rate (already checked finite and ≥ 0).
    fn set_lr(&mut self, lr: f32);

    /// The global-norm clipping threshold, if any.
    fn clip_norm(&self) -> Option<f32>;

    /// Step uphill.
    fn maximize(&self) -> bool;

    /// The scalars of step `t` (1-based): `first` when the slots were just
    /// created, `grad_scale` the factor the raw gradient is multiplied by
    /// ([`grad_scale`]: the sign of `maximize` times the clipping factor).
    /// `carry` holds the [`Rule::CARRY`] scalars as the last step left them
    /// (at their [`Rule::carry_init`] values on the first), for the rule to
    /// read and advance.
    fn step(&self, t: u64, first: bool, grad_scale: f32, carry: &mut [f64]) -> Self::Step;

    /// The fused pass over one piece: `p` and the slots updated from `g`.
    fn update(&self, step: &Self::Step, p: &mut [f32], g: impl GradIn<Wide>, slots: Slots);

    /// `Some(η)` when [`Rule::update`] with this config is `p ←
    /// η.mul_neg_add(g, p)` on every element for the gradient factor
    /// `grad_scale` (±1), with no state: then a GEMM may apply it as it
    /// makes g ([`Optimizer::descent`]). `None` by default.
    fn descent_rate(&self, _grad_scale: f32) -> Option<f32> {
        None
    }

    /// `Some(h)` when [`Rule::update`] with this config is, after the first
    /// step, SGD with momentum without weight decay (`step::momentum` with
    /// `h`, the gradient factor `grad_scale`) on every element: then a
    /// GEMM may apply it as it makes g, stepping slot 0 (the buffer) too
    /// ([`Optimizer::descent`]). `None` by default.
    fn descent_momentum(&self, _grad_scale: f32) -> Option<MomentumStep> {
        None
    }
}

/// The four [`Rule`] methods of a config whose fields are named as
/// `torch.optim`'s: `lr`, `clip_norm`, `maximize`.
macro_rules! torch_fields {
    () => {
        fn lr(&self) -> f32 {
            self.lr
        }

        fn set_lr(&mut self, lr: f32) {
            self.lr = lr;
        }

        fn clip_norm(&self) -> Option<f32> {
            self.clip_norm
        }

        fn maximize(&self) -> bool {
            self.maximize
        }
    };
}
pub(crate) use torch_fields;

/// What the opening every optimizer's step shares decided ([`open_step`]).
pub(crate) enum Opening {
    /// Go on: `‖g‖₂` and the clipping factor.
    Go { norm: f32, clip: f32 },
    /// The norm is not finite: nothing is updated, report this.
    Skip(StepInfo),
}

/// The opening every optimizer's step shares (the driver's, Adafactor's,
/// Muon's): the gradient as long as the parameters, the parameters as long
/// as the state (`state_len`, once there is state), `‖g‖₂` (a non-finite
/// norm skips the step) and the clipping factor.
pub(crate) fn open_step(
    cx: &Compute,
    name: &'static str,
    params: usize,
    grads: &[f32],
    state_len: Option<usize>,
    clip_norm: Option<f32>,
) -> Result<Opening> {
    if grads.len() != params {
        return Err(OptimError::LengthMismatch {
            optimizer: name,
            what: "grads (vs params)",
            expected: params,
            got: grads.len(),
        });
    }
    if let Some(n) = state_len {
        if n != params {
            return Err(OptimError::LengthMismatch {
                optimizer: name,
                what: "params (vs the optimizer's state)",
                expected: n,
                got: params,
            });
        }
    }
    let norm = grad_norm::<Wide>(cx, grads);
    if !norm.is_finite() {
        return Ok(Opening::Skip(StepInfo {
            grad_norm: norm,
            clip_scale: 1.0,
            applied: false,
        }));
    }
    let clip = clip_norm.map_or(1.0, |c| clip_scale(norm, c));
    Ok(Opening::Go { norm, clip })
}

/// A rule with its step count and slots: an [`Optimizer`].
#[derive(Debug, Clone)]
pub struct Driven<R: Rule> {
    rule: R,
    step: u64,
    /// Slot `i` of [`Rule::SLOTS`]; empty until the first step, and always
    /// for a slot the config does not use.
    slots: [Vec<f32>; MAX_SLOTS],
    /// The parameters' length, once the slots exist.
    len: Option<usize>,
    /// The [`Rule::CARRY`] scalars.
    carry: [f64; MAX_CARRY],
}

impl<R: Rule> Driven<R> {
    /// A new optimizer; fails with the first invalid field.
    pub fn new(rule: R) -> Result<Self> {
        const { assert!(R::SLOTS.len() <= MAX_SLOTS && R::CARRY.len() <= MAX_CARRY) };
        rule.validate()?;
        Ok(Driven {
            rule,
            step: 0,
            slots: Default::default(),
            len: None,
            carry: [0.0; MAX_CARRY],
        })
    }

    /// The configuration.
    pub fn config(&self) -> &R {
        &self.rule
    }

    /// The names of the slots this config uses, in order.
    fn used(&self) -> Vec<&'static str> {
        (0..R::SLOTS.len())
            .filter(|&i| self.rule.uses(i))
            .map(|i| R::SLOTS[i])
            .collect()
    }

    fn has_slots(&self) -> bool {
        (0..R::SLOTS.len()).any(|i| self.rule.uses(i))
    }

    /// Whether a caller's `bound` on the norm leaves no doubt where the
    /// step would read the norm (a non-finite one skips the step, clipping
    /// scales by it): finite and far below overflow, and clipping idle a
    /// little above it. Otherwise the exact norm of the stored gradient
    /// decides.
    fn bound_leaves_no_doubt(&self, bound: f32) -> bool {
        if !(bound.is_finite() && bound <= FACTORED_NORM_MAX) {
            return false;
        }
        match self.rule.clip_norm() {
            Some(c) => clip_scale(bound * (1.0 + FACTORED_NORM_SLACK), c) == 1.0,
            None => true,
        }
    }

    /// Everything of a step after the opening: the slots on the first step,
    /// the count, the step's scalars, and the fused pass split over `cx`'s
    /// threads, `update` running the rule on each piece (the range of the
    /// flat buffers it covers, the parameters and slots of that range).
    fn apply(
        &mut self,
        cx: &Compute,
        params: &mut [f32],
        norm: f32,
        clip: f32,
        update: &PieceFn<R>,
    ) -> StepInfo {
        let first = self.len.is_none() && self.has_slots();
        if first {
            for (i, slot) in self.slots.iter_mut().enumerate().take(R::SLOTS.len()) {
                if self.rule.init_from_params(i) {
                    *slot = params.to_vec();
                } else if self.rule.uses(i) {
                    *slot = vec![self.rule.init(i); params.len()];
                }
            }
            self.len = Some(params.len());
            for (i, c) in self.carry.iter_mut().enumerate().take(R::CARRY.len()) {
                *c = self.rule.carry_init(i);
            }
        }
        self.step += 1;
        let h = self.rule.step(
            self.step,
            first,
            grad_scale(self.rule.maximize(), clip),
            &mut self.carry[..R::CARRY.len()],
        );
        // An unused slot is empty: 0 elements per unit, its pieces empty.
        let per = |i: usize| usize::from(i < R::SLOTS.len() && self.rule.uses(i));
        let (p0, p1, p2, p3) = (per(0), per(1), per(2), per(3));
        let [s0, s1, s2, s3] = &mut self.slots;
        let units = params.len();
        let bufs = [
            (params, 1),
            (&mut s0[..], p0),
            (&mut s1[..], p1),
            (&mut s2[..], p2),
            (&mut s3[..], p3),
        ];
        let rule = &self.rule;
        split_mut(cx.pool(), units, ALIGN, bufs, &|r, [p, a, b, c, d]| {
            update(rule, &h, r, p, [a, b, c, d])
        });
        StepInfo {
            grad_norm: norm,
            clip_scale: clip,
            applied: true,
        }
    }
}

/// `s[at .. at + n]`, or `s` itself when it is empty (an unused slot).
#[inline(always)]
fn sub<'a>(s: &'a mut &mut [f32], at: usize, n: usize) -> &'a mut [f32] {
    if s.is_empty() {
        &mut s[..]
    } else {
        &mut s[at..at + n]
    }
}

/// What [`Driven::apply`] runs on each thread's piece.
type PieceFn<'a, R> =
    dyn Fn(&R, &<R as Rule>::Step, std::ops::Range<usize>, &mut [f32], Slots) + Sync + 'a;

/// The largest caller's norm a factored step trusts: far below where an
/// `f32` sum of squares could overflow, which the exact norm would report
/// as infinite (and so skip the step).
const FACTORED_NORM_MAX: f32 = 1e15;

/// How far (relatively) the caller's norm may be from the exact one: a
/// clipped step is taken factored only when the factor is 1 for every norm
/// up to this much larger.
const FACTORED_NORM_SLACK: f32 = 1e-4;

impl<R: Rule> Optimizer for Driven<R> {
    fn name(&self) -> &'static str {
        self.rule.name()
    }

    fn step(&mut self, cx: &Compute, params: &mut [f32], grads: &[f32]) -> Result<StepInfo> {
        let (norm, clip) = match open_step(
            cx,
            self.rule.name(),
            params.len(),
            grads,
            self.len,
            self.rule.clip_norm(),
        )? {
            Opening::Go { norm, clip } => (norm, clip),
            Opening::Skip(info) => return Ok(info),
        };
        Ok(self.apply(cx, params, norm, clip, &|rule, h, r, p, slots| {
            rule.update(h, p, &grads[r], slots)
        }))
    }

    fn elementwise(&self) -> bool {
        true
    }

    fn prefers_factored(&self) -> bool {
        R::PREFERS_FACTORED
    }

    fn step_factored(
        &mut self,
        cx: &Compute,
        params: &mut [f32],
        norm: f32,
        grad: &dyn Factored,
    ) -> Result<Option<StepInfo>> {
        if grad.len() != params.len() {
            return Err(OptimError::LengthMismatch {
                optimizer: self.rule.name(),
                what: "factored grads (vs params)",
                expected: params.len(),
                got: grad.len(),
            });
        }
        if let Some(n) = self.len.filter(|&n| n != params.len()) {
            return Err(OptimError::LengthMismatch {
                optimizer: self.rule.name(),
                what: "params (vs the optimizer's state)",
                expected: n,
                got: params.len(),
            });
        }
        // The caller's norm is the gradient's to a few ulps, not to the
        // bit. Where the step would read it (a non-finite or overflowing
        // norm skips the step; clipping scales by it), only the exact norm
        // of the stored gradient decides: decline.
        if !(norm.is_finite() && norm <= FACTORED_NORM_MAX) {
            return Ok(None);
        }
        if let Some(c) = self.rule.clip_norm() {
            if clip_scale(norm * (1.0 + FACTORED_NORM_SLACK), c) != 1.0 {
                return Ok(None);
            }
        }
        Ok(Some(self.apply(
            cx,
            params,
            norm,
            1.0,
            &|rule, h, r, p, slots| {
                // Each segment of the gradient is made in registers by the
                // rule's kernel as it reads it: no gradient buffer at all.
                let start = r.start;
                let [mut a, mut b, mut c, mut d] = slots;
                grad.segments(r, &mut |at, seg| {
                    let (i, n) = (at - start, seg.len());
                    let s = [&mut a, &mut b, &mut c, &mut d].map(|s| sub(s, i, n));
                    let p = &mut p[i..i + n];
                    match seg {
                        Segment::Scaled(g) => rule.update(h, p, g, s),
                        Segment::ScaledRows(g) => rule.update(h, p, g, s),
                        Segment::AheadRows(g) => rule.update(h, p, g, s),
                        Segment::Row(g) => rule.update(h, p, g, s),
                        Segment::Sums(g) => rule.update(h, p, g, s),
                    }
                });
            },
        )))
    }

    fn descent(&mut self, bound: f32) -> Option<DescentStep<'_>> {
        if !self.bound_leaves_no_doubt(bound) {
            return None;
        }
        let s = grad_scale(self.rule.maximize(), 1.0);
        if let Some(eta) = self.rule.descent_rate(s) {
            return Some(DescentStep::Sgd { eta });
        }
        let step = self.rule.descent_momentum(s)?;
        // Momentum's first step sets b ← g, which the GEMM's store does
        // not do: only once the buffer exists.
        self.len?;
        Some(DescentStep::Momentum {
            step,
            buf: &mut self.slots[0],
        })
    }

    fn step_descended(
        &mut self,
        cx: &Compute,
        params: &mut [f32],
        grads: &[f32],
        norm: f32,
        descended: &[std::ops::Range<usize>],
    ) -> Result<StepInfo> {
        // Momentum only with its buffer in place (see `descent`).
        let momentum = self.rule.descent_momentum(1.0).is_some() && self.len.is_some();
        if self.rule.descent_rate(1.0).is_none() && !momentum {
            return Err(OptimError::NoDescent {
                optimizer: self.rule.name(),
            });
        }
        for (what, len) in [("grads (vs params)", grads.len())]
            .into_iter()
            .chain(self.len.map(|n| ("params (vs the optimizer's state)", n)))
        {
            if len != params.len() {
                return Err(OptimError::LengthMismatch {
                    optimizer: self.rule.name(),
                    what,
                    expected: params.len(),
                    got: len,
                });
            }
        }
        Ok(self.apply(cx, params, norm, 1.0, &|rule, h, r, p, slots| {
            // The piece's elements outside every descended range.
            let [mut a, mut b, mut c, mut d] = slots;
            let mut at = r.start;
            let mut rest = |from: usize, to: usize| {
                if from < to {
                    let (i, n) = (from - r.start, to - from);
                    let s = [&mut a, &mut b, &mut c, &mut d].map(|s| sub(s, i, n));
                    rule.update(h, &mut p[i..i + n], &grads[from..to], s);
                }
            };
            for done in descended {
                let (lo, hi) = (
                    done.start.clamp(r.start, r.end),
                    done.end.clamp(r.start, r.end),
                );
                rest(at, lo);
                at = at.max(hi);
            }
            rest(at, r.end);
        }))
    }

    fn lr(&self) -> f32 {
        self.rule.lr()
    }

    fn set_lr(&mut self, lr: f32) -> Result<()> {
        common::non_negative(self.rule.name(), "lr", lr)?;
        self.rule.set_lr(lr);
        Ok(())
    }

    fn steps(&self) -> u64 {
        self.step
    }

    fn eval_weights(&self, params: &[f32]) -> Option<Vec<f32>> {
        match self.len {
            Some(n) if n == params.len() => self.rule.eval_weights(params, &self.slots),
            _ => None,
        }
    }

    fn export_state(&self) -> OptimState {
        let buffers = match self.len {
            Some(_) => (0..R::SLOTS.len())
                .filter(|&i| self.rule.uses(i))
                .map(|i| (R::SLOTS[i].to_string(), self.slots[i].clone()))
                .collect(),
            None => Vec::new(),
        };
        let scalars = match self.len {
            Some(_) => R::CARRY
                .iter()
                .zip(self.carry)
                .map(|(n, v)| (n.to_string(), v))
                .collect(),
            None => Vec::new(),
        };
        OptimState {
            step: self.step,
            buffers,
            scalars,
        }
    }

    fn import_state(&mut self, state: &OptimState) -> Result<()> {
        let mut bufs = take_buffers(self.rule.name(), state, &self.used())?.into_iter();
        let mut slots: [Vec<f32>; MAX_SLOTS] = Default::default();
        let mut len = None;
        for (i, slot) in slots.iter_mut().enumerate().take(R::SLOTS.len()) {
            if self.rule.uses(i) {
                if let Some(b) = bufs.next() {
                    len = Some(b.len());
                    *slot = b;
                }
            }
        }
        let carry = common::take_scalars(self.rule.name(), state, R::CARRY, len.is_some())?;
        self.slots = slots;
        self.len = len;
        self.carry[..carry.len()].copy_from_slice(&carry);
        self.step = state.step;
        Ok(())
    }
}
