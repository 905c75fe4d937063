//! The optimizers on the 2-D test functions, at `descent landscape`'s
//! default learning rates, start points and step budgets.

use descent_optim::landscape::functions::Function;
use descent_optim::landscape::{default_lr, run_optimizer};
use descent_optim::OptimizerKind;

/// Distance to the nearest minimum after the default budget.
fn final_distance(f: Function, opt: OptimizerKind) -> f64 {
    let run = run_optimizer(
        &f,
        opt,
        default_lr(&f, opt),
        f.default_start(),
        f.default_steps(),
        0,
    )
    .unwrap();
    let (x, y) = run.end();
    f.distance_to_minimum(x, y).unwrap()
}

/// The "minimum region": within 0.15 of the minimum. On Rosenbrock that is
/// the far end of the flat valley (loss ≲ 0.03); on Beale it is past the
/// plateau.
const REGION: f64 = 0.15;

#[test]
fn momentum_and_adaptive_optimizers_reach_the_rosenbrock_minimum() {
    for opt in [
        OptimizerKind::Momentum,
        OptimizerKind::Nesterov,
        OptimizerKind::Rmsprop,
        OptimizerKind::Adam,
    ] {
        let d = final_distance(Function::Rosenbrock, opt);
        assert!(d < REGION, "{} ends {d} from (1, 1)", opt.as_str());
    }
}

#[test]
fn momentum_and_adaptive_optimizers_reach_the_beale_minimum() {
    for opt in [
        OptimizerKind::Momentum,
        OptimizerKind::Nesterov,
        OptimizerKind::Rmsprop,
        OptimizerKind::Adam,
    ] {
        let d = final_distance(Function::Beale, opt);
        assert!(d < REGION, "{} ends {d} from (3, 0.5)", opt.as_str());
    }
}

/// Documents who does not make it at the default lr, so a change that
/// fixes (or breaks) them is noticed: on Rosenbrock, plain SGD (lr 1e-3,
/// capped by the valley walls' curvature ≈ 2·10³) and AdaGrad (its
/// accumulated squares shrink the step long before the valley's end) are
/// still crawling along the valley floor after 2000 steps.
#[test]
fn sgd_and_adagrad_do_not_reach_the_rosenbrock_minimum_at_their_default_lr() {
    for opt in [OptimizerKind::Sgd, OptimizerKind::Adagrad] {
        let d = final_distance(Function::Rosenbrock, opt);
        assert!(
            d > 0.5,
            "{} now reaches the minimum ({d}): update the docs",
            opt.as_str()
        );
    }
}

#[test]
fn every_optimizer_solves_the_well_conditioned_quadratic() {
    let f = Function::Quadratic { condition: 10.0 };
    for opt in [
        OptimizerKind::Sgd,
        OptimizerKind::Momentum,
        OptimizerKind::Nesterov,
        OptimizerKind::Adagrad,
        OptimizerKind::Rmsprop,
        OptimizerKind::Adam,
        OptimizerKind::Nadam,
        OptimizerKind::Radam,
        OptimizerKind::Rprop,
        OptimizerKind::Asgd,
        OptimizerKind::ScheduleFreeAdamw,
        OptimizerKind::Adafactor,
        OptimizerKind::Lbfgs,
    ] {
        let d = final_distance(f, opt);
        assert!(d < 1e-3, "{} ends {d} from the origin", opt.as_str());
    }
    // Adadelta's steps start at √ε·g/|g| and grow only as its own running
    // average of steps does: within the budget it gets to ~6e-3.
    let d = final_distance(f, OptimizerKind::Adadelta);
    assert!(d < 1e-2, "adadelta ends {d} from the origin");
}

#[test]
fn the_saddle_is_escaped_along_the_falling_direction() {
    let f = Function::Saddle;
    for opt in [
        OptimizerKind::Sgd,
        OptimizerKind::Momentum,
        OptimizerKind::Adam,
    ] {
        let run = run_optimizer(
            &f,
            opt,
            default_lr(&f, opt),
            f.default_start(),
            f.default_steps(),
            0,
        )
        .unwrap();
        let (x, y) = run.end();
        // x decays towards the ridge line x = 0 while y runs away from it.
        assert!(
            x.abs() < 0.1 && y.abs() > 1.0,
            "{} ends at ({x}, {y})",
            opt.as_str()
        );
        assert!(run.losses.last().unwrap() < &run.losses[0]);
    }
}

/// Muon has no matrix to orthogonalise on a 2-D function: it is refused
/// with an error that says so, not run as something else.
#[test]
fn muon_is_refused_on_the_2d_functions() {
    let f = Function::Rosenbrock;
    let e = run_optimizer(&f, OptimizerKind::Muon, 0.02, f.default_start(), 10, 0)
        .map(|_| ())
        .expect_err("muon must be refused");
    assert_eq!(
        e,
        descent_optim::OptimError::NeedsMatrices { optimizer: "muon" }
    );
    assert!(e.to_string().contains("needs weight matrices"), "{e}");
}
