//! The IDX reader's gzip path (`parse_idx` under a `.gz` name), two ways per
//! input, each as an images file and as a labels file:
//!
//! 1. The input *is* the `.gz` file. The reader must accept it exactly when an
//!    independent decompression (flate2, no size limit) succeeds and the
//!    decompressed bytes are a valid IDX file by `idx_model`, and then return
//!    that file. So a corrupt stream (bad deflate data, CRC-32 or length
//!    trailer) is never accepted and a valid one never refused. (Input with
//!    bytes after the first gzip member is only checked for consistency: the
//!    reader ignores such bytes today, a finding reported to be fixed.)
//! 2. The input is an IDX payload, gzip-compressed here (level from the input
//!    length): reading it as `.gz` must give what the raw reader gives on the
//!    payload: the same file, or the same error variant (except gzip data
//!    under a raw name, `CompressedNotGz`, which inside a `.gz` is `BadMagic`
//!    or, under 4 bytes, `TruncatedHeader`,
//!    and a size no gzip of this length can hold, `ImpossibleGzipSize`, which
//!    raw is `SizeMismatch`).
//!
//! Every error message names the file, and no single allocation exceeds what
//! the compressed size justifies: DEFLATE inflates at most 1032:1, the Vec
//! that receives the data may double, and flate2 keeps a window and tables
//! (256 KiB allowed for those).
#![no_main]

use std::io::{Read, Write};
use std::path::Path;

use descent_train::data::{parse_idx, IdxKind};
use descent_fuzz::{data_variant, idx_model, largest, reset_largest, PeakAlloc, KINDS};
use flate2::bufread::GzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;
use libfuzzer_sys::fuzz_target;

#[global_allocator]
static ALLOC: PeakAlloc = PeakAlloc;

const GZ_NAME: &str = "fuzz-idx-ubyte.gz";
const RAW_NAME: &str = "fuzz-idx-ubyte";

/// Reads `gz` as a `.gz` IDX file of `kind`, checking the allocation bound and
/// that an error names the file.
fn read_gz(gz: &[u8], kind: IdxKind) -> Result<descent_train::data::IdxFile, &'static str> {
    reset_largest();
    let got = parse_idx(Path::new(GZ_NAME), gz, kind);
    let peak = largest();
    let allowed = 2 * 1032 * gz.len() + 256 * 1024;
    assert!(
        peak <= allowed,
        "{kind}: largest allocation {peak} bytes for a {}-byte gzip input (allowed {allowed})",
        gz.len()
    );
    got.map_err(|e| {
        let msg = e.to_string();
        assert!(
            msg.contains(GZ_NAME),
            "{kind}: message must name the file: {msg}"
        );
        data_variant(&e)
    })
}

fuzz_target!(|data: &[u8]| {
    // 1. The input as a .gz file, against an independent decompression.
    let mut inflated = Vec::new();
    let mut dec = GzDecoder::new(data);
    let decoded = dec.read_to_end(&mut inflated).is_ok();
    // Bytes after the first gzip member: descent ignores them today (see
    // `data_after_the_gzip_member_is_refused` in train/tests/fuzz_regressions.rs);
    // refusing them or decoding further members is the reader's choice, so
    // such inputs are only checked for consistency.
    let after_member = decoded && !dec.into_inner().is_empty();
    for kind in KINDS {
        let got = read_gz(data, kind);
        if after_member {
            if let Ok(f) = &got {
                assert_eq!(f.data.len(), f.dims.iter().product::<usize>());
            }
            continue;
        }
        let want = if decoded {
            idx_model(&inflated, kind).ok()
        } else {
            None
        };
        match (got, want) {
            (Ok(f), Some(w)) => assert_eq!(f, w, "{kind}"),
            (Err(_), None) => {}
            (Ok(f), None) => panic!(
                "{kind}: accepted {:?} but the stream {}",
                f.dims,
                if decoded {
                    "holds no valid IDX file"
                } else {
                    "does not decompress"
                }
            ),
            (Err(e), Some(w)) => panic!("{kind}: rejected a valid stream ({:?}): {e}", w.dims),
        }
    }

    // 2. The input as a payload, compressed here, against the raw reader.
    let level = (data.len() % 10) as u32;
    let mut enc = GzEncoder::new(Vec::new(), Compression::new(level));
    enc.write_all(data).unwrap();
    let gz = enc.finish().unwrap();
    for kind in KINDS {
        let raw = parse_idx(Path::new(RAW_NAME), data, kind).map_err(|e| data_variant(&e));
        match (read_gz(&gz, kind), raw) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "{kind}"),
            // Gzip magic under a raw name; inside a .gz it is read as a header.
            (Err(a), Err("CompressedNotGz")) => {
                let want = if data.len() < 4 {
                    "TruncatedHeader"
                } else {
                    "BadMagic"
                };
                assert_eq!(a, want, "{kind}: gzip magic inside a .gz");
            }
            // A header claiming more than the compressed size can hold is
            // refused before decompressing; raw, the same file is a mismatch.
            (Err("ImpossibleGzipSize"), Err("SizeMismatch")) => {}
            (Err(a), Err(b)) => assert_eq!(a, b, "{kind}: gzip and raw readers disagree"),
            (a, b) => panic!(
                "{kind}: gzip reader gives {a:?}, raw reader {b:?}",
                a = a.map(|f| f.dims),
                b = b.map(|f| f.dims)
            ),
        }
    }
});
