//! Structured round trip: a random checkpoint (names, shapes, f32 bit
//! patterns including NaN payloads, ±Inf, subnormals and -0, metadata) built
//! with `arbitrary`, written with `checkpoint_bytes`, parsed back.
//!
//! - A valid set of tensors (non-empty names, none `__metadata__`, no two
//!   equal) must be written, read back with `allow_nonfinite` to the same
//!   names, order, shapes, value bits and metadata, read by the safetensors
//!   crate to the same bytes, and the strict options must refuse it exactly
//!   when it holds a non-finite value (naming that tensor).
//! - An invalid set must be refused by the writer with `InvalidTensor`.
#![no_main]

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use descent_train::checkpoint::{
    checkpoint_bytes, format::METADATA_KEY, parse_checkpoint, CheckpointError, LoadOptions,
};
use libfuzzer_sys::arbitrary::{self, Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;

const NAME: &str = "roundtrip.safetensors";

/// One dimension: usually small; sometimes a zero next to a huge size, so the
/// tensor is empty but its shape is not representable as a product of small
/// numbers (legal safetensors).
#[derive(Debug)]
struct Dim(usize);

impl<'a> Arbitrary<'a> for Dim {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(Dim(match u.int_in_range(0u8..=15)? {
            0 => 0,
            1 => usize::arbitrary(u)? >> 1,
            k => usize::from(k % 6),
        }))
    }
}

#[derive(Debug, Arbitrary)]
struct Tensor {
    name: String,
    /// At most 4 dims (extra ones dropped).
    shape: Vec<Dim>,
    /// Raw bits, recycled to fill ∏ shape values.
    bits: Vec<u32>,
}

#[derive(Debug, Arbitrary)]
struct Input {
    tensors: Vec<Tensor>,
    metadata: Vec<(String, String)>,
}

fuzz_target!(|input: Input| {
    let path = Path::new(NAME);
    let mut tensors: Vec<(String, Vec<usize>, Vec<f32>)> = Vec::new();
    for t in input.tensors.iter().take(16) {
        let mut shape: Vec<usize> = t.shape.iter().take(4).map(|d| d.0).collect();
        let mut n = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
        if n.is_none_or(|n| n > 4096) {
            // Too big to hold: keep the shape's first dim only, made small.
            shape.truncate(1);
            if let Some(d) = shape.first_mut() {
                *d %= 7;
            }
            n = Some(shape.iter().product());
        }
        let n = n.unwrap_or(0);
        let data: Vec<f32> = if t.bits.is_empty() {
            (0..n).map(|i| i as f32 * 0.5 - 1.0).collect()
        } else {
            (0..n)
                .map(|i| f32::from_bits(t.bits[i % t.bits.len()]))
                .collect()
        };
        tensors.push((t.name.clone(), shape, data));
    }
    let metadata: BTreeMap<String, String> = input.metadata.into_iter().take(16).collect();
    let refs: Vec<(&str, &[usize], &[f32])> = tensors
        .iter()
        .map(|(n, s, d)| (n.as_str(), s.as_slice(), d.as_slice()))
        .collect();

    let mut seen = HashSet::new();
    let valid = tensors
        .iter()
        .all(|(n, _, _)| !n.is_empty() && n != METADATA_KEY && seen.insert(n.as_str()));
    let bytes = match (checkpoint_bytes(path, &refs, &metadata), valid) {
        (Ok(b), true) => b,
        (Err(CheckpointError::InvalidTensor { .. }), false) => return,
        (Ok(_), false) => panic!("the writer accepted an invalid tensor set"),
        (Err(e), _) => panic!("the writer refused a valid set or with the wrong error: {e}"),
    };

    let lenient = LoadOptions {
        allow_nonfinite: true,
    };
    let c = parse_checkpoint(path, &bytes, lenient)
        .unwrap_or_else(|e| panic!("the reader refused what the writer wrote: {e}"));
    assert_eq!(c.metadata, metadata);
    assert_eq!(c.tensors.len(), tensors.len());
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<u32>>();
    for (got, (n, s, d)) in c.tensors.iter().zip(&tensors) {
        assert_eq!((&got.name, got.shape()), (n, s.as_slice()));
        assert_eq!(bits(got.data()), bits(d), "tensor {n}");
    }

    // The reference reader sees the same tensors and bytes.
    let st = safetensors::SafeTensors::deserialize(&bytes).expect("safetensors crate refused it");
    assert_eq!(st.len(), tensors.len());
    for (n, s, d) in &tensors {
        let v = st
            .tensor(n)
            .expect("tensor missing for the safetensors crate");
        assert_eq!(v.dtype(), safetensors::Dtype::F32);
        assert_eq!(v.shape(), s.as_slice());
        let le: Vec<u8> = d.iter().flat_map(|x| x.to_le_bytes()).collect();
        assert_eq!(v.data(), le.as_slice(), "tensor {n}");
    }

    // Strict options: refused exactly when a value is non-finite, naming the
    // first such tensor in file order.
    let first_bad = tensors
        .iter()
        .find(|(_, _, d)| d.iter().any(|v| !v.is_finite()));
    match (
        parse_checkpoint(path, &bytes, LoadOptions::default()),
        first_bad,
    ) {
        (Ok(_), None) => {}
        (Err(CheckpointError::NonFinite { tensor, .. }), Some((n, _, _))) => assert_eq!(&tensor, n),
        (r, bad) => panic!(
            "strict read gave {:?} for first non-finite tensor {:?}",
            r.map(|_| ()),
            bad.map(|b| &b.0)
        ),
    }
});
