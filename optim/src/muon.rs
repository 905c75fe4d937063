//! Muon: each weight matrix steps along its momentum orthogonalised by a
//! Newton–Schulz iteration; the vectors (biases) step with AdamW.

use crate::common;
use crate::driver::{open_step, Opening};
use crate::error::{OptimError, Result};
use crate::hyper::{FromHyper, Hyper};
use crate::kind::Standalone;
use crate::layout::{self, Block};
use crate::{OptimState, Optimizer, StepInfo};
use descent_core::simd::Wide;
use descent_core::step::{
    adam, decimal, grad_scale, muon_apply, muon_momentum, one_minus, AdamStep,
};
use descent_core::{matmul, Compute, Epilogue, MatMut, MatRef};

const NAME: &str = "muon";

/// Configuration of [`Muon`]; the fields are `torch.optim.Muon`'s, plus
/// the learning rate of the AdamW that steps the vectors.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MuonConfig {
    /// Muon's learning rate γ (finite, ≥ 0), adjusted per matrix by
    /// `√max(1, rows/cols)` (torch's `adjust_lr_fn = "original"`).
    pub lr: f32,
    /// Decoupled weight decay λ of the matrices (finite, ≥ 0).
    pub weight_decay: f32,
    /// Momentum μ, in [0, 1).
    pub momentum: f32,
    /// Step along the Nesterov look-ahead `lerp(g, b, μ)` (torch's default)
    /// rather than the momentum `b`.
    pub nesterov: bool,
    /// The quintic's coefficients (a, b, c): `X ← a·X + (b·A + c·A²)·X`.
    pub ns_coefficients: [f32; 3],
    /// The floor of ‖X‖_F before the iteration (finite, > 0).
    pub eps: f32,
    /// Newton–Schulz steps (1 to 99, as torch).
    pub ns_steps: u32,
    /// The AdamW learning rate of the vectors (finite, ≥ 0).
    pub aux_lr: f32,
    /// Clip the gradient to this global L2 norm before the step.
    pub clip_norm: Option<f32>,
}

impl Default for MuonConfig {
    /// PyTorch's defaults: `lr = 1e-3`, `weight_decay = 0.1`,
    /// `momentum = 0.95`, Nesterov, `ns_coefficients = (3.4445, −4.775,
    /// 2.0315)`, `eps = 1e-7`, `ns_steps = 5`; the vectors' AdamW at
    /// torch's defaults (`lr = 1e-3`, betas (0.9, 0.999), eps 1e-8,
    /// weight decay 0.01); no clipping.
    fn default() -> Self {
        MuonConfig {
            lr: 1e-3,
            weight_decay: 0.1,
            momentum: 0.95,
            nesterov: true,
            ns_coefficients: [3.4445, -4.775, 2.0315],
            eps: 1e-7,
            ns_steps: 5,
            aux_lr: 1e-3,
            clip_norm: None,
        }
    }
}

impl MuonConfig {
    /// Checks every field; the error names the first invalid one.
    pub fn validate(&self) -> Result<()> {
        common::non_negative(NAME, "lr", self.lr)?;
        common::non_negative(NAME, "weight_decay", self.weight_decay)?;
        common::half_open_unit(NAME, "momentum", self.momentum)?;
        for c in self.ns_coefficients {
            if !c.is_finite() {
                return Err(OptimError::InvalidConfig {
                    optimizer: NAME,
                    field: "ns_coefficients",
                    value: c.to_string(),
                    reason: "must be finite",
                });
            }
        }
        common::positive(NAME, "eps", self.eps)?;
        if !(1..100).contains(&self.ns_steps) {
            return Err(OptimError::InvalidConfig {
                optimizer: NAME,
                field: "ns_steps",
                value: self.ns_steps.to_string(),
                reason: "must be in 1..=99",
            });
        }
        common::non_negative(NAME, "aux_lr", self.aux_lr)?;
        common::clip(NAME, self.clip_norm)
    }
}

/// Muon, as `torch.optim.Muon` on every weight matrix, with AdamW on the
/// vectors. Per matrix `G` (`rows × cols`):
///
/// `b ← lerp(b, G, 1 − μ)`; `U = lerp(G, b, μ)` (Nesterov) or `b`;
/// `X = NS(U)`; `W ← W·(1 − γλ) − γ·√max(1, rows/cols)·X`,
///
/// where `NS` normalises `X = U/max(‖U‖_F, ε)` and repeats `ns_steps`
/// times `A = X·Xᵀ; X ← a·X + (b·A + c·A·A)·X` on the wide orientation
/// (`Uᵀ` when rows > cols), which drives every singular value of U
/// towards ~1: the step is (nearly) the orthogonal factor of the
/// momentum.
///
/// Jordan, Jin, Boza, You, Cesista, Newhouse, Bernstein, "Muon: An
/// optimizer for hidden layers in neural networks", 2024,
/// <https://kellerjordan.github.io/posts/muon/>.
///
/// Departures from PyTorch: the Newton–Schulz iteration runs in `f32` on
/// descent's GEMM (torch's in bfloat16), so its result is closer to the
/// exact iteration; the vectors' AdamW is built in (torch's Muon refuses
/// them and leaves them to a second optimizer), its rate `aux_lr`, and a
/// learning-rate schedule scales both rates by the same factor;
/// `clip_norm` is built in. Muon needs the tensors' shapes
/// ([`Optimizer::bind`]) and has nothing to do without a matrix. State:
/// `"momentum_buffer"` (the matrices', 1×), `"exp_avg"` and `"exp_avg_sq"`
/// (the vectors').
#[derive(Debug, Clone)]
pub struct Muon {
    cfg: MuonConfig,
    /// The lr the config was made with: a schedule's factor is lr / base.
    base_lr: f32,
    step: u64,
    blocks: Option<Vec<Block>>,
    len: Option<usize>,
    momentum: Vec<f32>,
    exp_avg: Vec<f32>,
    exp_avg_sq: Vec<f32>,
    scratch: Scratch,
}

/// The iteration's buffers, kept between steps.
#[derive(Debug, Clone, Default)]
struct Scratch {
    update: Vec<f32>,
    x: Vec<f32>,
    next: Vec<f32>,
    gram: Vec<f32>,
    poly: Vec<f32>,
}

impl Muon {
    /// A new optimizer; fails with the first invalid field.
    pub fn new(cfg: MuonConfig) -> Result<Self> {
        cfg.validate()?;
        Ok(Muon {
            cfg,
            base_lr: cfg.lr,
            step: 0,
            blocks: None,
            len: None,
            momentum: Vec::new(),
            exp_avg: Vec::new(),
            exp_avg_sq: Vec::new(),
            scratch: Scratch::default(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &MuonConfig {
        &self.cfg
    }

    /// Floats of the matrices and of the vectors.
    fn sizes(blocks: &[Block]) -> [usize; 2] {
        let mut s = [0; 2];
        for b in blocks {
            match b {
                Block::Matrix { .. } => s[0] += b.len(),
                Block::Vector { .. } => s[1] += b.len(),
            }
        }
        s
    }

    /// The step on `blocks` (at least one matrix), once the blocks are
    /// known: the shared opening, then each matrix's momentum and
    /// Newton–Schulz step and each vector's AdamW step.
    fn step_on(
        &mut self,
        cx: &Compute,
        blocks: &[Block],
        params: &mut [f32],
        grads: &[f32],
        n: usize,
    ) -> Result<StepInfo> {
        layout::covers(NAME, blocks, n)?;
        let (norm, clip) = match open_step(cx, NAME, n, grads, self.len, self.cfg.clip_norm)? {
            Opening::Go { norm, clip } => (norm, clip),
            Opening::Skip(info) => return Ok(info),
        };
        let gs = grad_scale(false, clip);
        if self.len.is_none() {
            let [m, v] = Self::sizes(blocks);
            self.momentum = vec![0.0; m];
            self.exp_avg = vec![0.0; v];
            self.exp_avg_sq = vec![0.0; v];
            self.len = Some(n);
        }
        self.step += 1;
        let cfg = self.cfg;
        let lr = decimal(cfg.lr);
        let decay = (1.0 - lr * decimal(cfg.weight_decay)) as f32;
        let aux_lr = if self.base_lr > 0.0 {
            cfg.aux_lr * (cfg.lr / self.base_lr)
        } else {
            cfg.aux_lr
        };
        let aux = AdamStep::new(aux_lr, 0.9, 0.999, 1e-8, 0.01, true, false, self.step, gs);
        let (mut mi, mut vi) = (0, 0);
        let s = &mut self.scratch;
        for b in blocks {
            let range = b.range();
            let (p, g) = (&mut params[range.clone()], &grads[range]);
            match *b {
                Block::Matrix { rows, cols, .. } => {
                    let len = rows * cols;
                    let buf = &mut self.momentum[mi..mi + len];
                    s.update.resize(len, 0.0);
                    muon_momentum::<Wide>(
                        g,
                        gs,
                        buf,
                        cfg.momentum,
                        one_minus(cfg.momentum),
                        cfg.nesterov,
                        &mut s.update,
                    );
                    let (r, c) = (rows.min(cols), rows.max(cols));
                    // The wide orientation: Uᵀ when the matrix is tall; a
                    // wide one is iterated where it is (a swap, no copy).
                    if rows > cols {
                        s.x.resize(len, 0.0);
                        transpose(&s.update, rows, cols, &mut s.x);
                    } else {
                        std::mem::swap(&mut s.x, &mut s.update);
                    }
                    newton_schulz(
                        cx,
                        &mut s.x,
                        r,
                        c,
                        cfg.ns_coefficients,
                        cfg.eps,
                        cfg.ns_steps,
                        &mut s.next,
                        &mut s.gram,
                        &mut s.poly,
                    )?;
                    if rows > cols {
                        transpose(&s.x, cols, rows, &mut s.update);
                    } else {
                        std::mem::swap(&mut s.x, &mut s.update);
                    }
                    let adjusted = (lr * (rows as f64 / cols as f64).max(1.0).sqrt()) as f32;
                    muon_apply::<Wide>(p, &s.update, decay, adjusted);
                    mi += len;
                }
                Block::Vector { len, .. } => {
                    adam::<Wide>(
                        p,
                        g,
                        &mut self.exp_avg[vi..vi + len],
                        &mut self.exp_avg_sq[vi..vi + len],
                        None,
                        &aux,
                    );
                    vi += len;
                }
            }
        }
        Ok(StepInfo {
            grad_norm: norm,
            clip_scale: clip,
            applied: true,
        })
    }
}

/// Newton–Schulz on `x`, `r × c` row-major with `r ≤ c`, in place: `x ←
/// x / max(‖x‖_F, ε)`, then `steps` times `A = x·xᵀ` (`r × r`),
/// `P = b·A + c·A·A`, `x ← a·x + P·x`, every product on `cx`'s GEMM.
#[allow(clippy::too_many_arguments)]
pub fn newton_schulz(
    cx: &Compute,
    x: &mut Vec<f32>,
    r: usize,
    c: usize,
    [ca, cb, cc]: [f32; 3],
    eps: f32,
    steps: u32,
    next: &mut Vec<f32>,
    gram: &mut Vec<f32>,
    poly: &mut Vec<f32>,
) -> Result<()> {
    debug_assert!(r <= c && x.len() == r * c);
    let norm = descent_core::ops::sum_squares::<Wide>(x).sqrt().max(eps);
    // torch divides by the clamped norm tensor, element by element.
    for v in x.iter_mut() {
        *v /= norm;
    }
    gram.resize(r * r, 0.0);
    poly.resize(r * r, 0.0);
    next.resize(r * c, 0.0);
    let gemm = |e: descent_core::CoreError| OptimError::Compute {
        optimizer: NAME,
        message: e.to_string(),
    };
    for _ in 0..steps {
        let xv = MatRef::row_major(x, r, c).map_err(gemm)?;
        matmul(
            cx,
            1.0,
            xv,
            xv.t(),
            0.0,
            MatMut::row_major(gram, r, r).map_err(gemm)?,
            Epilogue::None,
        )
        .map_err(gemm)?;
        // P = c·A·A + b·A (torch's addmm(A, A, A, beta=b, alpha=c)).
        poly.copy_from_slice(gram);
        let av = MatRef::row_major(gram, r, r).map_err(gemm)?;
        matmul(
            cx,
            cc,
            av,
            av,
            cb,
            MatMut::row_major(poly, r, r).map_err(gemm)?,
            Epilogue::None,
        )
        .map_err(gemm)?;
        // x ← P·x + a·x (torch's addmm(x, P, x, beta=a)).
        next.copy_from_slice(x);
        matmul(
            cx,
            1.0,
            MatRef::row_major(poly, r, r).map_err(gemm)?,
            MatRef::row_major(x, r, c).map_err(gemm)?,
            ca,
            MatMut::row_major(next, r, c).map_err(gemm)?,
            Epilogue::None,
        )
        .map_err(gemm)?;
        std::mem::swap(x, next);
    }
    Ok(())
}

impl Optimizer for Muon {
    fn name(&self) -> &'static str {
        NAME
    }

    fn bind(&mut self, blocks: &[Block]) -> Result<()> {
        self.blocks = Some(layout::checked(NAME, blocks)?);
        Ok(())
    }

    fn step(&mut self, cx: &Compute, params: &mut [f32], grads: &[f32]) -> Result<StepInfo> {
        let n = params.len();
        let blocks = match self.blocks.take() {
            Some(b) if b.iter().any(|b| matches!(b, Block::Matrix { .. })) => b,
            other => {
                self.blocks = other;
                return Err(OptimError::NeedsMatrices { optimizer: NAME });
            }
        };
        // Taken for the step (the state is borrowed mutably below), and put
        // back whatever happens: no copy.
        let r = self.step_on(cx, &blocks, params, grads, n);
        self.blocks = Some(blocks);
        r
    }

    fn lr(&self) -> f32 {
        self.cfg.lr
    }

    fn set_lr(&mut self, lr: f32) -> Result<()> {
        common::non_negative(NAME, "lr", lr)?;
        self.cfg.lr = lr;
        Ok(())
    }

    fn steps(&self) -> u64 {
        self.step
    }

    fn export_state(&self) -> OptimState {
        let buffers = match self.len {
            Some(_) => [
                ("momentum_buffer", &self.momentum),
                ("exp_avg", &self.exp_avg),
                ("exp_avg_sq", &self.exp_avg_sq),
            ]
            .into_iter()
            .filter(|(_, b)| !b.is_empty())
            .map(|(n, b)| (n.to_string(), b.clone()))
            .collect(),
            None => Vec::new(),
        };
        OptimState {
            step: self.step,
            buffers,
            scalars: Vec::new(),
        }
    }

    fn import_state(&mut self, state: &OptimState) -> Result<()> {
        if state.step == 0 && state.buffers.is_empty() {
            self.step = 0;
            self.len = None;
            return Ok(());
        }
        let Some(blocks) = &self.blocks else {
            return Err(OptimError::NeedsMatrices { optimizer: NAME });
        };
        let [m, v] = Self::sizes(blocks);
        let taken = common::take_sized(
            NAME,
            state,
            &[("momentum_buffer", m), ("exp_avg", v), ("exp_avg_sq", v)],
        )?;
        let [a, b, c]: [Vec<f32>; 3] = taken.try_into().expect("three buffers");
        self.momentum = a;
        self.exp_avg = b;
        self.exp_avg_sq = c;
        self.len = Some(blocks.iter().map(Block::len).sum());
        self.step = state.step;
        Ok(())
    }
}

/// `out = inᵀ` for a row-major `rows × cols` `input`.
fn transpose(input: &[f32], rows: usize, cols: usize, out: &mut [f32]) {
    for i in 0..rows {
        for j in 0..cols {
            out[j * rows + i] = input[i * cols + j];
        }
    }
}

impl FromHyper for MuonConfig {
    fn from_hyper(base: Self, h: &Hyper, lr: f32, clip_norm: Option<f32>, _seed: u64) -> Self {
        MuonConfig {
            lr,
            weight_decay: h.weight_decay.unwrap_or(base.weight_decay),
            momentum: h.momentum.unwrap_or(base.momentum),
            nesterov: base.nesterov,
            ns_coefficients: h.ns_coefficients.unwrap_or(base.ns_coefficients),
            eps: h.eps.unwrap_or(base.eps),
            ns_steps: h.ns_steps.unwrap_or(base.ns_steps),
            aux_lr: h.aux_lr.unwrap_or(base.aux_lr),
            clip_norm,
        }
    }

    fn describe(&self) -> String {
        let [a, b, c] = self.ns_coefficients;
        format!(
            "lr {}, weight_decay {}, momentum {} (nesterov {}), ns_coefficients ({a}, {b}, {c}), \
             eps {}, ns_steps {}; vectors: AdamW lr {}",
            self.lr,
            self.weight_decay,
            self.momentum,
            self.nesterov,
            self.eps,
            self.ns_steps,
            self.aux_lr
        )
    }
}

impl Standalone for MuonConfig {
    fn build(self) -> Result<Box<dyn Optimizer>> {
        Ok(Box::new(Muon::new(self)?))
    }

    fn lr(&self) -> f32 {
        self.lr
    }
}
