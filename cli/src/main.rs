//! `descent`: train an MLP on raw MNIST with each optimizer, compare them,
//! and watch them move on 2-D test functions. See `descent --help`.

use std::process::ExitCode;

use clap::Parser;
use descent_cli::commands;
use descent_cli::compare;
use descent_cli::landscape;
use descent_cli::opts::{Cli, Command};
use descent_cli::sweep;

fn main() -> ExitCode {
    // Rust ignores SIGPIPE, which turns `descent … | head` into a panic on
    // the next println; restore the default so the process just ends
    // quietly, as command-line tools do.
    #[cfg(unix)]
    // SAFETY: called before any thread exists; SIG_DFL is a valid handler.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    // DESCENT_CACHES and DESCENT_KERNEL force another CPU's GEMM
    // configuration (core's `Forced`); refuse a value that cannot be read
    // before anything runs, rather than ignore it.
    if let Err(e) = descent_core::gemm::blocking::Forced::from_env() {
        eprintln!("error: {e}");
        return ExitCode::from(1);
    }
    let result = match &cli.command {
        Command::Train(a) => commands::train(a),
        Command::Compare(a) => compare::compare(a),
        Command::RunOne(a) => compare::run_one_cmd(a),
        Command::Report(a) => compare::report_cmd(a),
        Command::Sweep(a) => sweep::sweep(a),
        Command::Landscape(a) => landscape::run(a),
        Command::Eval(a) => commands::eval(a),
        Command::Gradcheck(a) => commands::gradcheck_cmd(a),
        Command::Info(a) => commands::info(a),
        Command::Profile(a) => descent_cli::profile::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // A stop the user asked for is not an error: say where it stands.
        Err(e @ descent_cli::error::CliError::Interrupted { .. }) => {
            eprintln!("{e}");
            ExitCode::from(e.exit_code() as u8)
        }
        Err(e) => {
            eprintln!("error: {e}");
            // Exit codes: 1 for bad input or I/O, 3 for a diverged run
            // (clap itself uses 2 for unparsable flags).
            ExitCode::from(e.exit_code() as u8)
        }
    }
}
