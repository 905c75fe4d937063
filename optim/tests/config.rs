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

/// Builds `kind` through the one factory, as the trainer does.
fn build(kind: OptimizerKind, h: &Hyper) -> Result<Updater> {
    OptimizerConfig::new(kind, h, None, 0)?.build()
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
        match build(k, &Hyper::default()).unwrap() {
            // gd is the SGD rule on the full batch.
            Updater::Grad(o) => {
                let want = if k == OptimizerKind::Gd {
                    "sgd"
                } else {
                    k.as_str()
                };
                assert_eq!(o.name(), want);
                assert_eq!(o.lr(), k.default_lr(), "{k}");
            }
            Updater::Search(_) => assert!(!k.uses_gradient(), "{k}"),
            Updater::Lbfgs(o) => {
                assert_eq!(k, OptimizerKind::Lbfgs);
                assert_eq!(o.lr(), k.default_lr());
            }
        }
    }
    let o = build(
        OptimizerKind::Nesterov,
        &Hyper {
            lr: Some(0.2),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(o.lr(), 0.2);
    assert!(matches!(
        "bfgs".parse::<OptimizerKind>(),
        Err(OptimError::UnknownOptimizer { ref name }) if name == "bfgs"
    ));
    let bad = Hyper {
        momentum: Some(0.9),
        ..Default::default()
    };
    assert!(matches!(
        build(OptimizerKind::Adam, &bad),
        Err(OptimError::NotApplicable {
            optimizer: "adam",
            field: "momentum",
        })
    ));
    let bad = Hyper {
        lr: Some(-1.0),
        ..Default::default()
    };
    for k in OptimizerKind::ALL {
        let r = build(k, &bad);
        if k.uses_gradient() {
            assert!(
                matches!(r, Err(OptimError::InvalidConfig { field: "lr", .. })),
                "{k}"
            );
        } else {
            assert!(
                matches!(r, Err(OptimError::NotApplicable { field: "lr", .. })),
                "{k}"
            );
        }
    }
    // Nesterov with an explicit zero momentum is the config error, not a panic.
    let zero = Hyper {
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

/// Each hyper-parameter is accepted by exactly the kinds that have it, and
/// refused by the others naming the field.
#[test]
fn hyper_parameters_apply_to_the_kinds_that_have_them() {
    use OptimizerKind::*;
    let cases: [(&str, Hyper, &[OptimizerKind]); 15] = [
        (
            "beta1",
            Hyper {
                beta1: Some(0.8),
                ..Default::default()
            },
            &[Adam, Adamw, Adamax, Lion, Nadam, Radam, ScheduleFreeAdamw],
        ),
        (
            "alpha",
            Hyper {
                alpha: Some(0.9),
                ..Default::default()
            },
            &[Rmsprop, Asgd],
        ),
        (
            "dampening",
            Hyper {
                dampening: Some(0.1),
                ..Default::default()
            },
            &[Gd, Sgd, Momentum],
        ),
        (
            "sigma",
            Hyper {
                sigma: Some(0.5),
                ..Default::default()
            },
            &[RandomSearch, RandomSample],
        ),
        (
            "lr_decay",
            Hyper {
                lr_decay: Some(0.1),
                ..Default::default()
            },
            &[Adagrad],
        ),
        (
            "eps",
            Hyper {
                eps: Some(1e-6),
                ..Default::default()
            },
            &[
                Adagrad,
                Rmsprop,
                Adam,
                Adamw,
                Adamax,
                Adadelta,
                Nadam,
                Radam,
                ScheduleFreeAdamw,
                Muon,
            ],
        ),
        (
            "rho",
            Hyper {
                rho: Some(0.5),
                ..Default::default()
            },
            &[Adadelta],
        ),
        (
            "etas",
            Hyper {
                etas: Some([0.4, 1.5]),
                ..Default::default()
            },
            &[Rprop],
        ),
        (
            "step_sizes",
            Hyper {
                step_sizes: Some([1e-5, 1.0]),
                ..Default::default()
            },
            &[Rprop],
        ),
        (
            "lambd",
            Hyper {
                lambd: Some(1e-3),
                ..Default::default()
            },
            &[Asgd],
        ),
        (
            "decoupled_weight_decay",
            Hyper {
                decoupled_weight_decay: true,
                ..Default::default()
            },
            &[Nadam, Radam],
        ),
        (
            "weight_decay",
            Hyper {
                weight_decay: Some(1e-4),
                ..Default::default()
            },
            &[
                Gd,
                Sgd,
                Momentum,
                Nesterov,
                Adagrad,
                Rmsprop,
                Adam,
                Adamw,
                Adamax,
                Lion,
                Adadelta,
                Nadam,
                Radam,
                Asgd,
                ScheduleFreeAdamw,
                Adafactor,
                Muon,
            ],
        ),
        (
            "warmup_steps",
            Hyper {
                warmup_steps: Some(100),
                ..Default::default()
            },
            &[ScheduleFreeAdamw],
        ),
        (
            "aux_lr",
            Hyper {
                aux_lr: Some(1e-3),
                ..Default::default()
            },
            &[Muon],
        ),
        (
            "history_size",
            Hyper {
                history_size: Some(10),
                ..Default::default()
            },
            &[Lbfgs],
        ),
    ];
    for (field, h, kinds) in cases {
        for k in OptimizerKind::ALL {
            let r = build(k, &h);
            if kinds.contains(&k) {
                assert!(r.is_ok(), "{field} {k}");
            } else if k == Nesterov && field == "dampening" {
                // Nesterov has dampening, but PyTorch requires it to be 0.
                assert!(matches!(
                    r,
                    Err(OptimError::InvalidConfig {
                        field: "nesterov",
                        ..
                    })
                ));
            } else {
                let e = r.err().unwrap_or_else(|| panic!("{field} accepted by {k}"));
                assert_eq!(
                    e,
                    OptimError::NotApplicable {
                        optimizer: k.as_str(),
                        field
                    }
                );
                assert_eq!(
                    e.to_string(),
                    format!("{field}: {k} has no such hyper-parameter")
                );
            }
        }
    }
}

/// The table of default learning rates: descent's column equals PyTorch's
/// (the configs' `Default`) except where `default_lr`'s docs say why not.
#[test]
fn default_lrs_are_pytorchs_except_where_documented() {
    use OptimizerKind::*;
    for k in OptimizerKind::ALL {
        let differs = matches!(k, Gd | Sgd | Momentum | Nesterov | Rmsprop | Muon);
        match k.pytorch_lr() {
            Some(pt) => assert_eq!(pt != k.default_lr(), differs, "{k}"),
            None => assert!(matches!(k, RandomSearch | RandomSample), "{k}"),
        }
    }
    assert_eq!(Sgd.pytorch_lr(), Some(1e-3));
    assert_eq!(Rmsprop.pytorch_lr(), Some(1e-2));
}
