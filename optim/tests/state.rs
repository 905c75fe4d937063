//! Export then import continues exactly like an uninterrupted run, and bad
//! states and lengths are typed errors.

use descent_optim::Compute;
use descent_optim::*;

/// Makes a fresh optimizer with one fixed config.
type Maker = Box<dyn Fn() -> Box<dyn Optimizer>>;

fn configs() -> Vec<(&'static str, Maker)> {
    let named: Vec<(&'static str, Maker)> = vec![
        (
            "sgd",
            Box::new(|| {
                Box::new(
                    Sgd::new(SgdConfig {
                        lr: 0.01,
                        weight_decay: 0.1,
                        ..Default::default()
                    })
                    .unwrap(),
                )
            }),
        ),
        (
            "momentum",
            Box::new(|| {
                Box::new(
                    Sgd::new(SgdConfig {
                        lr: 0.01,
                        momentum: 0.9,
                        dampening: 0.1,
                        ..Default::default()
                    })
                    .unwrap(),
                )
            }),
        ),
        (
            "nesterov",
            Box::new(|| {
                Box::new(
                    Sgd::new(SgdConfig {
                        lr: 0.01,
                        momentum: 0.9,
                        nesterov: true,
                        clip_norm: Some(1.0),
                        ..Default::default()
                    })
                    .unwrap(),
                )
            }),
        ),
        (
            "adagrad",
            Box::new(|| {
                Box::new(
                    Adagrad::new(AdagradConfig {
                        lr_decay: 0.1,
                        initial_accumulator_value: 0.5,
                        ..Default::default()
                    })
                    .unwrap(),
                )
            }),
        ),
        (
            "rmsprop",
            Box::new(|| Box::new(Rmsprop::new(RmspropConfig::default()).unwrap())),
        ),
        (
            "rmsprop centered momentum",
            Box::new(|| {
                Box::new(
                    Rmsprop::new(RmspropConfig {
                        centered: true,
                        momentum: 0.5,
                        maximize: true,
                        ..Default::default()
                    })
                    .unwrap(),
                )
            }),
        ),
        (
            "adam",
            Box::new(|| Box::new(Adam::new(AdamConfig::default()).unwrap())),
        ),
        (
            "adam amsgrad clip",
            Box::new(|| {
                Box::new(
                    Adam::new(AdamConfig {
                        amsgrad: true,
                        clip_norm: Some(0.5),
                        weight_decay: 0.1,
                        ..Default::default()
                    })
                    .unwrap(),
                )
            }),
        ),
        (
            "adamw",
            Box::new(|| Box::new(Adam::new(AdamConfig::adamw()).unwrap())),
        ),
        (
            "asgd averaging from step 3, with carried eta and mu",
            Box::new(|| {
                Box::new(
                    Asgd::new(AsgdConfig {
                        t0: 3.0,
                        lambd: 0.1,
                        weight_decay: 0.01,
                        ..Default::default()
                    })
                    .unwrap(),
                )
            }),
        ),
        (
            "nadamw",
            Box::new(|| {
                Box::new(
                    Nadam::new(NadamConfig {
                        weight_decay: 0.1,
                        decoupled_weight_decay: true,
                        ..Default::default()
                    })
                    .unwrap(),
                )
            }),
        ),
    ];
    named
        .into_iter()
        .chain(
            // Every gradient kind at descent's defaults, from the kind table.
            OptimizerKind::ALL
                .into_iter()
                // L-BFGS steps through a closure, not `Optimizer::step`: its
                // state is tested in parity.rs and the CLI's resume test.
                .filter(|k| k.uses_gradient() && *k != OptimizerKind::Lbfgs)
                .map(|k| -> (&'static str, Maker) {
                    (
                        k.as_str(),
                        Box::new(move || {
                            let c = OptimizerConfig::new(k, &Hyper::default(), None, 0).unwrap();
                            c.build().unwrap().into_gradient().unwrap()
                        }),
                    )
                }),
        )
        .collect()
}

/// Deterministic pseudo-gradients that depend on the parameters (so a wrong
/// resume would diverge), for a 37-element buffer (not a multiple of 8).
///
/// Only `+`, `*` and integers: an earlier version used `sin`, and in release
/// builds, where this function is inlined into each loop below, one value
/// came out one bit different in one loop than in the other (with the
/// function kept out of line the runs agreed), so the test failed without
/// any optimizer being wrong.
fn grad(p: &[f32], t: usize) -> Vec<f32> {
    p.iter()
        .enumerate()
        .map(|(i, &x)| x * 0.7 + ((i * 13 + t * 7) % 17) as f32 * 0.0625 - 0.5)
        .collect()
}

/// Binds `o` to a buffer of `n` laid out as a matrix and a vector (the
/// rules that treat matrices as matrices need shapes; the others ignore
/// them): `r × c` with `r ≈ √n / 2`, the rest a vector.
fn bind(o: &mut dyn Optimizer, n: usize) {
    let rows = ((n as f64).sqrt() / 2.0).max(1.0) as usize;
    let cols = n.saturating_sub(2) / rows;
    let m = rows * cols;
    let mut blocks = vec![Block::Matrix {
        start: 0,
        rows,
        cols,
    }];
    if m < n {
        blocks.push(Block::Vector {
            start: m,
            len: n - m,
        });
    }
    o.bind(&blocks).unwrap();
}

fn bits(x: &[f32]) -> Vec<u32> {
    x.iter().map(|v| v.to_bits()).collect()
}

#[test]
fn resume_is_bit_identical() {
    let n = 37;
    for (name, make) in configs() {
        let p0: Vec<f32> = (0..n).map(|i| (i as f32 * 0.2).cos()).collect();
        // Uninterrupted: 12 steps.
        let mut a = make();
        bind(a.as_mut(), n);
        let mut pa = p0.clone();
        for t in 0..12 {
            let g = grad(&pa, t);
            a.step(&Compute::serial(), &mut pa, &g).unwrap();
        }
        // 5 steps, checkpoint, a fresh optimizer imports, 7 more steps.
        let mut b = make();
        bind(b.as_mut(), n);
        let mut pb = p0.clone();
        for t in 0..5 {
            let g = grad(&pb, t);
            b.step(&Compute::serial(), &mut pb, &g).unwrap();
        }
        let ck = b.export_state();
        assert_eq!(ck.step, 5, "{name}");
        drop(b);
        let mut c = make();
        bind(c.as_mut(), n);
        c.import_state(&ck).unwrap();
        assert_eq!(c.steps(), 5);
        for t in 5..12 {
            let g = grad(&pb, t);
            c.step(&Compute::serial(), &mut pb, &g).unwrap();
        }
        assert_eq!(bits(&pa), bits(&pb), "{name}: resumed run diverged");
        assert_eq!(a.export_state(), c.export_state(), "{name}");
    }
}

#[test]
fn state_names_are_pytorch_names() {
    let names = |o: &mut dyn Optimizer| {
        let mut p = vec![1.0f32; 3];
        o.step(&Compute::serial(), &mut p, &[0.1, 0.2, 0.3])
            .unwrap();
        o.export_state()
            .buffers
            .into_iter()
            .map(|(n, b)| (n, b.len()))
            .collect::<Vec<_>>()
    };
    let s = |v: &[&str]| v.iter().map(|n| (n.to_string(), 3)).collect::<Vec<_>>();
    assert_eq!(names(&mut Sgd::new(SgdConfig::default()).unwrap()), s(&[]));
    assert_eq!(
        names(
            &mut Sgd::new(SgdConfig {
                momentum: 0.9,
                ..Default::default()
            })
            .unwrap()
        ),
        s(&["momentum_buffer"])
    );
    assert_eq!(
        names(&mut Adagrad::new(AdagradConfig::default()).unwrap()),
        s(&["sum"])
    );
    assert_eq!(
        names(
            &mut Rmsprop::new(RmspropConfig {
                centered: true,
                momentum: 0.1,
                ..Default::default()
            })
            .unwrap()
        ),
        s(&["square_avg", "grad_avg", "momentum_buffer"])
    );
    assert_eq!(
        names(
            &mut Adam::new(AdamConfig {
                amsgrad: true,
                ..Default::default()
            })
            .unwrap()
        ),
        s(&["exp_avg", "exp_avg_sq", "max_exp_avg_sq"])
    );
}

#[test]
fn carried_scalars_are_state_and_checked_on_import() {
    let mut o = Asgd::new(AsgdConfig::default()).unwrap();
    let mut p = vec![1.0f32; 5];
    o.step(&Compute::serial(), &mut p, &[0.5; 5]).unwrap();
    let st = o.export_state();
    let names: Vec<&str> = st.scalars.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["eta", "mu"]);
    // η₂ = γ / (1 + λγ·1)^α, stored as an f32 as torch's tensor.
    let eta2 = (0.01f32 as f64 / (1.0 + 1e-4f32 as f64 * 0.01f32 as f64).powf(0.75)) as f32;
    assert_eq!(st.scalars[0].1, eta2 as f64);
    let mut missing = st.clone();
    missing.scalars.pop();
    assert!(matches!(
        o.import_state(&missing),
        Err(OptimError::MissingBuffer { ref name, .. }) if name == "mu"
    ));
    let mut extra = st.clone();
    extra.scalars.push(("mu_product".into(), 1.0));
    assert!(matches!(
        o.import_state(&extra),
        Err(OptimError::UnexpectedBuffer { ref name, .. }) if name == "mu_product"
    ));
    // A rule that carries nothing refuses a scalar.
    let mut adam = Adam::new(AdamConfig::default()).unwrap();
    let mut s = adam_state(5, 5);
    s.scalars.push(("eta".into(), 0.1));
    assert!(matches!(
        adam.import_state(&s),
        Err(OptimError::UnexpectedBuffer { .. })
    ));
    o.import_state(&st).unwrap();
    assert_eq!(o.export_state(), st);
}

#[test]
fn fresh_state_exports_nothing_and_imports_as_reset() {
    let mut o = Adam::new(AdamConfig::default()).unwrap();
    assert_eq!(o.export_state(), OptimState::default());
    let mut p = vec![1.0f32; 4];
    o.step(&Compute::serial(), &mut p, &[1.0; 4]).unwrap();
    o.import_state(&OptimState::default()).unwrap();
    assert_eq!(o.steps(), 0);
    // After a reset the buffers are re-sized to the next parameters.
    let mut q = vec![1.0f32; 9];
    o.step(&Compute::serial(), &mut q, &[1.0; 9]).unwrap();
}

fn adam_state(len_m: usize, len_v: usize) -> OptimState {
    OptimState {
        step: 3,
        buffers: vec![
            ("exp_avg".into(), vec![0.0; len_m]),
            ("exp_avg_sq".into(), vec![0.0; len_v]),
        ],
        scalars: vec![],
    }
}

#[test]
fn bad_imports_are_typed_errors() {
    let mut o = Adam::new(AdamConfig::default()).unwrap();
    // Wrong length.
    assert!(matches!(
        o.import_state(&adam_state(4, 5)),
        Err(OptimError::BufferLength { ref name, expected: 4, got: 5, .. }) if name == "exp_avg_sq"
    ));
    // Missing buffer.
    let mut s = adam_state(4, 4);
    s.buffers.pop();
    assert!(
        matches!(o.import_state(&s), Err(OptimError::MissingBuffer { ref name, .. }) if name == "exp_avg_sq")
    );
    // Unexpected buffer (AMSGrad's, into a plain Adam).
    let mut s = adam_state(4, 4);
    s.buffers.push(("max_exp_avg_sq".into(), vec![0.0; 4]));
    assert!(
        matches!(o.import_state(&s), Err(OptimError::UnexpectedBuffer { ref name, .. }) if name == "max_exp_avg_sq")
    );
    // Duplicated buffer.
    let mut s = adam_state(4, 4);
    s.buffers.push(("exp_avg".into(), vec![0.0; 4]));
    assert!(matches!(
        o.import_state(&s),
        Err(OptimError::UnexpectedBuffer { .. })
    ));
    // Steps without buffers, buffers without steps.
    assert!(matches!(
        o.import_state(&OptimState {
            step: 2,
            buffers: vec![],
            scalars: vec![],
        }),
        Err(OptimError::InconsistentState {
            step: 2,
            buffers: 0,
            ..
        })
    ));
    let mut s = adam_state(4, 4);
    s.step = 0;
    assert!(matches!(
        o.import_state(&s),
        Err(OptimError::InconsistentState {
            step: 0,
            buffers: 2,
            ..
        })
    ));
    // A failed import leaves the optimizer as it was.
    assert_eq!(o.steps(), 0);
    // Plain SGD has no buffers at all.
    let mut sgd = Sgd::new(SgdConfig::default()).unwrap();
    assert!(matches!(
        sgd.import_state(&OptimState {
            step: 1,
            buffers: vec![("momentum_buffer".into(), vec![0.0])],
            scalars: vec![],
        }),
        Err(OptimError::UnexpectedBuffer { .. })
    ));
    sgd.import_state(&OptimState {
        step: 4,
        buffers: vec![],
        scalars: vec![],
    })
    .unwrap();
    assert_eq!(sgd.steps(), 4);
}

#[test]
fn length_mismatches_are_typed_errors_and_change_nothing() {
    for (name, make) in configs() {
        let mut o = make();
        bind(o.as_mut(), 5);
        let mut p = vec![1.0f32; 5];
        let e = o.step(&Compute::serial(), &mut p, &[0.5; 4]).unwrap_err();
        assert!(
            matches!(
                e,
                OptimError::LengthMismatch {
                    expected: 5,
                    got: 4,
                    ..
                }
            ),
            "{name}: {e}"
        );
        assert_eq!(o.steps(), 0, "{name}");
        assert_eq!(p, vec![1.0; 5], "{name}");
        o.step(&Compute::serial(), &mut p, &[0.5; 5]).unwrap();
        if o.export_state().buffers.is_empty() {
            continue; // plain SGD: no state, any length is fine
        }
        let before = o.export_state();
        let mut q = vec![1.0f32; 6];
        let e = o.step(&Compute::serial(), &mut q, &[0.5; 6]).unwrap_err();
        assert!(
            matches!(
                e,
                OptimError::LengthMismatch {
                    expected: 5,
                    got: 6,
                    ..
                }
            ),
            "{name}: {e}"
        );
        assert_eq!(o.export_state(), before, "{name}");
    }
}

#[test]
fn import_then_wrong_length_step_is_an_error() {
    let mut o = Adam::new(AdamConfig::default()).unwrap();
    o.import_state(&adam_state(4, 4)).unwrap();
    let mut p = vec![0.0f32; 3];
    assert!(matches!(
        o.step(&Compute::serial(), &mut p, &[0.0; 3]),
        Err(OptimError::LengthMismatch {
            expected: 4,
            got: 3,
            ..
        })
    ));
}

#[test]
fn clipping_reports_the_pre_clip_norm() {
    let mut o = Sgd::new(SgdConfig {
        lr: 1.0,
        clip_norm: Some(1.0),
        ..Default::default()
    })
    .unwrap();
    let mut p = vec![0.0f32; 2];
    let info = o.step(&Compute::serial(), &mut p, &[3.0, 4.0]).unwrap();
    assert_eq!(info.grad_norm, 5.0);
    assert!((info.clip_scale - 0.2).abs() < 1e-6);
    assert!(
        (p[0] + 0.6).abs() < 1e-6 && (p[1] + 0.8).abs() < 1e-6,
        "{p:?}"
    );
    // Below the threshold nothing is scaled.
    let info = o.step(&Compute::serial(), &mut p, &[0.3, 0.4]).unwrap();
    assert_eq!(info.clip_scale, 1.0);
    // Without clipping the norm is still reported, and nothing is scaled.
    let mut o = Sgd::new(SgdConfig::default()).unwrap();
    assert_eq!(
        o.step(&Compute::serial(), &mut p, &[3.0, 4.0]).unwrap(),
        StepInfo {
            grad_norm: 5.0,
            clip_scale: 1.0,
            applied: true,
        }
    );
}

#[test]
fn set_lr_is_used_and_validated() {
    let mut o = Sgd::new(SgdConfig {
        lr: 0.1,
        ..Default::default()
    })
    .unwrap();
    o.set_lr(0.5).unwrap();
    assert_eq!(o.lr(), 0.5);
    let mut p = vec![1.0f32];
    o.step(&Compute::serial(), &mut p, &[1.0]).unwrap();
    assert_eq!(p[0], 0.5);
    for bad in [-0.1, f32::NAN, f32::INFINITY] {
        assert!(matches!(
            o.set_lr(bad),
            Err(OptimError::InvalidConfig { field: "lr", .. })
        ));
    }
    assert_eq!(o.lr(), 0.5);
}

/// The step on two threads is the same bits as on one, with the same
/// norm and clipping factor, for every optimizer, over several steps; and
/// a non-finite gradient updates nothing, not even the step count.
#[test]
fn threads_give_the_same_bits_and_a_nonfinite_gradient_updates_nothing() {
    let n = 1003;
    let two = Compute::threads(2);
    // L-BFGS steps through a closure (and takes no clipping).
    for kind in OptimizerKind::ALL
        .into_iter()
        .filter(|&k| k != OptimizerKind::Lbfgs)
    {
        for clip_norm in [None, Some(0.5)] {
            let build = || {
                OptimizerConfig::new(kind, &Hyper::default(), clip_norm, 0)
                    .unwrap()
                    .build()
                    .unwrap()
                    .into_gradient()
            };
            let (Some(mut a), Some(mut b)) = (build(), build()) else {
                continue; // random search takes no gradient
            };
            bind(a.as_mut(), n);
            bind(b.as_mut(), n);
            let mut pa: Vec<f32> = (0..n)
                .map(|i| ((i * 13 % 29) as f32 - 14.0) / 9.0)
                .collect();
            let mut pb = pa.clone();
            for t in 0..4 {
                let g: Vec<f32> = (0..n)
                    .map(|i| (((i + 7 * t) * 31 % 37) as f32 - 18.0) / 5.0)
                    .collect();
                let ia = a.step(&Compute::serial(), &mut pa, &g).unwrap();
                let ib = b.step(&two, &mut pb, &g).unwrap();
                assert_eq!(ia.grad_norm.to_bits(), ib.grad_norm.to_bits());
                assert_eq!(ia.clip_scale.to_bits(), ib.clip_scale.to_bits());
                if clip_norm.is_some() {
                    assert!(ia.clip_scale < 1.0, "{kind}: the test must clip");
                }
            }
            let same = pa.iter().zip(&pb).all(|(x, y)| x.to_bits() == y.to_bits());
            assert!(same, "{kind} {clip_norm:?}: two threads differ from one");
            for bad in [f32::NAN, f32::INFINITY] {
                let mut g = vec![0.25f32; n];
                g[n / 2] = bad;
                let (before, state) = (pa.clone(), a.export_state());
                let info = a.step(&two, &mut pa, &g).unwrap();
                assert!(!info.applied && !info.grad_norm.is_finite(), "{kind}");
                assert_eq!(pa, before, "{kind}: a {bad} gradient moved the weights");
                assert_eq!(a.export_state(), state, "{kind}: the state moved");
            }
        }
    }
}
