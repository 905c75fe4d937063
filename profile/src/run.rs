//! The profile of a run: real steps of a trainer, each phase timed by the
//! step's own probe, set against the cost model and the roofs.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Instant;

use descent_core::gemm::blocking::Caches;
use descent_optim::Updater;
use descent_train::{Phase, Probe, Step, TrainError, Trainer};
use serde::Serialize;

use crate::cost::{
    eval_cost, fused_step_costs, step_costs, update_divides, update_flops, Cost, StepShape,
};
use crate::gemm::{compare_gemms, GemmCase, GemmComparison};
use crate::roof::{self, Roofs};
use crate::stats::Spread;

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

/// What kind of work a phase is: the roofline's colours and markers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum WorkKind {
    /// A forward GEMM with its fused epilogue (and the evaluation, which
    /// is forward GEMMs).
    ForwardGemm,
    /// A backward GEMM: dW or dX.
    BackwardGemm,
    /// An elementwise pass or a reduction: the gather, an activation, the
    /// loss, db, f′.
    Elementwise,
    /// The optimizer: its norm and update, or a random search.
    Optimizer,
}

impl WorkKind {
    /// Every kind, in the order a legend lists them.
    pub const ALL: [WorkKind; 4] = [
        WorkKind::ForwardGemm,
        WorkKind::BackwardGemm,
        WorkKind::Elementwise,
        WorkKind::Optimizer,
    ];

    /// The kind of `phase`.
    pub fn of(phase: Phase) -> WorkKind {
        use descent_nn::Phase as N;
        match phase {
            Phase::Eval | Phase::Net(N::Forward(_)) => WorkKind::ForwardGemm,
            Phase::Net(N::WeightGrad(_) | N::InputGrad(_)) => WorkKind::BackwardGemm,
            Phase::Update | Phase::Search => WorkKind::Optimizer,
            Phase::Gather | Phase::Net(_) => WorkKind::Elementwise,
        }
    }

    /// Its line in a legend.
    pub fn describe(self) -> &'static str {
        match self {
            WorkKind::ForwardGemm => "forward GEMM (+ epilogue)",
            WorkKind::BackwardGemm => "backward GEMM",
            WorkKind::Elementwise => "elementwise / reduction",
            WorkKind::Optimizer => "optimizer",
        }
    }
}

/// One measured phase.
#[derive(Clone, Debug, Serialize)]
pub struct PhaseReport {
    /// The phase (its label is `name`).
    #[serde(skip)]
    pub phase: Phase,
    /// What kind of work it is.
    pub kind: WorkKind,
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
    /// Whether its square roots and divides take longer on the divider
    /// than its FLOPs at the peak and its bytes at the level's bandwidth
    /// ([`Roofs::divider_floor`]): then that is its roof.
    pub divider_bound: bool,
    /// The roofline at its intensity for that level, GFLOP/s (for a phase
    /// without FLOPs: that level's triad bandwidth, GB/s); for a phase
    /// bound by the divider, its FLOPs over the divider's least time.
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
    #[serde(serialize_with = "caches_json")]
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
    /// The fully fused schedule ([`fused_step_costs`]) with every phase at
    /// its roof, seconds: the floor this batch size could reach.
    pub floor_fused_s: f64,
    /// Steps × the median unprobed step + the median evaluation, seconds.
    pub measured_s: f64,
    /// Measured over the FLOP floor: how far the epoch is from the peak.
    pub gap_to_peak: f64,
    /// Measured over the roofline floor.
    pub gap_to_roofline: f64,
    /// Measured over the fused floor.
    pub gap_to_fused: f64,
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

/// The caches as `{l1d, l2, l3, source}`.
fn caches_json<S: serde::Serializer>(c: &Caches, s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeStruct;
    let mut st = s.serialize_struct("Caches", 4)?;
    st.serialize_field("l1d", &c.l1d)?;
    st.serialize_field("l2", &c.l2)?;
    st.serialize_field("l3", &c.l3)?;
    st.serialize_field("source", c.source)?;
    st.end()
}

/// One phase's report from its timings and cost; `name` is its label.
fn report(
    phase: Phase,
    name: String,
    time: Spread,
    cost: Cost,
    roofs: &Roofs,
    share: f64,
) -> PhaseReport {
    let level = roofs.level_for(cost.footprint as usize);
    let secs = time.median.max(1e-12);
    let (gflops, gbs) = (cost.flops / secs / 1e9, cost.bytes / secs / 1e9);
    let divider_s = roofs.divider_floor(cost.divides);
    let divider_bound = divider_s > 0.0 && divider_s >= flops_bytes_floor(cost, roofs);
    let (roof, of_roof) = if divider_bound {
        // FLOPs at the pace the divider allows.
        (cost.flops / divider_s / 1e9, divider_s / secs)
    } else if cost.flops > 0.0 {
        let r = roofs.attainable(cost.intensity(), level);
        (r, gflops / r)
    } else {
        (level.triad_gbs, gbs / level.triad_gbs)
    };
    let floor_s = phase_floor(cost, roofs);
    PhaseReport {
        phase,
        kind: WorkKind::of(phase),
        name,
        time,
        share,
        cost,
        intensity: cost.intensity(),
        gflops,
        gbs,
        level: level.level,
        divider_bound,
        roof,
        of_roof,
        floor_s,
        matrixmultiply: None,
    }
}

/// A phase's floor, seconds: its FLOPs at the widest peak, its bytes at
/// the triad bandwidth of the level its footprint fits, or its square
/// roots and divides on the divider, whichever is longest.
fn phase_floor(cost: Cost, roofs: &Roofs) -> f64 {
    flops_bytes_floor(cost, roofs).max(roofs.divider_floor(cost.divides))
}

/// The classic roofline's floor: FLOPs at the widest peak or bytes at the
/// triad bandwidth of the level the footprint fits, the longer.
fn flops_bytes_floor(cost: Cost, roofs: &Roofs) -> f64 {
    let level = roofs.level_for(cost.footprint as usize);
    (cost.flops / (roofs.peak() * 1e9)).max(cost.bytes / (level.triad_gbs * 1e9))
}

/// Profiles `opts.steps` steps of `t` (see the module docs): warms up,
/// then alternates probed and unprobed steps over the epoch's full
/// batches (at the initial learning rate: the schedule is not advanced),
/// times the evaluation, measures the roofs on the net's threads and,
/// if asked, times every GEMM alone against matrixmultiply.
pub fn run(t: &mut Trainer<'_>, opts: &ProfileOptions) -> Result<Profile, TrainError> {
    if let Updater::Lbfgs(_) = t.updater {
        return Err(TrainError::Config {
            field: "optimizer",
            message: "lbfgs takes up to max_iter forward and backward passes a step, which the \
                      profile's one-pass phase model does not describe; profile another optimizer"
                .into(),
        });
    }
    let (b, _) = t.start_epoch();
    let data = t.data();
    let n = data.train.len();
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

    // The evaluation, as the epoch runs it (at Schedule-Free's x too).
    let mut eval = Vec::new();
    for _ in 0..opts.eval_reps.max(1) {
        let start = Instant::now();
        t.evaluate()?;
        eval.push(start.elapsed().as_secs_f64());
    }

    let caches = Caches::detect();
    let pool = t.cx.pool();
    let roofs = roof::measure(pool, &caches, opts.roof_samples);
    let shape = step_shape(t);
    let costs = step_costs(&shape);
    let label = |p: Phase| p.label(t.net.activation().name());
    let means: f64 = per_phase.values().map(|v| Spread::of(v).mean).sum();
    let mut phases: Vec<PhaseReport> = costs
        .iter()
        .map(|&(p, cost)| {
            let time = Spread::of(per_phase.get(&p).map_or(&[][..], |v| &v[..]));
            report(p, label(p), time, cost, &roofs, time.mean / means)
        })
        .collect();
    // Any phase the step ran that the cost model does not list is a bug
    // in one of them: report it rather than lose its time.
    for (p, v) in &per_phase {
        if !costs.iter().any(|(q, _)| q == p) {
            let time = Spread::of(v);
            let share = time.mean / means;
            let mut r = report(*p, label(*p), time, Cost::default(), &roofs, share);
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
        data.test.len(),
        t.cfg.eval_batch_size,
    );
    let eval = report(
        Phase::Eval,
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
    let fused = fused_step_costs(&shape);
    let floor_fused_s = steps
        * fused
            .iter()
            .map(|(_, c)| phase_floor(*c, &roofs))
            .sum::<f64>()
        + eval.floor_s;
    let measured_s = steps * step.median + eval.time.median;
    Ok(Profile {
        machine: Machine {
            cpu: cpu_model(),
            simd: descent_core::simd::describe(),
            gemm_kernel: t.cx.gemm_config(usize::MAX).describe(),
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
            floor_fused_s,
            measured_s,
            gap_to_peak: measured_s / floor_peak_s,
            gap_to_roofline: measured_s / floor_roofline_s,
            gap_to_fused: measured_s / floor_fused_s,
        },
    })
}

/// The shapes that decide the step costs of `t`'s run ([`step_costs`]).
pub fn step_shape(t: &Trainer<'_>) -> StepShape {
    let n = t.data().train.len();
    let batch = t.cfg.batch_rows(n);
    // Parameter-sized buffers' worth of state (Adafactor's factored
    // moments round to none, Muon's to its momentum).
    let state_buffers = match &t.updater {
        Updater::Grad(o) => {
            let floats: usize = o.export_state().buffers.iter().map(|(_, b)| b.len()).sum();
            (floats as f64 / t.net.num_params().max(1) as f64).round() as usize
        }
        Updater::Search(_) => 0,
        Updater::Lbfgs(o) => 4 + 2 * o.config().history_size as usize,
    };
    StepShape {
        sizes: t.net.sizes().to_vec(),
        activation: t.net.activation(),
        batch,
        // Any batch but the whole set is gathered (normalized from bytes).
        gathered: batch != n,
        examples: n,
        kind: t.cfg.optimizer,
        update_flops: update_flops(t.cfg.optimizer, &t.cfg.hyper, t.cfg.clip_norm.is_some()),
        update_divides: update_divides(t.cfg.optimizer),
        state_buffers,
        // Steps the optimizer took on the gradient's factors (a clipped
        // run declines some; Adafactor and Muon all).
        factored: t.factored_steps > 0,
        // Forwards that took the first layer's products from the update.
        ahead: t.net.ahead_forwards() > 0,
        // Steps whose weights SGD stepped inside their GEMMs (a clipped
        // run may decline some).
        descended: t.descended_steps > 0,
    }
}
