//! The evaluator: loss and accuracy of the net at many points
//! `θ(c) = o + Σ_k c_k·d_k` of one slice through weight space.
//!
//! **The schedule.** With widths `s0 → s1 → … → s_L`, a point costs
//! `2·N·(s0·s1 + s1·s2 + …)` FLOPs as a plain forward pass, and for MNIST's
//! 784-128-64-10 the first layer is 92% of that. But the first layer's
//! pre-activation is linear in the coefficients:
//!
//! ```text
//! X·θ₀(c)ᵀ + b₀(c) = X·o₀ᵀ + Σ_k c_k·(X·d_{k,0}ᵀ) + b₀(c)
//! ```
//!
//! so one GEMM of the examples by the stacked first-layer weights
//! `[o₀; d_{1,0}; …; d_{K,0}]` (N × (1+K)·s1) is done once, and each point
//! costs only a pass over its chunk of those products there
//! ([`ops::combine_rows`]: the combination, the bias and the ReLU in one),
//! then the layers above it. Those are recomputed per point, with each
//! point's own weights `W_l(c) = o_l + Σ_k c_k·d_{k,l}` formed by the same
//! kernel from the stacked `[o_l | d_{1,l} | …]` (tens of KB, from L2).
//!
//! The examples are cut into chunks of a few hundred rows
//! ([`SliceOptions::for_net`]); a chunk is one part of the pool's job and
//! runs every point while its rows stay in cache (L3: each point's fixed
//! work, forming and packing its weights, wants long chunks more than the
//! chunk's rows want L2). Each (chunk, point) keeps
//! its own loss sum and correct count, and the sums over chunks are taken
//! in chunk order afterwards, so the result is the same bits on any number
//! of threads.
//!
//! Coefficients equal to zero are skipped, not multiplied: at `c = (0, 0)`
//! the net is `o` itself bit for bit (a NaN in a direction would otherwise
//! poison it), and a point `c = e_j` of a slice with no origin is exactly
//! the weights `d_j`, which is how [`measure`] evaluates a list of whole
//! weight vectors: their first layers stacked side by side, one GEMM for
//! the group.

use std::sync::Mutex;

use descent_core::gemm::blocking::Caches;
use descent_core::simd::Wide;
use descent_core::{matmul, ops, AlignedVec, Compute, Epilogue, MatMut, MatRef};
use descent_nn::{layer_ranges, Activation, Mlp};

use super::{shape, LandscapeError};

/// The examples a slice is measured on: `x` (N, s0) row-major and their
/// labels (N).
#[derive(Clone, Copy, Debug)]
pub struct Examples<'a> {
    /// Inputs, row-major.
    pub x: &'a [f32],
    /// Classes.
    pub labels: &'a [u32],
}

/// A slice through weight space: `θ(c) = o + Σ_k c_k·d_k`, every vector in
/// the net's flat parameter layout.
#[derive(Clone, Debug)]
pub struct Slice<'a> {
    /// `o`; `None` is the zero vector (an interpolation, or a list of
    /// whole weight vectors, has none).
    pub origin: Option<&'a [f32]>,
    /// `d_1 … d_K`, K ≥ 1.
    pub dirs: Vec<&'a [f32]>,
}

/// The loss and accuracy at one point.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Measured {
    /// Mean softmax cross-entropy over the examples.
    pub loss: f64,
    /// Fraction of examples whose logits' argmax is the label.
    pub accuracy: f64,
}

/// How the evaluator cuts the examples.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SliceOptions {
    /// Rows per chunk: a part of the pool's job, every point run over it.
    pub chunk_rows: usize,
    /// Rows per block: the first layer's stacked GEMM is done a block at
    /// a time, bounding its buffer to `block_rows·(1+K)·s1` floats.
    pub block_rows: usize,
}

impl SliceOptions {
    /// The chunk for `n` examples on `threads` threads: 512 rows, halved
    /// (down to 64) while there are fewer than four chunks a thread (so the
    /// parts balance) or while every thread's chunk of stacked products
    /// would not fit half of `caches`' L3 (they are read again for every
    /// point). `stacked` counts the stacked first-layer blocks.
    ///
    /// Not L2: each point forms its own weights above the first layer and
    /// the GEMMs pack them, a fixed cost a chunk amortises, and on a Zen 3
    /// (512 KiB L2, one thread, 21 × 21 points) the time fell from 64 rows
    /// (1.79 s) through 144 (1.59 s, what fits L2) to 512 (1.48 s) and
    /// stayed within 1% up to 2048; on two threads 512 and 1024 were the
    /// best. Streaming the chunk from L3 costs less than the fixed work:
    /// 4·(lead+K)·s1 bytes a row against 2·Σ s_l·s_{l+1} FLOPs above the
    /// first layer (1.5 KB against 17.7 kFLOP for 784-128-64-10). Blocks
    /// hold at least four chunks a thread and 8192 rows.
    pub fn for_net(
        caches: &Caches,
        sizes: &[usize],
        stacked: usize,
        n: usize,
        threads: usize,
    ) -> SliceOptions {
        let threads = threads.max(1);
        let row_bytes = 4 * stacked * sizes[1];
        let mut chunk = 512;
        while chunk > 64
            && (n.div_ceil(chunk) < 4 * threads || chunk * row_bytes * threads > caches.l3 / 2)
        {
            chunk /= 2;
        }
        SliceOptions {
            chunk_rows: chunk,
            block_rows: 8192usize.max(4 * threads * chunk).div_ceil(chunk) * chunk,
        }
    }
}

/// One stream of bytes a slice's evaluation reads or writes, and how much
/// of it is live at once (which level of the memory hierarchy serves it).
#[derive(Clone, Debug, PartialEq)]
pub struct Stream {
    /// What it is.
    pub what: &'static str,
    /// Bytes moved, in total.
    pub bytes: f64,
    /// Bytes live while it is reused: the working set that decides the
    /// level it streams from.
    pub working_set: usize,
}

/// The work of [`measure`]: the FLOPs of its schedule and the streams it
/// moves, for the roofline floor; and what the same points would cost as
/// plain forward passes.
#[derive(Clone, Debug, PartialEq)]
pub struct SliceCost {
    /// FLOPs of the schedule (a multiply-add is 2).
    pub flops: f64,
    /// FLOPs of the same points as forward passes, each with its own
    /// first-layer GEMM (what the linear trick saves).
    pub direct_flops: f64,
    /// The bytes moved.
    pub streams: Vec<Stream>,
}

impl SliceCost {
    /// The schedule of [`measure`] for `points` points of a slice with
    /// `dirs` directions (and an origin when `origin`), on `n` examples of
    /// a net of widths `sizes`, on `threads` threads. A working set is
    /// all threads' together, as the roofs' capacities are.
    pub fn of(
        sizes: &[usize],
        (origin, dirs): (bool, usize),
        points: usize,
        n: usize,
        opts: SliceOptions,
        threads: usize,
    ) -> SliceCost {
        let (s0, s1) = (sizes[0], sizes[1]);
        let stacked = (origin as usize + dirs) * s1;
        let (n_f, p) = (n as f64, points as f64);
        let upper_macs: usize = sizes[1..].windows(2).map(|w| w[0] * w[1]).sum();
        let upper_params: usize = sizes[1..].windows(2).map(|w| w[0] * w[1] + w[1]).sum();
        let classes = *sizes.last().expect("widths");
        let first_layer_flops = 2.0 * n_f * (s0 * stacked) as f64;
        // Per point and example: an axpy per direction and the bias on the
        // first layer's s1 outputs, the upper GEMMs, the softmax (≈ 4 per
        // logit: max, exp, sum, the target's log).
        let per_example = (2 * dirs + 1) * s1 + 2 * upper_macs + 4 * classes;
        let chunks = n.div_ceil(opts.chunk_rows) as f64;
        let weights_flops = chunks * p * (2 * dirs * upper_params) as f64;
        let flops = first_layer_flops + p * n_f * per_example as f64 + weights_flops;
        let direct_flops = p * n_f * (2 * (s0 * s1 + upper_macs) + 4 * classes) as f64;
        let (chunk, t) = (opts.chunk_rows.min(n.max(1)), threads.max(1));
        let widths: usize = sizes[1..].iter().sum();
        let stacks = origin as usize + dirs;
        let streams = vec![
            Stream {
                what: "examples X, read once by the stacked GEMM",
                bytes: 4.0 * n_f * s0 as f64,
                working_set: 4 * n * s0,
            },
            Stream {
                what: "stacked products, written once and read by their chunk",
                bytes: 2.0 * 4.0 * n_f * stacked as f64,
                working_set: 4 * opts.block_rows.min(n.max(1)) * stacked,
            },
            Stream {
                what: "per point: its chunk's stacked products, read again",
                bytes: p * 4.0 * n_f * stacked as f64,
                working_set: 4 * chunk * stacked * t,
            },
            Stream {
                what: "per point: the activations, written and read",
                bytes: p * 2.0 * 4.0 * n_f * widths as f64,
                working_set: 4 * chunk * widths * t,
            },
            Stream {
                what: "per point and chunk: the stacked weights read, the point's written",
                bytes: chunks * p * 4.0 * ((stacks + 1) * upper_params) as f64,
                working_set: 4 * (stacks + 1) * upper_params * t,
            },
        ];
        SliceCost {
            flops,
            direct_flops,
            streams,
        }
    }
}

/// One parameter tensor's values in the origin (if any) and each
/// direction, side by side: `[o | d_1 | … | d_K]`, each `n` long, the row
/// [`ops::combine_rows`] forms a point's tensor from.
struct Stacked {
    data: AlignedVec,
    n: usize,
}

impl Stacked {
    fn of(slice: &Slice, range: std::ops::Range<usize>) -> Stacked {
        let n = range.len();
        let mut data = AlignedVec::zeros((slice.origin.is_some() as usize + slice.dirs.len()) * n);
        for (slot, v) in slice.origin.iter().chain(&slice.dirs).enumerate() {
            data[slot * n..(slot + 1) * n].copy_from_slice(&v[range.clone()]);
        }
        Stacked { data, n }
    }
}

/// Loss and accuracy of the net (`arch`'s widths, activation and layout;
/// its own weights are not read) at every point of `slice`: point `i` has
/// the coefficients `coeffs[i·K .. (i+1)·K]`. On `cx`'s threads, the same
/// bits for any count. See the module's notes for the schedule.
pub fn measure(
    cx: &Compute,
    arch: &Mlp,
    slice: &Slice,
    coeffs: &[f32],
    ex: Examples,
    opts: SliceOptions,
) -> Result<Vec<Measured>, LandscapeError> {
    let sizes = arch.sizes();
    let layout = arch.layout();
    let total = arch.num_params();
    let k = slice.dirs.len();
    if k == 0 {
        return Err(shape("slice", "no direction"));
    }
    for v in slice.origin.iter().chain(&slice.dirs) {
        if v.len() != total {
            return Err(shape(
                "slice vector",
                format!("{} values, the net has {total} parameters", v.len()),
            ));
        }
    }
    if coeffs.len() % k != 0 {
        return Err(shape(
            "coefficients",
            format!("{} values are not whole points of {k}", coeffs.len()),
        ));
    }
    let (s0, s1) = (sizes[0], sizes[1]);
    let n = ex.labels.len();
    if n == 0 || ex.x.len() != n * s0 {
        return Err(shape(
            "examples",
            format!("{} inputs for {n} labels of {s0} values", ex.x.len()),
        ));
    }
    let points = coeffs.len() / k;
    let lead = slice.origin.is_some();
    let stacked_w = (usize::from(lead) + k) * s1;
    let chunk = opts.chunk_rows.max(1);
    let block = (opts.block_rows.max(chunk) / chunk) * chunk;

    // Every tensor stacked: the first layer's weights `[o₀; d_{1,0}; …]`
    // are the (stacked_w, s0) matrix of the GEMM; the others are combined
    // per point.
    let stacks: Vec<(Stacked, Stacked)> = (0..sizes.len() - 1)
        .map(|l| {
            let (w, b) = layer_ranges(layout, l);
            (Stacked::of(slice, w), Stacked::of(slice, b))
        })
        .collect();
    let w_stack = &stacks[0].0.data;
    let sums = Mutex::new(vec![(0.0f64, 0u64); n.div_ceil(chunk) * points]);
    let mut pre = AlignedVec::zeros(block.min(n) * stacked_w);
    let serial = cx.serial_like();
    let first_error: Mutex<Option<LandscapeError>> = Mutex::new(None);

    for start in (0..n).step_by(block) {
        let rows = block.min(n - start);
        let xv = MatRef::row_major(&ex.x[start * s0..(start + rows) * s0], rows, s0)?;
        let wt = MatRef::row_major(w_stack, stacked_w, s0)?.t();
        let pv = MatMut::row_major(&mut pre[..rows * stacked_w], rows, stacked_w)?;
        matmul(cx, 1.0, xv, wt, 0.0, pv, Epilogue::None)?;
        let pre = &pre[..rows * stacked_w];
        let parts = rows.div_ceil(chunk);
        let part = |p: usize| {
            let r0 = p * chunk;
            let r = chunk.min(rows - r0);
            let labels = &ex.labels[start + r0..start + r0 + r];
            let stacked = &pre[r0 * stacked_w..(r0 + r) * stacked_w];
            match chunk_points(&serial, arch, &stacks, (lead, k), coeffs, stacked, labels) {
                Ok(local) => {
                    let c = (start + r0) / chunk;
                    let mut s = sums.lock().expect("no part panicked holding it");
                    s[c * points..(c + 1) * points].copy_from_slice(&local);
                }
                Err(e) => {
                    first_error
                        .lock()
                        .expect("no part panicked holding it")
                        .get_or_insert(e);
                }
            }
        };
        match cx.pool() {
            Some(pool) => pool.run(parts, &part),
            None => (0..parts).for_each(part),
        }
        if let Some(e) = first_error.lock().expect("parts done").take() {
            return Err(e);
        }
    }
    let sums = sums.into_inner().expect("parts done");
    Ok((0..points)
        .map(|i| {
            let (mut loss, mut correct) = (0.0f64, 0u64);
            for c in 0..n.div_ceil(chunk) {
                let (l, k) = sums[c * points + i];
                loss += l;
                correct += k;
            }
            Measured {
                loss: loss / n as f64,
                accuracy: correct as f64 / n as f64,
            }
        })
        .collect())
}

/// Every point of the slice over one chunk of rows: `(loss sum, correct)`
/// per point. `stacked` holds the chunk's first-layer products.
fn chunk_points(
    cx: &Compute,
    arch: &Mlp,
    stacks: &[(Stacked, Stacked)],
    (lead, k): (bool, usize),
    coeffs: &[f32],
    stacked: &[f32],
    labels: &[u32],
) -> Result<Vec<(f64, u64)>, LandscapeError> {
    let sizes = arch.sizes();
    let layers = sizes.len() - 1;
    let (s1, classes) = (sizes[1], sizes[layers]);
    let act = arch.activation();
    let r = labels.len();
    let mut acts: Vec<AlignedVec> = sizes[1..]
        .iter()
        .map(|&w| AlignedVec::zeros(r * w))
        .collect();
    // The point's weights above the first layer, and every layer's bias.
    let mut weights: Vec<(AlignedVec, Vec<f32>)> = stacks
        .iter()
        .enumerate()
        .map(|(l, (w, b))| {
            (
                AlignedVec::zeros(if l == 0 { 0 } else { w.n }),
                vec![0.0; b.n],
            )
        })
        .collect();
    let mut out = Vec::with_capacity(coeffs.len() / k);
    for c in coeffs.chunks_exact(k) {
        for (l, ((w, b), (ws, bs))) in weights.iter_mut().zip(stacks).enumerate() {
            ops::combine_rows::<Wide>(&bs.data, bs.n, lead, c, None, false, b);
            if l > 0 {
                ops::combine_rows::<Wide>(&ws.data, ws.n, lead, c, None, false, w);
            }
        }
        // The first layer from the stacked products, its ReLU fused.
        let relu0 = layers > 1 && act == Activation::Relu;
        let b0 = Some(weights[0].1.as_slice());
        ops::combine_rows::<Wide>(stacked, s1, lead, c, b0, relu0, &mut acts[0]);
        if layers > 1 && !relu0 {
            act.forward(&mut acts[0]);
        }
        for l in 1..layers {
            let (below, here) = acts.split_at_mut(l);
            let (i, o) = (sizes[l], sizes[l + 1]);
            let hidden = l + 1 < layers;
            let fuse = hidden && act == Activation::Relu;
            let (w, b) = &weights[l];
            let epi = if fuse {
                Epilogue::bias_relu(b)
            } else {
                Epilogue::bias(b)
            };
            matmul(
                cx,
                1.0,
                MatRef::row_major(&below[l - 1], r, i)?,
                MatRef::row_major(w, o, i)?.t(),
                0.0,
                MatMut::row_major(&mut here[0], r, o)?,
                epi,
            )?;
            if hidden && !fuse {
                act.forward(&mut here[0]);
            }
        }
        let (loss, hits) = ops::cross_entropy_sum(&acts[layers - 1], labels, classes)?;
        out.push((loss, hits as u64));
    }
    Ok(out)
}
