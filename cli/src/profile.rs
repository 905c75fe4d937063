//! `descent profile`: real training steps timed phase by phase (the
//! `descent-profile` crate), printed as tables against the machine's
//! measured roofs and written as a report (`descent-report`).

use descent_core::Compute;
use descent_report::profile::{
    accounting_line, baseline_line, epoch_table, machine_lines, phase_table, roof_table,
    write_report,
};
use descent_train::Trainer;

use crate::commands::load_data;
use crate::error::CliError;
use crate::opts::ProfileArgs;
use descent_profile::ProfileOptions;

/// `descent profile`.
pub fn run(args: &ProfileArgs) -> Result<(), CliError> {
    let cfg = args
        .run
        .config(args.optimizer, args.hyper.hyper(), args.data.normalize);
    cfg.validate()?;
    if args.steps == 0 {
        return Err(CliError::flag("--steps", "must be at least 1"));
    }
    // The report's directory is made before the steps run (see
    // `write_report`).
    std::fs::create_dir_all(&args.out)
        .map_err(|e| CliError::flag("--out", format!("{}: {e}", args.out.display())))?;
    let data = load_data(&args.data)?;
    let threads = args.run.thread_count();
    let mut t = Trainer::new(cfg, &data, Compute::threads(threads))?;
    let opts = ProfileOptions {
        steps: args.steps,
        warmup: args.warmup_steps,
        compare_matrixmultiply: args.compare.is_some(),
        ..ProfileOptions::default()
    };
    eprintln!(
        "profiling {} steps (+ {} unprobed, {} warm-up) on {threads} thread(s), then the roofs…",
        opts.steps, opts.steps, opts.warmup
    );
    let p = descent_profile::run(&mut t, &opts)?;
    for l in machine_lines(&p) {
        println!("{l}");
    }
    println!("\n{}", phase_table(&p).text());
    println!("{}", accounting_line(&p));
    if let Some(l) = baseline_line(&p) {
        println!("{l}");
    }
    println!();
    println!("{}", epoch_table(&p).text());
    println!("{}", roof_table(&p).text());
    write_report(&p, &args.out)
        .map_err(|e| CliError::flag("--out", format!("{}: {e}", args.out.display())))?;
    println!(
        "wrote {0}/profile.json, {0}/profile.md, {0}/roofline.svg, {0}/index.html",
        args.out.display()
    );
    Ok(())
}
