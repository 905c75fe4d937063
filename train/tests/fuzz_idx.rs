//! Property test: thousands of random mutations of valid small IDX files, raw
//! and gzip, fed to the reader. Each must give `Ok` or a typed error, never a
//! panic, and no single allocation larger than the input justifies.
//!
//! This binary installs a largest-allocation probe as its global allocator; its
//! tests hold a lock while measuring, so no other test's allocations are counted.

mod common;

use std::path::Path;

use common::*;
use descent_train::data::*;
use proptest::prelude::*;

#[global_allocator]
static ALLOC: PeakAlloc = PeakAlloc;

/// Serializes the tests of this binary: the probe is process-wide.
static PROBE: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn probe_sees_a_large_allocation() {
    let _g = PROBE.lock().unwrap_or_else(|e| e.into_inner());
    reset_largest();
    let v = std::hint::black_box(vec![0u8; 3 << 20]);
    assert!(largest() >= 3 << 20);
    drop(v);
}

/// One edit of a byte string.
#[derive(Debug, Clone)]
enum Mutation {
    /// XOR the byte at (position mod len) with a non-zero mask.
    Flip(usize, u8),
    /// Set a header byte (position mod 16) to a value.
    SetHeader(usize, u8),
    /// Cut the data to (position mod (len + 1)) bytes.
    Truncate(usize),
    /// Insert bytes at (position mod (len + 1)).
    Insert(usize, Vec<u8>),
    /// Write a big-endian u32 at header slot (k mod 4)·4.
    SetWord(usize, u32),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1..=255u8).prop_map(|(p, m)| Mutation::Flip(p, m)),
        (any::<usize>(), any::<u8>()).prop_map(|(p, v)| Mutation::SetHeader(p, v)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(p, b)| Mutation::Insert(p, b)),
        (
            any::<usize>(),
            prop_oneof![any::<u32>(), Just(u32::MAX), Just(1 << 31), 0..64u32]
        )
            .prop_map(|(k, w)| Mutation::SetWord(k, w)),
    ]
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    match m {
        Mutation::Flip(p, mask) if !bytes.is_empty() => {
            let k = p % bytes.len();
            bytes[k] ^= mask;
        }
        Mutation::SetHeader(p, v) if !bytes.is_empty() => {
            let k = p % bytes.len().min(16);
            bytes[k] = *v;
        }
        Mutation::Truncate(p) => bytes.truncate(p % (bytes.len() + 1)),
        Mutation::Insert(p, b) => {
            let k = p % (bytes.len() + 1);
            bytes.splice(k..k, b.iter().copied());
        }
        Mutation::SetWord(k, w) => {
            let at = (k % 4) * 4;
            if bytes.len() >= at + 4 {
                bytes[at..at + 4].copy_from_slice(&w.to_be_bytes());
            }
        }
        _ => {}
    }
}

/// Where the mutations land.
#[derive(Debug, Clone, Copy)]
enum Target {
    /// Raw IDX bytes under a raw name.
    Raw,
    /// IDX bytes mutated, then compressed, read under a `.gz` name.
    MutateThenGzip,
    /// Valid IDX compressed, then the gzip bytes mutated, under a `.gz` name.
    GzipThenMutate,
    /// Mutated gzip bytes under a raw name.
    GzipUnderRawName,
}

/// The largest allocation these bytes justify: the raw reader holds at most the
/// file; a gzip stream may inflate up to 1032:1 and the Vec that receives it
/// may double; flate2 keeps a 32 KiB window and its tables.
fn allowed(input_len: usize, gz: bool) -> usize {
    let body = if gz { 2 * 1032 * input_len } else { input_len };
    body + 256 * 1024
}

fn check(bytes: &[u8], target: Target, kind: IdxKind) {
    let (name, gz) = match target {
        Target::Raw | Target::GzipUnderRawName => ("f-idx-ubyte", false),
        _ => ("f-idx-ubyte.gz", true),
    };
    let _g = PROBE.lock().unwrap_or_else(|e| e.into_inner());
    reset_largest();
    let r = parse_idx(Path::new(name), bytes, kind);
    let peak = largest();
    assert!(
        peak <= allowed(bytes.len(), gz),
        "{target:?}: {peak} bytes allocated for a {}-byte input",
        bytes.len()
    );
    match r {
        Ok(f) => {
            assert_eq!(f.dims.len(), usize::from(kind.ndims()));
            assert_eq!(f.data.len(), f.dims.iter().product::<usize>());
            // A valid file must also survive the rest of the loader.
            if kind == IdxKind::Images {
                let labels = IdxFile {
                    dims: vec![f.dims[0]],
                    data: vec![0; f.dims[0]],
                };
                let p = Path::new(name);
                let d = Dataset::from_idx(p, &f, p, &labels, Normalize::Standard).unwrap();
                assert_eq!(d.images().len(), f.data.len());
            }
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.contains(name), "{msg}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mutated_idx_files_never_panic(
        n in 1..6u32, rows in 1..5u32, cols in 1..5u32,
        images in any::<bool>(),
        target in prop_oneof![
            Just(Target::Raw), Just(Target::MutateThenGzip),
            Just(Target::GzipThenMutate), Just(Target::GzipUnderRawName)
        ],
        muts in prop::collection::vec(mutation(), 1..5),
    ) {
        let (kind, mut bytes) = if images {
            (IdxKind::Images, images_bytes(n, rows, cols))
        } else {
            (IdxKind::Labels, labels_bytes(n))
        };
        match target {
            Target::Raw => muts.iter().for_each(|m| apply(&mut bytes, m)),
            Target::MutateThenGzip => {
                muts.iter().for_each(|m| apply(&mut bytes, m));
                bytes = gzip(&bytes);
            }
            Target::GzipThenMutate | Target::GzipUnderRawName => {
                bytes = gzip(&bytes);
                muts.iter().for_each(|m| apply(&mut bytes, m));
            }
        }
        check(&bytes, target, kind);
    }
}
