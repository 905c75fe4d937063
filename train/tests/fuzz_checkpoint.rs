//! Property tests for checkpoints: (1) random valid checkpoints round-trip bit
//! for bit; (2) thousands of random mutations of valid files give `Ok` or a
//! typed error naming the file, never a panic, and no single allocation larger
//! than the input justifies.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{largest, reset_largest, PeakAlloc};
use descent_train::checkpoint::*;
use proptest::prelude::*;

#[global_allocator]
static ALLOC: PeakAlloc = PeakAlloc;

/// Serializes the measuring sections: the probe is process-wide.
static PROBE: std::sync::Mutex<()> = std::sync::Mutex::new(());

type Tensors = Vec<(String, Vec<usize>, Vec<f32>)>;

/// 0..5 tensors with distinct names, shapes of up to 3 dims of 0..5, any bits
/// (NaN payloads included), and up to 3 metadata strings.
fn checkpoint() -> impl Strategy<Value = (Tensors, BTreeMap<String, String>)> {
    let tensor = prop::collection::vec(0..5usize, 0..4).prop_flat_map(|shape| {
        let n: usize = shape.iter().product();
        (
            Just(shape),
            prop::collection::vec(any::<u32>().prop_map(f32::from_bits), n),
        )
    });
    (
        prop::collection::vec(tensor, 0..5),
        prop::collection::btree_map("[a-z_\\\\\"é ]{1,8}", ".{0,12}", 0..3),
    )
        .prop_map(|(ts, meta)| {
            let ts = ts
                .into_iter()
                .enumerate()
                .map(|(i, (s, d))| {
                    let name = if i % 2 == 0 {
                        format!("{i}.weight")
                    } else {
                        format!("optim/m/{i}.b\"ias")
                    };
                    (name, s, d)
                })
                .collect();
            (ts, meta)
        })
}

fn bytes_of(t: &Tensors, meta: &BTreeMap<String, String>) -> Vec<u8> {
    let r: Vec<(&str, &[usize], &[f32])> = t
        .iter()
        .map(|(n, s, d)| (n.as_str(), s.as_slice(), d.as_slice()))
        .collect();
    checkpoint_bytes(Path::new("x"), &r, meta).unwrap()
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Truncate(usize),
    Insert(usize, Vec<u8>),
    /// Overwrite the 8-byte header length.
    SetLen(u64),
    /// Replace the byte at the position with a JSON-significant character.
    Json(usize, u8),
    /// Replace the k-th run of digits in the header by a number, keeping the
    /// header length field consistent (reaches the offset and shape checks).
    Number(usize, u64),
    /// Move the k-th tensor's byte range by a few bytes, keeping its length
    /// (reaches the gap, overlap and trailing-byte checks).
    Shift(usize, i64),
    /// Rename the k-th tensor to the name of tensor k + 1 (duplicate names).
    Rename(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        2 => (any::<usize>(), 1..=255u8).prop_map(|(p, m)| Mutation::Flip(p, m)),
        1 => any::<usize>().prop_map(Mutation::Truncate),
        1 => (any::<usize>(), prop::collection::vec(any::<u8>(), 1..8)).prop_map(|(p, b)| Mutation::Insert(p, b)),
        1 => prop_oneof![any::<u64>(), 0..512u64, Just(u64::MAX), Just(100_000_000)].prop_map(Mutation::SetLen),
        2 => (any::<usize>(), prop::sample::select(b"{}[],:\"0123456789-. ".to_vec()))
            .prop_map(|(p, c)| Mutation::Json(p, c)),
        6 => (any::<usize>(), prop_oneof![0..40u64, any::<u64>(), Just(u64::MAX), Just(1 << 32)])
            .prop_map(|(k, v)| Mutation::Number(k, v)),
        3 => (any::<usize>(), -12..12i64).prop_map(|(k, d)| Mutation::Shift(k, d)),
        1 => any::<usize>().prop_map(Mutation::Rename),
    ]
}

fn apply(b: &mut Vec<u8>, m: &Mutation) {
    match m {
        Mutation::Flip(p, mask) if !b.is_empty() => {
            let k = p % b.len();
            b[k] ^= mask;
        }
        Mutation::Json(p, c) if b.len() > 8 => {
            let k = 8 + p % (b.len() - 8);
            b[k] = *c;
        }
        Mutation::Truncate(p) => b.truncate(p % (b.len() + 1)),
        Mutation::Insert(p, x) => {
            let k = p % (b.len() + 1);
            b.splice(k..k, x.iter().copied());
        }
        Mutation::SetLen(n) if b.len() >= 8 => b[..8].copy_from_slice(&n.to_le_bytes()),
        Mutation::Number(k, v) if b.len() >= 8 => {
            let n = u64::from_le_bytes(b[..8].try_into().unwrap()) as usize;
            if n > b.len() - 8 {
                return;
            }
            let header = &b[8..8 + n];
            let mut runs = Vec::new();
            let mut i = 0;
            while i < header.len() {
                if header[i].is_ascii_digit() {
                    let s = i;
                    while i < header.len() && header[i].is_ascii_digit() {
                        i += 1;
                    }
                    runs.push((s, i));
                } else {
                    i += 1;
                }
            }
            if runs.is_empty() {
                return;
            }
            let (s, e) = runs[k % runs.len()];
            let text = v.to_string();
            let new_n = n - (e - s) + text.len();
            b.splice(8 + s..8 + e, text.bytes());
            b[..8].copy_from_slice(&(new_n as u64).to_le_bytes());
        }
        Mutation::Shift(k, d) => edit_header(b, |h| {
            let re = "\"data_offsets\":[";
            let starts: Vec<usize> = h.match_indices(re).map(|(i, _)| i + re.len()).collect();
            let at = *starts.get(k % starts.len().max(1))?;
            let close = at + h[at..].find(']')?;
            let (a, e) = h[at..close].split_once(',')?;
            let (a, e): (i64, i64) = (a.parse().ok()?, e.parse().ok()?);
            let (a, e) = ((a + d).max(0), (e + d).max(0));
            Some(format!("{}{a},{e}{}", &h[..at], &h[close..]))
        }),
        Mutation::Rename(k) => edit_header(b, |h| {
            let names: Vec<(usize, usize)> = h
                .match_indices("\":{\"dtype\"")
                .filter_map(|(end, _)| {
                    Some((h[..end].rfind(",\"").or(h[..end].rfind("{\""))? + 2, end))
                })
                .collect();
            if names.len() < 2 {
                return None;
            }
            let i = k % (names.len() - 1);
            let (s0, e0) = names[i];
            let (s1, e1) = names[i + 1];
            Some(format!("{}{}{}", &h[..s0], &h[s1..e1], &h[e0..]))
        }),
        _ => {}
    }
}

/// Rewrites the header text with `f` (if it is UTF-8 and `f` applies) and
/// updates the length field.
fn edit_header(b: &mut Vec<u8>, f: impl Fn(&str) -> Option<String>) {
    if b.len() < 8 {
        return;
    }
    let n = u64::from_le_bytes(b[..8].try_into().unwrap()) as usize;
    if n > b.len() - 8 {
        return;
    }
    let Ok(h) = std::str::from_utf8(&b[8..8 + n]) else {
        return;
    };
    let Some(new) = f(h) else {
        return;
    };
    let rest = b[8 + n..].to_vec();
    b.clear();
    b.extend_from_slice(&(new.len() as u64).to_le_bytes());
    b.extend_from_slice(new.as_bytes());
    b.extend_from_slice(&rest);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn valid_checkpoints_round_trip_bit_for_bit((t, meta) in checkpoint()) {
        let b = bytes_of(&t, &meta);
        let c = parse_checkpoint(Path::new("x"), &b, LoadOptions { allow_nonfinite: true }).unwrap();
        prop_assert_eq!(c.tensors.len(), t.len());
        for (got, (n, s, d)) in c.tensors.iter().zip(&t) {
            prop_assert_eq!(&got.name, n);
            prop_assert_eq!(got.shape(), s.as_slice());
            let a: Vec<u32> = got.data().iter().map(|v| v.to_bits()).collect();
            let e: Vec<u32> = d.iter().map(|v| v.to_bits()).collect();
            prop_assert_eq!(a, e);
        }
        prop_assert_eq!(&c.metadata, &meta);
        // The reference reader agrees.
        prop_assert!(safetensors::SafeTensors::deserialize(&b).is_ok());
        // Writing what was read gives the same bytes.
        let again: Tensors = c.tensors.iter().map(|x| (x.name.clone(), x.shape().to_vec(), x.data().to_vec())).collect();
        prop_assert_eq!(bytes_of(&again, &c.metadata), b);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 5000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mutated_checkpoints_never_panic(
        (t, meta) in checkpoint(),
        muts in prop::collection::vec(mutation(), 1..5),
        allow in any::<bool>(),
    ) {
        let mut b = bytes_of(&t, &meta);
        muts.iter().for_each(|m| apply(&mut b, m));
        let _g = PROBE.lock().unwrap_or_else(|e| e.into_inner());
        reset_largest();
        let r = parse_checkpoint(Path::new("mutated.safetensors"), &b, LoadOptions { allow_nonfinite: allow });
        let peak = largest();
        // The JSON tree, tensor values and names are each bounded by the input;
        // serde_json may hold a few copies of the header at once.
        let bound = 16 * b.len() + 64 * 1024;
        prop_assert!(peak <= bound, "{} bytes allocated for a {}-byte input", peak, b.len());
        match r {
            Ok(c) => {
                for x in &c.tensors {
                    prop_assert_eq!(x.data().len(), x.shape().iter().product::<usize>());
                }
            }
            Err(e) => prop_assert!(e.to_string().contains("mutated.safetensors"), "{}", e),
        }
    }
}
