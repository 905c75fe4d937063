//! Where one training step's time goes, against this machine's own limits
//! (`descent profile`).
//!
//! [`run`] takes real steps of a [`Trainer`] on its data and times every
//! phase of each ([`Phase`]: the gather, each layer's forward GEMM with its
//! fused epilogue, softmax-CE, each layer's dW, db and dX, each
//! activation's backward, the gradient norm, the optimizer's update) with
//! [`Trainer::step_probed`]: the training code itself tells the clock when
//! each phase is done, so nothing is timed twice or twice written. Steps
//! alternate between probed and unprobed; the unprobed ones give the step
//! time the phases must add up to. The test-set evaluation is timed too.
//!
//! Each phase gets its FLOPs and bytes from the shapes ([`step_costs`]),
//! and from them GFLOP/s, GB/s, arithmetic intensity and the share of the
//! roof it reaches: the roofs are measured in the same run, on the same
//! threads ([`descent_core::roof`]).
//!
//! # What is counted
//! B batch rows; layer l maps I = s_l inputs to O = s_{l+1} outputs; C
//! classes; P parameters; 4 bytes per float. Bytes are each operand read
//! once and each result written once (the least traffic the phase needs;
//! the caches may make a kernel move more). A multiply-add is 2 FLOPs.
//!
//! The footprint, the distinct bytes a phase touches, picks the cache
//! level it streams from: the smallest whose capacity holds it (the
//! gather's is the whole training set its rows come from; the update's
//! and the activations' backward count arrays updated in place once).
//!
//! | phase | FLOPs | bytes |
//! |---|---|---|
//! | gather | 0 | 8·B·(s₀ + 1) (rows and labels read and written) |
//! | forward l | 2·B·I·O + B·O (the bias; ReLU's max is not counted) | 4·(B·I + O·I + O + B·O) |
//! | sigmoid/tanh l (unfused) | B·O (one per evaluation) | 8·B·O |
//! | softmax-CE | 5·B·C (max, exp, sum, normalise, −onehot and /B) | 4·(2·B·C + B) |
//! | dW l | 2·B·I·O | 4·(B·O + B·I + O·I) |
//! | db l | B·O | 4·(B·O + O) |
//! | dX l (l > 0) | 2·B·I·O | 4·(B·O + O·I + B·I) |
//! | f′ l (ReLU) | B·O (a select) | 12·B·O (y, dH read, dH written) |
//! | f′ l (sigmoid, tanh) | 3·B·O | 12·B·O |
//! | update | 2·P + P·([`update_flops`]) | 4·P + 4·P·(3 + 2·k), k state buffers: the norm's pass over g, then the fused step |
//! | search | 2 × (forward + softmax-CE) + 2·P | 2 × theirs + 36·P |
//! | eval | forward + softmax-CE of every test batch | theirs |

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Instant;

use descent_core::gemm::blocking::Caches;
use descent_core::roof::{self, Roofs};
use descent_core::AlignedVec;
use descent_core::Compute;
use descent_nn::Phase as N;
use descent_nn::{Activation, Linear, LinearParams, Rows};
use descent_optim::{Hyper, OptimizerKind, Updater};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::phase::{Phase, Probe};
use crate::trainer::{Step, TrainError, Trainer};

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
        }
    }
}

/// FLOPs per parameter of one fused update: SGD `p −= η·g` 2; momentum
/// (`b = μ·b + g`, then the SGD step) 4; Nesterov (the step along
/// `g + μ·b`) 6; AdaGrad (`s += g²`, `p −= η·g/(√s + ε)`) 7; RMSprop (`v =
/// α·v + (1−α)·g²` and the same step) 9, centered 12; Adam (two moments,
/// `p −= η_t·m/(√v·c + ε)`) 13, AMSGrad 14, AdamW (+ the decay) 14. Plus 2
/// for an L2 weight decay folded into g, 1 for a gradient clipped by a
/// factor. Square roots and divisions count 1, as the kernels issue one
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
        OptimizerKind::RandomSearch | OptimizerKind::RandomSample => 0,
    };
    let decay = hyper.weight_decay.is_some_and(|w| w != 0.0) && kind != OptimizerKind::Adamw;
    base + 2 * usize::from(decay) + usize::from(clipped)
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
    /// Its state buffers, each as large as the parameters.
    pub state_buffers: usize,
}

impl StepShape {
    /// Parameters of the net.
    pub fn params(&self) -> usize {
        self.sizes.windows(2).map(|p| p[0] * p[1] + p[1]).sum()
    }
}

/// Forward of every layer (and the unfused activations) on `b` rows, in
/// order.
fn forward_costs(sizes: &[usize], act: Activation, b: usize, out: &mut Vec<(Phase, Cost)>) {
    let last = sizes.len() - 2;
    for (l, p) in sizes.windows(2).enumerate() {
        let (i, o) = (p[0], p[1]);
        out.push((
            Phase::Net(N::Forward(l)),
            Cost::new(2 * b * i * o + b * o, 4 * (b * i + o * i + o + b * o)),
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
    let mut out = vec![(
        Phase::Gather,
        if s.gathered {
            // The rows come from anywhere in the whole set.
            Cost::in_place(
                0,
                8 * b * (sizes[0] + 1),
                4 * (s.examples + b) * (sizes[0] + 1),
            )
        } else {
            Cost::default()
        },
    )];
    if !s.kind.uses_gradient() {
        let mut pass = Vec::new();
        forward_costs(sizes, s.activation, b, &mut pass);
        let once = pass.iter().fold(loss_cost(b, c), |a, (_, x)| a + *x);
        // Two evaluations on the same buffers; the weights, the kept copy
        // and the candidate are three parameter-sized arrays.
        let search = Cost {
            flops: 2.0 * once.flops + 2.0 * p as f64,
            bytes: 2.0 * once.bytes + 36.0 * p as f64,
            footprint: once.footprint + 12.0 * p as f64,
        };
        out.push((Phase::Search, search));
        return out;
    }
    forward_costs(sizes, s.activation, b, &mut out);
    out.push((Phase::Net(N::Loss), loss_cost(b, c)));
    let f_prime = if s.activation == Activation::Relu {
        1
    } else {
        3
    };
    for (l, w) in sizes.windows(2).enumerate().rev() {
        let (i, o) = (w[0], w[1]);
        out.push((
            Phase::Net(N::WeightGrad(l)),
            Cost::new(2 * b * i * o, 4 * (b * o + b * i + o * i)),
        ));
        out.push((
            Phase::Net(N::BiasGrad(l)),
            Cost::new(b * o, 4 * (b * o + o)),
        ));
        if l > 0 {
            out.push((
                Phase::Net(N::InputGrad(l)),
                Cost::new(2 * b * i * o, 4 * (b * o + o * i + b * i)),
            ));
            out.push((
                Phase::Net(N::ActivationBackward(l - 1)),
                Cost::in_place(f_prime * b * i, 12 * b * i, 8 * b * i),
            ));
        }
    }
    // The optimizer's step: the norm's read-only pass over g, then the
    // fused update.
    out.push((
        Phase::Update,
        Cost::in_place(
            (2 + s.update_flops) * p,
            4 * p + 4 * p * (3 + 2 * s.state_buffers),
            4 * p * (2 + s.state_buffers),
        ),
    ));
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
        forward_costs(sizes, act, b, &mut pass);
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

/// A probe that reads the clock when a phase is done and keeps the time
/// since the last reading.
struct Laps {
    last: Instant,
    laps: Vec<(Phase, f64)>,
}

impl Probe for Laps {
    #[inline]
    fn done(&mut self, phase: Phase) {
        let now = Instant::now();
        self.laps.push((phase, (now - self.last).as_secs_f64()));
        self.last = now;
    }
}

/// Median, 10th and 90th percentile and mean of some timings, seconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Spread {
    /// Median.
    pub median: f64,
    /// 10th percentile.
    pub p10: f64,
    /// 90th percentile.
    pub p90: f64,
    /// Mean.
    pub mean: f64,
    /// Samples.
    pub samples: usize,
}

impl Spread {
    /// The spread of `v` (all zero when empty).
    pub fn of(v: &[f64]) -> Spread {
        if v.is_empty() {
            return Spread::default();
        }
        let mut s = v.to_vec();
        s.sort_by(f64::total_cmp);
        let at = |q: f64| s[((s.len() - 1) as f64 * q).round() as usize];
        Spread {
            median: at(0.5),
            p10: at(0.1),
            p90: at(0.9),
            mean: s.iter().sum::<f64>() / s.len() as f64,
            samples: s.len(),
        }
    }
}

/// One GEMM of a step, set up alone with the step's shapes and random
/// operands, to be timed in isolation by descent and by matrixmultiply on
/// the same memory layout. The criterion bench `train_step` times these
/// same cases (`train_step/gemm/…`), so its figures and a profile's agree.
pub struct GemmCase {
    /// The phase it is: [`Phase::Forward`], [`Phase::WeightGrad`] or
    /// [`Phase::InputGrad`].
    pub phase: Phase,
    layer: Linear,
    batch: usize,
    relu: bool,
    x: AlignedVec,
    w: AlignedVec,
    bias: AlignedVec,
    dy: AlignedVec,
    out: AlignedVec,
}

impl GemmCase {
    /// Every GEMM of one step of an MLP with widths `sizes` at batch
    /// `batch`, in step order (the forward GEMMs fuse bias and, for hidden
    /// layers with ReLU, the activation).
    pub fn for_step(sizes: &[usize], activation: Activation, batch: usize) -> Vec<GemmCase> {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut rand =
            |n: usize| -> AlignedVec { (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect() };
        let last = sizes.len() - 2;
        let mut case = |phase, l: usize, relu| {
            let (i, o) = (sizes[l], sizes[l + 1]);
            GemmCase {
                phase,
                layer: Linear::new(i, o),
                batch,
                relu,
                x: rand(batch * i),
                w: rand(o * i),
                bias: rand(o),
                dy: rand(batch * o),
                out: AlignedVec::zeros(match phase {
                    Phase::Net(N::WeightGrad(_)) => o * i,
                    Phase::Net(N::InputGrad(_)) => batch * i,
                    _ => batch * o,
                }),
            }
        };
        let mut v: Vec<GemmCase> = (0..=last)
            .map(|l| {
                let relu = l < last && activation == Activation::Relu;
                case(Phase::Net(N::Forward(l)), l, relu)
            })
            .collect();
        for l in (0..=last).rev() {
            v.push(case(Phase::Net(N::WeightGrad(l)), l, false));
            if l > 0 {
                v.push(case(Phase::Net(N::InputGrad(l)), l, false));
            }
        }
        v
    }

    /// `(m, k, n)` of the product `C (m×n) = A (m×k) · B (k×n)`.
    pub fn mkn(&self) -> (usize, usize, usize) {
        let (i, o, b) = (self.layer.in_features, self.layer.out_features, self.batch);
        match self.phase {
            Phase::Net(N::WeightGrad(_)) => (o, b, i),
            Phase::Net(N::InputGrad(_)) => (b, o, i),
            _ => (b, i, o),
        }
    }

    /// FLOPs of the product, 2·m·k·n.
    pub fn flops(&self) -> f64 {
        let (m, k, n) = self.mkn();
        2.0 * (m * k * n) as f64
    }

    /// Runs the phase as the step does: [`Linear::forward`],
    /// [`Linear::weight_grad`] (overwriting) or [`Linear::input_grad`].
    pub fn run_descent(&mut self, cx: &Compute) {
        let x = Rows {
            data: &self.x,
            rows: self.batch,
        };
        let r = match self.phase {
            Phase::Net(N::WeightGrad(_)) => {
                self.layer
                    .weight_grad(cx, &mut self.out, false, &self.dy, x)
            }
            Phase::Net(N::InputGrad(_)) => {
                self.layer
                    .input_grad(cx, &mut self.out, &self.dy, &self.w, self.batch)
            }
            _ => {
                let p = LinearParams {
                    w: &self.w,
                    b: &self.bias,
                };
                self.layer.forward(cx, &mut self.out, x, p, self.relu)
            }
        };
        r.expect("the case's shapes are consistent");
        black_box(&self.out);
    }

    /// The same product with `matrixmultiply::sgemm` on one thread, on the
    /// same layout (W read through strides as the transposed view it is).
    /// matrixmultiply has no epilogue, so the forward adds the bias (and
    /// ReLU) in a second pass over C, as a caller of it does.
    pub fn run_matrixmultiply(&mut self) {
        let (i, o) = (self.layer.in_features, self.layer.out_features);
        let (m, k, n) = self.mkn();
        // (A, its row and column strides, B, its strides); C is row-major.
        let (a, rsa, csa, bm, rsb, csb) = match self.phase {
            // dW (O, I) = dYᵀ (O, B) · X (B, I)
            Phase::Net(N::WeightGrad(_)) => (&self.dy, 1, o, &self.x, i, 1),
            // dX (B, I) = dY (B, O) · W (O, I)
            Phase::Net(N::InputGrad(_)) => (&self.dy, o, 1, &self.w, i, 1),
            // Y (B, O) = X (B, I) · Wᵀ (I, O)
            _ => (&self.x, i, 1, &self.w, 1, i),
        };
        // SAFETY: every operand holds the m×k, k×n and m×n elements its
        // strides address (the shapes above), C is borrowed mutably and
        // does not overlap A or B.
        unsafe {
            matrixmultiply::sgemm(
                m,
                k,
                n,
                1.0,
                a.as_ptr(),
                rsa as isize,
                csa as isize,
                bm.as_ptr(),
                rsb as isize,
                csb as isize,
                0.0,
                self.out.as_mut_ptr(),
                n as isize,
                1,
            );
        }
        if let Phase::Net(N::Forward(_)) = self.phase {
            for row in self.out.chunks_exact_mut(o) {
                for (y, &bias) in row.iter_mut().zip(self.bias.iter()) {
                    let v = *y + bias;
                    *y = if self.relu { v.max(0.0) } else { v };
                }
            }
        }
        debug_assert_eq!(self.out.len(), m * n);
        black_box(&self.out);
    }
}

/// descent's and matrixmultiply's time for one GEMM of the step, timed
/// alone, both on one thread, interleaved.
#[derive(Clone, Debug, Serialize)]
pub struct GemmComparison {
    /// `(m, k, n)`.
    pub mkn: (usize, usize, usize),
    /// descent, median seconds per call.
    pub descent_s: f64,
    /// matrixmultiply, median seconds per call.
    pub matrixmultiply_s: f64,
    /// matrixmultiply's time over descent's: above 1, descent is faster.
    pub speedup: f64,
}

/// Times every case with descent (one thread) and matrixmultiply, in
/// `rounds` interleaved rounds of about a millisecond each, and returns
/// each case's medians.
pub fn compare_gemms(cases: &mut [GemmCase], rounds: usize) -> Vec<GemmComparison> {
    let serial = Compute::serial();
    cases
        .iter_mut()
        .map(|case| {
            case.run_descent(&serial);
            case.run_matrixmultiply();
            let t = Instant::now();
            case.run_descent(&serial);
            let reps = ((1e-3 / t.elapsed().as_secs_f64().max(1e-9)) as usize).clamp(1, 10_000);
            let (mut d, mut m) = (Vec::new(), Vec::new());
            for _ in 0..rounds.max(1) {
                let t = Instant::now();
                for _ in 0..reps {
                    case.run_descent(&serial);
                }
                d.push(t.elapsed().as_secs_f64() / reps as f64);
                let t = Instant::now();
                for _ in 0..reps {
                    case.run_matrixmultiply();
                }
                m.push(t.elapsed().as_secs_f64() / reps as f64);
            }
            let (d, m) = (Spread::of(&d).median, Spread::of(&m).median);
            GemmComparison {
                mkn: case.mkn(),
                descent_s: d,
                matrixmultiply_s: m,
                speedup: m / d,
            }
        })
        .collect()
}

/// How a profile runs.
#[derive(Clone, Debug)]
pub struct ProfileOptions {
    /// Probed steps (as many unprobed ones run between them).
    pub steps: usize,
    /// Steps run first and not timed (caches, page faults, lazy state).
    pub warmup: usize,
    /// Times the test-set evaluation is timed.
    pub eval_reps: usize,
    /// Samples per roof (each roof is their median).
    pub roof_samples: usize,
    /// Also time every GEMM alone with matrixmultiply.
    pub compare_matrixmultiply: bool,
}

impl Default for ProfileOptions {
    fn default() -> Self {
        ProfileOptions {
            steps: 200,
            warmup: 20,
            eval_reps: 3,
            roof_samples: 5,
            compare_matrixmultiply: false,
        }
    }
}

/// One measured phase.
#[derive(Clone, Debug, Serialize)]
pub struct PhaseReport {
    /// Its label (`forward 1`, `dW 2`, …).
    pub name: String,
    /// Its time per step (per epoch for the evaluation), seconds.
    pub time: Spread,
    /// Its mean's share of the sum of every phase's mean.
    pub share: f64,
    /// FLOPs and bytes per step.
    pub cost: Cost,
    /// FLOPs per byte.
    pub intensity: f64,
    /// FLOPs over the median time, GFLOP/s.
    pub gflops: f64,
    /// Bytes over the median time, GB/s.
    pub gbs: f64,
    /// The level its bytes fit in (`L1` … `DRAM`), whose bandwidth bounds it.
    pub level: &'static str,
    /// The roofline at its intensity for that level, GFLOP/s (for a phase
    /// without FLOPs: that level's triad bandwidth, GB/s).
    pub roof: f64,
    /// The share of the roof reached: GFLOP/s over the roof (GB/s over
    /// the bandwidth for a phase without FLOPs).
    pub of_roof: f64,
    /// The least time the roof allows: `max(FLOPs / peak, bytes /
    /// bandwidth)`, seconds.
    pub floor_s: f64,
    /// With `--compare matrixmultiply`, for a GEMM.
    pub matrixmultiply: Option<GemmComparison>,
}

/// The machine the profile ran on.
#[derive(Clone, Debug, Serialize)]
pub struct Machine {
    /// `model name` from /proc/cpuinfo.
    pub cpu: String,
    /// What the SIMD code compiled to.
    pub simd: String,
    /// The GEMM kernel in use (width, tile, blocks).
    pub gemm_kernel: String,
    /// The caches of one core.
    pub caches: Caches,
    /// The cost of one clock reading, seconds (a probed step reads the
    /// clock once per phase).
    pub clock_s: f64,
}

/// The epoch against its floor.
#[derive(Clone, Debug, Serialize)]
pub struct EpochReport {
    /// Steps per epoch (the last one may be partial; counted as a fraction).
    pub steps: f64,
    /// FLOPs of an epoch: its steps and the evaluation.
    pub flops: f64,
    /// The epoch's FLOPs at the widest FMA peak, seconds.
    pub floor_peak_s: f64,
    /// Every phase at its own roof (compute or bandwidth), seconds.
    pub floor_roofline_s: f64,
    /// Steps × the median unprobed step + the median evaluation, seconds.
    pub measured_s: f64,
    /// Measured over the FLOP floor: how far the epoch is from the peak.
    pub gap_to_peak: f64,
    /// Measured over the roofline floor.
    pub gap_to_roofline: f64,
}

/// A whole profile (`profile.json`).
#[derive(Clone, Debug, Serialize)]
pub struct Profile {
    /// The machine.
    pub machine: Machine,
    /// Widths of the net.
    pub sizes: Vec<usize>,
    /// Its hidden activation.
    pub activation: String,
    /// Rows per step.
    pub batch: usize,
    /// The optimizer.
    pub optimizer: String,
    /// Parameters.
    pub params: usize,
    /// The roofs, measured on the threads the step ran on (`threads`,
    /// `peaks` per SIMD width, `bandwidth` per level).
    #[serde(flatten)]
    pub roofs: Roofs,
    /// The time of an unprobed step.
    pub step: Spread,
    /// The time of a probed step, the sum of its phases.
    pub probed_step: Spread,
    /// The sum of the phases' medians, seconds.
    pub phase_median_sum_s: f64,
    /// The phases of a step, in order.
    pub phases: Vec<PhaseReport>,
    /// The test-set evaluation (once per epoch).
    pub eval: PhaseReport,
    /// The epoch against its floor.
    pub epoch: EpochReport,
}

/// The CPU as /proc/cpuinfo names it: `model name`, with the family and
/// model numbers that tell generations apart under one marketing name
/// (`AMD EPYC (family 26, model 2)` is Zen 5); `unknown` without it.
pub fn cpu_model() -> String {
    let Ok(info) = std::fs::read_to_string("/proc/cpuinfo") else {
        return "unknown".to_string();
    };
    let field = |key: &str| {
        info.lines()
            .find(|l| l.split(':').next().map(str::trim) == Some(key))
            .and_then(|l| l.split(':').nth(1))
            .map(|v| v.trim().to_string())
    };
    let name = field("model name").unwrap_or_else(|| "unknown".to_string());
    match (field("cpu family"), field("model")) {
        (Some(f), Some(m)) => format!("{name} (family {f}, model {m})"),
        _ => name,
    }
}

/// The median cost of one `Instant::now()`, seconds.
fn clock_cost() -> f64 {
    let mut v = Vec::new();
    for _ in 0..21 {
        let t = Instant::now();
        for _ in 0..1000 {
            black_box(Instant::now());
        }
        v.push(t.elapsed().as_secs_f64() / 1000.0);
    }
    Spread::of(&v).median
}

/// One phase's report from its timings and cost.
fn report(name: String, time: Spread, cost: Cost, roofs: &Roofs, share: f64) -> PhaseReport {
    let level = roofs.level_for(cost.footprint as usize);
    let secs = time.median.max(1e-12);
    let (gflops, gbs) = (cost.flops / secs / 1e9, cost.bytes / secs / 1e9);
    let (roof, of_roof) = if cost.flops > 0.0 {
        let r = roofs.attainable(cost.intensity(), level);
        (r, gflops / r)
    } else {
        (level.triad_gbs, gbs / level.triad_gbs)
    };
    let floor_s = (cost.flops / (roofs.peak() * 1e9)).max(cost.bytes / (level.triad_gbs * 1e9));
    PhaseReport {
        name,
        time,
        share,
        cost,
        intensity: cost.intensity(),
        gflops,
        gbs,
        level: level.level,
        roof,
        of_roof,
        floor_s,
        matrixmultiply: None,
    }
}

/// Profiles `opts.steps` steps of `t` (see the module docs): warms up,
/// then alternates probed and unprobed steps over the epoch's full
/// batches (at the initial learning rate: the schedule is not advanced),
/// times the evaluation, measures the roofs on the net's threads and,
/// if asked, times every GEMM alone against matrixmultiply.
pub fn run(t: &mut Trainer<'_>, opts: &ProfileOptions) -> Result<Profile, TrainError> {
    let (b, _) = t.start_epoch();
    let n = t.data.train.len();
    let full_batches = (n / b.max(1)).max(1);
    let mut next = 0usize;
    let mut rows = move || {
        let r = next * b..((next + 1) * b).min(n);
        next = (next + 1) % full_batches;
        r
    };
    let check = |t: &Trainer<'_>, s: Step| match s {
        Step::Taken { .. } => Ok(()),
        Step::NotFinite { what, value } => Err(t.diverged(what, value)),
    };
    for _ in 0..opts.warmup {
        let s = t.step(rows())?;
        check(t, s)?;
    }
    let mut laps = Laps {
        last: Instant::now(),
        laps: Vec::with_capacity(64),
    };
    let mut per_phase: BTreeMap<Phase, Vec<f64>> = BTreeMap::new();
    let (mut plain, mut probed) = (Vec::new(), Vec::new());
    for _ in 0..opts.steps.max(1) {
        laps.laps.clear();
        laps.last = Instant::now();
        let s = t.step_probed(rows(), &mut laps)?;
        check(t, s)?;
        // Each phase runs once a step, so each lap is one sample of it.
        for &(p, secs) in &laps.laps {
            per_phase.entry(p).or_default().push(secs);
        }
        probed.push(laps.laps.iter().map(|l| l.1).sum());
        let start = Instant::now();
        let s = t.step(rows())?;
        plain.push(start.elapsed().as_secs_f64());
        check(t, s)?;
    }

    // The evaluation, as the epoch runs it.
    let test = &t.data.test;
    let mut eval = Vec::new();
    for _ in 0..opts.eval_reps.max(1) {
        let start = Instant::now();
        t.net
            .evaluate(&t.cx, &test.images, &test.labels, t.cfg.eval_batch_size)?;
        eval.push(start.elapsed().as_secs_f64());
    }

    let caches = Caches::detect();
    let pool = t.cx.pool();
    let roofs = roof::measure(pool, &caches, opts.roof_samples);
    let shape = t.step_shape();
    let costs = step_costs(&shape);
    let label = |p: Phase| p.label(t.net.activation().name());
    let means: f64 = per_phase.values().map(|v| Spread::of(v).mean).sum();
    let mut phases: Vec<PhaseReport> = costs
        .iter()
        .map(|&(p, cost)| {
            let time = Spread::of(per_phase.get(&p).map_or(&[][..], |v| &v[..]));
            report(label(p), time, cost, &roofs, time.mean / means)
        })
        .collect();
    // Any phase the step ran that the cost model does not list is a bug
    // in one of them: report it rather than lose its time.
    for (p, v) in &per_phase {
        if !costs.iter().any(|(q, _)| q == p) {
            let time = Spread::of(v);
            let mut r = report(label(*p), time, Cost::default(), &roofs, time.mean / means);
            r.name.push_str(" (no cost model)");
            phases.push(r);
        }
    }
    if opts.compare_matrixmultiply {
        let mut cases = GemmCase::for_step(&shape.sizes, shape.activation, shape.batch);
        let cmp = compare_gemms(&mut cases, 7);
        // `phases` starts with one report per cost, in the costs' order.
        for (case, c) in cases.iter().zip(cmp) {
            if let Some(i) = costs.iter().position(|(p, _)| *p == case.phase) {
                phases[i].matrixmultiply = Some(c);
            }
        }
    }
    let eval_cost = eval_cost(
        &shape.sizes,
        shape.activation,
        test.len(),
        t.cfg.eval_batch_size,
    );
    let eval = report(
        label(Phase::Eval),
        Spread::of(&eval),
        eval_cost,
        &roofs,
        0.0,
    );
    let step = Spread::of(&plain);
    let steps = n as f64 / b as f64;
    let step_flops: f64 = costs.iter().map(|(_, c)| c.flops).sum();
    let epoch_flops = steps * step_flops + eval_cost.flops;
    let floor_peak_s = epoch_flops / (roofs.peak() * 1e9);
    let floor_roofline_s = steps * phases.iter().map(|r| r.floor_s).sum::<f64>() + eval.floor_s;
    let measured_s = steps * step.median + eval.time.median;
    Ok(Profile {
        machine: Machine {
            cpu: cpu_model(),
            simd: descent_core::simd::describe(),
            gemm_kernel: descent_core::Config::native().describe(),
            caches,
            clock_s: clock_cost(),
        },
        activation: shape.activation.name().to_string(),
        params: shape.params(),
        sizes: shape.sizes,
        batch: b,
        optimizer: t.cfg.optimizer.as_str().to_string(),
        roofs,
        step,
        probed_step: Spread::of(&probed),
        phase_median_sum_s: phases.iter().map(|r| r.time.median).sum(),
        phases,
        eval,
        epoch: EpochReport {
            steps,
            flops: epoch_flops,
            floor_peak_s,
            floor_roofline_s,
            measured_s,
            gap_to_peak: measured_s / floor_peak_s,
            gap_to_roofline: measured_s / floor_roofline_s,
        },
    })
}

impl Trainer<'_> {
    /// The shapes that decide this run's step costs ([`step_costs`]).
    pub fn step_shape(&self) -> StepShape {
        let n = self.data.train.len();
        let batch = self.cfg.batch_rows(n);
        let state_buffers = match &self.updater {
            Updater::Grad(o) => o.export_state().buffers.len(),
            Updater::Search(_) => 0,
        };
        StepShape {
            sizes: self.net.sizes().to_vec(),
            activation: self.net.activation(),
            batch,
            gathered: batch != n,
            examples: n,
            kind: self.cfg.optimizer,
            update_flops: update_flops(
                self.cfg.optimizer,
                &self.cfg.hyper,
                self.cfg.clip_norm.is_some(),
            ),
            state_buffers,
        }
    }
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
            state_buffers: 0,
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
            // 8·5·(4 + 1)
            (Phase::Gather, 0.0, 200.0),
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
        // Footprints: the gather's is the whole set its rows come from,
        // 4·(10 + 5)·(4 + 1); in-place arrays count once.
        let foot = |ph: Phase| got.iter().find(|(p, _)| *p == ph).unwrap().1.footprint;
        assert_eq!(foot(Phase::Gather), 300.0);
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

    /// The baseline computes the same product as descent on each case's
    /// layout (so its timings are of the same work).
    #[test]
    fn every_gemm_case_gives_the_same_result_with_matrixmultiply() {
        for act in [Activation::Relu, Activation::Tanh] {
            let mut cases = GemmCase::for_step(&[13, 7, 5, 3], act, 9);
            let phases: Vec<Phase> = cases.iter().map(|c| c.phase).collect();
            assert_eq!(
                phases,
                [
                    Phase::Net(N::Forward(0)),
                    Phase::Net(N::Forward(1)),
                    Phase::Net(N::Forward(2)),
                    Phase::Net(N::WeightGrad(2)),
                    Phase::Net(N::InputGrad(2)),
                    Phase::Net(N::WeightGrad(1)),
                    Phase::Net(N::InputGrad(1)),
                    Phase::Net(N::WeightGrad(0)),
                ]
            );
            for c in &mut cases {
                c.run_descent(&Compute::threads(2));
                let ours = c.out.clone();
                c.out.fill(f32::NAN);
                c.run_matrixmultiply();
                let (m, k, n) = c.mkn();
                assert_eq!(ours.len(), m * n);
                for (a, b) in ours.iter().zip(c.out.iter()) {
                    assert!(
                        (a - b).abs() <= 1e-5 * (1.0 + b.abs()) * k as f32,
                        "{:?}",
                        c.phase
                    );
                }
                assert_eq!(c.flops(), 2.0 * (m * k * n) as f64);
            }
        }
    }

    #[test]
    fn spread_percentiles() {
        let v: Vec<f64> = (1..=11).map(f64::from).collect();
        let s = Spread::of(&v);
        assert_eq!(
            (s.median, s.p10, s.p90, s.mean, s.samples),
            (6.0, 2.0, 10.0, 6.0, 11)
        );
        assert_eq!(Spread::of(&[]), Spread::default());
    }
}
