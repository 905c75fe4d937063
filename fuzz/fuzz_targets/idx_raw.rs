//! The IDX reader on raw bytes (`parse_idx` under a name without `.gz`), each
//! input read as an images file and as a labels file.
//!
//! Checks, beyond "no panic": the result equals `idx_model` (the same `IdxFile`,
//! or the same error variant), every error message names the file, and no
//! single allocation exceeds the input length plus 4 KiB (the reader may hold
//! the file's data once, never a size taken from the header).
#![no_main]

use std::path::Path;

use descent_train::data::parse_idx;
use descent_fuzz::{data_variant, idx_model, largest, reset_largest, PeakAlloc, KINDS};
use libfuzzer_sys::fuzz_target;

#[global_allocator]
static ALLOC: PeakAlloc = PeakAlloc;

const NAME: &str = "fuzz-idx-ubyte";

fuzz_target!(|data: &[u8]| {
    let path = Path::new(NAME);
    for kind in KINDS {
        reset_largest();
        let got = parse_idx(path, data, kind);
        let peak = largest();
        assert!(
            peak <= data.len() + 4096,
            "{kind}: largest allocation {peak} bytes for a {}-byte input",
            data.len()
        );
        match (got, idx_model(data, kind)) {
            (Ok(f), Ok(want)) => assert_eq!(f, want, "{kind}"),
            (Err(e), Err(want)) => {
                assert_eq!(data_variant(&e), want, "{kind}: {e}");
                let msg = e.to_string();
                assert!(
                    msg.contains(NAME),
                    "{kind}: message must name the file: {msg}"
                );
            }
            (Ok(f), Err(want)) => panic!("{kind}: accepted {:?} but the model says {want}", f.dims),
            (Err(e), Ok(want)) => panic!("{kind}: rejected a valid file ({:?}): {e}", want.dims),
        }
    }
});
