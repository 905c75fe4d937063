//! L-BFGS: a quasi-Newton direction from the last `history_size` steps and
//! gradient changes, several evaluations of the loss per step.

use std::collections::VecDeque;

use crate::common;
use crate::error::{OptimError, Result};
use crate::hyper::{FromHyper, Hyper};
use crate::OptimState;
use descent_core::simd::Wide;
use descent_core::step::decimal;
use descent_core::step::lbfgs::{axpy_dot, dot};

const NAME: &str = "lbfgs";

/// Configuration of [`Lbfgs`]; the fields are `torch.optim.LBFGS`'s.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LbfgsConfig {
    /// Learning rate: the step along the direction before (or without) the
    /// line search (finite, > 0).
    pub lr: f32,
    /// Iterations per optimizer step (≥ 1).
    pub max_iter: u32,
    /// Evaluations of the loss per step; `None` is `max_iter · 5/4`.
    pub max_eval: Option<u32>,
    /// Stop when `max|g| ≤` this (finite, ≥ 0).
    pub tolerance_grad: f32,
    /// Stop when a step or the change of the loss is below this (finite, ≥ 0).
    pub tolerance_change: f32,
    /// Pairs (s, y) kept (≥ 1).
    pub history_size: u32,
    /// torch's `line_search_fn = "strong_wolfe"` (else none, torch's default).
    pub strong_wolfe: bool,
}

impl Default for LbfgsConfig {
    /// PyTorch's defaults: `lr = 1`, `max_iter = 20`, `max_eval = None`,
    /// `tolerance_grad = 1e-7`, `tolerance_change = 1e-9`,
    /// `history_size = 100`, no line search.
    fn default() -> Self {
        LbfgsConfig {
            lr: 1.0,
            max_iter: 20,
            max_eval: None,
            tolerance_grad: 1e-7,
            tolerance_change: 1e-9,
            history_size: 100,
            strong_wolfe: false,
        }
    }
}

impl LbfgsConfig {
    /// Checks every field; the error names the first invalid one.
    pub fn validate(&self) -> Result<()> {
        common::positive(NAME, "lr", self.lr)?;
        let bad = |field, value: u32| OptimError::InvalidConfig {
            optimizer: NAME,
            field,
            value: value.to_string(),
            reason: "must be >= 1",
        };
        if self.max_iter == 0 {
            return Err(bad("max_iter", 0));
        }
        if self.max_eval == Some(0) {
            return Err(bad("max_eval", 0));
        }
        if self.history_size == 0 {
            return Err(bad("history_size", 0));
        }
        common::non_negative(NAME, "tolerance_grad", self.tolerance_grad)?;
        common::non_negative(NAME, "tolerance_change", self.tolerance_change)
    }

    /// `max_eval`, or torch's default `max_iter · 5/4`.
    fn max_eval(&self) -> u32 {
        self.max_eval.unwrap_or(self.max_iter * 5 / 4)
    }
}

/// What one L-BFGS step did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LbfgsInfo {
    /// The loss at the weights the step started from (what torch's `step`
    /// returns).
    pub loss: f32,
    /// `‖g‖₂` at the start.
    pub grad_norm: f32,
    /// Iterations taken.
    pub iters: u32,
    /// Evaluations of the loss and gradient.
    pub evals: u32,
}

/// L-BFGS, as `torch.optim.LBFGS` (Nocedal 1980; Liu, Nocedal 1989). One
/// step is up to `max_iter` iterations on the same batch: the direction
/// `d = −H·g` from the two-loop recursion over the last `history_size`
/// pairs (`s = t·d`, `y = g − g_prev`, kept when `yᵀs > 1e-10`), with
/// `H₀ = yᵀs / yᵀy`; then a step `t` along d: the first iteration ever
/// takes `min(1, 1/Σ|g|)·lr`, later ones `lr`, or the strong-Wolfe line
/// search's. It stops at `max_iter`, `max_eval`, `max|g| ≤ tolerance_grad`,
/// or a step or loss change below `tolerance_change`, as torch's.
///
/// The trainer calls [`Lbfgs::step`] with a closure that evaluates the loss
/// and gradient on the current batch at given weights. The recursion runs on
/// fused kernels: each of its steps is one pass (an axpy and the next dot
/// product, `descent_core::step::lbfgs`). State: `"d"`, `"prev_flat_grad"`
/// (one value per parameter), `"old_dirs"` and `"old_stps"` (the history,
/// flat, up to `history_size` × the parameters), `"ro"`; the scalars `"t"`,
/// `"H_diag"`, `"prev_loss"`, `"n_iter"` and `"func_evals"`.
///
/// Departures from PyTorch: no `maximize` and no gradient clipping (torch's
/// LBFGS has neither); the scalars are kept in `f64` where torch mixes
/// Python floats and one-element tensors.
#[derive(Debug, Clone)]
pub struct Lbfgs {
    cfg: LbfgsConfig,
    steps: u64,
    d: Vec<f32>,
    t: f64,
    old_dirs: VecDeque<Vec<f32>>,
    old_stps: VecDeque<Vec<f32>>,
    ro: VecDeque<f32>,
    h_diag: f32,
    prev_flat_grad: Vec<f32>,
    prev_loss: f64,
    n_iter: u64,
    func_evals: u64,
    /// Buffers for the next (s, y) pair, reused (not state).
    scratch_y: Vec<f32>,
    scratch_s: Vec<f32>,
}

fn abs_max(x: &[f32]) -> f32 {
    x.iter().fold(0.0f32, |m, v| m.max(v.abs()))
}

impl Lbfgs {
    /// A new optimizer; fails with the first invalid field.
    pub fn new(cfg: LbfgsConfig) -> Result<Self> {
        cfg.validate()?;
        Ok(Lbfgs {
            cfg,
            steps: 0,
            d: Vec::new(),
            t: 0.0,
            old_dirs: VecDeque::new(),
            old_stps: VecDeque::new(),
            ro: VecDeque::new(),
            h_diag: 1.0,
            prev_flat_grad: Vec::new(),
            prev_loss: 0.0,
            n_iter: 0,
            func_evals: 0,
            scratch_y: Vec::new(),
            scratch_s: Vec::new(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &LbfgsConfig {
        &self.cfg
    }

    /// The learning rate.
    pub fn lr(&self) -> f32 {
        self.cfg.lr
    }

    /// Sets the learning rate (finite, > 0), e.g. from a schedule.
    pub fn set_lr(&mut self, lr: f32) -> Result<()> {
        common::positive(NAME, "lr", lr)?;
        self.cfg.lr = lr;
        Ok(())
    }

    /// Steps taken.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// One step from the weights `x`, evaluating the loss and gradient with
    /// `eval(x, grad) → loss` (on the same batch throughout). `x` ends at
    /// the step's last iterate.
    pub fn step<E: From<OptimError>>(
        &mut self,
        x: &mut [f32],
        mut eval: impl FnMut(&[f32], &mut [f32]) -> std::result::Result<f32, E>,
    ) -> std::result::Result<LbfgsInfo, E> {
        let n = x.len();
        if !self.d.is_empty() && self.d.len() != n {
            return Err(OptimError::LengthMismatch {
                optimizer: NAME,
                what: "params (vs the optimizer's state)",
                expected: self.d.len(),
                got: n,
            }
            .into());
        }
        let cfg = self.cfg;
        let (lr, tol_grad, tol_change) = (
            decimal(cfg.lr),
            cfg.tolerance_grad,
            decimal(cfg.tolerance_change),
        );
        let mut g = vec![0.0f32; n];
        let mut loss = eval(x, &mut g)? as f64;
        let orig_loss = loss as f32;
        let grad_norm = descent_core::ops::sum_squares::<Wide>(&g).sqrt();
        let mut evals = 1u32;
        self.func_evals += 1;
        self.steps += 1;
        let mut iters = 0u32;
        if abs_max(&g) <= tol_grad {
            return Ok(LbfgsInfo {
                loss: orig_loss,
                grad_norm,
                iters,
                evals,
            });
        }
        let h = cfg.history_size as usize;
        let mut al = vec![0.0f32; h];
        while iters < cfg.max_iter {
            iters += 1;
            self.n_iter += 1;
            if self.n_iter == 1 {
                self.d = g.iter().map(|v| -v).collect();
                self.old_dirs.clear();
                self.old_stps.clear();
                self.ro.clear();
                self.h_diag = 1.0;
            } else {
                // y = g − g_prev, s = t·d, into scratch buffers; a pair that
                // is kept moves into the history, and at full history the
                // oldest pair's buffers become the scratch (no allocation).
                let (mut y, mut s) = (
                    std::mem::take(&mut self.scratch_y),
                    std::mem::take(&mut self.scratch_s),
                );
                y.clear();
                y.extend(g.iter().zip(&self.prev_flat_grad).map(|(a, b)| a - b));
                s.clear();
                s.extend(self.d.iter().map(|v| v * self.t as f32));
                let ys = dot::<Wide>(&y, &s);
                if ys > 1e-10 {
                    if self.old_dirs.len() == h {
                        self.scratch_y = self.old_dirs.pop_front().unwrap_or_default();
                        self.scratch_s = self.old_stps.pop_front().unwrap_or_default();
                        self.ro.pop_front();
                    }
                    self.h_diag = ys / dot::<Wide>(&y, &y);
                    self.old_dirs.push_back(y);
                    self.old_stps.push_back(s);
                    self.ro.push_back(1.0 / ys);
                } else {
                    (self.scratch_y, self.scratch_s) = (y, s);
                }
                self.two_loop(&g, &mut al);
            }
            self.prev_flat_grad.clear();
            self.prev_flat_grad.extend_from_slice(&g);
            self.prev_loss = loss;
            self.t = if self.n_iter == 1 {
                let l1: f64 = g.iter().map(|v| v.abs() as f64).sum();
                (1.0f64).min(1.0 / l1) * lr
            } else {
                lr
            };
            let gtd = dot::<Wide>(&g, &self.d) as f64;
            if gtd > -tol_change {
                break;
            }
            let mut ls_evals = 0u32;
            let mut opt_cond = false;
            if cfg.strong_wolfe {
                let x0 = x.to_vec();
                let budget = cfg.max_eval().saturating_sub(evals);
                let (f_new, g_new, t, e) = strong_wolfe(
                    &mut eval, &x0, self.t, &self.d, loss, &g, gtd, tol_change, budget, x,
                )?;
                loss = f_new;
                g = g_new;
                self.t = t;
                ls_evals = e;
                add(x, &x0, self.t as f32, &self.d);
                opt_cond = abs_max(&g) <= tol_grad;
            } else {
                descent_core::ops::axpy::<Wide>(self.t as f32, &self.d, x);
                if iters != cfg.max_iter {
                    loss = eval(x, &mut g)? as f64;
                    opt_cond = abs_max(&g) <= tol_grad;
                    ls_evals = 1;
                }
            }
            evals += ls_evals;
            self.func_evals += ls_evals as u64;
            if iters == cfg.max_iter || evals >= cfg.max_eval() || opt_cond {
                break;
            }
            if abs_max(&self.d) as f64 * self.t.abs() <= tol_change {
                break;
            }
            if (loss - self.prev_loss).abs() < tol_change {
                break;
            }
        }
        Ok(LbfgsInfo {
            loss: orig_loss,
            grad_norm,
            iters,
            evals,
        })
    }

    fn two_loop(&mut self, g: &[f32], al: &mut [f32]) {
        two_loop(
            g,
            &self.old_dirs,
            &self.old_stps,
            &self.ro,
            self.h_diag,
            al,
            &mut self.d,
        );
    }

    /// The state for a checkpoint (see the type's docs for the names).
    pub fn export_state(&self) -> OptimState {
        if self.steps == 0 || self.d.is_empty() {
            return OptimState {
                step: self.steps,
                ..OptimState::default()
            };
        }
        let flat = |v: &VecDeque<Vec<f32>>| v.iter().flatten().copied().collect::<Vec<f32>>();
        let mut buffers = vec![
            ("d".to_string(), self.d.clone()),
            ("prev_flat_grad".to_string(), self.prev_flat_grad.clone()),
        ];
        if !self.ro.is_empty() {
            buffers.push(("old_dirs".into(), flat(&self.old_dirs)));
            buffers.push(("old_stps".into(), flat(&self.old_stps)));
            buffers.push(("ro".into(), self.ro.iter().copied().collect()));
        }
        OptimState {
            step: self.steps,
            buffers,
            scalars: vec![
                ("t".into(), self.t),
                ("H_diag".into(), self.h_diag as f64),
                ("prev_loss".into(), self.prev_loss),
                ("n_iter".into(), self.n_iter as f64),
                ("func_evals".into(), self.func_evals as f64),
            ],
        }
    }

    /// Restores [`Lbfgs::export_state`]'s state; the errors name the buffer.
    pub fn import_state(&mut self, st: &OptimState) -> Result<()> {
        if st.buffers.is_empty() {
            *self = Lbfgs::new(self.cfg)?;
            self.steps = st.step;
            return Ok(());
        }
        let get = |name: &str| -> Result<Vec<f32>> {
            st.buffers
                .iter()
                .find(|(b, _)| b == name)
                .map(|(_, v)| v.clone())
                .ok_or_else(|| OptimError::MissingBuffer {
                    optimizer: NAME,
                    name: name.to_string(),
                })
        };
        let scalar = |name: &str| -> Result<f64> {
            st.scalars
                .iter()
                .find(|(b, _)| b == name)
                .map(|&(_, v)| v)
                .ok_or_else(|| OptimError::MissingBuffer {
                    optimizer: NAME,
                    name: name.to_string(),
                })
        };
        let known = ["d", "prev_flat_grad", "old_dirs", "old_stps", "ro"];
        if let Some((b, _)) = st
            .buffers
            .iter()
            .find(|(b, _)| !known.contains(&b.as_str()))
        {
            return Err(OptimError::UnexpectedBuffer {
                optimizer: NAME,
                name: b.clone(),
                expected: known.to_vec(),
            });
        }
        let d = get("d")?;
        let n = d.len();
        let prev = get("prev_flat_grad")?;
        let ro: Vec<f32> = if st.buffers.iter().any(|(b, _)| b == "ro") {
            get("ro")?
        } else {
            Vec::new()
        };
        let k = ro.len();
        let split = |name: &str| -> Result<VecDeque<Vec<f32>>> {
            let v = if k == 0 { Vec::new() } else { get(name)? };
            if v.len() != k * n {
                return Err(OptimError::BufferLength {
                    optimizer: NAME,
                    name: name.to_string(),
                    expected: k * n,
                    got: v.len(),
                });
            }
            Ok(v.chunks(n.max(1)).map(<[f32]>::to_vec).collect())
        };
        if prev.len() != n {
            return Err(OptimError::BufferLength {
                optimizer: NAME,
                name: "prev_flat_grad".into(),
                expected: n,
                got: prev.len(),
            });
        }
        if k > self.cfg.history_size as usize {
            return Err(OptimError::BufferLength {
                optimizer: NAME,
                name: "ro".into(),
                expected: self.cfg.history_size as usize,
                got: k,
            });
        }
        let (old_dirs, old_stps) = (split("old_dirs")?, split("old_stps")?);
        self.t = scalar("t")?;
        self.h_diag = scalar("H_diag")? as f32;
        self.prev_loss = scalar("prev_loss")?;
        self.n_iter = scalar("n_iter")? as u64;
        self.func_evals = scalar("func_evals")? as u64;
        self.d = d;
        self.prev_flat_grad = prev;
        self.old_dirs = old_dirs;
        self.old_stps = old_stps;
        self.ro = ro.into();
        self.steps = st.step;
        Ok(())
    }
}

/// The two-loop recursion: `d = −H·g` for the L-BFGS matrix H of the
/// pairs `(sᵢ, yᵢ)` (`dirs` are the y's, `stps` the s's, oldest first),
/// `ρᵢ = 1/yᵢᵀsᵢ` and `H₀ = h_diag·I`; `al` (at least as long as the
/// history) receives the αᵢ. Each step of either loop is one fused pass
/// over three vectors ([`axpy_dot`]): the update and the next dot product.
pub fn two_loop(
    g: &[f32],
    dirs: &VecDeque<Vec<f32>>,
    stps: &VecDeque<Vec<f32>>,
    ro: &VecDeque<f32>,
    h_diag: f32,
    al: &mut [f32],
    d: &mut Vec<f32>,
) {
    let k = dirs.len();
    // The recursion runs in `d` itself: q = −g, the first loop, then the
    // scale by H₀, then the second loop.
    d.clear();
    d.extend(g.iter().map(|v| -v));
    if k > 0 {
        // q ← q − αᵢ·yᵢ, newest first; αᵢ = ρᵢ·sᵢᵀq.
        let mut sq = dot::<Wide>(&stps[k - 1], d);
        for i in (0..k).rev() {
            al[i] = sq * ro[i];
            let next: &[f32] = if i > 0 { &stps[i - 1] } else { &[] };
            sq = axpy_dot::<Wide>(d, -al[i], &dirs[i], next);
        }
    }
    descent_core::ops::scale::<Wide>(h_diag, d);
    if k > 0 {
        // r ← r + (αᵢ − βᵢ)·sᵢ, oldest first; βᵢ = ρᵢ·yᵢᵀr.
        let mut yr = dot::<Wide>(&dirs[0], d);
        for i in 0..k {
            let be = yr * ro[i];
            let next: &[f32] = if i + 1 < k { &dirs[i + 1] } else { &[] };
            yr = axpy_dot::<Wide>(d, al[i] - be, &stps[i], next);
        }
    }
}

/// `x = x0 + t·d`.
fn add(x: &mut [f32], x0: &[f32], t: f32, d: &[f32]) {
    for ((xi, &a), &di) in x.iter_mut().zip(x0).zip(d) {
        *xi = t.mul_add(di, a);
    }
}

/// torch's `_cubic_interpolate`: the minimiser of the cubic through
/// `(x1, f1, g1)` and `(x2, f2, g2)`, clamped to `bounds` (default the
/// interval), or the bounds' midpoint when the cubic has none.
fn cubic_interpolate(
    x1: f64,
    f1: f64,
    g1: f64,
    x2: f64,
    f2: f64,
    g2: f64,
    bounds: Option<(f64, f64)>,
) -> f64 {
    let (lo, hi) = bounds.unwrap_or(if x1 <= x2 { (x1, x2) } else { (x2, x1) });
    let d1 = g1 + g2 - 3.0 * (f1 - f2) / (x1 - x2);
    let d2_square = d1 * d1 - g1 * g2;
    if d2_square >= 0.0 {
        let d2 = d2_square.sqrt();
        let min_pos = if x1 <= x2 {
            x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2.0 * d2))
        } else {
            x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2.0 * d2))
        };
        min_pos.max(lo).min(hi)
    } else {
        (lo + hi) / 2.0
    }
}

/// torch's `_strong_wolfe` (c₁ = 1e-4, c₂ = 0.9) from `x0` along `d`,
/// starting at step `t`; `scratch` holds the trial weights. Returns the
/// loss, gradient and step it settled on, and its evaluations.
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
fn strong_wolfe<E>(
    eval: &mut impl FnMut(&[f32], &mut [f32]) -> std::result::Result<f32, E>,
    x0: &[f32],
    mut t: f64,
    d: &[f32],
    f: f64,
    g: &[f32],
    gtd: f64,
    tol_change: f64,
    max_ls: u32,
    scratch: &mut [f32],
) -> std::result::Result<(f64, Vec<f32>, f64, u32), E> {
    let (c1, c2) = (1e-4, 0.9);
    let n = x0.len();
    let d_norm = abs_max(d) as f64;
    let mut obj = |t: f64, scratch: &mut [f32]| -> std::result::Result<(f64, Vec<f32>), E> {
        add(scratch, x0, t as f32, d);
        let mut gn = vec![0.0f32; n];
        let f = eval(scratch, &mut gn)? as f64;
        Ok((f, gn))
    };
    let (mut f_new, mut g_new) = obj(t, scratch)?;
    let mut evals = 1u32;
    let mut gtd_new = dot::<Wide>(&g_new, d) as f64;
    let (mut t_prev, mut f_prev, mut g_prev, mut gtd_prev) = (0.0, f, g.to_vec(), gtd);
    let mut done = false;
    let mut ls_iter = 0u32;
    let mut bracket: Vec<f64> = Vec::new();
    let mut bracket_f: Vec<f64> = Vec::new();
    let mut bracket_g: Vec<Vec<f32>> = Vec::new();
    let mut bracket_gtd: Vec<f64> = Vec::new();
    while ls_iter < max_ls {
        if f_new > f + c1 * t * gtd || (ls_iter > 1 && f_new >= f_prev) {
            bracket = vec![t_prev, t];
            bracket_f = vec![f_prev, f_new];
            bracket_g = vec![g_prev.clone(), g_new.clone()];
            bracket_gtd = vec![gtd_prev, gtd_new];
            break;
        }
        if gtd_new.abs() <= -c2 * gtd {
            bracket = vec![t];
            bracket_f = vec![f_new];
            bracket_g = vec![g_new.clone()];
            done = true;
            break;
        }
        if gtd_new >= 0.0 {
            bracket = vec![t_prev, t];
            bracket_f = vec![f_prev, f_new];
            bracket_g = vec![g_prev.clone(), g_new.clone()];
            bracket_gtd = vec![gtd_prev, gtd_new];
            break;
        }
        let min_step = t + 0.01 * (t - t_prev);
        let max_step = t * 10.0;
        let tmp = t;
        t = cubic_interpolate(
            t_prev,
            f_prev,
            gtd_prev,
            t,
            f_new,
            gtd_new,
            Some((min_step, max_step)),
        );
        t_prev = tmp;
        f_prev = f_new;
        g_prev = g_new.clone();
        gtd_prev = gtd_new;
        (f_new, g_new) = obj(t, scratch)?;
        evals += 1;
        gtd_new = dot::<Wide>(&g_new, d) as f64;
        ls_iter += 1;
    }
    if ls_iter == max_ls {
        bracket = vec![0.0, t];
        bracket_f = vec![f, f_new];
        bracket_g = vec![g.to_vec(), g_new.clone()];
    }
    let mut insuf_progress = false;
    let (mut low, mut high) = if bracket_f[0] <= *bracket_f.last().unwrap() {
        (0, 1)
    } else {
        (1, 0)
    };
    while !done && ls_iter < max_ls {
        if (bracket[1] - bracket[0]).abs() * d_norm < tol_change {
            break;
        }
        t = cubic_interpolate(
            bracket[0],
            bracket_f[0],
            bracket_gtd[0],
            bracket[1],
            bracket_f[1],
            bracket_gtd[1],
            None,
        );
        let (bmax, bmin) = (bracket[0].max(bracket[1]), bracket[0].min(bracket[1]));
        let eps = 0.1 * (bmax - bmin);
        if (bmax - t).min(t - bmin) < eps {
            if insuf_progress || t >= bmax || t <= bmin {
                t = if (t - bmax).abs() < (t - bmin).abs() {
                    bmax - eps
                } else {
                    bmin + eps
                };
                insuf_progress = false;
            } else {
                insuf_progress = true;
            }
        } else {
            insuf_progress = false;
        }
        (f_new, g_new) = obj(t, scratch)?;
        evals += 1;
        gtd_new = dot::<Wide>(&g_new, d) as f64;
        ls_iter += 1;
        if f_new > f + c1 * t * gtd || f_new >= bracket_f[low] {
            bracket[high] = t;
            bracket_f[high] = f_new;
            bracket_g[high] = g_new.clone();
            bracket_gtd[high] = gtd_new;
            (low, high) = if bracket_f[0] <= bracket_f[1] {
                (0, 1)
            } else {
                (1, 0)
            };
        } else {
            if gtd_new.abs() <= -c2 * gtd {
                done = true;
            } else if gtd_new * (bracket[high] - bracket[low]) >= 0.0 {
                bracket[high] = bracket[low];
                bracket_f[high] = bracket_f[low];
                bracket_g[high] = bracket_g[low].clone();
                bracket_gtd[high] = bracket_gtd[low];
            }
            bracket[low] = t;
            bracket_f[low] = f_new;
            bracket_g[low] = g_new.clone();
            bracket_gtd[low] = gtd_new;
        }
    }
    let low = low.min(bracket.len() - 1);
    Ok((bracket_f[low], bracket_g[low].clone(), bracket[low], evals))
}

impl FromHyper for LbfgsConfig {
    fn from_hyper(base: Self, h: &Hyper, lr: f32, _clip_norm: Option<f32>, _seed: u64) -> Self {
        LbfgsConfig {
            lr,
            max_iter: h.max_iter.unwrap_or(base.max_iter),
            max_eval: h.max_eval.or(base.max_eval),
            tolerance_grad: h.tolerance_grad.unwrap_or(base.tolerance_grad),
            tolerance_change: h.tolerance_change.unwrap_or(base.tolerance_change),
            history_size: h.history_size.unwrap_or(base.history_size),
            strong_wolfe: match h.line_search.as_deref() {
                Some(ls) => ls == "strong-wolfe",
                None => base.strong_wolfe,
            },
        }
    }

    fn describe(&self) -> String {
        format!(
            "lr {}, max_iter {}, max_eval {}, tolerance_grad {}, tolerance_change {}, \
             history_size {}, line_search {}",
            self.lr,
            self.max_iter,
            self.max_eval(),
            self.tolerance_grad,
            self.tolerance_change,
            self.history_size,
            if self.strong_wolfe {
                "strong-wolfe"
            } else {
                "none"
            }
        )
    }
}
