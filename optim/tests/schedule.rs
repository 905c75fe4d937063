//! Learning-rate schedules: closed forms, warmup composition,
//! reduce-on-plateau, and exact resume.

use descent_optim::Compute;
use descent_optim::*;

fn close(a: f32, b: f64) -> bool {
    (a as f64 - b).abs() <= 1e-7 * b.abs().max(1e-3)
}

/// Learning rates at t = 0, 1, …, `n − 1` (no metric).
fn lrs(s: &mut Schedule, n: usize) -> Vec<f32> {
    let mut v = vec![s.lr()];
    for _ in 1..n {
        v.push(s.advance(None).unwrap());
    }
    v
}

#[test]
fn constant_step_exponential() {
    assert_eq!(lrs(&mut Schedule::constant(0.1).unwrap(), 4), vec![0.1; 4]);
    let mut s = Schedule::new(
        0.1,
        ScheduleKind::Step {
            step_size: 3,
            gamma: 0.5,
        },
        None,
    )
    .unwrap();
    let want = [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025];
    for (got, w) in lrs(&mut s, 7).into_iter().zip(want) {
        assert!(close(got, w), "{got} vs {w}");
    }
    let mut s = Schedule::new(0.1, ScheduleKind::Exponential { gamma: 0.9 }, None).unwrap();
    let got = lrs(&mut s, 4);
    for (t, &g) in got.iter().enumerate() {
        assert!(close(g, 0.1 * 0.9f64.powi(t as i32)), "t={t}: {g}");
    }
}

#[test]
fn cosine_annealing_then_held() {
    // η_min + (γ₀ − η_min)(1 + cos(π t/4))/2 with γ₀ = 0.11, η_min = 0.01.
    let mut s = Schedule::new(
        0.11,
        ScheduleKind::Cosine {
            t_max: 4,
            eta_min: 0.01,
        },
        None,
    )
    .unwrap();
    let got = lrs(&mut s, 7);
    let c = |t: f64| 0.01 + 0.1 * (1.0 + (std::f64::consts::PI * t / 4.0).cos()) / 2.0;
    let want = [c(0.0), c(1.0), 0.06, c(3.0), 0.01, 0.01, 0.01];
    for (t, (&g, &w)) in got.iter().zip(&want).enumerate() {
        assert!(close(g, w), "t={t}: {g} vs {w}");
    }
}

#[test]
fn warmup_then_cosine() {
    // Warmup 4 from 0.25: 0.11·(0.25 + 0.75·t/4), then the cosine from u = 0.
    let w = Some(Warmup {
        steps: 4,
        start_factor: 0.25,
    });
    let mut s = Schedule::new(
        0.11,
        ScheduleKind::Cosine {
            t_max: 4,
            eta_min: 0.01,
        },
        w,
    )
    .unwrap();
    let got = lrs(&mut s, 9);
    let want = [
        0.0275,
        0.048125,
        0.06875,
        0.089375,
        0.11,
        0.0953553390593,
        0.06,
        0.0246446609407,
        0.01,
    ];
    for (t, (&g, &w)) in got.iter().zip(&want).enumerate() {
        assert!(close(g, w), "t={t}: {g} vs {w}");
    }
}

#[test]
fn warmup_then_step() {
    let w = Some(Warmup {
        steps: 2,
        start_factor: 0.5,
    });
    let mut s = Schedule::new(
        1.0,
        ScheduleKind::Step {
            step_size: 2,
            gamma: 0.1,
        },
        w,
    )
    .unwrap();
    let got = lrs(&mut s, 6);
    let want = [0.5, 0.75, 1.0, 1.0, 0.1, 0.1];
    for (t, (&g, &w)) in got.iter().zip(&want).enumerate() {
        assert!(close(g, w), "t={t}: {g} vs {w}");
    }
}

fn plateau(p: PlateauConfig, warmup: Option<Warmup>) -> Schedule {
    Schedule::new(1.0, ScheduleKind::ReduceOnPlateau(p), warmup).unwrap()
}

#[test]
fn reduce_on_plateau_patience_and_cooldown() {
    // patience 2: the third report without improvement halves γ; cooldown 1
    // ignores the report after a reduction.
    let p = PlateauConfig {
        factor: 0.5,
        patience: 2,
        cooldown: 1,
        ..Default::default()
    };
    let mut s = plateau(p, None);
    let metrics = [10.0, 9.0, 9.0, 9.0, 9.0, 9.0, 9.0, 9.0, 9.0];
    let got: Vec<f32> = metrics
        .iter()
        .map(|&m| s.advance(Some(m)).unwrap())
        .collect();
    assert_eq!(got, vec![1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.25]);
    // An improvement smaller than the relative threshold does not count.
    let mut s = plateau(
        PlateauConfig {
            patience: 0,
            threshold: 0.1,
            ..Default::default()
        },
        None,
    );
    s.advance(Some(1.0)).unwrap();
    assert_eq!(s.advance(Some(0.95)).unwrap(), 0.1);
}

#[test]
fn reduce_on_plateau_max_mode_and_floor() {
    let p = PlateauConfig {
        maximize: true,
        patience: 0,
        factor: 0.1,
        min_lr: 0.05,
        ..Default::default()
    };
    let mut s = plateau(p, None);
    assert_eq!(s.advance(Some(0.5)).unwrap(), 1.0);
    assert_eq!(s.advance(Some(0.6)).unwrap(), 1.0);
    assert!(close(s.advance(Some(0.6)).unwrap(), 0.1));
    assert!(close(s.advance(Some(0.1)).unwrap(), 0.05));
    assert!(close(s.advance(Some(0.1)).unwrap(), 0.05));
    // NaN metrics never improve.
    let mut s = plateau(
        PlateauConfig {
            patience: 0,
            ..Default::default()
        },
        None,
    );
    s.advance(Some(1.0)).unwrap();
    assert!(close(s.advance(Some(f32::NAN)).unwrap(), 0.1));
}

#[test]
fn plateau_needs_a_metric_and_ignores_it_during_warmup() {
    let mut s = plateau(
        PlateauConfig {
            patience: 0,
            ..Default::default()
        },
        None,
    );
    assert_eq!(s.advance(None), Err(OptimError::MetricRequired));
    let w = Some(Warmup {
        steps: 2,
        start_factor: 0.5,
    });
    let mut s = plateau(
        PlateauConfig {
            patience: 0,
            ..Default::default()
        },
        w,
    );
    assert_eq!(s.lr(), 0.5);
    assert_eq!(s.advance(Some(5.0)).unwrap(), 0.75);
    assert_eq!(s.advance(Some(6.0)).unwrap(), 1.0); // worse, but still warming up
    assert_eq!(s.advance(Some(4.0)).unwrap(), 1.0);
    assert!(close(s.advance(Some(4.0)).unwrap(), 0.1));
}

#[test]
fn export_import_continues_exactly() {
    let p = PlateauConfig {
        factor: 0.5,
        patience: 1,
        cooldown: 2,
        ..Default::default()
    };
    let w = Some(Warmup {
        steps: 2,
        start_factor: 0.3,
    });
    let metrics: Vec<f32> = (0..30).map(|i| 1.0 + ((i * 7 % 5) as f32) * 0.1).collect();
    let mut a = plateau(p, w);
    let full: Vec<u32> = metrics
        .iter()
        .map(|&m| a.advance(Some(m)).unwrap().to_bits())
        .collect();
    let mut b = plateau(p, w);
    let mut part: Vec<u32> = metrics[..13]
        .iter()
        .map(|&m| b.advance(Some(m)).unwrap().to_bits())
        .collect();
    let st = b.export_state();
    let mut c = plateau(p, w);
    c.import_state(&st).unwrap();
    part.extend(
        metrics[13..]
            .iter()
            .map(|&m| c.advance(Some(m)).unwrap().to_bits()),
    );
    assert_eq!(full, part);
    assert_eq!(a.export_state(), c.export_state());
    let bad = ScheduleState {
        best: f32::NAN,
        ..st
    };
    assert!(matches!(
        c.import_state(&bad),
        Err(OptimError::InvalidConfig { field: "best", .. })
    ));
    let bad = ScheduleState {
        plateau_lr: -1.0,
        ..st
    };
    assert!(matches!(
        c.import_state(&bad),
        Err(OptimError::InvalidConfig {
            field: "plateau_lr",
            ..
        })
    ));
}

#[test]
fn schedule_drives_an_optimizer() {
    let mut s = Schedule::new(
        0.5,
        ScheduleKind::Step {
            step_size: 1,
            gamma: 0.5,
        },
        None,
    )
    .unwrap();
    let mut o = Sgd::new(SgdConfig {
        lr: s.lr(),
        ..Default::default()
    })
    .unwrap();
    let mut p = vec![0.0f32];
    for _ in 0..3 {
        o.step(&Compute::serial(), &mut p, &[1.0]).unwrap();
        o.set_lr(s.advance(None).unwrap()).unwrap();
    }
    assert_eq!(p[0], -(0.5 + 0.25 + 0.125));
}
