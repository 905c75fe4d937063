//! Adafactor: a matrix's second moment kept as its row and column means,
//! and a step normalised by its own RMS.

use crate::common;
use crate::driver::{open_step, Opening};
use crate::error::{OptimError, Result};
use crate::hyper::{FromHyper, Hyper};
use crate::kind::Standalone;
use crate::layout::{self, Block};
use crate::{OptimState, Optimizer, StepInfo};
use descent_core::simd::Wide;
use descent_core::step::adafactor::{
    factored_apply, factored_update_sq, square_sums, unfactored_apply, unfactored_update_sq,
};
use descent_core::step::{decimal, grad_scale, lerp_scalar};
use descent_core::Compute;

const NAME: &str = "adafactor";

/// Configuration of [`Adafactor`]; the fields are `torch.optim.Adafactor`'s
/// (`eps` as two fields, `d` named for what it is).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdafactorConfig {
    /// Learning rate γ (finite, ≥ 0): the relative step is `min(γ, 1/√t)`.
    pub lr: f32,
    /// c of the second moment's decay, `1 − β₂ₜ = t^c` (finite, ≤ 0).
    pub beta2_decay: f32,
    /// ε₁, the floor of the second moment (its square) and of the row
    /// mean; `None` is the machine epsilon of `f32`, as torch's `None`.
    pub eps1: Option<f32>,
    /// ε₂, the floor of the weights' RMS in the step size (finite, ≥ 0).
    pub eps2: f32,
    /// d, torch's clipping threshold: the update's RMS is capped at d
    /// (finite, ≥ 1).
    pub clip_threshold: f32,
    /// Decoupled weight decay λ (finite, ≥ 0): `p ← p·(1 − γ·λ)`.
    pub weight_decay: f32,
    /// Step uphill: maximize the objective instead of minimizing it.
    pub maximize: bool,
    /// Clip the gradient to this global L2 norm before the step.
    pub clip_norm: Option<f32>,
}

impl Default for AdafactorConfig {
    /// PyTorch's defaults: `lr = 1e-2`, `beta2_decay = −0.8`,
    /// `eps = (None, 1e-3)`, `d = 1`, `weight_decay = 0`; no clipping.
    fn default() -> Self {
        AdafactorConfig {
            lr: 1e-2,
            beta2_decay: -0.8,
            eps1: None,
            eps2: 1e-3,
            clip_threshold: 1.0,
            weight_decay: 0.0,
            maximize: false,
            clip_norm: None,
        }
    }
}

impl AdafactorConfig {
    /// Checks every field; the error names the first invalid one.
    pub fn validate(&self) -> Result<()> {
        common::non_negative(NAME, "lr", self.lr)?;
        if !(self.beta2_decay <= 0.0 && self.beta2_decay.is_finite()) {
            return Err(OptimError::InvalidConfig {
                optimizer: NAME,
                field: "beta2_decay",
                value: self.beta2_decay.to_string(),
                reason: "must be finite and <= 0",
            });
        }
        if let Some(e) = self.eps1 {
            common::non_negative(NAME, "eps1", e)?;
        }
        common::non_negative(NAME, "eps2", self.eps2)?;
        if !(self.clip_threshold >= 1.0 && self.clip_threshold.is_finite()) {
            return Err(OptimError::InvalidConfig {
                optimizer: NAME,
                field: "clip_threshold",
                value: self.clip_threshold.to_string(),
                reason: "must be finite and >= 1",
            });
        }
        common::non_negative(NAME, "weight_decay", self.weight_decay)?;
        common::clip(NAME, self.clip_norm)
    }
}

/// Adafactor, as `torch.optim.Adafactor`. Step t, per parameter tensor,
/// with `ρₜ = min(γ, 1/√t)`, `αₜ = max(ε₂, RMS(p))·ρₜ` and
/// `1 − β₂ₜ = t^c`:
///
/// - a matrix `G` (`rows × cols`): `r ← lerp(r, mean_j G², 1 − β₂ₜ)`,
///   `c ← lerp(c, mean_i G², 1 − β₂ₜ)`, `V = r·cᵀ / max(mean(r), ε₁)`;
/// - a vector: `v ← lerp(v, g², 1 − β₂ₜ)`, `V = v`;
/// - `U = G / √max(V, ε₁²)`; `p ← p·(1 − γλ) − αₜ / max(1, RMS(U)/d) · U`.
///
/// Shazeer, Stern, "Adafactor: Adaptive Learning Rates with Sublinear
/// Memory Cost", ICML 2018, <https://arxiv.org/abs/1804.04235>, in torch's
/// form (no first moment, the relative step size on by default).
///
/// State: `"row_var"` and `"col_var"` (every matrix's, concatenated:
/// rows + cols floats a matrix, far under 1× its size) and `"variance"`
/// (the vectors'), each one flat buffer. The RMS of U needs all of U
/// before a weight moves: a block takes three passes (the squared sums,
/// the update's norm, the step), on one thread. Unbound
/// ([`Optimizer::bind`]), the whole buffer is one vector. Departure from
/// PyTorch: `clip_norm` is built in.
#[derive(Debug, Clone)]
pub struct Adafactor {
    cfg: AdafactorConfig,
    step: u64,
    blocks: Option<Vec<Block>>,
    /// The length the state was made for.
    len: Option<usize>,
    row_var: Vec<f32>,
    col_var: Vec<f32>,
    variance: Vec<f32>,
    row_sq: Vec<f32>,
    col_sq: Vec<f32>,
}

impl Adafactor {
    /// A new optimizer; fails with the first invalid field.
    pub fn new(cfg: AdafactorConfig) -> Result<Self> {
        cfg.validate()?;
        Ok(Adafactor {
            cfg,
            step: 0,
            blocks: None,
            len: None,
            row_var: Vec::new(),
            col_var: Vec::new(),
            variance: Vec::new(),
            row_sq: Vec::new(),
            col_sq: Vec::new(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &AdafactorConfig {
        &self.cfg
    }

    /// The state's lengths for `blocks`: Σ rows, Σ cols, Σ vector lengths.
    fn sizes(blocks: &[Block]) -> [usize; 3] {
        let mut s = [0; 3];
        for b in blocks {
            match *b {
                Block::Matrix { rows, cols, .. } => {
                    s[0] += rows;
                    s[1] += cols;
                }
                Block::Vector { len, .. } => s[2] += len,
            }
        }
        s
    }
}

impl Optimizer for Adafactor {
    fn name(&self) -> &'static str {
        NAME
    }

    fn bind(&mut self, blocks: &[Block]) -> Result<()> {
        self.blocks = Some(layout::checked(NAME, blocks)?);
        Ok(())
    }

    fn step(&mut self, cx: &Compute, params: &mut [f32], grads: &[f32]) -> Result<StepInfo> {
        let n = params.len();
        // Unbound, the buffer is one vector, as torch takes a 1-D tensor.
        let blocks = self
            .blocks
            .get_or_insert_with(|| vec![Block::Vector { start: 0, len: n }]);
        layout::covers(NAME, blocks, n)?;
        let (norm, clip) = match open_step(cx, NAME, n, grads, self.len, self.cfg.clip_norm)? {
            Opening::Go { norm, clip } => (norm, clip),
            Opening::Skip(info) => return Ok(info),
        };
        // Taken for the step (the state is borrowed mutably below), and
        // put back at its end: no copy.
        let blocks = std::mem::take(blocks);
        let gs = grad_scale(self.cfg.maximize, clip);
        if self.len.is_none() {
            let [r, c, v] = Self::sizes(&blocks);
            self.row_var = vec![0.0; r];
            self.col_var = vec![0.0; c];
            self.variance = vec![0.0; v];
            self.len = Some(n);
        }
        self.step += 1;
        let t = self.step as f64;
        let lr = decimal(self.cfg.lr);
        // torch: `step**beta2_decay`, `min(lr, 1/step**0.5)`, in Python floats.
        let w = t.powf(decimal(self.cfg.beta2_decay)) as f32;
        let rho = lr.min(1.0 / t.sqrt());
        let eps1 = self.cfg.eps1.map_or(f32::EPSILON as f64, decimal);
        let floor = (eps1 * eps1) as f32;
        let decay = (1.0 - lr * decimal(self.cfg.weight_decay)) as f32;
        let d = decimal(self.cfg.clip_threshold);
        let (mut ri, mut ci, mut vi) = (0, 0, 0);
        for b in &blocks {
            let range = b.range();
            let numel = range.len() as f64;
            let (p, g) = (&mut params[range.clone()], &grads[range]);
            let p_rms = descent_core::ops::sum_squares::<Wide>(p).sqrt() as f64 / numel.sqrt();
            let alpha = decimal(self.cfg.eps2).max(p_rms) * rho;
            match *b {
                Block::Matrix { rows, cols, .. } => {
                    let r = &mut self.row_var[ri..ri + rows];
                    let c = &mut self.col_var[ci..ci + cols];
                    self.row_sq.resize(rows, 0.0);
                    self.col_sq.resize(cols, 0.0);
                    square_sums::<Wide>(g, cols, gs, &mut self.row_sq, &mut self.col_sq);
                    for (x, &s) in r.iter_mut().zip(&self.row_sq) {
                        *x = lerp_scalar(*x, s / cols as f32, w);
                    }
                    for (x, &s) in c.iter_mut().zip(&self.col_sq) {
                        *x = lerp_scalar(*x, s / rows as f32, w);
                    }
                    let mean = r.iter().map(|&x| x as f64).sum::<f64>() / rows as f64;
                    let den = (mean as f32).max(eps1 as f32);
                    let usq = factored_update_sq::<Wide>(g, gs, r, c, den, floor);
                    let denom = (usq.sqrt() as f64 / (numel.sqrt() * d)).max(1.0);
                    let coef = (alpha / denom) as f32;
                    factored_apply::<Wide>(p, g, gs, r, c, den, floor, decay, coef);
                    ri += rows;
                    ci += cols;
                }
                Block::Vector { len, .. } => {
                    let v = &mut self.variance[vi..vi + len];
                    let usq = unfactored_update_sq::<Wide>(g, gs, v, w, floor);
                    let denom = (usq.sqrt() as f64 / (numel.sqrt() * d)).max(1.0);
                    unfactored_apply::<Wide>(p, g, gs, v, floor, decay, (alpha / denom) as f32);
                    vi += len;
                }
            }
        }
        self.blocks = Some(blocks);
        Ok(StepInfo {
            grad_norm: norm,
            clip_scale: clip,
            applied: true,
        })
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
                ("row_var", &self.row_var),
                ("col_var", &self.col_var),
                ("variance", &self.variance),
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
        // The lengths follow from the blocks: bound, or one vector as long
        // as the variance given.
        let v_len = state
            .buffers
            .iter()
            .find(|(n, _)| n == "variance")
            .map_or(0, |(_, b)| b.len());
        let blocks = match &self.blocks {
            Some(b) => b.clone(),
            None => vec![Block::Vector {
                start: 0,
                len: v_len,
            }],
        };
        let [r, c, v] = Self::sizes(&blocks);
        let taken = common::take_sized(
            NAME,
            state,
            &[("row_var", r), ("col_var", c), ("variance", v)],
        )?;
        let [r, c, v]: [Vec<f32>; 3] = taken.try_into().expect("three buffers");
        self.row_var = r;
        self.col_var = c;
        self.variance = v;
        self.len = Some(blocks.iter().map(Block::len).sum());
        self.step = state.step;
        Ok(())
    }
}

impl FromHyper for AdafactorConfig {
    fn from_hyper(base: Self, h: &Hyper, lr: f32, clip_norm: Option<f32>, _seed: u64) -> Self {
        AdafactorConfig {
            lr,
            beta2_decay: h.beta2_decay.unwrap_or(base.beta2_decay),
            eps1: h.eps1.or(base.eps1),
            eps2: h.eps2.unwrap_or(base.eps2),
            clip_threshold: h.clip_threshold.unwrap_or(base.clip_threshold),
            weight_decay: h.weight_decay.unwrap_or(base.weight_decay),
            maximize: h.maximize,
            clip_norm,
        }
    }

    fn describe(&self) -> String {
        format!(
            "lr {}, beta2_decay {}, eps ({}, {}), d {}, weight_decay {}, maximize {}",
            self.lr,
            self.beta2_decay,
            self.eps1.map_or("None".to_string(), |e| e.to_string()),
            self.eps2,
            self.clip_threshold,
            self.weight_decay,
            self.maximize
        )
    }
}

impl Standalone for AdafactorConfig {
    fn build(self) -> Result<Box<dyn Optimizer>> {
        Ok(Box::new(Adafactor::new(self)?))
    }

    fn lr(&self) -> f32 {
        self.lr
    }
}
