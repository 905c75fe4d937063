//! Every optimizer on MNIST through the library: the same 784-128-64-10
//! MLP, initial weights and batch order for each, then one table.
//!
//! Run: `cargo run --release --example train_mnist -- [DATA_DIR] [MAX_STEPS]`
//! (default `data/mnist`, one epoch each; fetch MNIST with
//! `scripts/fetch-mnist.sh`).

use descent::optim::OptimizerKind;
use descent::tensor::Compute;
use descent::train::data::{Mnist, Normalize};
use descent::train::{RunConfig, TrainError, Trainer};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().unwrap_or_else(|| "data/mnist".to_string());
    let max_steps = args.next().map(|s| s.parse::<u64>()).transpose()?;
    let mnist = Mnist::load(dir.as_ref(), Normalize::Standard)?;

    println!("| optimizer | lr | steps | train loss | test loss | test acc | seconds |");
    println!("|---|---|---|---|---|---|---|");
    for optimizer in OptimizerKind::ALL {
        // Defaults: batch 64, seed 0, each optimizer's default lr.
        let cfg = RunConfig {
            optimizer,
            epochs: 1,
            max_steps,
            ..RunConfig::default()
        };
        // One thread; `Compute::threads(2)` gives the same bits, faster.
        let mut trainer = Trainer::new(cfg, &mnist, Compute::serial())?;
        // No observers: no progress bar, no files; the history keeps it all.
        // A run that diverges (L-BFGS at batch 64 without a line search,
        // as in PyTorch) is a row of the table, not the end of the program.
        match trainer.run(&mut []) {
            Ok(()) => {}
            Err(e @ TrainError::Diverged { .. }) => {
                println!(
                    "| {optimizer} | {} | {} | {e} | | | |",
                    trainer.updater.lr(),
                    trainer.step
                );
                continue;
            }
            Err(e) => return Err(e.into()),
        }
        let last = trainer.history.epochs.last().ok_or("no epoch ran")?;
        println!(
            "| {optimizer} | {} | {} | {:.4} | {:.4} | {:.2}% | {:.2} |",
            trainer.updater.lr(),
            trainer.step,
            last.train_loss,
            last.test_loss,
            100.0 * last.test_accuracy,
            trainer.seconds,
        );
    }
    Ok(())
}
