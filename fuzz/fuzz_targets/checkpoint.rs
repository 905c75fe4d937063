//! The checkpoint reader (`parse_checkpoint`: safetensors layout plus
//! descent's checks) on arbitrary bytes.
//!
//! Checks, beyond "no panic":
//! - every error message names the file; no single allocation exceeds
//!   64 × the input length + 1 MiB (a JSON header may expand into `Value`s,
//!   linearly; nothing may be sized from a length or shape in the header);
//! - an accepted file is self-consistent: each tensor holds ∏ shape values,
//!   the tensors' bytes add up to the data section exactly, names are unique;
//! - the default options accept it exactly when every value is finite;
//! - it survives a round trip through descent's writer: re-encoded with
//!   `checkpoint_bytes` and parsed again, it gives the same names, shapes,
//!   value bits and metadata;
//! - the reference reader (safetensors crate) accepts it too.
#![no_main]

use std::collections::HashSet;
use std::path::Path;

use descent_fuzz::{checkpoint_variant, largest, reset_largest, PeakAlloc};
use descent_train::checkpoint::{checkpoint_bytes, parse_checkpoint, LoadOptions};
use libfuzzer_sys::fuzz_target;

#[global_allocator]
static ALLOC: PeakAlloc = PeakAlloc;

const NAME: &str = "fuzz.safetensors";

fuzz_target!(|data: &[u8]| {
    let path = Path::new(NAME);
    let lenient = LoadOptions {
        allow_nonfinite: true,
    };
    reset_largest();
    let got = parse_checkpoint(path, data, lenient);
    let peak = largest();
    let allowed = 64 * data.len() + (1 << 20);
    assert!(
        peak <= allowed,
        "largest allocation {peak} bytes for a {}-byte input (allowed {allowed})",
        data.len()
    );
    let strict = parse_checkpoint(path, data, LoadOptions::default());
    let c = match got {
        Ok(c) => c,
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.contains(NAME), "message must name the file: {msg}");
            let s = strict.expect_err("strict options accepted what lenient ones refused");
            assert_eq!(checkpoint_variant(&s), checkpoint_variant(&e));
            return;
        }
    };

    // Self-consistency of an accepted file.
    let header_len = u64::from_le_bytes(data[..8].try_into().unwrap()) as usize;
    let data_section = data.len() - 8 - header_len;
    let mut names = HashSet::new();
    let mut bytes = 0usize;
    for t in &c.tensors {
        assert!(
            names.insert(t.name.as_str()),
            "tensor {} returned twice",
            t.name
        );
        assert_eq!(
            t.data().len(),
            t.shape().iter().product::<usize>(),
            "tensor {}",
            t.name
        );
        bytes += 4 * t.data().len();
    }
    assert_eq!(
        bytes, data_section,
        "tensors must cover the data section exactly"
    );

    // Strict options: accepted exactly when every value is finite.
    let finite = c
        .tensors
        .iter()
        .all(|t| t.data().iter().all(|v| v.is_finite()));
    match &strict {
        Ok(s) => {
            assert!(finite, "strict options accepted a non-finite value");
            assert_eq!(s.tensors.len(), c.tensors.len());
        }
        Err(e) => assert!(
            !finite && checkpoint_variant(e) == "NonFinite",
            "strict options refused a finite file: {e}"
        ),
    }

    // The reference reader accepts it (descent also runs it inside the parser;
    // this guards against that check being removed).
    assert!(safetensors::SafeTensors::deserialize(data).is_ok());

    // Round trip through descent's own writer. The writer refuses an empty
    // tensor name (the reader accepts one, as safetensors does): skip those.
    if c.tensors.iter().any(|t| t.name.is_empty()) {
        return;
    }
    let refs: Vec<(&str, &[usize], &[f32])> = c
        .tensors
        .iter()
        .map(|t| (t.name.as_str(), t.shape(), t.data()))
        .collect();
    let again = checkpoint_bytes(path, &refs, &c.metadata)
        .unwrap_or_else(|e| panic!("the writer refused what the reader accepted: {e}"));
    let back = parse_checkpoint(path, &again, lenient)
        .unwrap_or_else(|e| panic!("the reader refused what the writer wrote: {e}"));
    assert_eq!(back.metadata, c.metadata);
    assert_eq!(back.tensors.len(), c.tensors.len());
    for (a, b) in back.tensors.iter().zip(&c.tensors) {
        assert_eq!((&a.name, a.shape()), (&b.name, b.shape()));
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<u32>>();
        assert_eq!(bits(a.data()), bits(b.data()), "tensor {}", a.name);
    }
});
