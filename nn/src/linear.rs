//! The Linear layer `Y = X·Wᵀ + b`, PyTorch's `nn.Linear` layout:
//!
//! - B = batch rows, I = `in_features`, O = `out_features`;
//! - X is (B, I), W is (O, I), b is (O), Y is (B, O), all row-major.
//!
//! W is stored (O, I) as PyTorch stores it, so Wᵀ is not a copy: it is the
//! same memory read as an (I, O) strided view
//! (`MatRef::row_major(w, O, I)?.t()`), which the GEMM's packing handles.
//!
//! Forward and backward are adjacent; each names the math and the one core
//! call that computes it. The backward *accumulates* (`+=`) into dW and db so
//! gradients of several batches can add up; `Mlp::zero_grad` clears them.

use descent_core::gemm::DescentStep;
use descent_core::ops::{combine_rows_of, relu_backward, rows_times_w, rows_times_wt, SMALL_BATCH};
use descent_core::simd::Wide;
use descent_core::{gemm_naive, matmul, Compute, Epilogue, MatMut, MatRef};
use rand::Rng;

use crate::error::{check_len, Result};

/// A fully connected layer's dimensions. The parameters live in the
/// network's flat buffer; this type knows their shapes and the math.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Linear {
    /// I: inputs per row (`nn.Linear.in_features`).
    pub in_features: usize,
    /// O: outputs per row (`nn.Linear.out_features`).
    pub out_features: usize,
}

/// A batch of rows with its shape: `data` is (`rows`, width) row-major,
/// the width being the layer's I (or O for an output).
#[derive(Clone, Copy, Debug)]
pub struct Rows<'a> {
    /// The values, row after row.
    pub data: &'a [f32],
    /// B, the number of rows.
    pub rows: usize,
}

/// One layer's parameters, views into the network's flat buffer:
/// W (O, I) row-major and b (O).
#[derive(Clone, Copy, Debug)]
pub struct LinearParams<'a> {
    /// The weight W (O, I).
    pub w: &'a [f32],
    /// The bias b (O).
    pub b: &'a [f32],
}

/// One layer's gradients, views into the network's flat gradient buffer:
/// dW (O, I) and db (O), and how the backward writes them.
#[derive(Debug)]
pub struct LinearGrads<'a> {
    /// dL/dW (O, I).
    pub dw: &'a mut [f32],
    /// dL/db (O).
    pub db: &'a mut [f32],
    /// Add this batch's gradients to what is there (`+=`), or overwrite it.
    pub accumulate: bool,
}

impl Linear {
    /// A layer mapping `in_features` inputs to `out_features` outputs.
    pub fn new(in_features: usize, out_features: usize) -> Self {
        Self {
            in_features,
            out_features,
        }
    }

    /// Elements of W: O·I.
    pub fn weight_len(&self) -> usize {
        self.out_features * self.in_features
    }

    /// PyTorch's default init (`nn.Linear.reset_parameters`): W and b
    /// uniform in `[−1/√I, 1/√I)`. For W, PyTorch writes it as
    /// `kaiming_uniform_(a = √5)`, whose bound `gain·√(3/I)` with
    /// `gain = √(2/(1 + a²)) = √(1/3)` is exactly `1/√I`.
    pub fn init(&self, rng: &mut impl Rng, w: &mut [f32], b: &mut [f32]) {
        let bound = 1.0 / (self.in_features as f32).sqrt();
        for v in w.iter_mut().chain(b.iter_mut()) {
            *v = rng.random_range(-bound..bound);
        }
    }

    fn check(
        &self,
        what: &'static str,
        got: usize,
        rows: usize,
        cols: usize,
        name: &str,
    ) -> Result<()> {
        check_len(what, got, rows * cols, || {
            format!("{name} is {rows} × {cols}")
        })
    }

    /// Forward: `Y = X·Wᵀ + b`, then `Y ← max(0, Y)` if `relu`, in one GEMM
    /// with the fused bias (+ ReLU) epilogue.
    ///
    /// Shapes: y (B, O) out; x (B, I), W (O, I), b (O) in, B = `x.rows`.
    /// Stores nothing itself: the caller keeps X (and Y) for the backward.
    pub fn forward(
        &self,
        cx: &Compute,
        y: &mut [f32],
        x: Rows,
        p: LinearParams,
        relu: bool,
    ) -> Result<()> {
        let (i, o, batch) = (self.in_features, self.out_features, x.rows);
        self.check("linear forward bias", p.b.len(), 1, o, "b")?;
        let xv = MatRef::row_major(x.data, batch, i)?; // (B, I)
        let wt = MatRef::row_major(p.w, o, i)?.t(); // (I, O) view of W (O, I)
        let mut yv = MatMut::row_major(y, batch, o)?; // (B, O)
        if batch <= SMALL_BATCH {
            // A few rows: one dot product per output, W read in place
            // (packing it would cost more than the product).
            rows_times_wt::<Wide>(x.data, i, p.w, Some(p.b), relu, yv.data_mut());
            return Ok(());
        }
        let epi = if relu {
            Epilogue::bias_relu(p.b)
        } else {
            Epilogue::bias(p.b)
        };
        Ok(matmul(cx, 1.0, xv, wt, 0.0, yv, epi)?)
    }

    /// Backward, given dY = dL/dY (B, O) and the forward's input X (B, I):
    ///
    /// - `dW += dYᵀ·X` (O, I): `Y[b, o] = Σ_i X[b, i]·W[o, i] + b[o]`, so
    ///   `∂L/∂W[o, i] = Σ_b dY[b, o]·X[b, i]`. One GEMM with β = 1 (so it
    ///   accumulates), dYᵀ a strided view.
    /// - `db += Σ_rows dY` (O): each `b[o]` is added to every row.
    /// - `dX = dY·W` (B, I): `∂L/∂X[b, i] = Σ_o dY[b, o]·W[o, i]`; written
    ///   (β = 0), not accumulated, since it feeds the layer below. Pass
    ///   `None` for the first layer: nothing needs dL/dX there.
    ///
    /// With `g.accumulate = false`, dW and db are overwritten instead
    /// (`dW = dYᵀ·X` with β = 0, `db = Σ_rows dY`): the same numbers as
    /// clearing them first, without the extra pass over the buffer.
    ///
    /// Shapes: dx (B, I) out; dW (O, I), db (O) out (or in-out); dy (B, O),
    /// x (B, I), W (O, I) in, B = `x.rows`.
    ///
    /// Each formula is also a method of its own ([`Linear::weight_grad`],
    /// [`Linear::bias_grad`], [`Linear::input_grad`]), which is how the
    /// network calls them, so a profiler can time each.
    pub fn backward(
        &self,
        cx: &Compute,
        dx: Option<&mut [f32]>,
        g: LinearGrads,
        dy: &[f32],
        x: Rows,
        w: &[f32],
    ) -> Result<()> {
        self.weight_grad(cx, g.dw, g.accumulate, dy, x)?;
        self.bias_grad(g.db, g.accumulate, dy, x.rows)?;
        if let Some(dx) = dx {
            self.input_grad(cx, dx, dy, w, x.rows, None)?;
        }
        Ok(())
    }

    /// `dW += dYᵀ·X` (O, I), or `dW = dYᵀ·X` when `accumulate` is false:
    /// one GEMM (β = 1 or 0), dYᵀ a strided view of dY (B, O).
    pub fn weight_grad(
        &self,
        cx: &Compute,
        dw: &mut [f32],
        accumulate: bool,
        dy: &[f32],
        x: Rows,
    ) -> Result<()> {
        let (i, o, batch) = (self.in_features, self.out_features, x.rows);
        let beta = if accumulate { 1.0 } else { 0.0 };
        let dyv = MatRef::row_major(dy, batch, o)?; // (B, O)
        let xv = MatRef::row_major(x.data, batch, i)?; // (B, I)
        let mut dwv = MatMut::row_major(dw, o, i)?; // (O, I)
        if batch <= SMALL_BATCH && !accumulate {
            // A few rows: row r of dW is Σ_b dY[b, r]·X[b, :], made with
            // the arithmetic an optimizer's factored step uses to make it
            // in registers (descent_core::step::Combination): same bits.
            let mut c = [0.0f32; SMALL_BATCH];
            for (r, row) in dwv.data_mut().chunks_exact_mut(i).enumerate() {
                for (b, cb) in c[..batch].iter_mut().enumerate() {
                    *cb = dy[b * o + r];
                }
                combine_rows_of::<Wide>(&c[..batch], x.data, i, row);
            }
            return Ok(());
        }
        Ok(matmul(cx, 1.0, dyv.t(), xv, beta, dwv, Epilogue::None)?)
    }

    /// SGD's (or momentum's) step on this layer's weight fused into the
    /// GEMM that makes its gradient: `W ← W − η·dYᵀ·X` as each tile of
    /// `dYᵀ·X` leaves the registers
    /// ([`descent_core::gemm::matmul_descend_with`]; momentum steps its
    /// buffer, in W's layout, too), the bits of [`Linear::weight_grad`]
    /// followed by `step::sgd` (or `step::momentum`), with dW never
    /// stored. Returns `‖dW‖²` (to a few `f32` ulps, the same on any
    /// threads), or `None` when the product is deeper than one k block of
    /// the GEMM (nothing is done; see [`Linear::descend_fits`]). For
    /// `batch > SMALL_BATCH`, where `weight_grad` runs the GEMM.
    #[allow(clippy::too_many_arguments)]
    pub fn weight_descend(
        &self,
        cx: &Compute,
        w: &mut [f32],
        step: DescentStep,
        dy: &[f32],
        x: Rows,
        squares: &mut Vec<f32>,
    ) -> Result<Option<f64>> {
        let (i, o, batch) = (self.in_features, self.out_features, x.rows);
        let dyv = MatRef::row_major(dy, batch, o)?; // (B, O)
        let xv = MatRef::row_major(x.data, batch, i)?; // (B, I)
        let wv = MatMut::row_major(w, o, i)?; // (O, I)
        Ok(descent_core::gemm::matmul_descend_with(
            cx,
            step,
            dyv.t(),
            xv,
            wv,
            squares,
        )?)
    }

    /// Whether [`Linear::weight_descend`] takes a batch of `batch` rows
    /// (the GEMM's k) rather than declining it.
    pub fn descend_fits(&self, cx: &Compute, batch: usize) -> bool {
        // dYᵀ, as `weight_descend` views it: (O, B) with strides (1, O).
        let o = self.out_features;
        descent_core::gemm::descend_fits(cx, batch, (1, o), self.in_features)
    }

    /// `db += Σ_b dY[b, :]` (O), or `db = Σ_b dY[b, :]` when `accumulate`
    /// is false; dY is (`batch`, O).
    pub fn bias_grad(
        &self,
        db: &mut [f32],
        accumulate: bool,
        dy: &[f32],
        batch: usize,
    ) -> Result<()> {
        let o = self.out_features;
        self.check("linear backward db", db.len(), 1, o, "db")?;
        self.check("linear backward dy", dy.len(), batch, o, "dY")?;
        if !accumulate {
            db.fill(0.0);
        }
        descent_core::ops::col_sums_acc(dy, batch, o, db);
        Ok(())
    }

    /// `dX = dY·W` (B, I), written (β = 0): dY (`batch`, O), W (O, I).
    /// With `relu_out` = A, the ReLU output this layer's input came from
    /// (B, I), the ReLU's backward is applied too: `dX = (dY·W) ⊙ [A > 0]`,
    /// in the product's store at B ≤ [`SMALL_BATCH`].
    pub fn input_grad(
        &self,
        cx: &Compute,
        dx: &mut [f32],
        dy: &[f32],
        w: &[f32],
        batch: usize,
        relu_out: Option<&[f32]>,
    ) -> Result<()> {
        let (i, o) = (self.in_features, self.out_features);
        let dyv = MatRef::row_major(dy, batch, o)?; // (B, O)
        let wv = MatRef::row_major(w, o, i)?; // (O, I)
        let mut dxv = MatMut::row_major(dx, batch, i)?; // (B, I)
        if let Some(a) = relu_out {
            self.check("linear backward relu output", a.len(), batch, i, "A")?;
        }
        if batch <= SMALL_BATCH {
            rows_times_w::<Wide>(dy, o, w, relu_out, dxv.data_mut());
            return Ok(());
        }
        matmul(cx, 1.0, dyv, wv, 0.0, dxv, Epilogue::None)?;
        if let Some(a) = relu_out {
            relu_backward::<Wide>(a, dx);
        }
        Ok(())
    }

    /// Naive twin of [`Linear::forward`]: the GEMM written as loops, for
    /// tests (the same math, nothing shared with the fast path but the
    /// core's `gemm_naive` triple loop).
    pub fn forward_naive(&self, y: &mut [f32], x: Rows, p: LinearParams, relu: bool) -> Result<()> {
        let (i, o, batch) = (self.in_features, self.out_features, x.rows);
        self.check("linear forward bias", p.b.len(), 1, o, "b")?;
        let xv = MatRef::row_major(x.data, batch, i)?;
        let wt = MatRef::row_major(p.w, o, i)?.t();
        let epi = if relu {
            Epilogue::bias_relu(p.b)
        } else {
            Epilogue::bias(p.b)
        };
        gemm_naive(1.0, xv, wt, 0.0, MatMut::row_major(y, batch, o)?, epi)?;
        Ok(())
    }

    /// Naive twin of [`Linear::backward`]: each formula as index loops
    /// (honouring `g.accumulate` as the fast form does).
    pub fn backward_naive(
        &self,
        dx: Option<&mut [f32]>,
        g: LinearGrads,
        dy: &[f32],
        x: Rows,
        w: &[f32],
    ) -> Result<()> {
        let (ni, no, batch) = (self.in_features, self.out_features, x.rows);
        let (dw, db, x) = (g.dw, g.db, x.data);
        if !g.accumulate {
            dw.fill(0.0);
            db.fill(0.0);
        }
        self.check("linear backward dy", dy.len(), batch, no, "dY")?;
        self.check("linear backward x", x.len(), batch, ni, "X")?;
        self.check("linear backward w", w.len(), no, ni, "W")?;
        self.check("linear backward dw", dw.len(), no, ni, "dW")?;
        self.check("linear backward db", db.len(), 1, no, "db")?;
        for o in 0..no {
            for i in 0..ni {
                let mut s = 0.0f32;
                for r in 0..batch {
                    s += dy[r * no + o] * x[r * ni + i];
                }
                dw[o * ni + i] += s;
            }
            for r in 0..batch {
                db[o] += dy[r * no + o];
            }
        }
        if let Some(dx) = dx {
            self.check("linear backward dx", dx.len(), batch, ni, "dX")?;
            for r in 0..batch {
                for i in 0..ni {
                    let mut s = 0.0f32;
                    for o in 0..no {
                        s += dy[r * no + o] * w[o * ni + i];
                    }
                    dx[r * ni + i] = s;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn random(len: usize, rng: &mut ChaCha8Rng) -> Vec<f32> {
        (0..len).map(|_| rng.random_range(-1.0f32..1.0)).collect()
    }

    fn assert_close(a: &[f32], b: &[f32], tol: f32, what: &str) {
        assert_eq!(a.len(), b.len());
        for (k, (&x, &y)) in a.iter().zip(b).enumerate() {
            assert!(
                (x - y).abs() <= tol * (1.0 + y.abs()),
                "{what}[{k}]: {x} vs {y}"
            );
        }
    }

    #[test]
    fn fast_matches_naive_on_odd_shapes() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for &(batch, i, o) in &[
            (1, 1, 1),
            (3, 5, 7),
            (7, 17, 13),
            (13, 33, 19),
            (64, 70, 10),
        ] {
            let layer = Linear::new(i, o);
            let x = random(batch * i, &mut rng);
            let w = random(o * i, &mut rng);
            let b = random(o, &mut rng);
            let dy = random(batch * o, &mut rng);
            let (x, p) = (
                Rows {
                    data: &x,
                    rows: batch,
                },
                LinearParams { w: &w, b: &b },
            );
            for relu in [false, true] {
                let mut y1 = vec![f32::NAN; batch * o];
                let mut y2 = vec![0.0; batch * o];
                layer
                    .forward(&Compute::serial(), &mut y1, x, p, relu)
                    .unwrap();
                layer.forward_naive(&mut y2, x, p, relu).unwrap();
                assert_close(&y1, &y2, 1e-5 * i as f32, "y");
            }
            // Start from nonzero gradients to check both accumulation and
            // overwriting (and that NaN there is overwritten, not read).
            for accumulate in [true, false] {
                let fill = |v: Vec<f32>| {
                    if accumulate {
                        v
                    } else {
                        vec![f32::NAN; v.len()]
                    }
                };
                let dw0 = fill(random(o * i, &mut rng));
                let db0 = fill(random(o, &mut rng));
                let (mut dw1, mut db1, mut dx1) =
                    (dw0.clone(), db0.clone(), vec![f32::NAN; batch * i]);
                let (mut dw2, mut db2, mut dx2) = (dw0.clone(), db0.clone(), vec![0.0; batch * i]);
                let g1 = LinearGrads {
                    dw: &mut dw1,
                    db: &mut db1,
                    accumulate,
                };
                let g2 = LinearGrads {
                    dw: &mut dw2,
                    db: &mut db2,
                    accumulate,
                };
                layer
                    .backward(&Compute::threads(2), Some(&mut dx1), g1, &dy, x, &w)
                    .unwrap();
                layer
                    .backward_naive(Some(&mut dx2), g2, &dy, x, &w)
                    .unwrap();
                let tol = 1e-5 * (batch + o) as f32;
                assert_close(&dw1, &dw2, tol, "dw");
                assert_close(&db1, &db2, tol, "db");
                assert_close(&dx1, &dx2, tol, "dx");
            }
        }
    }

    #[test]
    fn init_is_pytorch_bound_and_seeded() {
        let layer = Linear::new(784, 16);
        let (mut w, mut b) = (vec![0.0; 784 * 16], vec![0.0; 16]);
        layer.init(&mut ChaCha8Rng::seed_from_u64(1), &mut w, &mut b);
        let bound = 1.0 / 28.0;
        assert!(w.iter().chain(&b).all(|v| v.abs() <= bound));
        // Spread over the range: the max is near the bound, mean near 0.
        let max = w.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!(max > 0.95 * bound, "{max}");
        let mean = w.iter().sum::<f32>() / w.len() as f32;
        assert!(mean.abs() < 0.05 * bound, "{mean}");
        let (mut w2, mut b2) = (vec![0.0; 784 * 16], vec![0.0; 16]);
        layer.init(&mut ChaCha8Rng::seed_from_u64(1), &mut w2, &mut b2);
        assert_eq!(w, w2);
        assert_eq!(b, b2);
    }

    #[test]
    fn shape_errors_name_the_operand() {
        let layer = Linear::new(3, 2);
        let mut y = vec![0.0; 4];
        let rows = |data| Rows { data, rows: 2 };
        let p = |b| LinearParams { w: &[0.0; 6], b };
        let e = layer
            .forward(
                &Compute::serial(),
                &mut y,
                rows(&[0.0; 6]),
                p(&[0.0; 3]),
                false,
            )
            .unwrap_err();
        assert!(e.to_string().contains("bias"), "{e}");
        let e = layer
            .forward(
                &Compute::serial(),
                &mut y,
                rows(&[0.0; 5]),
                p(&[0.0; 2]),
                false,
            )
            .unwrap_err();
        assert!(e.to_string().contains("[2, 3]"), "{e}");
    }
}
