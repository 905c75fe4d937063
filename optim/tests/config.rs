//! Every invalid config value returns its typed error naming the field;
//! PyTorch's defaults validate; the factory builds every kind by name.

use descent_optim::*;

fn field_of(r: Result<()>) -> &'static str {
    match r {
        Err(OptimError::InvalidConfig { field, .. }) => field,
        other => panic!("expected InvalidConfig, got {other:?}"),
    }
}

const NAN: f32 = f32::NAN;
const INF: f32 = f32::INFINITY;

#[test]
fn defaults_are_valid_and_pytorchs() {
    SgdConfig::default().validate().unwrap();
    AdagradConfig::default().validate().unwrap();
    RmspropConfig::default().validate().unwrap();
    AdamConfig::default().validate().unwrap();
    AdamConfig::adamw().validate().unwrap();
    RandomSearchConfig::default().validate().unwrap();
    assert_eq!(SgdConfig::default().lr, 1e-3);
    assert_eq!(
        (AdagradConfig::default().lr, AdagradConfig::default().eps),
        (1e-2, 1e-10)
    );
    let r = RmspropConfig::default();
    assert_eq!((r.lr, r.alpha, r.eps), (1e-2, 0.99, 1e-8));
    let a = AdamConfig::default();
    assert_eq!(
        (a.lr, a.beta1, a.beta2, a.eps, a.weight_decay),
        (1e-3, 0.9, 0.999, 1e-8, 0.0)
    );
    assert_eq!(AdamConfig::adamw().weight_decay, 1e-2);
}

#[test]
fn sgd_invalid_fields() {
    let d = SgdConfig::default();
    for v in [-1.0, NAN, INF] {
        assert_eq!(field_of(SgdConfig { lr: v, ..d }.validate()), "lr");
        assert_eq!(
            field_of(SgdConfig { momentum: v, ..d }.validate()),
            "momentum"
        );
        assert_eq!(
            field_of(
                SgdConfig {
                    weight_decay: v,
                    ..d
                }
                .validate()
            ),
            "weight_decay"
        );
        assert_eq!(
            field_of(
                SgdConfig {
                    clip_norm: Some(v),
                    ..d
                }
                .validate()
            ),
            "clip_norm"
        );
    }
    for v in [-0.1, 1.5, NAN] {
        assert_eq!(
            field_of(SgdConfig { dampening: v, ..d }.validate()),
            "dampening"
        );
    }
    assert_eq!(
        field_of(
            SgdConfig {
                clip_norm: Some(0.0),
                ..d
            }
            .validate()
        ),
        "clip_norm"
    );
    // Nesterov without momentum, and with dampening.
    assert_eq!(
        field_of(
            SgdConfig {
                nesterov: true,
                ..d
            }
            .validate()
        ),
        "nesterov"
    );
    assert_eq!(
        field_of(
            SgdConfig {
                nesterov: true,
                momentum: 0.9,
                dampening: 0.1,
                ..d
            }
            .validate()
        ),
        "nesterov"
    );
    // The constructor validates.
    assert!(matches!(
        Sgd::new(SgdConfig { lr: -1.0, ..d }),
        Err(OptimError::InvalidConfig { optimizer: "sgd", field: "lr", ref value, .. }) if value == "-1"
    ));
}

#[test]
fn adagrad_invalid_fields() {
    let d = AdagradConfig::default();
    for v in [-1.0, NAN, INF] {
        assert_eq!(field_of(AdagradConfig { lr: v, ..d }.validate()), "lr");
        assert_eq!(
            field_of(AdagradConfig { lr_decay: v, ..d }.validate()),
            "lr_decay"
        );
        assert_eq!(
            field_of(
                AdagradConfig {
                    weight_decay: v,
                    ..d
                }
                .validate()
            ),
            "weight_decay"
        );
        assert_eq!(
            field_of(
                AdagradConfig {
                    initial_accumulator_value: v,
                    ..d
                }
                .validate()
            ),
            "initial_accumulator_value"
        );
        assert_eq!(field_of(AdagradConfig { eps: v, ..d }.validate()), "eps");
        assert_eq!(
            field_of(
                AdagradConfig {
                    clip_norm: Some(v),
                    ..d
                }
                .validate()
            ),
            "clip_norm"
        );
    }
    assert_eq!(field_of(AdagradConfig { eps: 0.0, ..d }.validate()), "eps");
    assert!(Adagrad::new(AdagradConfig { eps: 0.0, ..d }).is_err());
}

#[test]
fn rmsprop_invalid_fields() {
    let d = RmspropConfig::default();
    for v in [-1.0, NAN, INF] {
        assert_eq!(field_of(RmspropConfig { lr: v, ..d }.validate()), "lr");
        assert_eq!(field_of(RmspropConfig { eps: v, ..d }.validate()), "eps");
        assert_eq!(
            field_of(
                RmspropConfig {
                    weight_decay: v,
                    ..d
                }
                .validate()
            ),
            "weight_decay"
        );
        assert_eq!(
            field_of(RmspropConfig { momentum: v, ..d }.validate()),
            "momentum"
        );
        assert_eq!(
            field_of(
                RmspropConfig {
                    clip_norm: Some(v),
                    ..d
                }
                .validate()
            ),
            "clip_norm"
        );
    }
    for v in [-0.1, 1.1, NAN] {
        assert_eq!(
            field_of(RmspropConfig { alpha: v, ..d }.validate()),
            "alpha"
        );
    }
    assert_eq!(field_of(RmspropConfig { eps: 0.0, ..d }.validate()), "eps");
    // α = 0 and α = 1 are inside [0, 1].
    RmspropConfig { alpha: 0.0, ..d }.validate().unwrap();
    RmspropConfig { alpha: 1.0, ..d }.validate().unwrap();
    assert!(Rmsprop::new(RmspropConfig { alpha: 2.0, ..d }).is_err());
}

#[test]
fn adam_invalid_fields() {
    for d in [AdamConfig::default(), AdamConfig::adamw()] {
        for v in [-1.0, NAN, INF] {
            assert_eq!(field_of(AdamConfig { lr: v, ..d }.validate()), "lr");
            assert_eq!(field_of(AdamConfig { eps: v, ..d }.validate()), "eps");
            assert_eq!(
                field_of(
                    AdamConfig {
                        weight_decay: v,
                        ..d
                    }
                    .validate()
                ),
                "weight_decay"
            );
            assert_eq!(
                field_of(
                    AdamConfig {
                        clip_norm: Some(v),
                        ..d
                    }
                    .validate()
                ),
                "clip_norm"
            );
        }
        for v in [-0.1, 1.0, 1.5, NAN] {
            assert_eq!(field_of(AdamConfig { beta1: v, ..d }.validate()), "beta1");
            assert_eq!(field_of(AdamConfig { beta2: v, ..d }.validate()), "beta2");
        }
        assert_eq!(field_of(AdamConfig { eps: 0.0, ..d }.validate()), "eps");
        AdamConfig { beta1: 0.0, ..d }.validate().unwrap();
    }
    assert!(matches!(
        Adam::new(AdamConfig {
            beta2: 1.0,
            ..AdamConfig::adamw()
        }),
        Err(OptimError::InvalidConfig {
            optimizer: "adamw",
            field: "beta2",
            ..
        })
    ));
}

#[test]
fn random_search_invalid_fields() {
    let d = RandomSearchConfig::default();
    for v in [0.0, -1.0, NAN, INF] {
        assert_eq!(
            field_of(RandomSearchConfig { sigma: v, ..d }.validate()),
            "sigma"
        );
    }
    for v in [0.0, -0.5, 1.5, NAN] {
        assert_eq!(
            field_of(
                RandomSearchConfig {
                    sigma_decay: v,
                    ..d
                }
                .validate()
            ),
            "sigma_decay"
        );
    }
    for v in [-1.0, NAN, INF] {
        assert_eq!(
            field_of(RandomSearchConfig { min_sigma: v, ..d }.validate()),
            "min_sigma"
        );
    }
    assert!(RandomSearch::new(RandomSearchConfig { sigma: 0.0, ..d }).is_err());
}

#[test]
fn schedule_invalid_fields() {
    let f = |r: Result<Schedule>| field_of(r.map(|_| ()));
    assert_eq!(
        f(Schedule::new(-1.0, ScheduleKind::Constant, None)),
        "base_lr"
    );
    assert_eq!(
        f(Schedule::new(NAN, ScheduleKind::Constant, None)),
        "base_lr"
    );
    assert_eq!(
        f(Schedule::new(
            0.1,
            ScheduleKind::Step {
                step_size: 0,
                gamma: 0.5
            },
            None
        )),
        "step_size"
    );
    assert_eq!(
        f(Schedule::new(
            0.1,
            ScheduleKind::Step {
                step_size: 3,
                gamma: 0.0
            },
            None
        )),
        "gamma"
    );
    assert_eq!(
        f(Schedule::new(
            0.1,
            ScheduleKind::Exponential { gamma: NAN },
            None
        )),
        "gamma"
    );
    assert_eq!(
        f(Schedule::new(
            0.1,
            ScheduleKind::Cosine {
                t_max: 0,
                eta_min: 0.0
            },
            None
        )),
        "t_max"
    );
    assert_eq!(
        f(Schedule::new(
            0.1,
            ScheduleKind::Cosine {
                t_max: 5,
                eta_min: -1.0
            },
            None
        )),
        "eta_min"
    );
    let p = PlateauConfig::default();
    assert_eq!(
        f(Schedule::new(
            0.1,
            ScheduleKind::ReduceOnPlateau(PlateauConfig { factor: 1.0, ..p }),
            None
        )),
        "factor"
    );
    assert_eq!(
        f(Schedule::new(
            0.1,
            ScheduleKind::ReduceOnPlateau(PlateauConfig {
                threshold: -1.0,
                ..p
            }),
            None
        )),
        "threshold"
    );
    assert_eq!(
        f(Schedule::new(
            0.1,
            ScheduleKind::ReduceOnPlateau(PlateauConfig { min_lr: NAN, ..p }),
            None
        )),
        "min_lr"
    );
    let w = |steps, start_factor| {
        Some(Warmup {
            steps,
            start_factor,
        })
    };
    assert_eq!(
        f(Schedule::new(0.1, ScheduleKind::Constant, w(0, 0.5))),
        "warmup.steps"
    );
    assert_eq!(
        f(Schedule::new(0.1, ScheduleKind::Constant, w(3, 0.0))),
        "warmup.start_factor"
    );
    assert_eq!(
        f(Schedule::new(0.1, ScheduleKind::Constant, w(3, 1.5))),
        "warmup.start_factor"
    );
}

#[test]
fn factory_builds_every_kind_by_name() {
    for k in OptimizerKind::ALL {
        let parsed: OptimizerKind = k.as_str().parse().unwrap();
        assert_eq!(parsed, k);
        assert_eq!(
            k.to_string()
                .to_uppercase()
                .parse::<OptimizerKind>()
                .unwrap(),
            k
        );
        let o = build(k, &BuildConfig::default()).unwrap();
        assert_eq!(o.name(), k.as_str());
    }
    assert_eq!(
        build(OptimizerKind::Adamw, &BuildConfig::default())
            .unwrap()
            .lr(),
        1e-3
    );
    let o = build(
        OptimizerKind::Nesterov,
        &BuildConfig {
            lr: Some(0.2),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(o.lr(), 0.2);
    assert!(matches!(
        "lbfgs".parse::<OptimizerKind>(),
        Err(OptimError::UnknownOptimizer { ref name }) if name == "lbfgs"
    ));
    let bad = BuildConfig {
        momentum: Some(0.9),
        ..Default::default()
    };
    assert!(matches!(
        build(OptimizerKind::Adam, &bad),
        Err(OptimError::InvalidConfig {
            field: "momentum",
            ..
        })
    ));
    let bad = BuildConfig {
        lr: Some(-1.0),
        ..Default::default()
    };
    for k in OptimizerKind::ALL {
        assert!(
            matches!(
                build(k, &bad),
                Err(OptimError::InvalidConfig { field: "lr", .. })
            ),
            "{k}"
        );
    }
    // Nesterov with an explicit zero momentum is the config error, not a panic.
    let zero = BuildConfig {
        momentum: Some(0.0),
        ..Default::default()
    };
    assert!(matches!(
        build(OptimizerKind::Nesterov, &zero),
        Err(OptimError::InvalidConfig {
            field: "nesterov",
            ..
        })
    ));
}
