//! The multilayer perceptron: Linear → activation → … → Linear, as
//! `nn.Sequential(nn.Linear(s0, s1), act, nn.Linear(s1, s2), act, …,
//! nn.Linear(s_{L−1}, s_L))` would build it. The last Linear's outputs are
//! the logits; the loss (see [`crate::loss`]) is applied outside the net.
//!
//! Dimension legend: B = batch rows, `sizes = [s0, s1, …, s_L]` the
//! widths, layer l maps s_l inputs to s_{l+1} outputs (l = 0 … L−1).
//!
//! Memory: every parameter lives in one flat `params` buffer and every
//! gradient in one flat `grads` buffer of the same layout (layer by layer,
//! weight then bias), computed by [`param_layout`]. An optimizer step is
//! one pass over two slices. These buffers and the activations start on a
//! cache line ([`AlignedVec`]): a weight that starts at a multiple of 16
//! floats, with rows of a multiple of 16 (every weight of 784-128-64-10),
//! has each row on a line for the GEMMs.
//!
//! What forward stores for backward: the output of every layer, `acts[l]`
//! (B, s_{l+1}): after the activation for hidden layers (the next layer's
//! input, and what the activation's backward is written in terms of), the
//! logits for the last. The input X itself is not copied: `backward` takes
//! it again. The buffers grow to the largest batch seen and are reused, so
//! after the first batch of a given size a training step allocates nothing
//! (also on several threads: the GEMMs then run on the pool of the
//! [`Compute`] context the caller passes, started once by its owner).
//!
//! The net owns no threads. Every method that computes takes the caller's
//! context `cx` first, as the GEMM does; the results are the same bits for
//! any thread count.

use std::ops::Range;

use descent_core::gemm::kernel::relu_s;
use descent_core::gemm::DescentStep;
use descent_core::ops::SMALL_BATCH;
use descent_core::step::{Factor, Factored, Lookahead};
use descent_core::{AlignedVec, Compute};
use std::sync::atomic::{AtomicU32, Ordering};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::activation::Activation;
use crate::error::{check_len, NnError, Result};
use crate::linear::{Linear, LinearParams, Rows};
use crate::loss::{Loss, Targets};
use crate::probe::{Phase, Probe};

/// One parameter tensor in the flat buffer: its PyTorch state-dict name,
/// where it starts and its shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamTensor {
    /// The name `nn.Sequential`'s `state_dict` gives it: `"0.weight"`,
    /// `"0.bias"`, `"2.weight"`, … (activations occupy the odd indices).
    pub name: String,
    /// Index of its first element in the flat buffer.
    pub offset: usize,
    /// `[out, in]` for a weight, `[out]` for a bias.
    pub shape: Vec<usize>,
}

impl ParamTensor {
    /// Number of elements (product of the shape).
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }
    /// True for a tensor with no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Its elements' range in the flat buffer.
    pub fn range(&self) -> Range<usize> {
        self.offset..self.offset + self.len()
    }
}

/// The name `nn.Sequential`'s `state_dict` gives parameter `param`
/// (`"weight"` or `"bias"`) of linear layer `layer` (0-based; the
/// activations between the layers take the odd indices):
/// `"{2·layer}.{param}"`. The one place the checkpoint names come from.
pub fn sequential_name(layer: usize, param: &str) -> String {
    format!("{}.{param}", 2 * layer)
}

/// Where linear layer `l`'s weight and bias lie in a flat buffer laid out
/// by [`param_layout`]: `(weight range, bias range)`.
///
/// # Panics
/// If the layout has no layer `l`.
pub fn layer_ranges(layout: &[ParamTensor], l: usize) -> (Range<usize>, Range<usize>) {
    let (w, b) = (&layout[2 * l], &layout[2 * l + 1]);
    // (Checked without formatting a name: the training step allocates nothing.)
    debug_assert!(w.name.ends_with(".weight") && b.name.ends_with(".bias"));
    (w.range(), b.range())
}

/// Checks the widths: at least two, none zero.
fn check_sizes(sizes: &[usize]) -> Result<()> {
    if sizes.len() < 2 {
        return Err(NnError::TooFewSizes(sizes.to_vec()));
    }
    if let Some(index) = sizes.iter().position(|&s| s == 0) {
        return Err(NnError::ZeroSize {
            sizes: sizes.to_vec(),
            index,
        });
    }
    Ok(())
}

/// The flat-buffer layout of an MLP with widths `sizes`: for each layer l,
/// its weight `"{2l}.weight"` of shape `[s_{l+1}, s_l]` followed by its bias
/// `"{2l}.bias"` of shape `[s_{l+1}]`. Parameters, gradients and optimizer
/// state all use it. Errors on fewer than two widths or a zero width.
pub fn param_layout(sizes: &[usize]) -> Result<Vec<ParamTensor>> {
    check_sizes(sizes)?;
    let mut out = Vec::with_capacity(2 * (sizes.len() - 1));
    let mut offset = 0;
    for (l, pair) in sizes.windows(2).enumerate() {
        let (fan_in, fan_out) = (pair[0], pair[1]);
        out.push(ParamTensor {
            name: sequential_name(l, "weight"),
            offset,
            shape: vec![fan_out, fan_in],
        });
        offset += fan_out * fan_in;
        out.push(ParamTensor {
            name: sequential_name(l, "bias"),
            offset,
            shape: vec![fan_out],
        });
        offset += fan_out;
    }
    Ok(out)
}

/// This batch's gradient dL/dθ, read on demand from what the backward
/// left: layer l's weight gradient is `dW_l = dY_lᵀ·X_l`, so an element
/// is `Σ_b dY_l[b, o]·X_l[b, i]` and a row of it is B scaled rows of X_l
/// added up; the bias gradient is `Σ_b dY_l[b, :]`. At B ≤ [`SMALL_BATCH`]
/// this costs less than storing dW and reading it back (at B = 1 the
/// gradient is a rank-1 outer product per layer, its size ~ the sum of
/// its two vectors').
#[derive(Clone, Copy, Debug)]
pub struct GradSource<'a> {
    layers: &'a [Linear],
    acts: &'a [AlignedVec],
    dacts: &'a [AlignedVec],
    x: &'a [f32],
    batch: usize,
    /// The next input row and where the first layer's products with it go
    /// ([`Mlp::params_and_grad_source_ahead`]).
    ahead: Option<Lookahead<'a>>,
}

impl GradSource<'_> {
    /// Layer l's input X_l (B, s_l).
    fn input(&self, l: usize) -> &[f32] {
        if l == 0 {
            self.x
        } else {
            &self.acts[l - 1]
        }
    }

    /// `‖g‖₂` from the signals, without g: per layer,
    /// `‖dW‖² = Σ_{b,b'} (dY_b·dY_b')(X_b·X_b')` and `‖db‖² = ‖Σ_b dY_b‖²`
    /// (at B = 1, `‖dy‖²·‖x‖² + ‖dy‖²`), in `f64`. It equals the norm of
    /// the stored gradient to a few `f32` ulps, not to the bit.
    pub fn norm(&self) -> f32 {
        let dot = descent_core::ops::dot_f64;
        fn row(m: &[f32], width: usize, b: usize) -> &[f32] {
            &m[b * width..(b + 1) * width]
        }
        let mut total = 0.0f64;
        for (l, layer) in self.layers.iter().enumerate() {
            let (o, i) = (layer.out_features, layer.in_features);
            let (dy, x) = (&self.dacts[l][..], self.input(l));
            // The pairs (b, c) and (c, b) are the same products: each
            // pair once, the off-diagonal ones twice (at B = 4, 10 pairs
            // of dot products instead of 16).
            for b in 0..self.batch {
                for c in b..self.batch {
                    let dyy = dot(row(dy, o, b), row(dy, o, c));
                    let term = dyy * (dot(row(x, i, b), row(x, i, c)) + 1.0);
                    total += if c == b { term } else { 2.0 * term };
                }
            }
        }
        total.sqrt() as f32
    }
}

/// The gradient by layers, weight then bias, as [`param_layout`] lays it
/// out: `dW_l = dY_lᵀ·X_l`, `db_l = Σ_b dY_l[b, :]`.
impl Factored for GradSource<'_> {
    fn blocks(&self) -> usize {
        2 * self.layers.len()
    }

    fn block(&self, k: usize) -> Factor<'_> {
        let (l, layer) = (k / 2, self.layers[k / 2]);
        let (dy, rows, outs) = (&self.dacts[l][..], self.batch, layer.out_features);
        if k % 2 == 0 {
            Factor::Outer {
                dy,
                x: self.input(l),
                rows,
                outs,
                ins: layer.in_features,
                ahead: if l == 0 { self.ahead } else { None },
            }
        } else {
            Factor::Sums { dy, rows, outs }
        }
    }
}

/// A multilayer perceptron with hand-written backpropagation.
#[derive(Clone, Debug)]
pub struct Mlp {
    sizes: Vec<usize>,
    activation: Activation,
    layers: Vec<Linear>,
    layout: Vec<ParamTensor>,
    params: AlignedVec,
    grads: AlignedVec,
    /// Rows of the stored forward pass (0: none stored).
    batch: usize,
    /// `acts[l]`: output of layer l, (B, s_{l+1}); see the module docs.
    acts: Vec<AlignedVec>,
    /// `dacts[l]`: dL/d(output of layer l), same shape as `acts[l]`; for
    /// hidden layers it becomes dL/d(pre-activation) in place.
    dacts: Vec<AlignedVec>,
    /// The first layer's products with the next input, formed by the last
    /// update ([`Mlp::params_and_grad_source_ahead`]).
    ahead: NextForward,
    /// Forwards that used `ahead`.
    ahead_forwards: u64,
    /// The tiles' sums of squares of a fused weight step
    /// ([`Mlp::descend_weights_probed`]), reused from step to step.
    squares: Vec<f32>,
    /// Where each weight lies in the flat parameters ([`Mlp::weight_ranges`]).
    weights: Vec<Range<usize>>,
}

/// The first layer's `W₀·x` for an input row `x` that an update formed as
/// it wrote W₀ ([`descent_core::step::AheadRows`]), kept for the forward of
/// that row: the products of W₀ as it now is, the bits
/// [`descent_core::ops::rows_times_wt`] would compute from it.
#[derive(Debug, Default)]
struct NextForward {
    /// The row the products are for, (s0), on a cache line: the update
    /// loads it a vector at a time beside W's rows, and a load split
    /// across two lines cost the update more than reading W again.
    x: AlignedVec,
    /// Row o's product as `f32::to_bits`, [`UNWRITTEN`] until the update
    /// writes it, (s1).
    dots: Vec<AtomicU32>,
    /// True from the update that forms them until the parameters may have
    /// changed by any other way or the forward used them.
    armed: bool,
}

/// A product the update has not written (a row it did not update whole,
/// or no factored update at all). A written product with these bits (a
/// NaN) only costs the forward reading W₀ again.
const UNWRITTEN: u32 = u32::MAX;

impl Clone for NextForward {
    fn clone(&self) -> Self {
        NextForward {
            x: self.x.clone(),
            dots: (self.dots.iter())
                .map(|d| AtomicU32::new(d.load(Ordering::Relaxed)))
                .collect(),
            armed: self.armed,
        }
    }
}

impl NextForward {
    /// The products for `x`, if they were formed for this very row (bit
    /// for bit) and written whole.
    fn for_row(&self, x: &[f32]) -> Option<&[AtomicU32]> {
        let same = self.x.len() == x.len()
            && (self.x.iter().zip(x)).fold(0, |d, (a, b)| d | (a.to_bits() ^ b.to_bits())) == 0;
        let whole = self
            .dots
            .iter()
            .all(|d| d.load(Ordering::Relaxed) != UNWRITTEN);
        (self.armed && same && whole).then_some(&self.dots[..])
    }
}

impl Mlp {
    /// An MLP with widths `sizes` (e.g. `[784, 128, 64, 10]`), `activation`
    /// after every Linear but the last, and PyTorch's default init (every
    /// weight and bias uniform in ±1/√fan_in) drawn layer by layer, weight
    /// then bias, from a `ChaCha8Rng` seeded with `seed`.
    pub fn new(sizes: &[usize], activation: Activation, seed: u64) -> Result<Self> {
        let layout = param_layout(sizes)?;
        let layers: Vec<Linear> = sizes.windows(2).map(|p| Linear::new(p[0], p[1])).collect();
        let n = layout.last().map_or(0, |t| t.offset + t.len());
        let mut net = Self {
            sizes: sizes.to_vec(),
            activation,
            layers,
            layout,
            params: AlignedVec::zeros(n),
            grads: AlignedVec::zeros(n),
            batch: 0,
            acts: vec![AlignedVec::new(); sizes.len() - 1],
            dacts: vec![AlignedVec::new(); sizes.len() - 1],
            ahead: NextForward::default(),
            ahead_forwards: 0,
            squares: Vec::new(),
            weights: Vec::new(),
        };
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        for l in 0..net.layers.len() {
            let (w, b) = layer_ranges(&net.layout, l);
            let (wp, bp) = net.params.split_at_mut(b.start);
            net.layers[l].init(&mut rng, &mut wp[w.clone()], &mut bp[..b.len()]);
            net.weights.push(w);
        }
        Ok(net)
    }

    /// The widths `[s0, …, s_L]`.
    pub fn sizes(&self) -> &[usize] {
        &self.sizes
    }
    /// The hidden activation.
    pub fn activation(&self) -> Activation {
        self.activation
    }
    /// The Linear layers, input first.
    pub fn layers(&self) -> &[Linear] {
        &self.layers
    }
    /// Every parameter tensor's name, offset and shape ([`param_layout`]).
    pub fn layout(&self) -> &[ParamTensor] {
        &self.layout
    }
    /// Total number of parameters.
    pub fn num_params(&self) -> usize {
        self.params.len()
    }
    /// All parameters, flat, in [`Mlp::layout`] order.
    pub fn params(&self) -> &[f32] {
        &self.params
    }
    /// All parameters, writable (an optimizer step, a checkpoint load).
    pub fn params_mut(&mut self) -> &mut [f32] {
        self.ahead.armed = false;
        &mut self.params
    }
    /// All gradients, same layout as the parameters.
    pub fn grads(&self) -> &[f32] {
        &self.grads
    }
    /// All gradients, writable (e.g. for clipping).
    pub fn grads_mut(&mut self) -> &mut [f32] {
        &mut self.grads
    }
    /// Parameters (writable) and gradients together, for an optimizer step.
    pub fn params_and_grads(&mut self) -> (&mut [f32], &[f32]) {
        self.ahead.armed = false;
        (&mut self.params, &self.grads)
    }

    /// The parameter tensor named `name` (e.g. `"2.bias"`), if any.
    pub fn param(&self, name: &str) -> Option<&[f32]> {
        let t = self.layout.iter().find(|t| t.name == name)?;
        Some(&self.params[t.range()])
    }
    /// Linear layer `l`'s weight W (O, I) and bias b (O), views into the
    /// flat parameter buffer.
    ///
    /// # Panics
    /// If there is no layer `l` (`l ≥ layers().len()`).
    pub fn layer_params(&self, l: usize) -> LinearParams<'_> {
        let (w, b) = layer_ranges(&self.layout, l);
        LinearParams {
            w: &self.params[w],
            b: &self.params[b],
        }
    }

    /// Clears the gradient buffer: `grads ← 0`. Backward accumulates, so
    /// call this before each step's backward.
    pub fn zero_grad(&mut self) {
        self.grads.fill(0.0);
    }

    fn check_input(&self, what: &'static str, x: &[f32], batch: usize) -> Result<()> {
        if batch == 0 {
            return Err(NnError::ZeroBatch { what });
        }
        let s0 = self.sizes[0];
        check_len(what, x.len(), batch * s0, || {
            format!("batch {batch} × {s0} inputs")
        })
    }

    /// Forward pass of a batch `x` (B, s0), B = `batch`, row-major. Returns
    /// the logits (B, s_L) and stores every layer's output for `backward`:
    ///
    /// `acts[0] = f(X·W₀ᵀ + b₀)`, `acts[l] = f(acts[l−1]·W_lᵀ + b_l)`, the
    /// last layer without f. With ReLU, bias and activation are fused into
    /// the GEMM's epilogue; Sigmoid and Tanh run over the output after it.
    pub fn forward(&mut self, cx: &Compute, x: &[f32], batch: usize) -> Result<&[f32]> {
        self.forward_probed(cx, x, batch, &mut ())
    }

    /// [`Mlp::forward`], telling `probe` when each layer's GEMM
    /// ([`Phase::Forward`]) and unfused activation ([`Phase::Activation`])
    /// are done.
    pub fn forward_probed(
        &mut self,
        cx: &Compute,
        x: &[f32],
        batch: usize,
        probe: &mut impl Probe,
    ) -> Result<&[f32]> {
        self.check_input("forward input x", x, batch)?;
        let last = self.layers.len() - 1;
        for l in 0..=last {
            let layer = self.layers[l];
            // The fields, not `layer_params`: the activations are borrowed
            // mutably below.
            let (wr, br) = layer_ranges(&self.layout, l);
            let (w, b) = (&self.params[wr], &self.params[br]);
            // Vec::resize never shrinks capacity: no allocation once the
            // largest batch has been seen.
            self.acts[l].resize(batch * layer.out_features, 0.0);
            let (below, here) = self.acts.split_at_mut(l);
            let input: &[f32] = if l == 0 { x } else { &below[l - 1] };
            let y = &mut here[0];
            let hidden = l < last;
            let fuse_relu = hidden && self.activation == Activation::Relu;
            let ahead = if l == 0 && batch == 1 {
                self.ahead.for_row(input)
            } else {
                None
            };
            if let Some(dots) = ahead {
                // The last update formed W₀·x as it wrote W₀, and W₀ has
                // not changed since: add the bias and apply the ReLU as
                // `rows_times_wt` would, and W₀ is not read at all.
                for ((yo, d), &bo) in y.iter_mut().zip(dots).zip(b) {
                    let v = f32::from_bits(d.load(Ordering::Relaxed)) + bo;
                    *yo = if fuse_relu { relu_s(v) } else { v };
                }
                self.ahead.armed = false;
                self.ahead_forwards += 1;
            } else {
                let x = Rows {
                    data: input,
                    rows: batch,
                };
                layer.forward(cx, y, x, LinearParams { w, b }, fuse_relu)?;
            }
            probe.done(Phase::Forward(l));
            if hidden && !fuse_relu {
                self.activation.forward(y);
                probe.done(Phase::Activation(l));
            }
        }
        self.batch = batch;
        Ok(&self.acts[last])
    }

    /// The logits of the last forward pass, (B, s_L).
    pub fn logits(&self) -> &[f32] {
        &self.acts[self.layers.len() - 1]
    }

    /// Loss of the stored forward pass against `targets`, and its gradient
    /// dL/dZ written where `backward` starts from. Returns the mean loss.
    pub fn loss_grad(&mut self, loss: Loss, targets: Targets) -> Result<f32> {
        let last = self.layers.len() - 1;
        if self.batch == 0 {
            return Err(NnError::NoForward {
                what: "loss",
                batch: 0,
            });
        }
        let classes = self.sizes[last + 1];
        let rows = self.batch;
        match targets {
            Targets::Labels(l) => check_len("loss labels", l.len(), rows, || {
                format!("one per row of the forward batch of {rows}")
            })?,
            Targets::Values(v) => check_len("loss targets", v.len(), rows * classes, || {
                format!("batch {rows} × {classes} outputs")
            })?,
        }
        self.dacts[last].resize(rows * classes, 0.0);
        loss.loss_and_grad(&self.acts[last], targets, classes, &mut self.dacts[last])
    }

    /// Backward pass from the loss gradient left by [`Mlp::loss_grad`],
    /// accumulating into the flat gradient buffer. `x` must be the input of
    /// the last `forward` (it is not copied there). For l = L−1 … 0, with
    /// dY = `dacts[l]` and X_l the layer's input:
    ///
    /// - `dW_l += dYᵀ·X_l`, `db_l += Σ_rows dY` ([`Linear::backward`]);
    /// - `dX_l = dY·W_l` into `dacts[l−1]` (skipped for l = 0), then the
    ///   activation's backward turns it into dL/d(pre-activation) in place:
    ///   `dacts[l−1] ⊙= f′` ([`Activation::backward`]).
    pub fn backward(&mut self, cx: &Compute, x: &[f32]) -> Result<()> {
        self.backward_probed(cx, x, true, &mut ())
    }

    /// As [`Mlp::backward`], but *writes* dL/dθ over the gradient buffer
    /// instead of adding to it: `dW_l = dYᵀ·X_l`, `db_l = Σ_rows dY`. The
    /// same numbers as [`Mlp::zero_grad`] then [`Mlp::backward`], without
    /// the pass that clears the buffer (the first GEMM into each dW runs
    /// with β = 0).
    pub fn backward_overwrite(&mut self, cx: &Compute, x: &[f32]) -> Result<()> {
        self.backward_probed(cx, x, false, &mut ())
    }

    /// The backward pass ([`Mlp::backward`] when `accumulate`, else
    /// [`Mlp::backward_overwrite`]), telling `probe` when each layer's dW,
    /// db and dX, and each activation's backward, are done.
    pub fn backward_probed(
        &mut self,
        cx: &Compute,
        x: &[f32],
        accumulate: bool,
        probe: &mut impl Probe,
    ) -> Result<()> {
        self.backward_pass(cx, x, Some(accumulate), probe)
    }

    /// The backward pass without the parameters' gradients: only the
    /// signals `dacts[l]` = dL/d(pre-activation of layer l), for every l,
    /// from `dX_l = dY·W_l` and the activation's backward. At B ≤
    /// [`SMALL_BATCH`] the gradient is then read from them on demand
    /// ([`Mlp::params_and_grad_source`]) instead of being stored.
    pub fn backward_signals_probed(
        &mut self,
        cx: &Compute,
        x: &[f32],
        probe: &mut impl Probe,
    ) -> Result<()> {
        self.backward_pass(cx, x, None, probe)
    }

    /// The backward pass; `grads`: write dW and db (`Some(false)`), add
    /// them (`Some(true)`), or skip them (`None`).
    fn backward_pass(
        &mut self,
        cx: &Compute,
        x: &[f32],
        grads: Option<bool>,
        probe: &mut impl Probe,
    ) -> Result<()> {
        let batch = self.batch;
        if batch == 0 {
            return Err(NnError::NoForward {
                what: "backward",
                batch: 0,
            });
        }
        self.check_input("backward input x (the forward's)", x, batch)?;
        let last = self.layers.len() - 1;
        if self.dacts[last].len() != batch * self.sizes[last + 1] {
            return Err(NnError::NoForward {
                what: "backward (no loss gradient: call loss_grad)",
                batch,
            });
        }
        // At a few rows the ReLU's mask is applied in dX's store.
        let fuse_mask = self.activation == Activation::Relu && batch <= SMALL_BATCH;
        for l in (0..=last).rev() {
            let layer = self.layers[l];
            let (wr, br) = layer_ranges(&self.layout, l);
            let w = &self.params[wr.clone()];
            let (dbelow, dhere) = self.dacts.split_at_mut(l);
            let dy = &dhere[0];
            let input: &[f32] = if l == 0 { x } else { &self.acts[l - 1] };
            if let Some(accumulate) = grads {
                // Weight and bias gradients are adjacent: split them apart.
                let (dw, db) = self.grads[wr.start..br.end].split_at_mut(wr.len());
                let x = Rows {
                    data: input,
                    rows: batch,
                };
                // dW_l = dYᵀ·X_l (+= when accumulating)
                layer.weight_grad(cx, dw, accumulate, dy, x)?;
                probe.done(Phase::WeightGrad(l));
                // db_l = Σ_rows dY
                layer.bias_grad(db, accumulate, dy, batch)?;
                probe.done(Phase::BiasGrad(l));
            }
            if l > 0 {
                // dX_l = dY·W_l, the gradient of the layer below's output…
                let dx = &mut dbelow[l - 1];
                dx.resize(batch * layer.in_features, 0.0);
                let mask = fuse_mask.then_some(input);
                layer.input_grad(cx, dx, dy, w, batch, mask)?;
                probe.done(Phase::InputGrad(l));
                // …made the gradient of its pre-activation: dX ⊙= f′.
                if !fuse_mask {
                    self.activation.backward(&self.acts[l - 1], dx);
                    probe.done(Phase::ActivationBackward(l - 1));
                }
            }
        }
        Ok(())
    }

    /// The parameters (writable) and this batch's gradient as a source an
    /// optimizer reads on demand ([`GradSource`]), after
    /// [`Mlp::backward_signals_probed`] at B ≤ [`SMALL_BATCH`]. `x` is the
    /// forward's input.
    pub fn params_and_grad_source<'a>(
        &'a mut self,
        x: &'a [f32],
    ) -> Result<(&'a mut [f32], GradSource<'a>)> {
        let batch = self.batch;
        if batch == 0 || batch > SMALL_BATCH {
            return Err(NnError::NoForward {
                what: "a gradient source (needs a stored pass of at most SMALL_BATCH rows)",
                batch,
            });
        }
        self.check_input("gradient source input x (the forward's)", x, batch)?;
        self.ahead.armed = false;
        let src = GradSource {
            layers: &self.layers,
            acts: &self.acts,
            dacts: &self.dacts,
            x,
            batch,
            ahead: None,
        };
        Ok((&mut self.params, src))
    }

    /// [`Mlp::params_and_grad_source`] at batch 1, with the next step's
    /// input row `next` (s0): an update that takes this source forms the
    /// first layer's products `W₀·next` with the W₀ it writes, as it writes
    /// each row ([`descent_core::step::AheadRows`]), and the next
    /// [`Mlp::forward`] of `next` uses them instead of reading W₀ again.
    ///
    /// The result is the same bits as without: the products are summed as
    /// the forward sums them, and the forward uses them only when its input
    /// is `next` bit for bit, every row of W₀ was updated whole through
    /// this source, and the parameters were not handed out writable since
    /// ([`Mlp::params_mut`], [`Mlp::params_and_grads`], another source).
    /// Otherwise it reads W₀ as always. [`Mlp::ahead_forwards`] counts the
    /// forwards that used them.
    pub fn params_and_grad_source_ahead<'a>(
        &'a mut self,
        x: &'a [f32],
        next: &[f32],
    ) -> Result<(&'a mut [f32], GradSource<'a>)> {
        if self.batch != 1 {
            return Err(NnError::NoForward {
                what: "a gradient source that looks ahead (needs a stored pass of 1 row)",
                batch: self.batch,
            });
        }
        self.check_input("next input row", next, 1)?;
        self.check_input("gradient source input x (the forward's)", x, 1)?;
        let ahead = &mut self.ahead;
        ahead.x.resize(next.len(), 0.0);
        ahead.x.copy_from_slice(next);
        let outs = self.sizes[1];
        if ahead.dots.len() != outs {
            ahead.dots = (0..outs).map(|_| AtomicU32::new(UNWRITTEN)).collect();
        }
        for d in &ahead.dots {
            d.store(UNWRITTEN, Ordering::Relaxed);
        }
        ahead.armed = true;
        let src = GradSource {
            layers: &self.layers,
            acts: &self.acts,
            dacts: &self.dacts,
            x,
            batch: 1,
            ahead: Some(Lookahead {
                next: &self.ahead.x,
                out: &self.ahead.dots,
            }),
        };
        Ok((&mut self.params, src))
    }

    /// How many first-layer forwards used products an update formed
    /// ([`Mlp::params_and_grad_source_ahead`]) instead of reading W₀.
    pub fn ahead_forwards(&self) -> u64 {
        self.ahead_forwards
    }

    /// Writes this batch's gradient from the signals of
    /// [`Mlp::backward_signals_probed`] into the gradient buffer: `dW_l =
    /// dY_lᵀ·X_l`, `db_l = Σ_b dY_l`, the bits [`Mlp::backward_overwrite`]
    /// writes (and a factored step reads).
    pub fn write_grads_from_signals(&mut self, cx: &Compute, x: &[f32]) -> Result<()> {
        self.write_grads_from_signals_probed(cx, x, &mut ())
    }

    /// [`Mlp::write_grads_from_signals`], telling `probe` when each dW
    /// ([`Phase::WeightGrad`]) and db ([`Phase::BiasGrad`]) is done.
    pub fn write_grads_from_signals_probed(
        &mut self,
        cx: &Compute,
        x: &[f32],
        probe: &mut impl Probe,
    ) -> Result<()> {
        let batch = self.batch;
        self.check_signals(x)?;
        for (l, layer) in self.layers.iter().enumerate().rev() {
            let (wr, br) = layer_ranges(&self.layout, l);
            let (dw, db) = self.grads[wr.start..br.end].split_at_mut(wr.len());
            let data: &[f32] = if l == 0 { x } else { &self.acts[l - 1] };
            let dy = &self.dacts[l];
            layer.weight_grad(cx, dw, false, dy, Rows { data, rows: batch })?;
            probe.done(Phase::WeightGrad(l));
            layer.bias_grad(db, false, dy, batch)?;
            probe.done(Phase::BiasGrad(l));
        }
        Ok(())
    }

    /// That a backward's signals are stored, of a forward whose input is
    /// `x`, at any number of rows.
    fn check_signals(&self, x: &[f32]) -> Result<()> {
        if self.batch == 0 {
            return Err(NnError::NoForward {
                what: "the gradient from the signals (no stored pass)",
                batch: 0,
            });
        }
        self.check_input("gradient input x (the forward's)", x, self.batch)
    }

    /// Where each weight lies in the flat parameters: the parts a fused
    /// weight step ([`Mlp::descend_weights_probed`]) steps itself.
    pub fn weight_ranges(&self) -> &[Range<usize>] {
        &self.weights
    }

    /// [`Mlp::params_and_grads`] with [`Mlp::weight_ranges`], for the
    /// optimizer's step after a fused weight step.
    pub fn params_grads_and_weights(&mut self) -> (&mut [f32], &[f32], &[Range<usize>]) {
        self.ahead.armed = false;
        (&mut self.params, &self.grads, &self.weights)
    }

    /// An upper bound on the gradient's `‖g‖₂` from the backward's signals
    /// ([`Mlp::backward_signals_probed`]), before any gradient is made: per
    /// layer `‖dW_l‖ ≤ ‖dY_l‖·‖X_l‖` and `‖db_l‖² ≤ B·‖dY_l‖²`
    /// (Cauchy–Schwarz), with `‖X_0‖² ≤ B·s0·x_max²` for an input whose
    /// elements are at most `x_max` in magnitude. Not finite when a signal
    /// or `x_max` is not.
    pub fn grad_norm_bound(&self, x_max: f32) -> f32 {
        // Each ‖v‖² summed in f32 (a tenth of the time of an f64 sum over
        // these 25 000 floats), then raised past its rounding error, (n − 1)
        // half-ulps at most, and past any square that underflowed.
        let squares = |v: &[f32]| {
            let n = v.len() as f64;
            let s = f64::from(descent_core::ops::sum_squares::<descent_core::simd::Wide>(
                v,
            ));
            s * (1.0 + n * f64::from(f32::EPSILON)) + n * 1e-45
        };
        let b = self.batch as f64;
        let mut total = 0.0f64;
        for (l, layer) in self.layers.iter().enumerate() {
            let x2 = if l == 0 {
                b * layer.in_features as f64 * f64::from(x_max).powi(2)
            } else {
                squares(&self.acts[l - 1])
            };
            total += squares(&self.dacts[l]) * (x2 + b);
        }
        // A little above, so that rounding to f32 cannot fall below.
        (total.sqrt() * (1.0 + 1e-6)) as f32
    }

    /// After [`Mlp::backward_signals_probed`] at B > [`SMALL_BATCH`]: SGD's
    /// (or momentum's) step on every weight fused into the GEMM that makes
    /// its gradient ([`Linear::weight_descend`]: `W_l ← W_l − η·dY_lᵀ·X_l`,
    /// dW never stored), and each bias's gradient `db_l = Σ_b dY_l`
    /// written into the gradient buffer, for the optimizer to step the
    /// biases (the weights, [`Mlp::weight_ranges`], it leaves). The
    /// weights (and momentum's buffer, as long as the parameters, each
    /// weight's part in its range) are the bits of writing the gradient
    /// and stepping by it with `step::sgd` (or `step::momentum`).
    ///
    /// Returns `‖g‖₂²` of the whole gradient, in `f64`: the weights' part
    /// summed by the GEMM's tiles, so within a few `f32` ulps of the stored
    /// gradient's, and the same on any threads. `None` when a weight's
    /// product is deeper than one k block of the GEMM, or B ≤
    /// [`SMALL_BATCH`] (where the gradient is not made by the GEMM):
    /// nothing is changed, and the caller writes the gradient instead
    /// ([`Mlp::write_grads_from_signals`]).
    pub fn descend_weights_probed(
        &mut self,
        cx: &Compute,
        x: &[f32],
        mut step: DescentStep,
        probe: &mut impl Probe,
    ) -> Result<Option<f64>> {
        let batch = self.batch;
        self.check_signals(x)?;
        if let DescentStep::Momentum { buf, .. } = &step {
            let n = self.params.len();
            check_len("descend_weights: momentum buffer", buf.len(), n, || {
                format!("{n} parameters")
            })?;
        }
        if batch <= SMALL_BATCH || !self.layers.iter().all(|l| l.descend_fits(cx, batch)) {
            return Ok(None);
        }
        self.ahead.armed = false;
        let mut total = 0.0f64;
        for l in (0..self.layers.len()).rev() {
            let layer = self.layers[l];
            let (wr, br) = layer_ranges(&self.layout, l);
            let data: &[f32] = if l == 0 { x } else { &self.acts[l - 1] };
            let dy = &self.dacts[l];
            let w = &mut self.params[wr.clone()];
            let rows = Rows { data, rows: batch };
            // This weight's part of the step (of momentum's buffer).
            let part = step.part(wr.clone());
            let sq = layer.weight_descend(cx, w, part, dy, rows, &mut self.squares)?;
            // Every layer fits (checked above), so none declines.
            total += sq.expect("descend_fits said the product fits one k block");
            probe.done(Phase::WeightGrad(l));
            let db = &mut self.grads[br];
            layer.bias_grad(db, false, dy, batch)?;
            total += descent_core::ops::dot_f64(db, db);
            probe.done(Phase::BiasGrad(l));
        }
        Ok(Some(total))
    }

    /// One batch's forward, softmax cross-entropy and backward:
    /// accumulates dL/dθ into the gradients and returns the mean loss.
    /// Does not zero the gradients first (call [`Mlp::zero_grad`]).
    pub fn loss_and_backward(&mut self, cx: &Compute, x: &[f32], labels: &[u32]) -> Result<f32> {
        self.loss_and_backward_with(cx, x, Loss::SoftmaxCrossEntropy, Targets::Labels(labels))
    }

    /// This batch's gradient alone: forward, softmax cross-entropy and a
    /// backward that *writes* dL/dθ over the gradient buffer instead of
    /// adding to it. The same numbers as [`Mlp::zero_grad`] followed by
    /// [`Mlp::loss_and_backward`], without the pass that clears the buffer
    /// (the first GEMM into each dW runs with β = 0). Returns the mean loss.
    pub fn batch_grads(&mut self, cx: &Compute, x: &[f32], labels: &[u32]) -> Result<f32> {
        self.batch_grads_with(cx, x, Loss::SoftmaxCrossEntropy, Targets::Labels(labels))
    }

    /// As [`Mlp::batch_grads`] with any loss and targets.
    pub fn batch_grads_with(
        &mut self,
        cx: &Compute,
        x: &[f32],
        loss: Loss,
        targets: Targets,
    ) -> Result<f32> {
        let batch = x.len() / self.sizes[0];
        self.forward(cx, x, batch)?;
        let l = self.loss_grad(loss, targets)?;
        self.backward_overwrite(cx, x)?;
        Ok(l)
    }

    /// As [`Mlp::loss_and_backward`] with any loss and targets; the batch
    /// size is `x.len() / s0`.
    pub fn loss_and_backward_with(
        &mut self,
        cx: &Compute,
        x: &[f32],
        loss: Loss,
        targets: Targets,
    ) -> Result<f32> {
        let batch = x.len() / self.sizes[0];
        self.forward(cx, x, batch)?;
        let l = self.loss_grad(loss, targets)?;
        self.backward(cx, x)?;
        Ok(l)
    }

    /// Predicted classes (row argmax of the logits) for a whole set `x`
    /// (N, s0), run `batch_size` rows at a time.
    pub fn predict(&mut self, cx: &Compute, x: &[f32], batch_size: usize) -> Result<Vec<u32>> {
        let s0 = self.sizes[0];
        if batch_size == 0 {
            return Err(NnError::ZeroBatch {
                what: "predict batch_size",
            });
        }
        check_len("predict input x", x.len() % s0, 0, || {
            format!("a whole number of rows of {s0}")
        })?;
        let classes = *self.sizes.last().unwrap();
        let mut out = Vec::with_capacity(x.len() / s0);
        for chunk in x.chunks(batch_size * s0) {
            let logits = self.forward(cx, chunk, chunk.len() / s0)?;
            out.extend(
                logits
                    .chunks_exact(classes)
                    .map(|row| descent_core::ops::argmax(row) as u32),
            );
        }
        Ok(out)
    }

    /// Mean softmax cross-entropy and accuracy (fraction of rows whose
    /// argmax equals the label) over a whole set `x` (N, s0) with `labels`
    /// (N), run `batch_size` rows at a time. Gradients are not touched.
    pub fn evaluate(
        &mut self,
        cx: &Compute,
        x: &[f32],
        labels: &[u32],
        batch_size: usize,
    ) -> Result<(f32, f32)> {
        let s0 = self.sizes[0];
        let n = labels.len();
        if batch_size == 0 {
            return Err(NnError::ZeroBatch {
                what: "evaluate batch_size",
            });
        }
        check_len("evaluate input x", x.len(), n * s0, || {
            format!("{n} labels × {s0} inputs")
        })?;
        if n == 0 {
            return Err(NnError::ZeroBatch {
                what: "evaluate (empty set)",
            });
        }
        let classes = *self.sizes.last().unwrap();
        let (mut loss_sum, mut correct) = (0.0f64, 0usize);
        for (xc, yc) in x.chunks(batch_size * s0).zip(labels.chunks(batch_size)) {
            self.forward(cx, xc, yc.len())?;
            let l = self.loss_grad(Loss::SoftmaxCrossEntropy, Targets::Labels(yc))?;
            loss_sum += l as f64 * yc.len() as f64;
            correct += self
                .logits()
                .chunks_exact(classes)
                .zip(yc)
                .filter(|(row, &y)| descent_core::ops::argmax(row) == y as usize)
                .count();
        }
        // The loss gradient just written is not a training signal: forget
        // it so a stray `backward` errors instead of using it.
        let last = self.layers.len() - 1;
        self.dacts[last].clear();
        Ok(((loss_sum / n as f64) as f32, correct as f32 / n as f32))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_names_offsets_shapes() {
        let l = param_layout(&[4, 3, 2]).unwrap();
        let names: Vec<_> = l.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["0.weight", "0.bias", "2.weight", "2.bias"]);
        assert_eq!(l[0].shape, [3, 4]);
        assert_eq!(l[1].shape, [3]);
        assert_eq!(l[2].shape, [2, 3]);
        assert_eq!(
            l.iter().map(|t| t.offset).collect::<Vec<_>>(),
            [0, 12, 15, 21]
        );
        let net = Mlp::new(&[784, 128, 64, 10], Activation::Relu, 0).unwrap();
        assert_eq!(
            net.num_params(),
            784 * 128 + 128 + 128 * 64 + 64 + 64 * 10 + 10
        );
        assert_eq!(net.layout()[5].name, "4.bias");
        // Layer accessors and names come from that one layout.
        assert_eq!(sequential_name(2, "weight"), "4.weight");
        assert_eq!(layer_ranges(&l, 1), (15..21, 21..23));
        for layer in 0..3 {
            let p = net.layer_params(layer);
            assert_eq!(Some(p.w), net.param(&sequential_name(layer, "weight")));
            assert_eq!(Some(p.b), net.param(&sequential_name(layer, "bias")));
        }
    }

    #[test]
    fn bad_sizes_and_inputs_are_typed_errors() {
        assert!(matches!(
            Mlp::new(&[3], Activation::Relu, 0),
            Err(NnError::TooFewSizes(_))
        ));
        let e = Mlp::new(&[3, 0, 2], Activation::Relu, 0).unwrap_err();
        assert!(e.to_string().contains("sizes[1] is 0"), "{e}");
        let mut net = Mlp::new(&[3, 4, 2], Activation::Tanh, 0).unwrap();
        let e = net.backward(&Compute::serial(), &[0.0; 3]).unwrap_err();
        assert!(matches!(e, NnError::NoForward { .. }), "{e}");
        let e = net.forward(&Compute::serial(), &[0.0; 5], 2).unwrap_err();
        assert!(
            e.to_string().contains("forward input x") && e.to_string().contains('6'),
            "{e}"
        );
        net.forward(&Compute::serial(), &[0.0; 6], 2).unwrap();
        let e = net
            .loss_grad(Loss::SoftmaxCrossEntropy, Targets::Labels(&[0]))
            .unwrap_err();
        assert!(e.to_string().contains("loss labels"), "{e}");
        let e = net
            .loss_grad(Loss::SoftmaxCrossEntropy, Targets::Labels(&[0, 2]))
            .unwrap_err();
        assert!(e.to_string().contains("label 2 at row 1"), "{e}");
        let e = net
            .evaluate(&Compute::serial(), &[0.0; 6], &[0, 1], 0)
            .unwrap_err();
        assert!(e.to_string().contains("batch_size"), "{e}");
    }

    #[test]
    fn same_seed_same_net_and_threads_are_bit_identical() {
        let a = Mlp::new(&[20, 16, 3], Activation::Sigmoid, 5).unwrap();
        let b = Mlp::new(&[20, 16, 3], Activation::Sigmoid, 5).unwrap();
        let c = Mlp::new(&[20, 16, 3], Activation::Sigmoid, 6).unwrap();
        assert_eq!(a.params(), b.params());
        assert_ne!(a.params(), c.params());

        // A net big enough for the GEMM to really split the work.
        let mut one = Mlp::new(&[300, 256, 10], Activation::Relu, 1).unwrap();
        let mut two = one.clone();
        let x: Vec<f32> = (0..64 * 300)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 50.0)
            .collect();
        let y: Vec<u32> = (0..64).map(|i| (i % 10) as u32).collect();
        let l1 = one.loss_and_backward(&Compute::serial(), &x, &y).unwrap();
        let l2 = two.loss_and_backward(&Compute::threads(2), &x, &y).unwrap();
        assert_eq!(l1.to_bits(), l2.to_bits());
        assert!(one
            .grads()
            .iter()
            .zip(two.grads())
            .all(|(a, b)| a.to_bits() == b.to_bits()));
    }

    #[test]
    fn batch_grads_equals_zero_grad_then_backward() {
        for act in Activation::ALL {
            let mut a = Mlp::new(&[30, 20, 7, 4], act, 3).unwrap();
            let mut b = a.clone();
            let x: Vec<f32> = (0..9 * 30)
                .map(|i| ((i * 29 % 61) as f32 - 30.0) / 20.0)
                .collect();
            let y: Vec<u32> = (0..9).map(|i| (i % 4) as u32).collect();
            // Leave garbage in b's gradients: batch_grads must not read it.
            b.grads_mut().fill(f32::NAN);
            a.zero_grad();
            let la = a.loss_and_backward(&Compute::serial(), &x, &y).unwrap();
            let lb = b.batch_grads(&Compute::serial(), &x, &y).unwrap();
            assert_eq!(la, lb);
            assert!(
                a.grads().iter().zip(b.grads()).all(|(p, q)| p == q),
                "{}",
                act.name()
            );
        }
    }

    #[test]
    fn the_gradient_from_signals_is_the_stored_one() {
        use descent_core::step::GradIn;
        for act in Activation::ALL {
            for batch in [1, 3, SMALL_BATCH] {
                let mut a = Mlp::new(&[37, 20, 9, 4], act, 7).unwrap();
                let x: Vec<f32> = (0..batch * 37)
                    .map(|i| ((i * 31 % 53) as f32 - 26.0) / 13.0)
                    .collect();
                let y: Vec<u32> = (0..batch).map(|i| (i % 4) as u32).collect();
                let cx = Compute::serial();
                let mut b = a.clone();
                a.batch_grads(&cx, &x, &y).unwrap();
                b.forward(&cx, &x, batch).unwrap();
                b.loss_grad(Loss::SoftmaxCrossEntropy, Targets::Labels(&y))
                    .unwrap();
                b.backward_signals_probed(&cx, &x, &mut ()).unwrap();
                // The factors, read element by element, are the stored bits…
                let (_, src) = b.params_and_grad_source(&x).unwrap();
                let mut made = vec![0.0f32; a.num_params()];
                src.segments(0..made.len(), &mut |at, seg| {
                    for k in 0..seg.len() {
                        made[at + k] = match seg {
                            descent_core::step::Segment::Scaled(g) => {
                                GradIn::<descent_core::simd::Wide>::get(&g, k)
                            }
                            descent_core::step::Segment::ScaledRows(g) => {
                                GradIn::<descent_core::simd::Wide>::get(&g, k)
                            }
                            descent_core::step::Segment::AheadRows(g) => {
                                GradIn::<descent_core::simd::Wide>::get(&g, k)
                            }
                            descent_core::step::Segment::Row(g) => {
                                GradIn::<descent_core::simd::Wide>::get(&g, k)
                            }
                            descent_core::step::Segment::Sums(g) => {
                                GradIn::<descent_core::simd::Wide>::get(&g, k)
                            }
                        };
                    }
                });
                // …and so is the gradient written from the signals.
                let want: Vec<u32> = a.grads().iter().map(|v| v.to_bits()).collect();
                let got: Vec<u32> = made.iter().map(|v| v.to_bits()).collect();
                assert_eq!(got, want, "{} batch {batch}: factors", act.name());
                let norm = src.norm();
                b.grads_mut().fill(f32::NAN);
                b.write_grads_from_signals(&cx, &x).unwrap();
                let got: Vec<u32> = b.grads().iter().map(|v| v.to_bits()).collect();
                assert_eq!(got, want, "{} batch {batch}: written", act.name());
                // The norm from the factors is the stored gradient's.
                let exact = a
                    .grads()
                    .iter()
                    .map(|&v| f64::from(v).powi(2))
                    .sum::<f64>()
                    .sqrt();
                assert!(
                    (f64::from(norm) - exact).abs() <= 1e-6 * exact,
                    "{} batch {batch}: {norm} vs {exact}",
                    act.name()
                );
            }
        }
        // More rows than the factored path takes: a typed error.
        let mut net = Mlp::new(&[3, 2], Activation::Relu, 0).unwrap();
        net.forward(&Compute::serial(), &[0.0; 27], 9).unwrap();
        assert!(net.params_and_grad_source(&[0.0; 27]).is_err());
    }

    /// An SGD step (lr 0.1) over a source's segments, as an optimizer's
    /// factored step runs it.
    fn sgd_step(p: &mut [f32], src: &GradSource<'_>) {
        use descent_core::simd::Wide;
        use descent_core::step::{sgd, Segment, SgdStep};
        let h = SgdStep {
            lr: 0.1,
            weight_decay: 0.0,
            grad_scale: 1.0,
        };
        src.segments(0..p.len(), &mut |at, seg| {
            let p = &mut p[at..at + seg.len()];
            match seg {
                Segment::Scaled(g) => sgd::<Wide>(p, g, &h),
                Segment::ScaledRows(g) => sgd::<Wide>(p, g, &h),
                Segment::AheadRows(g) => sgd::<Wide>(p, g, &h),
                Segment::Row(g) => sgd::<Wide>(p, g, &h),
                Segment::Sums(g) => sgd::<Wide>(p, g, &h),
            }
        });
    }

    /// The products an update formed for the next row give that row's
    /// forward the bits of a forward that reads W₀, and are used only for
    /// that row, only after a whole update through the source, and never
    /// once the parameters were handed out writable.
    #[test]
    fn products_formed_ahead_are_the_forwards_and_used_only_when_valid() {
        let cx = Compute::serial();
        let row = |k: usize| -> Vec<f32> {
            (0..37)
                .map(|i| (((i + 5 * k) * 31 % 53) as f32 - 26.0) / 13.0)
                .collect()
        };
        let (x, next, other) = (row(0), row(1), row(2));
        let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
        for act in Activation::ALL {
            // 37 inputs: a tail past every width's vectors.
            let mut a = Mlp::new(&[37, 20, 9, 4], act, 3).unwrap();
            a.forward(&cx, &x, 1).unwrap();
            a.loss_grad(Loss::SoftmaxCrossEntropy, Targets::Labels(&[2]))
                .unwrap();
            a.backward_signals_probed(&cx, &x, &mut ()).unwrap();
            let mut b = a.clone();
            let (p, src) = a.params_and_grad_source_ahead(&x, &next).unwrap();
            sgd_step(p, &src);
            let (p, src) = b.params_and_grad_source(&x).unwrap();
            sgd_step(p, &src);
            assert_eq!(bits(a.params()), bits(b.params()), "{}", act.name());
            // Another row's forward reads W₀; the next row's uses them.
            let ya = a.forward(&cx, &other, 1).unwrap().to_vec();
            assert_eq!(a.ahead_forwards(), 0);
            assert_eq!(bits(&ya), bits(b.forward(&cx, &other, 1).unwrap()));
            let ya = a.forward(&cx, &next, 1).unwrap().to_vec();
            assert_eq!(a.ahead_forwards(), 1, "{}", act.name());
            assert_eq!(bits(&ya), bits(b.forward(&cx, &next, 1).unwrap()));
            // Used once: the same row again reads W₀.
            a.forward(&cx, &next, 1).unwrap();
            assert_eq!(a.ahead_forwards(), 1);

            // Formed, then the weights handed out writable: not used.
            let (p, src) = a.params_and_grad_source_ahead(&next, &x).unwrap();
            sgd_step(p, &src);
            a.params_mut()[0] += 1.0;
            b.params_mut().copy_from_slice(a.params());
            let ya = a.forward(&cx, &x, 1).unwrap().to_vec();
            assert_eq!(a.ahead_forwards(), 1, "{}", act.name());
            assert_eq!(bits(&ya), bits(b.forward(&cx, &x, 1).unwrap()));
            // A source that no update went through (a declined step): its
            // products were never written, and are not used.
            a.forward(&cx, &next, 1).unwrap();
            let _ = a.params_and_grad_source_ahead(&next, &x).unwrap();
            a.forward(&cx, &x, 1).unwrap();
            assert_eq!(a.ahead_forwards(), 1, "{}", act.name());
        }
        // Only at batch 1.
        let mut net = Mlp::new(&[3, 2], Activation::Relu, 0).unwrap();
        net.forward(&cx, &[0.0; 6], 2).unwrap();
        assert!(net
            .params_and_grad_source_ahead(&[0.0; 6], &[0.0; 3])
            .is_err());
    }

    #[test]
    fn predict_and_evaluate_agree_across_batch_sizes() {
        let mut net = Mlp::new(&[5, 7, 3], Activation::Tanh, 2).unwrap();
        let x: Vec<f32> = (0..23 * 5)
            .map(|i| ((i * 13 % 17) as f32 - 8.0) / 4.0)
            .collect();
        let y: Vec<u32> = (0..23).map(|i| (i % 3) as u32).collect();
        let p_all = net.predict(&Compute::serial(), &x, 100).unwrap();
        let p_small = net.predict(&Compute::serial(), &x, 4).unwrap();
        assert_eq!(p_all, p_small);
        assert_eq!(p_all.len(), 23);
        let (l_all, a_all) = net.evaluate(&Compute::serial(), &x, &y, 23).unwrap();
        let (l_small, a_small) = net.evaluate(&Compute::serial(), &x, &y, 5).unwrap();
        assert!((l_all - l_small).abs() < 1e-6);
        assert_eq!(a_all, a_small);
        let want = p_all.iter().zip(&y).filter(|(p, y)| p == y).count() as f32 / 23.0;
        assert_eq!(a_all, want);
    }
}
