//! SIGINT and SIGTERM during training: the first asks the run to stop after
//! the step in progress ([`STOP`], which the trainer polls between steps),
//! so that it can be saved whole; a second one ends the process at once,
//! by the default action the handler restores. Nothing is half-written
//! either way: checkpoints and results are written to a temporary file and
//! renamed into place.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

/// Raised by the first SIGINT or SIGTERM.
pub static STOP: AtomicBool = AtomicBool::new(false);

/// The signal that raised [`STOP`] (0: none yet).
static SIGNAL: AtomicI32 = AtomicI32::new(0);

#[cfg(unix)]
extern "C" fn on_signal(sig: libc::c_int) {
    // Only async-signal-safe work here: two atomic stores and signal(2).
    SIGNAL.store(sig, Ordering::Relaxed);
    STOP.store(true, Ordering::Relaxed);
    // SAFETY: signal(2) is async-signal-safe; SIG_DFL is a valid action.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_DFL);
        libc::signal(libc::SIGTERM, libc::SIG_DFL);
    }
}

/// Installs the handler for SIGINT and SIGTERM (Unix; elsewhere the
/// default actions stay).
pub fn install() {
    #[cfg(unix)]
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: a zeroed sigaction is a valid starting value; the handler
        // is an `extern "C" fn(c_int)` that does only async-signal-safe
        // work, and the mask is initialised by sigemptyset.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
}

/// The signal received, if any: its name and the exit code a shell gives
/// a process it killed (128 + its number: 130 for SIGINT, 143 for SIGTERM).
pub fn received() -> Option<(&'static str, u8)> {
    match SIGNAL.load(Ordering::Relaxed) {
        0 => None,
        #[cfg(unix)]
        libc::SIGINT => Some(("SIGINT", 130)),
        #[cfg(unix)]
        libc::SIGTERM => Some(("SIGTERM", 143)),
        s => Some(("a signal", (128 + s) as u8)),
    }
}
