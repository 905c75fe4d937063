//! Helpers shared by the core's integration tests.

use descent_core::gemm::blocking::{Caches, KNOWN_CPUS};
use descent_core::{gemm_naive, matmul, Compute, Config, Epilogue, Kernel, MatMut, MatRef};

/// Each kernel under each known CPU's blocking and this machine's, named.
#[allow(dead_code)] // Not every test file that shares this module uses it.
pub fn known_cpu_configs() -> Vec<(String, Config)> {
    let mut cpus: Vec<(&str, Caches)> = KNOWN_CPUS.iter().map(|c| (c.name, c.caches)).collect();
    cpus.push(("this machine", Caches::detect()));
    let mut out = vec![];
    for (name, caches) in &cpus {
        for kernel in Kernel::ALL {
            let cfg = Config::new(kernel, caches);
            out.push((format!("{name}: {}", cfg.describe()), cfg));
        }
    }
    out
}

/// Computes `C ← epi(α·A·B + β·C)` twice, with [`matmul`] forced to `cfg` and with its naive
/// twin [`gemm_naive`], each into its own row-major copy of `c0`
/// (`A.rows() × B.cols()`), and returns `(fast, naive)`.
#[allow(dead_code)] // Not every test file that shares this module uses it.
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
