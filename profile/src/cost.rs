//! The cost model of a step: each phase's FLOPs, bytes and footprint from
//! the shapes alone (the table in the crate docs).

use descent_core::ops::SMALL_BATCH;
use descent_nn::Activation;
use descent_nn::Phase as N;
use descent_optim::{Hyper, OptimizerKind};
use descent_train::Phase;
use serde::Serialize;

/// FLOPs and bytes of one phase, from the shapes (see the module docs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Cost {
    /// Floating-point operations (a multiply-add is 2).
    pub flops: f64,
    /// Bytes read and written, each operand once.
    pub bytes: f64,
    /// Distinct bytes touched (an array read and written in place counts
    /// once): the working set that decides which cache level the phase
    /// streams from.
    pub footprint: f64,
    /// Square roots and divides (f32 lanes), which one unit per core
    /// executes, much slower than FMAs: the third roof
    /// ([`crate::Roofs::divider_floor`]). Counted in `flops` too.
    pub divides: f64,
}

impl Cost {
    /// A phase whose footprint is its bytes (no array written in place).
    fn new(flops: usize, bytes: usize) -> Cost {
        Cost::in_place(flops, bytes, bytes)
    }

    fn in_place(flops: usize, bytes: usize, footprint: usize) -> Cost {
        Cost {
            flops: flops as f64,
            bytes: bytes as f64,
            footprint: footprint as f64,
            divides: 0.0,
        }
    }

    /// FLOPs per byte (0 for a phase that moves no bytes).
    pub fn intensity(&self) -> f64 {
        if self.bytes > 0.0 {
            self.flops / self.bytes
        } else {
            0.0
        }
    }
}

impl std::ops::Add for Cost {
    type Output = Cost;
    fn add(self, o: Cost) -> Cost {
        Cost {
            flops: self.flops + o.flops,
            bytes: self.bytes + o.bytes,
            footprint: self.footprint + o.footprint,
            divides: self.divides + o.divides,
        }
    }
}

/// FLOPs per parameter of one fused update: SGD `p −= η·g` 2; momentum
/// (`b = μ·b + g`, then the SGD step) 4; Nesterov (the step along
/// `g + μ·b`) 6; AdaGrad (`s += g²`, `p −= η·g/(√s + ε)`) 7; RMSprop (`v =
/// α·v + (1−α)·g²` and the same step) 9, centered 12; Adam (two moments,
/// `p −= η_t·m/(√v·c + ε)`) 13, AMSGrad 14, AdamW (+ the decay) 14;
/// Adamax (`m`, `u = max(β₂·u, |g| + ε)`, `p −= η_t·m/u`) 10; Lion (`c`,
/// `m`, the sign, the decoupled decay, `p −= η·sign(c)`) 10; Adadelta
/// (`v`, two roots of a sum, their ratio times g, `u`, `p −= γ·Δ`) 16;
/// NAdam (the moments, `d = √(v·c₂⁻¹) + ε`, `p += (c_g·g + c_m·m)/d`) 15,
/// decoupled 16; RAdam (Adam's step with one constant) 12, decoupled 13; Rprop
/// (`g·g_prev`, the factor, `δ·f`, the clamp, the zeroing, `p −= sign·δ`) 9;
/// ASGD (`p·(1 − λη) − η·g`) 3, plus 3 once the average moves (t > t₀,
/// not counted); Schedule-Free AdamW (`v`, `ĝ = g/(√(v·c₂⁻¹) + ε)`, the
/// lerp of y towards z, y's and z's steps) 15; Adafactor (three passes:
/// the squared sums, the update's norm, the step) 21. Plus 2 for an L2 weight decay folded into g, 1 for a
/// gradient clipped by a factor. Square roots and divisions count 1, as the kernels issue one
/// instruction for each.
pub fn update_flops(kind: OptimizerKind, hyper: &Hyper, clipped: bool) -> usize {
    let base = match kind {
        OptimizerKind::Gd | OptimizerKind::Sgd => 2,
        OptimizerKind::Momentum => 4,
        OptimizerKind::Nesterov => 6,
        OptimizerKind::Adagrad => 7,
        OptimizerKind::Rmsprop => {
            if hyper.centered {
                12
            } else {
                9
            }
        }
        OptimizerKind::Adam => {
            if hyper.amsgrad {
                14
            } else {
                13
            }
        }
        OptimizerKind::Adamw => 14 + usize::from(hyper.amsgrad),
        OptimizerKind::Adamax | OptimizerKind::Lion => 10,
        OptimizerKind::Adadelta => 16,
        OptimizerKind::Nadam => 15 + usize::from(hyper.decoupled_weight_decay),
        OptimizerKind::Radam => 12 + usize::from(hyper.decoupled_weight_decay),
        OptimizerKind::Rprop => 9,
        OptimizerKind::Asgd => 3,
        OptimizerKind::ScheduleFreeAdamw => 15,
        // Three passes: g² into the row and column sums (3), the update and
        // its square (rc/den, the floor, √, 1/x, ×g, FMA: 8), and the step
        // (the update again, the decay, the FMA: 10).
        OptimizerKind::Adafactor => 21,
        // The elementwise part (the momentum, its look-ahead, the step);
        // the Newton–Schulz GEMMs depend on the shapes: [`muon_ns_flops`].
        OptimizerKind::Muon => 10,
        // Not profiled (several passes a step): `run` refuses it.
        OptimizerKind::Lbfgs => 0,
        OptimizerKind::RandomSearch | OptimizerKind::RandomSample => 0,
    };
    // AdamW's and Lion's decay is the decoupled multiply, in their base
    // (NAdam's and RAdam's when asked for).
    let decoupled = matches!(
        kind,
        OptimizerKind::Adamw | OptimizerKind::Lion | OptimizerKind::Adafactor | OptimizerKind::Muon
    ) || (matches!(kind, OptimizerKind::Nadam | OptimizerKind::Radam)
        && hyper.decoupled_weight_decay);
    let decay = hyper.weight_decay.is_some_and(|w| w != 0.0) && !decoupled;
    base + 2 * usize::from(decay) + usize::from(clipped)
}

/// Square roots and divides per parameter of one update (the divider's
/// work, [`Cost::divides`]): AdaGrad, RMSprop (centred too), Adam, AdamW,
/// NAdam, RAdam (its rectified steps) and Schedule-Free AdamW one `√` and
/// one `÷` (`m / (√v·c + ε)` and the like); Adamax one `÷`; Adadelta two
/// `√` and a `÷`; Adafactor `÷`, `√` and `1/x` in each of its two passes
/// that form the update; none for the others.
pub fn update_divides(kind: OptimizerKind) -> usize {
    match kind {
        OptimizerKind::Adagrad
        | OptimizerKind::Rmsprop
        | OptimizerKind::Adam
        | OptimizerKind::Adamw
        | OptimizerKind::Nadam
        | OptimizerKind::Radam
        | OptimizerKind::ScheduleFreeAdamw => 2,
        OptimizerKind::Adamax => 1,
        OptimizerKind::Adadelta => 3,
        OptimizerKind::Adafactor => 6,
        OptimizerKind::Gd
        | OptimizerKind::Sgd
        | OptimizerKind::Momentum
        | OptimizerKind::Nesterov
        | OptimizerKind::Lion
        | OptimizerKind::Rprop
        | OptimizerKind::Asgd
        | OptimizerKind::Muon
        | OptimizerKind::Lbfgs
        | OptimizerKind::RandomSearch
        | OptimizerKind::RandomSample => 0,
    }
}

/// The FLOPs of Muon's Newton–Schulz iterations on a net of `sizes`, on
/// top of [`update_flops`]: per weight matrix `o × i`, with `r = min(o, i)`
/// and `c = max(o, i)`, `steps · (2r²c + 2r³ + 2r²c)` (`X·Xᵀ`, `A·A`, `P·X`).
pub fn muon_ns_flops(sizes: &[usize], steps: usize) -> usize {
    sizes
        .windows(2)
        .map(|w| {
            let (r, c) = (w[0].min(w[1]), w[0].max(w[1]));
            steps * (4 * r * r * c + 2 * r * r * r)
        })
        .sum()
}

/// What a step's costs depend on.
#[derive(Clone, Debug)]
pub struct StepShape {
    /// Widths `[s0, …, s_L]`.
    pub sizes: Vec<usize>,
    /// The hidden activation.
    pub activation: Activation,
    /// B, rows per step.
    pub batch: usize,
    /// Whether the batch is copied out of the set (not for full-batch gd,
    /// whose batch is the set itself).
    pub gathered: bool,
    /// Examples in the training set the batch is gathered from.
    pub examples: usize,
    /// The optimizer.
    pub kind: OptimizerKind,
    /// FLOPs per parameter of its update ([`update_flops`]).
    pub update_flops: usize,
    /// Square roots and divides per parameter of its update
    /// ([`update_divides`]).
    pub update_divides: usize,
    /// Its state buffers, each as large as the parameters.
    pub state_buffers: usize,
    /// The optimizer made the gradient from its factors (dY and X) inside
    /// its update, at B ≤ [`SMALL_BATCH`]: no dW or db phase, and the
    /// update reads dY and X instead of a stored gradient.
    pub factored: bool,
    /// At B = 1, the update formed the next forward's first-layer products
    /// as it wrote W₀ (the trainer's lookahead): each step gathers the next
    /// step's row (its own came with the last), the first layer's forward only adds the bias (and
    /// applies f), and the update does its 2·I·O FLOPs, reading the next
    /// row.
    pub ahead: bool,
    /// SGD (plain, or with momentum) at B > [`SMALL_BATCH`] stepped each
    /// weight inside the GEMM that makes its gradient (the trainer's
    /// `descend`): the backward forms every dX first; each dW phase then
    /// reads W and the state and writes them back (the update's FLOPs an
    /// element for the step, two for the norm's squares) instead of
    /// writing dW; the update steps only the biases.
    pub descended: bool,
}

impl StepShape {
    /// Parameters of the net.
    pub fn params(&self) -> usize {
        self.sizes.windows(2).map(|p| p[0] * p[1] + p[1]).sum()
    }
}

/// Forward of every layer (and the unfused activations) on `b` rows, in
/// order; with `ahead`, the first layer's products come made (see
/// [`StepShape::ahead`]): it reads them and the bias and writes Y.
fn forward_costs(
    sizes: &[usize],
    act: Activation,
    b: usize,
    ahead: bool,
    out: &mut Vec<(Phase, Cost)>,
) {
    let last = sizes.len() - 2;
    for (l, p) in sizes.windows(2).enumerate() {
        let (i, o) = (p[0], p[1]);
        out.push((
            Phase::Net(N::Forward(l)),
            if ahead && l == 0 {
                Cost::new(b * o, 4 * (b * o + o + b * o))
            } else {
                Cost::new(2 * b * i * o + b * o, 4 * (b * i + o * i + o + b * o))
            },
        ));
        if l < last && act != Activation::Relu {
            out.push((
                Phase::Net(N::Activation(l)),
                Cost::in_place(b * o, 8 * b * o, 4 * b * o),
            ));
        }
    }
}

fn loss_cost(b: usize, c: usize) -> Cost {
    Cost::new(5 * b * c, 4 * (2 * b * c + b))
}

/// Every phase of one step, in the order the step runs them, with its
/// FLOPs and bytes (the table in the module docs).
pub fn step_costs(s: &StepShape) -> Vec<(Phase, Cost)> {
    let (b, sizes) = (s.batch, &s.sizes[..]);
    let p = s.params();
    let c = *sizes.last().expect("at least two widths");
    // (With the lookahead a step gathers the next step's row instead of
    // its own, which the last step gathered: still b rows.)
    let rows = b;
    let mut out = vec![(
        Phase::Gather,
        if s.gathered {
            // Each pixel byte read, normalized ((p/255 − mean)/std: 3
            // FLOPs) and written as a float; each label read and written.
            // The rows come from anywhere in the whole set of bytes.
            Cost::in_place(
                3 * rows * sizes[0],
                5 * rows * sizes[0] + 8 * rows,
                s.examples * (sizes[0] + 4) + 4 * rows * (sizes[0] + 1),
            )
        } else {
            Cost::default()
        },
    )];
    if !s.kind.uses_gradient() {
        let mut pass = Vec::new();
        forward_costs(sizes, s.activation, b, false, &mut pass);
        let once = pass.iter().fold(loss_cost(b, c), |a, (_, x)| a + *x);
        // Two evaluations on the same buffers; the weights, the kept copy
        // and the candidate are three parameter-sized arrays.
        let search = Cost {
            flops: 2.0 * once.flops + 2.0 * p as f64,
            bytes: 2.0 * once.bytes + 36.0 * p as f64,
            footprint: once.footprint + 12.0 * p as f64,
            divides: 0.0,
        };
        out.push((Phase::Search, search));
        return out;
    }
    forward_costs(sizes, s.activation, b, s.ahead, &mut out);
    out.push((Phase::Net(N::Loss), loss_cost(b, c)));
    let f_prime = if s.activation == Activation::Relu {
        1
    } else {
        3
    };
    // At a few rows the ReLU's mask is applied in dX's store: one more
    // read of A (B, I), no pass of its own.
    let mask_in_dx = s.activation == Activation::Relu && b <= SMALL_BATCH;
    // dY and X of every layer: what a factored gradient is made from.
    let mut factors = 0;
    let param_grads = |l: usize, i: usize, o: usize, out: &mut Vec<(Phase, Cost)>| {
        out.push((
            Phase::Net(N::WeightGrad(l)),
            if s.descended {
                // The step (and its squares) on each element of W as it
                // leaves the registers: W and the state read and written.
                Cost::new(
                    2 * b * i * o + (s.update_flops + 2) * o * i,
                    4 * (b * o + b * i + 2 * o * i * (1 + s.state_buffers)),
                )
            } else {
                Cost::new(2 * b * i * o, 4 * (b * o + b * i + o * i))
            },
        ));
        out.push((
            Phase::Net(N::BiasGrad(l)),
            Cost::new(b * o, 4 * (b * o + o)),
        ));
    };
    for (l, w) in sizes.windows(2).enumerate().rev() {
        let (i, o) = (w[0], w[1]);
        factors += b * (o + i);
        if !s.factored && !s.descended {
            param_grads(l, i, o, &mut out);
        }
        if l > 0 {
            let mask = usize::from(mask_in_dx);
            out.push((
                Phase::Net(N::InputGrad(l)),
                Cost::new(
                    2 * b * i * o + mask * b * i,
                    4 * (b * o + o * i + b * i + mask * b * i),
                ),
            ));
            if !mask_in_dx {
                out.push((
                    Phase::Net(N::ActivationBackward(l - 1)),
                    Cost::in_place(f_prime * b * i, 12 * b * i, 8 * b * i),
                ));
            }
        }
    }
    if s.descended {
        // After every dX: each weight stepped in its GEMM, top layer first.
        for (l, w) in sizes.windows(2).enumerate().rev() {
            param_grads(l, w[0], w[1], &mut out);
        }
    }
    let muon = if s.kind == OptimizerKind::Muon {
        muon_ns_flops(&s.sizes, 5)
    } else {
        0
    };
    let state = s.state_buffers;
    // The next forward's first-layer products, formed in the update: 2·I·O
    // FLOPs, the next row read.
    let (ahead_flops, ahead_bytes) = if s.ahead {
        (2 * sizes[0] * sizes[1], 4 * sizes[0])
    } else {
        (0, 0)
    };
    // The biases alone, when the weights were stepped in their GEMMs.
    let biases: usize = sizes[1..].iter().sum();
    let stepped = if s.descended { biases } else { p };
    out.push((
        Phase::Update,
        Cost {
            divides: (s.update_divides * stepped) as f64,
            ..if s.descended {
                // The norm's sum of the bias gradients' squares is in the db
                // phases; the step reads db, p and the state and writes p
                // and the state.
                Cost::in_place(
                    s.update_flops * biases,
                    4 * biases * (3 + 2 * state),
                    4 * biases * (2 + state),
                )
            } else if s.factored {
                // The norm from the factors (per layer, B² dot products of dY's
                // and of X's rows: 2·B·(O + I) each), then one pass that makes
                // each element of g (B multiply-adds) and updates p and the
                // state: dY and X read once, p and the state read and written.
                Cost::in_place(
                    2 * b * factors + 2 * b * p + s.update_flops * p + muon + ahead_flops,
                    4 * factors + 4 * p * (2 + 2 * state) + ahead_bytes,
                    4 * factors + 4 * p * (1 + state) + ahead_bytes,
                )
            } else {
                // The norm's read-only pass over g, then the fused update.
                Cost::in_place(
                    (2 + s.update_flops) * p + muon,
                    4 * p + 4 * p * (3 + 2 * state),
                    4 * p * (2 + state),
                )
            }
        },
    ));
    out
}

/// The phases of one step in the fully fused schedule, with their costs:
/// what the step could cost if every small pass rode on the big one beside
/// it, whatever this build does today. From [`step_costs`]:
///
/// - no gather: the first layer reads the batch's rows from a `u8` store
///   (1 byte a pixel) inside its GEMM's packing, in the forward and in dW;
/// - db folded into dW (computed while dY is packed): only its write is
///   left;
/// - the activation's backward folded into dX's store: one more read of A;
/// - the gradient's norm folded into the update: no read-only pass over g
///   (or, with SGD's step in the GEMMs, [`StepShape::descended`], into dW);
/// - at B ≤ [`SMALL_BATCH`] with an elementwise rule, the gradient made
///   from its factors inside the update ([`StepShape::factored`]);
/// - at B = 1, the next forward's first-layer products formed in the
///   update as well ([`StepShape::ahead`]).
pub fn fused_step_costs(s: &StepShape) -> Vec<(Phase, Cost)> {
    let elementwise = !matches!(s.kind, OptimizerKind::Adafactor | OptimizerKind::Muon);
    let factored = s.factored || (s.batch <= SMALL_BATCH && elementwise);
    let fused = StepShape {
        factored,
        ahead: s.ahead || (s.batch == 1 && factored),
        gathered: false,
        ..s.clone()
    };
    let (b, p, s0) = (s.batch, s.params(), s.sizes[0]);
    let mut out: Vec<(Phase, Cost)> = Vec::new();
    for (phase, mut cost) in step_costs(&fused) {
        match phase {
            // X as u8 instead of f32: 3 bytes less a pixel, each read.
            // (With the lookahead the forward reads no X, and the update
            // reads the next row.)
            Phase::Net(N::Forward(0)) if s.gathered && !fused.ahead => {
                cost.bytes -= (3 * b * s0) as f64;
                cost.footprint -= (3 * b * s0) as f64;
            }
            Phase::Net(N::WeightGrad(0)) if s.gathered => {
                cost.bytes -= (3 * b * s0) as f64;
                cost.footprint -= (3 * b * s0) as f64;
            }
            Phase::Update if s.gathered && fused.ahead => {
                cost.bytes -= (3 * s0) as f64;
                cost.footprint -= (3 * s0) as f64;
            }
            // Into the dW just pushed (same layer): db's B·O sums ride on
            // its pass over dY, leaving db's write (4·O of 4·(B·O + O)).
            Phase::Net(N::BiasGrad(_)) => {
                let dw = &mut out.last_mut().expect("dW comes first").1;
                dw.flops += cost.flops;
                dw.bytes += cost.bytes - 4.0 * cost.flops;
                continue;
            }
            // Into the dX just pushed: its flops and one read of A (4·B·I
            // of its 12·B·I).
            Phase::Net(N::ActivationBackward(_)) => {
                let dx = &mut out.last_mut().expect("dX comes first").1;
                dx.flops += cost.flops;
                dx.bytes += cost.bytes / 3.0;
                continue;
            }
            // The norm summed in the update's pass: no read of g for it.
            // (Descended, the norm was summed in the dW phases already.)
            Phase::Update if !fused.factored && !fused.descended => cost.bytes -= (4 * p) as f64,
            _ => {}
        }
        out.push((phase, cost));
    }
    out
}

/// The evaluation of `rows` test rows, `eval_batch` at a time: the forward
/// and softmax-CE of every batch. Its footprint is the test set, the
/// weights and one batch's activations.
pub fn eval_cost(sizes: &[usize], act: Activation, rows: usize, eval_batch: usize) -> Cost {
    let c = *sizes.last().expect("at least two widths");
    let mut total = Cost::default();
    let mut left = rows;
    while left > 0 {
        let b = left.min(eval_batch.max(1));
        let mut pass = Vec::new();
        forward_costs(sizes, act, b, false, &mut pass);
        total = pass
            .iter()
            .fold(total + loss_cost(b, c), |a, (_, x)| a + *x);
        left -= b;
    }
    let params: usize = sizes.windows(2).map(|p| p[0] * p[1] + p[1]).sum();
    let widths: usize = sizes[1..].iter().sum();
    total.footprint = 4.0 * (rows * (sizes[0] + 1) + params + eval_batch.min(rows) * widths) as f64;
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(kind: OptimizerKind, activation: Activation) -> StepShape {
        StepShape {
            sizes: vec![4, 3, 2],
            activation,
            batch: 5,
            gathered: true,
            examples: 10,
            kind,
            update_flops: update_flops(kind, &Hyper::default(), false),
            update_divides: update_divides(kind),
            state_buffers: 0,
            factored: false,
            ahead: false,
            descended: false,
        }
    }

    /// A 4-3-2 ReLU net, batch B = 5, plain SGD, gathered from a set of 10
    /// examples: P = 4·3 + 3 + 3·2 + 2 = 23. Every figure below is worked
    /// out by hand from the table in the module docs.
    #[test]
    fn step_costs_match_hand_computed_values_for_a_small_net() {
        let s = shape(OptimizerKind::Sgd, Activation::Relu);
        assert_eq!(s.params(), 23);
        let want: [(Phase, f64, f64); 11] = [
            // 3·5·4; 5·5·4 + 8·5
            (Phase::Gather, 60.0, 140.0),
            // 2·5·4·3 + 5·3; 4·(5·4 + 3·4 + 3 + 5·3)
            (Phase::Net(N::Forward(0)), 135.0, 200.0),
            // 2·5·3·2 + 5·2; 4·(5·3 + 2·3 + 2 + 5·2)
            (Phase::Net(N::Forward(1)), 70.0, 132.0),
            // 5·5·2; 4·(2·5·2 + 5)
            (Phase::Net(N::Loss), 50.0, 100.0),
            // 2·5·3·2; 4·(5·2 + 5·3 + 2·3)
            (Phase::Net(N::WeightGrad(1)), 60.0, 124.0),
            // 5·2; 4·(5·2 + 2)
            (Phase::Net(N::BiasGrad(1)), 10.0, 48.0),
            // 2·5·3·2; 4·(5·2 + 2·3 + 5·3)
            (Phase::Net(N::InputGrad(1)), 60.0, 124.0),
            // 5·3 selects; 12·5·3
            (Phase::Net(N::ActivationBackward(0)), 15.0, 180.0),
            // 2·5·4·3; 4·(5·3 + 5·4 + 3·4)
            (Phase::Net(N::WeightGrad(0)), 120.0, 188.0),
            // 5·3; 4·(5·3 + 3)
            (Phase::Net(N::BiasGrad(0)), 15.0, 72.0),
            // the norm, 2·23 and 4·23, then the update, 2·23 and 4·23·3
            // (p, g read; p written)
            (Phase::Update, 92.0, 368.0),
        ];
        let got = step_costs(&s);
        assert_eq!(got.len(), want.len());
        for ((p, c), (wp, wf, wb)) in got.iter().zip(want) {
            assert_eq!((*p, c.flops, c.bytes), (wp, wf, wb));
        }
        // Footprints: the gather's is the whole set of bytes its rows come
        // from and the batch, 10·(4 + 4) + 4·5·(4 + 1); in-place arrays
        // count once.
        let foot = |ph: Phase| got.iter().find(|(p, _)| *p == ph).unwrap().1.footprint;
        assert_eq!(foot(Phase::Gather), 180.0);
        assert_eq!(foot(Phase::Net(N::ActivationBackward(0))), 120.0); // 8·5·3
        assert_eq!(foot(Phase::Update), 184.0); // 4·23·2
        assert_eq!(foot(Phase::Net(N::Forward(0))), 200.0);

        // Adam keeps 2 buffers: 2 + 13 FLOPs and 4 + 4·(3 + 4) bytes a
        // parameter (the norm, then the update).
        let adam = StepShape {
            state_buffers: 2,
            ..shape(OptimizerKind::Adam, Activation::Relu)
        };
        let u = step_costs(&adam).pop().unwrap();
        assert_eq!(
            (u.0, u.1.flops, u.1.bytes),
            (Phase::Update, 15.0 * 23.0, 32.0 * 23.0)
        );
        // One √ and one ÷ a parameter, on the divider; SGD's none.
        assert_eq!(u.1.divides, 2.0 * 23.0);
        assert!(step_costs(&shape(OptimizerKind::Sgd, Activation::Relu))
            .iter()
            .all(|(_, c)| c.divides == 0.0));

        // Tanh: the forward adds its unfused activation (5·3 evaluations,
        // 8·5·3 bytes), and f′ costs 3 FLOPs an element.
        let tanh = step_costs(&shape(OptimizerKind::Sgd, Activation::Tanh));
        assert_eq!(tanh[2].0, Phase::Net(N::Activation(0)));
        assert_eq!((tanh[2].1.flops, tanh[2].1.bytes), (15.0, 120.0));
        let fb = tanh
            .iter()
            .find(|(p, _)| *p == Phase::Net(N::ActivationBackward(0)));
        assert_eq!(fb.unwrap().1.flops, 45.0);

        // The whole set as the batch: nothing is gathered.
        let gd = StepShape {
            gathered: false,
            ..shape(OptimizerKind::Gd, Activation::Relu)
        };
        assert_eq!(step_costs(&gd)[0].1, Cost::default());

        // Random search: one phase, two forward + loss passes (255 FLOPs
        // each at B = 5) and 2·P for the candidate.
        let rs = step_costs(&shape(OptimizerKind::RandomSearch, Activation::Relu));
        assert_eq!(rs.len(), 2);
        assert_eq!(
            (rs[1].0, rs[1].1.flops),
            (Phase::Search, 2.0 * 255.0 + 46.0)
        );
    }

    /// The same net at B = 3 ≤ SMALL_BATCH: the ReLU's mask in dX's store,
    /// the gradient made from its factors; and the fused schedule of a batch
    /// too large for that.
    #[test]
    fn factored_and_fused_costs() {
        let s = StepShape {
            factored: true,
            batch: 3,
            ..shape(OptimizerKind::Sgd, Activation::Relu)
        };
        let got = step_costs(&s);
        assert!(!got.iter().any(|(p, _)| matches!(
            p,
            Phase::Net(N::WeightGrad(_) | N::BiasGrad(_) | N::ActivationBackward(_))
        )));
        // dX 2 with the mask: 2·3·3·2 + 3·3 selects; 4·(3·2 + 2·3 + 3·3 +
        // 3·3 of A).
        let dx = got.iter().find(|(p, _)| *p == Phase::Net(N::InputGrad(1)));
        assert_eq!(dx.map(|x| (x.1.flops, x.1.bytes)), Some((45.0, 120.0)));
        // dY and X: 3·(3 + 4) + 3·(2 + 3) = 36 floats. FLOPs: the norm
        // 2·3·36, g's multiply-adds 2·3·23, SGD's 2·23; bytes 4·36 read and
        // p read and written, 4·23·2; footprint 4·36 + 4·23.
        let u = got.last().unwrap().1;
        assert_eq!((u.flops, u.bytes, u.footprint), (400.0, 328.0, 236.0));
        // The fused schedule at B = 3 is that one, with X read as u8 in the
        // forward (3·3·4 bytes less) and no gather.
        let fused = fused_step_costs(&StepShape {
            batch: 3,
            ..shape(OptimizerKind::Sgd, Activation::Relu)
        });
        let mut want = step_costs(&StepShape {
            gathered: false,
            ..s.clone()
        });
        want[1].1.bytes -= 36.0;
        want[1].1.footprint -= 36.0;
        assert_eq!(fused, want);

        // Tanh at B = 9: db into dW (its write, 4·O, left), f′ into dX (one
        // read of A, 4·B·I), the norm into the update (4·P less), X as u8.
        let big = StepShape {
            batch: 9,
            ..shape(OptimizerKind::Sgd, Activation::Tanh)
        };
        let (plain, fused) = (step_costs(&big), fused_step_costs(&big));
        let cost = |v: &[(Phase, Cost)], p: Phase| v.iter().find(|(q, _)| *q == p).map(|x| x.1);
        assert_eq!(cost(&fused, Phase::Gather), Some(Cost::default()));
        for p in [N::BiasGrad(0), N::BiasGrad(1), N::ActivationBackward(0)] {
            assert_eq!(cost(&fused, Phase::Net(p)), None);
        }
        let fdw = Phase::Net(N::WeightGrad(1));
        assert_eq!(
            cost(&fused, fdw).unwrap().bytes,
            cost(&plain, fdw).unwrap().bytes + 4.0 * 2.0
        );
        let dx = Phase::Net(N::InputGrad(1));
        assert_eq!(
            cost(&fused, dx).unwrap().bytes,
            cost(&plain, dx).unwrap().bytes + 4.0 * 9.0 * 3.0
        );
        let f0 = Phase::Net(N::Forward(0));
        assert_eq!(
            cost(&fused, f0).unwrap().bytes,
            cost(&plain, f0).unwrap().bytes - 3.0 * 9.0 * 4.0
        );
        assert_eq!(
            cost(&fused, Phase::Update).unwrap().bytes,
            cost(&plain, Phase::Update).unwrap().bytes - 4.0 * 23.0
        );
    }

    /// SGD's step in the GEMMs at B = 9: every dX before the dW's, each dW
    /// reading and writing W (4·O·I FLOPs and 4·O·I bytes more than
    /// writing dW), and an update of the biases alone.
    #[test]
    fn descended_costs() {
        let plain = StepShape {
            batch: 9,
            ..shape(OptimizerKind::Sgd, Activation::Relu)
        };
        let desc = StepShape {
            descended: true,
            ..plain.clone()
        };
        let (a, d) = (step_costs(&plain), step_costs(&desc));
        let cost =
            |v: &[(Phase, Cost)], p: Phase| v.iter().find(|(q, _)| *q == p).map(|x| x.1).unwrap();
        let w1 = Phase::Net(N::WeightGrad(1));
        assert_eq!(cost(&d, w1).flops - cost(&a, w1).flops, 4.0 * 3.0 * 2.0);
        assert_eq!(cost(&d, w1).bytes - cost(&a, w1).bytes, 4.0 * 3.0 * 2.0);
        let order: Vec<Phase> = d.iter().map(|x| x.0).collect();
        let at = |p: Phase| order.iter().position(|&q| q == p).unwrap();
        assert!(at(Phase::Net(N::InputGrad(1))) < at(Phase::Net(N::WeightGrad(1))));
        // SGD: 2 FLOPs a bias, 3 + 2 of them; db and p read, p written.
        let u = cost(&d, Phase::Update);
        assert_eq!((u.flops, u.bytes), (10.0, 60.0));
        assert!(fused_step_costs(&desc).iter().all(|(_, c)| c.bytes >= 0.0));
        // Momentum: 4 FLOPs a step and its buffer read and written, in the
        // dW rows (W₁ is 3 × 2) and for the biases.
        let mom = StepShape {
            state_buffers: 1,
            descended: true,
            ..StepShape {
                batch: 9,
                ..shape(OptimizerKind::Momentum, Activation::Relu)
            }
        };
        let m = step_costs(&mom);
        assert_eq!(cost(&m, w1).flops - cost(&a, w1).flops, 6.0 * 3.0 * 2.0);
        assert_eq!(
            cost(&m, w1).bytes - cost(&a, w1).bytes,
            3.0 * 4.0 * 3.0 * 2.0
        );
        let u = cost(&m, Phase::Update);
        assert_eq!((u.flops, u.bytes), (20.0, 100.0));
    }

    /// B = 1 with the lookahead: the first layer's forward adds the bias
    /// to the products the update made (3 FLOPs; 4·(3 + 3 + 3) bytes), the
    /// update does their 2·4·3 FLOPs reading the next row (4·4 bytes), and
    /// the gather still takes one row (the next step's).
    #[test]
    fn lookahead_costs() {
        let one = StepShape {
            factored: true,
            batch: 1,
            ..shape(OptimizerKind::Sgd, Activation::Relu)
        };
        let ahead = StepShape {
            ahead: true,
            ..one.clone()
        };
        let cost = |s: &StepShape, p: Phase| {
            let v = step_costs(s);
            v.iter().find(|(q, _)| *q == p).map(|x| x.1).unwrap()
        };
        let f0 = Phase::Net(N::Forward(0));
        assert_eq!(
            (cost(&ahead, f0).flops, cost(&ahead, f0).bytes),
            (3.0, 36.0)
        );
        let (u, ua) = (cost(&one, Phase::Update), cost(&ahead, Phase::Update));
        assert_eq!((ua.flops - u.flops, ua.bytes - u.bytes), (24.0, 16.0));
        let (g, ga) = (cost(&one, Phase::Gather), cost(&ahead, Phase::Gather));
        assert_eq!((g.flops, ga.flops), (12.0, 12.0));
        // The fused schedule at B = 1 looks ahead, with the next row as u8.
        let fused = fused_step_costs(&one);
        let fu = fused.iter().find(|(q, _)| *q == Phase::Update).unwrap().1;
        assert_eq!(fu.bytes, ua.bytes - 12.0);
    }

    #[test]
    fn eval_and_update_costs() {
        // 7 rows at eval batch 5: a batch of 5 (135 + 70 + 50 FLOPs) and
        // one of 2 (2·2·12 + 6, 2·2·6 + 4, 5·2·2).
        let e = eval_cost(&[4, 3, 2], Activation::Relu, 7, 5);
        assert_eq!(e.flops, 255.0 + 54.0 + 28.0 + 20.0);
        // Footprint: the set 4·7·5, the weights 4·23, one batch's
        // activations 4·5·(3 + 2).
        assert_eq!(e.footprint, 140.0 + 92.0 + 100.0);
        let h = Hyper::default();
        assert_eq!(update_flops(OptimizerKind::Adam, &h, true), 14);
        let decay = Hyper {
            weight_decay: Some(0.1),
            ..Hyper::default()
        };
        assert_eq!(update_flops(OptimizerKind::Sgd, &decay, false), 4);
        assert_eq!(update_flops(OptimizerKind::Adamw, &decay, false), 14);
        assert_eq!(update_flops(OptimizerKind::RandomSample, &h, false), 0);
    }
}
