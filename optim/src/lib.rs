//! descent-optim (built by the optimizer work).
