//! Fused optimizer update kernels: one single pass over a flat parameter
//! buffer per update rule (filled in by the optimizer work).
