//! Helpers shared by the core's integration tests.

use descent_core::{gemm_naive, matmul, Compute, Config, Epilogue, MatMut, MatRef};

/// Computes `C ← epi(α·A·B + β·C)` twice, with [`matmul`] forced to `cfg` and with its naive
/// twin [`gemm_naive`], each into its own row-major copy of `c0`
/// (`A.rows() × B.cols()`), and returns `(fast, naive)`.
pub fn fast_and_naive(
    cfg: &Config,
    alpha: f32,
    a: MatRef,
    b: MatRef,
    beta: f32,
    c0: &[f32],
    epi: Epilogue,
) -> (Vec<f32>, Vec<f32>) {
    let (m, n) = (a.rows(), b.cols());
    let mut fast = c0.to_vec();
    let mut naive = c0.to_vec();
    matmul(
        &Compute::serial().with_gemm(*cfg),
        alpha,
        a,
        b,
        beta,
        MatMut::row_major(&mut fast, m, n).unwrap(),
        epi,
    )
    .unwrap();
    gemm_naive(
        alpha,
        a,
        b,
        beta,
        MatMut::row_major(&mut naive, m, n).unwrap(),
        epi,
    )
    .unwrap();
    (fast, naive)
}
