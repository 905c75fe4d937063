//! descent-nn (built by the nn work).
