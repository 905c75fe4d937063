//! The training loop: [`Trainer::step`] is one step, top to bottom;
//! [`Trainer::run_epoch`] drives the steps of an epoch and hands what they
//! measured to [`Observer`]s (progress bars, metrics files, checkpoints),
//! which the loop itself knows nothing about.
//!
//! Everything that decides the numbers (initial weights, batch order,
//! random-search draws) comes from the seed, and every kernel gives the same
//! bits whatever the thread count, so a run is reproducible bit for bit, and
//! a resumed run continues exactly like an uninterrupted one.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use descent_core::ops::SMALL_BATCH;
use descent_core::{AlignedVec, Compute};
use descent_nn::{Loss, Mlp, NnError, Targets};
use descent_optim::{Block, OptimError, Schedule, Updater};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::checkpoint::CheckpointError;
use crate::config::{available_memory, check_model_fits, model_min_bytes, OnDivergence, RunConfig};
use crate::data::{DataError, Mnist};
use crate::metrics::{EpochRecord, EvalRecord, History, MetricsError, MetricsWriter, StepRecord};
use crate::phase::{NetProbe, Phase, Probe};

/// Everything that can end a run early.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// A setting of the [`RunConfig`] is invalid.
    #[error("{field}: {message}")]
    Config {
        /// The field, e.g. `batch_size`.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The data could not be read.
    #[error(transparent)]
    Data(#[from] DataError),
    /// A checkpoint could not be read or written.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// The metrics file could not be written.
    #[error(transparent)]
    Metrics(#[from] MetricsError),
    /// An optimizer config or state is invalid.
    #[error("optimizer: {0}")]
    Optim(#[from] OptimError),
    /// The network rejected its input (a bug or a model that does not fit).
    #[error("model: {0}")]
    Nn(#[from] NnError),
    /// A loss landscape could not be measured.
    #[error("landscape: {0}")]
    Landscape(#[from] crate::landscape::LandscapeError),
    /// A checkpoint does not describe a run descent can resume.
    #[error("{path}: {message}")]
    Resume {
        /// The checkpoint.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// [`Trainer::stop`] was raised; the run stopped after a whole step.
    #[error("interrupted in epoch {epoch} after step {step}")]
    Interrupted {
        /// 1-based epoch in progress.
        epoch: usize,
        /// Steps taken in the run.
        step: u64,
    },
    /// The loss or gradient stopped being finite.
    #[error(
        "diverged at epoch {epoch}, step {step}: {what} is {value} (largest gradient norm seen: {max_grad_norm}); {}",
        match last_checkpoint {
            Some(p) => format!("the last checkpoint, {}, is intact", p.display()),
            None => "no checkpoint was written".to_string(),
        }
    )]
    Diverged {
        /// 1-based epoch.
        epoch: usize,
        /// The step that produced the non-finite value (1-based).
        step: u64,
        /// `loss` or `gradient norm`.
        what: &'static str,
        /// The value seen.
        value: f32,
        /// The largest finite gradient norm seen before.
        max_grad_norm: f32,
        /// The last checkpoint written by this run, if any.
        last_checkpoint: Option<PathBuf>,
    },
}

/// What one [`Trainer::step`] did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Step {
    /// The weights were updated.
    Taken {
        /// The batch's mean loss before the update.
        loss: f32,
        /// `‖g‖₂` of the batch gradient (NaN for random search).
        grad_norm: f32,
        /// The learning rate used (0 for random search).
        lr: f32,
    },
    /// The loss or the gradient was not finite; nothing was updated. What
    /// happens next is the run's divergence policy.
    NotFinite {
        /// `loss` or `gradient norm`.
        what: &'static str,
        /// The value seen.
        value: f32,
    },
}

/// Watches a run: called by [`Trainer::run_epoch`] at the start of an
/// epoch, after every step taken, and at the end of an epoch. Every method
/// does nothing by default; an error stops the run.
pub trait Observer {
    /// Before the first step of epoch `t.epoch + 1`, which has `steps` steps.
    fn epoch_started(&mut self, _t: &Trainer<'_>, _steps: usize) -> Result<(), TrainError> {
        Ok(())
    }

    /// After every step that updated the weights; `t` holds the weights
    /// the step left (a path recorder reads them).
    fn step(&mut self, _t: &Trainer<'_>, _rec: &StepRecord) -> Result<(), TrainError> {
        Ok(())
    }

    /// After the epoch's evaluation; `t` may be saved ([`Trainer::save`]).
    fn epoch_ended(&mut self, _t: &mut Trainer<'_>, _rec: &EpochRecord) -> Result<(), TrainError> {
        Ok(())
    }

    /// When the run is over ([`Trainer::run`] returns).
    fn finished(&mut self) -> Result<(), TrainError> {
        Ok(())
    }
}

/// Writes every step and epoch record to a `.jsonl` or `.csv` file.
impl Observer for MetricsWriter {
    fn step(&mut self, _t: &Trainer<'_>, rec: &StepRecord) -> Result<(), TrainError> {
        Ok(MetricsWriter::step(self, rec)?)
    }

    fn epoch_ended(&mut self, _t: &mut Trainer<'_>, rec: &EpochRecord) -> Result<(), TrainError> {
        Ok(self.epoch(rec)?)
    }

    fn finished(&mut self) -> Result<(), TrainError> {
        Ok(self.flush()?)
    }
}

/// Writes a checkpoint to the path after every epoch, atomically.
pub struct SaveEveryEpoch<'p>(pub &'p Path);

impl Observer for SaveEveryEpoch<'_> {
    fn epoch_ended(&mut self, t: &mut Trainer<'_>, _rec: &EpochRecord) -> Result<(), TrainError> {
        t.save(self.0)
    }
}

/// The state of a run in progress.
pub struct Trainer<'d> {
    /// The run's settings.
    pub cfg: RunConfig,
    /// Where the run computes: its threads and the GEMM's configuration,
    /// passed to the net, the data set and the optimizer.
    pub cx: Compute,
    pub(crate) data: &'d Mnist,
    /// The model.
    pub net: Mlp,
    /// The optimizer.
    pub updater: Updater,
    pub(crate) schedule: Schedule,
    schedule_per_epoch: bool,
    /// Epochs completed.
    pub epoch: usize,
    /// Steps taken.
    pub step: u64,
    /// Examples seen.
    pub examples: u64,
    /// Training seconds so far.
    pub seconds: f64,
    /// The largest finite gradient norm seen (named when the run diverges).
    pub max_grad_norm: f32,
    /// What the run measured.
    pub history: History,
    /// This epoch's order of the training examples.
    order: Vec<usize>,
    /// The gathered batch, line-aligned: it is B of dW₁ = dH₁ᵀ·X, whose
    /// rows the GEMM reads in place 16 floats at a time.
    x: AlignedVec,
    y: Vec<u32>,
    search_params: Vec<f32>,
    /// The last checkpoint written by [`Trainer::save`].
    pub last_checkpoint: Option<PathBuf>,
    /// At B ≤ [`SMALL_BATCH`], let an optimizer that prefers it
    /// ([`descent_optim::Optimizer::prefers_factored`]: SGD, momentum,
    /// Nesterov) make the gradient from its factors as it updates
    /// ([`descent_optim::Optimizer::step_factored`])
    /// instead of storing dW and reading it back. On by default; the
    /// weights are the same bits either way (the logged gradient norm is
    /// computed from dY and X then, within a few ulps of the stored
    /// gradient's). Off, every step takes the stored-gradient path.
    pub factored_grads: bool,
    /// Steps whose gradient the optimizer made from its factors (see
    /// [`Trainer::factored_grads`]); the others stored it.
    pub factored_steps: u64,
    /// At B > [`SMALL_BATCH`], let an optimizer with a descent step
    /// ([`descent_optim::Optimizer::descent`]: plain SGD, and SGD with
    /// momentum from its second step, both without weight decay) step each
    /// weight (and its momentum) inside the GEMM that makes its gradient
    /// ([`descent_nn::Mlp::descend_weights_probed`]): dW is never stored,
    /// and neither the norm nor the update reads it back. Taken when the
    /// norm's bound from the signals rules out a skipped or clipped step;
    /// otherwise the gradient is stored as always. On by default; the
    /// weights are the same bits either way (the logged gradient norm is
    /// summed by the GEMM's tiles then, within a few ulps of the stored
    /// gradient's).
    pub descend: bool,
    /// Steps whose weights were stepped inside their GEMMs (see
    /// [`Trainer::descend`]).
    pub descended_steps: u64,
    /// The largest magnitude a gathered batch holds
    /// ([`crate::data::Dataset::abs_max`]), for the norm's bound: the set
    /// cannot change while the trainer borrows it, and images made of it
    /// later are the same values.
    x_max: f32,
    /// At batch 1, when the gradient is made from its factors, gather the
    /// next step's row before the update, so that the update forms the
    /// next forward's first-layer products as it writes W₀
    /// ([`descent_nn::Mlp::params_and_grad_source_ahead`]): W₀ is then read
    /// once a step instead of twice. On by default; the bits are the same
    /// either way (`Mlp::ahead_forwards` counts the forwards it served).
    pub lookahead: bool,
    /// The next step's row, gathered for the lookahead, and which
    /// example it is (the next step takes it instead of gathering again).
    x_next: AlignedVec,
    y_next: Vec<u32>,
    x_next_example: Option<usize>,
    /// How far the epoch in progress has gone (all zero between epochs):
    /// saved by [`Trainer::save`], so a run stopped inside an epoch resumes
    /// at its next step, bit for bit.
    pub progress: EpochProgress,
    /// When set and raised (a signal handler's flag), the run stops after
    /// the step in progress with [`TrainError::Interrupted`]; the trainer
    /// is then consistent and may be saved.
    pub stop: Option<&'static AtomicBool>,
}

/// The part of an epoch done so far: the steps of its order taken or
/// skipped, and the sums its record is made of.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct EpochProgress {
    /// Steps of the epoch's order done (taken or skipped).
    pub steps_done: usize,
    /// Σ of the taken steps' losses, as the bits of an `f64` (a JSON
    /// number need not read back to the same bits).
    pub loss_sum_bits: u64,
    /// Steps taken.
    pub loss_count: u64,
    /// Steps skipped by the divergence policy.
    pub skipped: u64,
    /// Examples of the taken steps.
    pub examples: u64,
    /// Training seconds spent in the epoch so far.
    pub seconds: f64,
}

impl<'d> Trainer<'d> {
    /// A fresh run of `cfg` on `data`: weights from the seed, optimizer
    /// state empty, computing on `cx` (e.g. `Compute::threads(2)`). The
    /// config is checked, and a model too large for the machine refused,
    /// before anything is allocated.
    pub fn new(cfg: RunConfig, data: &'d Mnist, cx: Compute) -> Result<Self, TrainError> {
        cfg.validate()?;
        let sizes = cfg.sizes(data.train.dim());
        check_model_fits(&sizes, available_memory())?;
        let net = Mlp::new(&sizes, cfg.activation()?, cfg.seed)?;
        let mut updater = cfg.optimizer_config()?.build()?;
        if let Updater::Grad(o) = &mut updater {
            let blocks: Vec<Block> = net
                .layout()
                .iter()
                .map(|t| Block::of_shape(t.offset, &t.shape))
                .collect();
            o.bind(&blocks)?;
        }
        let spe = cfg.steps_per_epoch(&data.train) as u64;
        let (schedule, schedule_per_epoch) = cfg.schedule(updater.lr(), spe)?;
        let n = net.num_params();
        Ok(Self {
            cfg,
            cx,
            data,
            net,
            updater,
            schedule,
            schedule_per_epoch,
            epoch: 0,
            step: 0,
            examples: 0,
            seconds: 0.0,
            max_grad_norm: 0.0,
            history: History::default(),
            order: Vec::new(),
            x: AlignedVec::new(),
            y: Vec::new(),
            search_params: Vec::with_capacity(n),
            last_checkpoint: None,
            factored_grads: true,
            factored_steps: 0,
            descend: true,
            descended_steps: 0,
            x_max: data.train.abs_max(),
            lookahead: true,
            x_next: AlignedVec::new(),
            y_next: Vec::new(),
            x_next_example: None,
            progress: EpochProgress::default(),
            stop: None,
        })
    }

    /// The bytes of optimizer state this run keeps beside the weights and
    /// gradients: the optimizer's buffers (SGD none, momentum 1×, Adam 2×,
    /// AMSGrad 3× the parameters), or for random search the candidate
    /// weights it evaluates (1×).
    pub fn optimizer_state_bytes(&self) -> u64 {
        let floats = match &self.updater {
            Updater::Grad(o) => o.export_state().buffers.iter().map(|(_, b)| b.len()).sum(),
            Updater::Search(_) => self.net.num_params(),
            // d, the previous gradient and 2·history_size vectors, at full
            // history (the weights' working copy and the step's start too).
            Updater::Lbfgs(o) => (4 + 2 * o.config().history_size as usize) * self.net.num_params(),
        };
        4 * floats as u64
    }

    /// The bytes training needs beyond the data: weights and gradients
    /// ([`model_min_bytes`]), the optimizer state, and one batch's
    /// activations with their gradients, `4 · 2·B·Σ widths`.
    pub fn training_bytes(&self) -> u64 {
        let sizes = self.net.sizes();
        let batch = self.cfg.batch_rows(self.data.train.len()) as u64;
        let widths: u64 = sizes[1..].iter().map(|&w| w as u64).sum();
        model_min_bytes(sizes).unwrap_or(u64::MAX)
            + self.optimizer_state_bytes()
            + 8 * batch * widths
    }

    /// The weights to test and save as the model when they are not the
    /// trained parameters (Schedule-Free's average x); `None` otherwise.
    pub fn eval_weights(&self) -> Option<Vec<f32>> {
        match &self.updater {
            Updater::Grad(o) => o.eval_weights(self.net.params()),
            Updater::Search(_) | Updater::Lbfgs(_) => None,
        }
    }

    /// The model's weights: [`Trainer::eval_weights`] where the optimizer
    /// has them, else the parameters.
    pub fn model_weights(&self) -> Vec<f32> {
        self.eval_weights()
            .unwrap_or_else(|| self.net.params().to_vec())
    }

    /// The test set's mean loss and accuracy, at the model's weights
    /// ([`Trainer::model_weights`]: Schedule-Free's x, which the net holds
    /// for the pass; the trained parameters come back bit for bit).
    pub fn evaluate(&mut self) -> Result<(f32, f32), TrainError> {
        let kept = self.eval_weights().map(|x| {
            let params = self.net.params_mut();
            let y = params.to_vec();
            params.copy_from_slice(&x);
            y
        });
        let test = &self.data.test;
        let out = self.net.evaluate(
            &self.cx,
            test.images(),
            &test.labels,
            self.cfg.eval_batch_size,
        );
        if let Some(y) = kept {
            self.net.params_mut().copy_from_slice(&y);
        }
        Ok(out?)
    }

    /// The data the run trains on and is tested on.
    pub fn data(&self) -> &'d Mnist {
        self.data
    }

    /// Steps in one epoch of this run.
    pub fn steps_per_epoch(&self) -> usize {
        self.cfg.steps_per_epoch(&self.data.train)
    }

    /// Trains until `cfg.epochs` epochs (or `cfg.max_steps` steps) are done.
    pub fn run(&mut self, observers: &mut [&mut dyn Observer]) -> Result<(), TrainError> {
        while self.epoch < self.cfg.epochs && !self.reached_max_steps() {
            self.run_epoch(observers)?;
        }
        for o in observers.iter_mut() {
            o.finished()?;
        }
        Ok(())
    }

    fn reached_max_steps(&self) -> bool {
        self.cfg.max_steps.is_some_and(|m| self.step >= m)
    }

    /// **One training step** on the examples `order[rows]` of this epoch:
    /// gather → forward → loss → backward → gradient norm → optimizer step.
    ///
    /// A non-finite loss or gradient norm updates nothing and is returned as
    /// [`Step::NotFinite`] for the caller's policy to judge.
    pub fn step(&mut self, rows: Range<usize>) -> Result<Step, TrainError> {
        self.step_probed(rows, &mut ())
    }

    /// [`Trainer::step`], telling `probe` when each phase is done (see
    /// [`crate::phase`]); `descent profile` times a step this way.
    pub fn step_probed(
        &mut self,
        rows: Range<usize>,
        probe: &mut impl Probe,
    ) -> Result<Step, TrainError> {
        let (b, end) = (rows.len(), rows.end);
        let step = self.step_rows(rows, probe);
        // The next step's rows of this epoch, asked for as this step ends:
        // the ~830 DRAM misses of a batch of 64 (13 at batch 1) are then in
        // flight together, and the next gather finds its rows in cache.
        // Asked for earlier, they were evicted again by the step's own
        // streams (W, dW, the update): at batch 64 on Ice Lake the gather
        // took 37.7 µs with no prefetch, 28 µs prefetched after the gather,
        // 18 after the forward, 14 before the update and 11.3 here.
        // With the lookahead (batch 1) the next row is already gathered:
        // the one after it is the next to be.
        let ahead = if b == 1 && self.lookahead { 1 } else { 0 };
        if b < self.data.train.len() {
            let next = end..(end + b + ahead).min(self.order.len());
            self.data.train.prefetch(&self.order[next]);
        }
        step
    }

    fn step_rows(
        &mut self,
        rows: Range<usize>,
        probe: &mut impl Probe,
    ) -> Result<Step, TrainError> {
        let data = self.data;
        let train = &data.train;
        let (b, next) = (rows.len(), rows.end);
        // Gather: X (B, 784) and y (B) from this epoch's order, normalized
        // from the set's bytes. The whole set (full-batch gd, never
        // shuffled) needs no copy: it is the batch.
        let (x, y): (&[f32], &[u32]) = if b == train.len() {
            (train.images(), &train.labels)
        } else {
            let idx = &self.order[rows];
            if b == 1 && self.x_next_example == Some(idx[0]) {
                // The last step gathered this example for its lookahead.
                std::mem::swap(&mut self.x, &mut self.x_next);
                std::mem::swap(&mut self.y, &mut self.y_next);
            } else {
                self.x.resize(b * train.dim(), 0.0);
                self.y.resize(b, 0);
                train.gather(&self.cx, idx, &mut self.x, &mut self.y);
            }
            (&self.x, &self.y)
        };
        self.x_next_example = None;
        // At batch 1 the next step's row too, when this epoch has one and
        // the update will make the gradient from its factors: the update
        // then forms that row's first-layer products (see `lookahead`).
        let ahead = self.lookahead
            && b == 1
            && self.factored_grads
            && next < self.order.len()
            && matches!(&self.updater, Updater::Grad(o) if o.prefers_factored());
        if ahead {
            self.x_next.resize(train.dim(), 0.0);
            self.y_next.resize(1, 0);
            let idx = &self.order[next..next + 1];
            train.gather(&self.cx, idx, &mut self.x_next, &mut self.y_next);
            self.x_next_example = Some(idx[0]);
        }
        probe.done(Phase::Gather);
        // A step of a few rows runs on the calling thread alone: it is
        // ~20 µs of streaming the weights from L2, and cutting the update
        // between cores moves half the weights to the other core's L2 and
        // back every step (two threads measured 2× slower than one at
        // batch 1). The bits are the same either way.
        let serial;
        let cx = if b <= SMALL_BATCH {
            serial = self.cx.serial_like();
            &serial
        } else {
            &self.cx
        };
        let net = &mut self.net;
        match &mut self.updater {
            Updater::Grad(opt) => {
                let lr = self.schedule.lr();
                opt.set_lr(lr)?;
                // Forward: Z = f(… f(X·W₀ᵀ + b₀) …)·W_Lᵀ + b_L.
                net.forward_probed(cx, x, b, &mut NetProbe(probe))?;
                // Loss: mean cross-entropy of softmax(Z), and dZ.
                let loss = net.loss_grad(Loss::SoftmaxCrossEntropy, Targets::Labels(y))?;
                probe.done(Phase::Net(descent_nn::Phase::Loss));
                let generated = self.factored_grads && b <= SMALL_BATCH && opt.prefers_factored();
                // Plain SGD, or SGD with momentum once its buffer exists,
                // at more rows: the weights are stepped inside the GEMMs
                // that make their gradients (probing with a zero bound only
                // asks whether the rule can).
                let descend = self.descend && b > SMALL_BATCH && opt.descent(0.0).is_some();
                // Backward: dW, db, dX layer by layer, written over the last
                // step's gradient (no separate pass zeroes it). At a few
                // rows, or descending, only the dX's: the gradient is made
                // in the update, or in the step of each weight.
                if generated || descend {
                    net.backward_signals_probed(cx, x, &mut NetProbe(probe))?;
                } else {
                    net.backward_probed(cx, x, false, &mut NetProbe(probe))?;
                }
                if !loss.is_finite() {
                    return Ok(Step::NotFinite {
                        what: "loss",
                        value: loss,
                    });
                }
                // Optimizer step: the gradient's norm (logged, checked, the
                // clipping factor), then one fused pass over the flat
                // buffers, a piece on each thread. A non-finite norm
                // updates nothing.
                let mut taken = None;
                if generated {
                    // dW = dYᵀ·X is never stored: the optimizer's kernel
                    // makes each element in registers as it updates it, and
                    // the norm comes from dY and X (‖dy ⊗ x‖ = ‖dy‖·‖x‖). Where
                    // the step would depend on the norm's last bits (clipping
                    // at work, a non-finite norm) the optimizer declines, and
                    // the gradient is written for the exact path below.
                    let (p, src) = if ahead {
                        net.params_and_grad_source_ahead(x, &self.x_next)?
                    } else {
                        net.params_and_grad_source(x)?
                    };
                    taken = opt.step_factored(cx, p, src.norm(), &src)?;
                    match taken {
                        Some(_) => self.factored_steps += 1,
                        None => net.write_grads_from_signals(cx, x)?,
                    }
                }
                if descend {
                    // W ← W − η·dYᵀ·X as each tile of dW leaves the GEMM's
                    // registers, when a bound on the norm from the signals
                    // (‖dYᵀ·X‖ ≤ ‖dY‖·‖X‖) shows the step is neither skipped
                    // nor clipped; then the biases from their stored db.
                    // Otherwise the gradient is written for the exact path.
                    let bound = net.grad_norm_bound(self.x_max);
                    let squares = match opt.descent(bound) {
                        Some(step) => {
                            net.descend_weights_probed(cx, x, step, &mut NetProbe(probe))?
                        }
                        None => None,
                    };
                    match squares {
                        Some(sq) => {
                            let (p, g, weights) = net.params_grads_and_weights();
                            let norm = sq.sqrt() as f32;
                            taken = Some(opt.step_descended(cx, p, g, norm, weights)?);
                            self.descended_steps += 1;
                        }
                        None => net.write_grads_from_signals_probed(cx, x, &mut NetProbe(probe))?,
                    }
                }
                let info = match taken {
                    Some(info) => info,
                    None => {
                        let (p, g) = net.params_and_grads();
                        opt.step(cx, p, g)?
                    }
                };
                probe.done(Phase::Update);
                if !info.applied {
                    return Ok(Step::NotFinite {
                        what: "gradient norm",
                        value: info.grad_norm,
                    });
                }
                self.max_grad_norm = self.max_grad_norm.max(info.grad_norm);
                Ok(Step::Taken {
                    loss,
                    grad_norm: info.grad_norm,
                    lr,
                })
            }
            Updater::Lbfgs(opt) => {
                let lr = self.schedule.lr();
                if lr > 0.0 {
                    opt.set_lr(lr)?;
                }
                // L-BFGS steps its own copy of the weights and evaluates the
                // batch at each iterate through this closure: load the
                // weights, forward, loss, backward, hand back the gradient.
                self.search_params.clear();
                self.search_params.extend_from_slice(net.params());
                let start = self.search_params.clone();
                let info = opt.step(&mut self.search_params, |w: &[f32], g: &mut [f32]| {
                    net.params_mut().copy_from_slice(w);
                    net.forward(cx, x, b)?;
                    let loss = net.loss_grad(Loss::SoftmaxCrossEntropy, Targets::Labels(y))?;
                    net.backward_overwrite(cx, x)?;
                    g.copy_from_slice(net.grads());
                    Ok::<f32, TrainError>(loss)
                })?;
                probe.done(Phase::Update);
                if !(info.loss.is_finite() && self.search_params.iter().all(|v| v.is_finite())) {
                    // Nothing updated: the weights go back to the step's start.
                    net.params_mut().copy_from_slice(&start);
                    return Ok(Step::NotFinite {
                        what: "loss",
                        value: if info.loss.is_finite() {
                            f32::NAN
                        } else {
                            info.loss
                        },
                    });
                }
                net.params_mut().copy_from_slice(&self.search_params);
                if info.grad_norm.is_finite() {
                    self.max_grad_norm = self.max_grad_norm.max(info.grad_norm);
                }
                Ok(Step::Taken {
                    loss: info.loss,
                    grad_norm: info.grad_norm,
                    lr,
                })
            }
            Updater::Search(rs) => {
                // The loss is compared on one batch: the current weights'
                // and the candidate's, so forget the last batch's best.
                rs.reset_best();
                self.search_params.clear();
                self.search_params.extend_from_slice(net.params());
                let r = rs.step(&mut self.search_params, |cand| {
                    net.params_mut().copy_from_slice(cand);
                    match net.forward(cx, x, b) {
                        Ok(_) => net
                            .loss_grad(Loss::SoftmaxCrossEntropy, Targets::Labels(y))
                            .unwrap_or(f32::NAN),
                        Err(_) => f32::NAN,
                    }
                });
                net.params_mut().copy_from_slice(&self.search_params);
                probe.done(Phase::Search);
                if !r.loss.is_finite() {
                    // The kept weights themselves give a non-finite loss:
                    // skipping cannot help, whatever the policy.
                    return Err(self.diverged("loss", r.loss));
                }
                Ok(Step::Taken {
                    loss: r.loss,
                    grad_norm: f32::NAN,
                    lr: 0.0,
                })
            }
        }
    }

    /// The error of a run that diverged at the next step: what a caller
    /// that drives [`Trainer::step`] itself returns for a
    /// [`Step::NotFinite`] it will not skip.
    pub fn diverged(&self, what: &'static str, value: f32) -> TrainError {
        TrainError::Diverged {
            epoch: self.epoch + 1,
            step: self.step + 1,
            what,
            value,
            max_grad_norm: self.max_grad_norm,
            last_checkpoint: self.last_checkpoint.clone(),
        }
    }

    /// Lays out the next epoch's order of the training examples; returns
    /// the batch size and the number of steps. [`Trainer::run_epoch`] calls
    /// it; a caller that drives [`Trainer::step`] itself (a profiler) calls
    /// it first.
    pub fn start_epoch(&mut self) -> (usize, usize) {
        let n = self.data.train.len();
        let b = self.cfg.batch_rows(n);
        self.order.clear();
        self.order.extend(0..n);
        if self.cfg.shuffle_batch(b, n) {
            // The epoch's order depends on (seed, epoch) only, so a resumed
            // run sees the same batches as an uninterrupted one.
            let mut rng = ChaCha8Rng::seed_from_u64(self.cfg.seed);
            rng.set_stream(self.epoch as u64 + 1);
            self.order.shuffle(&mut rng);
        }
        (b, n.div_ceil(b.max(1)))
    }

    /// One epoch: every step of the epoch's order (the divergence policy
    /// applied to each), then the test-set evaluation and the epoch record.
    pub fn run_epoch(
        &mut self,
        observers: &mut [&mut dyn Observer],
    ) -> Result<EpochRecord, TrainError> {
        let (b, steps) = self.start_epoch();
        let n = self.data.train.len();
        for o in observers.iter_mut() {
            o.epoch_started(self, steps)?;
        }
        let start = Instant::now();
        // Where the epoch stands: all zero, or where a saved run stopped.
        let done = self.progress;
        let (mut loss_sum, mut loss_count) = (f64::from_bits(done.loss_sum_bits), done.loss_count);
        let (mut skipped, mut epoch_examples) = (done.skipped, done.examples);
        // Seconds spent on `eval_every` evaluations: not training time.
        let mut eval_secs = 0.0f64;
        let trained = |eval_secs: f64| done.seconds + start.elapsed().as_secs_f64() - eval_secs;
        for s in done.steps_done..steps {
            if self.reached_max_steps() {
                break;
            }
            let rows = s * b..((s + 1) * b).min(n);
            match self.step(rows.clone())? {
                Step::Taken {
                    loss,
                    grad_norm,
                    lr,
                } => {
                    if !self.schedule_per_epoch {
                        self.schedule.advance(None)?;
                    }
                    self.step += 1;
                    self.examples += rows.len() as u64;
                    epoch_examples += rows.len() as u64;
                    loss_sum += loss as f64;
                    loss_count += 1;
                    let rec = StepRecord {
                        step: self.step,
                        epoch: self.epoch + 1,
                        loss,
                        grad_norm,
                        lr,
                        examples: self.examples,
                        seconds: self.seconds + trained(eval_secs),
                    };
                    self.history.steps.push(rec);
                    for o in observers.iter_mut() {
                        o.step(self, &rec)?;
                    }
                    // The test set between epochs' ends, every eval_every
                    // steps (the epoch's last step is measured at its end).
                    let last = s + 1 == steps || self.reached_max_steps();
                    if !last && self.cfg.eval_every.is_some_and(|k| self.step % k == 0) {
                        let t0 = Instant::now();
                        let (test_loss, test_accuracy) = self.evaluate()?;
                        eval_secs += t0.elapsed().as_secs_f64();
                        self.history.evals.push(EvalRecord {
                            step: self.step,
                            examples: self.examples,
                            seconds: rec.seconds,
                            test_loss,
                            test_accuracy,
                        });
                    }
                }
                Step::NotFinite { what, value } => match self.cfg.on_divergence {
                    OnDivergence::Stop => return Err(self.diverged(what, value)),
                    OnDivergence::SkipStep => skipped += 1,
                },
            }
            self.progress = EpochProgress {
                steps_done: s + 1,
                loss_sum_bits: loss_sum.to_bits(),
                loss_count,
                skipped,
                examples: epoch_examples,
                seconds: trained(eval_secs),
            };
            if self.stop.is_some_and(|f| f.load(Ordering::Relaxed)) {
                return Err(TrainError::Interrupted {
                    epoch: self.epoch + 1,
                    step: self.step,
                });
            }
        }
        let secs = trained(eval_secs);
        self.seconds += secs;
        let (test_loss, test_accuracy) = self.evaluate()?;
        if self.schedule_per_epoch {
            self.schedule.advance(Some(test_loss))?;
        }
        self.epoch += 1;
        self.progress = EpochProgress::default();
        let rec = EpochRecord {
            epoch: self.epoch,
            step: self.step,
            train_loss: if loss_count > 0 {
                (loss_sum / loss_count as f64) as f32
            } else {
                f32::NAN
            },
            test_loss,
            test_accuracy,
            seconds: secs,
            examples_per_sec: epoch_examples as f64 / secs.max(1e-9),
            skipped_steps: skipped,
        };
        self.history.epochs.push(rec);
        for o in observers.iter_mut() {
            o.epoch_ended(self, &rec)?;
        }
        Ok(rec)
    }
}
