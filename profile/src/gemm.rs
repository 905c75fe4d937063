//! Every GEMM of a step alone, timed by descent and by matrixmultiply on
//! the same operands and layout: the profile's `--compare matrixmultiply`
//! and the `train_step` bench's `gemm` group.

use std::hint::black_box;
use std::time::Instant;

use descent_core::{AlignedVec, Compute};
use descent_nn::Phase as N;
use descent_nn::{Activation, Linear, LinearParams, Rows};
use descent_train::Phase;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::stats::Spread;

/// One GEMM of a step, set up alone with the step's shapes and random
/// operands, to be timed in isolation by descent and by matrixmultiply on
/// the same memory layout. The criterion bench `train_step` times these
/// same cases (`train_step/gemm/…`), so its figures and a profile's agree.
pub struct GemmCase {
    /// The phase it is: the network's [`N::Forward`], [`N::WeightGrad`] or
    /// [`N::InputGrad`].
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
                    .input_grad(cx, &mut self.out, &self.dy, &self.w, self.batch, None)
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
