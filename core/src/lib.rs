//! # descent-core
//!
//! The numeric heart of descent: a small row-major [`Tensor`] with strided
//! views, a BLIS-style single-precision GEMM with fused epilogues
//! ([`gemm::matmul`], on a [`Compute`] context), SIMD elementwise and reduction kernels ([`ops`]), the fused
//! softmax + cross-entropy ([`ops::softmax_cross_entropy`]) and one fused,
//! single-pass kernel per optimizer update rule ([`step`]).
//!
//! Every fast kernel is written on `wide`'s vectors (the GEMM once for any
//! width through [`simd::Vector`], instantiated per SIMD width as
//! [`gemm::Kernel`]; the streaming kernels on [`simd::Wide`], the widest
//! the build has) and has a plain scalar twin beside it (`*_scalar` or
//! [`gemm::gemm_naive`]); the tests make each pair agree on odd sizes,
//! unaligned slices and edge values.
//!
//! [`compute::Compute`] says where work runs: the threads and the GEMM's
//! configuration; everything that may split its work takes one.
//!
//! What the SIMD code compiles to depends on the build's target features:
//! see [`simd::describe`].

pub mod buffer;
pub mod compute;
pub mod error;
pub mod gemm;
pub mod ops;
pub mod par;
pub mod prefetch;
pub mod simd;
pub mod step;
pub mod tensor;
pub mod view;

pub use buffer::AlignedVec;
pub use compute::Compute;
pub use error::{CoreError, Result};
pub use gemm::{gemm_naive, matmul, Config, Epilogue, Kernel};
pub use tensor::Tensor;
pub use view::{MatMut, MatRef};
