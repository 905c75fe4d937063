//! Every gradient rule against PyTorch itself: 50 steps from the same
//! initial weights with the same gradients, the weights and every state
//! buffer compared after steps 1, 10 and 50.
//!
//! The reference numbers are PyTorch's (and `lion-pytorch`'s and
//! `schedulefree`'s, whose averaged weights x are compared too), written by
//! `scripts/pytorch-parity.py` into `tests/data/torch-parity.json`, which
//! also holds the problem: 37 weights (for Adafactor also as a 5 × 7
//! matrix and a vector of 2), `g = a·(p − c) + noiseₜ`, each
//! operation in `f32`, so both sides compute the same gradient bits from
//! the same weights. Regenerate it with the command in the script's
//! docstring; the file records the torch version.
//!
//! The measure is the largest difference in a buffer relative to that
//! buffer's largest magnitude: `max|x − x_torch| / max|x_torch|`. The
//! kernels round differently from torch's chain of tensor operations (one
//! FMA where torch rounds twice, one `f64` constant where torch multiplies
//! three tensors), a few ulps a step, and 50 steps of a contracting
//! iteration keep that below 1e-6 (Lion, Rprop, ASGD and SGD match torch
//! bit for bit).

use descent_optim::{Block, Compute, Hyper, OptimizerConfig, OptimizerKind, Updater};
use serde_json::Value;

/// The largest relative difference allowed after 50 steps.
const TOLERANCE: f64 = 1e-6;

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .expect("an array of numbers")
        .iter()
        .map(|x| x.as_f64().expect("a number") as f32)
        .collect()
}

fn rel(ours: &[f32], theirs: &[f32]) -> f64 {
    assert_eq!(ours.len(), theirs.len());
    let scale = theirs.iter().fold(0.0f64, |m, &y| m.max(y.abs() as f64));
    let worst = ours
        .iter()
        .zip(theirs)
        .fold(0.0f64, |m, (&x, &y)| m.max((x as f64 - y as f64).abs()));
    if worst == 0.0 {
        0.0
    } else {
        worst / scale.max(f64::MIN_POSITIVE)
    }
}

#[test]
fn fifty_steps_match_pytorch() {
    let text = include_str!("data/torch-parity.json");
    let d: Value = serde_json::from_str(text).unwrap();
    let (a, c, p0) = (floats(&d["a"]), floats(&d["c"]), floats(&d["p0"]));
    let noise: Vec<Vec<f32>> = d["noise"].as_array().unwrap().iter().map(floats).collect();
    let mut report = Vec::new();
    let mut failures = Vec::new();
    for case in d["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let kind: OptimizerKind = case["kind"].as_str().unwrap().parse().unwrap();
        let hyper: Hyper = serde_json::from_value(case["hyper"].clone()).unwrap();
        let mut opt = OptimizerConfig::new(kind, &hyper, None, 0)
            .unwrap()
            .build()
            .unwrap()
            .into_gradient()
            .unwrap();
        // The tensors' shapes (a 5 × 7 matrix and a vector, for the rules
        // that treat matrices as matrices), bound as the trainer binds them.
        let mut at = 0;
        let blocks: Vec<Block> = case["shapes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|sh| {
                let sh: Vec<usize> = serde_json::from_value(sh.clone()).unwrap();
                let b = Block::of_shape(at, &sh);
                at += b.len();
                b
            })
            .collect();
        opt.bind(&blocks).unwrap();
        let mut p = p0.clone();
        let mut worst = 0.0f64;
        for (t, n) in noise.iter().enumerate() {
            let g: Vec<f32> = (0..p.len()).map(|i| a[i] * (p[i] - c[i]) + n[i]).collect();
            opt.step(&Compute::serial(), &mut p, &g).unwrap();
            let Some(check) = case["checks"].get((t + 1).to_string()) else {
                continue;
            };
            let st = opt.export_state();
            let mut errs = vec![("params".to_string(), rel(&p, &floats(&check["params"])))];
            match (check.get("eval"), opt.eval_weights(&p)) {
                (Some(want), Some(x)) => errs.push(("eval weights".into(), rel(&x, &floats(want)))),
                (None, None) => {}
                (want, _) => panic!("{name}: torch evaluates at {want:?}, descent disagrees"),
            }
            for (buf, want) in check["state"].as_object().unwrap() {
                let ours = st
                    .buffers
                    .iter()
                    .find(|(b, _)| b == buf)
                    .unwrap_or_else(|| panic!("{name}: descent has no state {buf:?}"));
                errs.push((buf.clone(), rel(&ours.1, &floats(want))));
            }
            for (s, want) in check["scalars"].as_object().unwrap() {
                let ours = st
                    .scalars
                    .iter()
                    .find(|(n, _)| n == s)
                    .unwrap_or_else(|| panic!("{name}: descent carries no {s:?}"));
                let want = want.as_f64().unwrap();
                errs.push((s.clone(), (ours.1 - want).abs() / want.abs()));
            }
            for (what, e) in errs {
                worst = worst.max(e);
                if e > TOLERANCE {
                    failures.push(format!("{name}, step {}: {what} differs by {e:.2e}", t + 1));
                }
            }
        }
        report.push(format!("{name:32} {worst:.2e}"));
    }
    eprintln!(
        "largest relative difference from torch {} over 50 steps:\n{}",
        d["torch"],
        report.join("\n")
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// L-BFGS against `torch.optim.LBFGS`: one step of up to `max_iter`
/// iterations on `f(p) = Σ ½·a·(p − c)² + n·p`, with and without the
/// strong-Wolfe line search, judged by the weights and the loss as the
/// issue asks. Its stopping tests compare changes of 1e-9 with f32
/// rounding, so after the first step the two libraries may stop an
/// iteration apart (they do here at step 2: 31 evaluations against 33);
/// within the step they take the same iterations and evaluations, and the
/// weights agree to 1e-4 relative.
#[test]
fn lbfgs_matches_pytorch() {
    let text = include_str!("data/torch-parity.json");
    let d: Value = serde_json::from_str(text).unwrap();
    let (a, c, p0) = (floats(&d["a"]), floats(&d["c"]), floats(&d["p0"]));
    let n0 = floats(&d["noise"][0]);
    let mut report = Vec::new();
    for case in d["lbfgs"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let hyper: Hyper = serde_json::from_value(case["hyper"].clone()).unwrap();
        let Updater::Lbfgs(mut opt) = OptimizerConfig::new(OptimizerKind::Lbfgs, &hyper, None, 0)
            .unwrap()
            .build()
            .unwrap()
        else {
            panic!("lbfgs builds an L-BFGS updater");
        };
        let mut p = p0.clone();
        let mut evals = 0u64;
        let mut worst = 0.0f64;
        for t in 1..=1 {
            let info = opt
                .step(&mut p, |w: &[f32], g: &mut [f32]| {
                    let mut f = 0.0f32;
                    for i in 0..w.len() {
                        let r = w[i] - c[i];
                        g[i] = a[i] * r + n0[i];
                        f += 0.5 * a[i] * r * r + n0[i] * w[i];
                    }
                    evals += 1;
                    Ok::<f32, descent_optim::OptimError>(f)
                })
                .unwrap();
            let check = &case["checks"][t.to_string()];
            let e = rel(&p, &floats(&check["params"]));
            worst = worst.max(e);
            assert!(e <= 1e-4, "{name}, step {t}: weights differ by {e:.2e}");
            let want = check["loss"].as_f64().unwrap();
            assert!(
                (info.loss as f64 - want).abs() <= 1e-4 * want.abs().max(1.0),
                "{name}, step {t}: loss {} vs torch {want}",
                info.loss
            );
            assert_eq!(
                evals,
                check["func_evals"].as_u64().unwrap(),
                "{name}, step {t}: evaluations"
            );
        }
        report.push(format!("{name:32} {worst:.2e}"));
    }
    eprintln!(
        "L-BFGS, largest relative difference from torch after one step:\n{}",
        report.join("\n")
    );
}
