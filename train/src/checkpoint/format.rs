//! The safetensors byte layout, read and written with descent's own checks.
//!
//! ```text
//! u64 little-endian  N = header length
//! N bytes            JSON object, space-padded to a multiple of 8:
//!                    {"__metadata__": {"k": "v", ...},
//!                     "name": {"dtype": "F32", "shape": [..], "data_offsets": [s, e]}, ...}
//! data section       the tensors' little-endian bytes; [s, e) relative to its start
//! ```
//!
//! Why not only `safetensors::SafeTensors::deserialize`: version 0.8 rejects
//! gaps, overlaps and trailing bytes, but with one error (`InvalidOffset`,
//! `MetadataIncompleteBuffer`) that does not say which case or which pair of
//! tensors, `TensorInvalidInfo` names no tensor, and a tensor listed twice in
//! the JSON silently keeps the last entry (serde map semantics). So the
//! header is parsed here with duplicates kept, every rule is checked with an
//! error naming the tensor, and the crate then reads the file as a second,
//! independent check.
//!
//! Writing is done here too, so the header is byte-for-byte deterministic
//! (the crate serializes `__metadata__` from a `HashMap`, whose order varies
//! between runs) and tensors stay in the caller's order.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;

use super::error::CheckpointError;
use super::NamedTensor;
use descent_core::{AlignedVec, Tensor};

/// The largest header accepted: the limit of the reference implementation.
pub const MAX_HEADER_LEN: u64 = 100_000_000;

/// The key of the string-to-string metadata object in the header.
pub const METADATA_KEY: &str = "__metadata__";

/// A JSON object read with its keys in file order and duplicates kept
/// (serde_json's own maps would keep only the last of two equal keys).
struct Entries(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Entries {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Entries;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Entries, A::Error> {
                let mut v = Vec::new();
                while let Some(kv) = m.next_entry::<String, Value>()? {
                    v.push(kv);
                }
                Ok(Entries(v))
            }
        }
        d.deserialize_map(V)
    }
}

/// One tensor entry of the header, before its bytes are checked.
#[derive(serde::Deserialize)]
struct RawInfo {
    dtype: String,
    shape: Vec<u64>,
    data_offsets: (u64, u64),
}

/// A checked tensor entry.
struct Info {
    name: String,
    shape: Vec<usize>,
    start: u64,
    end: u64,
}

/// Parses and checks a whole checkpoint file held in `bytes`; `path` names it
/// in errors. Non-finite values are not checked here.
pub fn parse(
    path: &Path,
    bytes: &[u8],
) -> Result<(Vec<NamedTensor>, BTreeMap<String, String>), CheckpointError> {
    let p = || path.to_path_buf();
    let file_len = bytes.len() as u64;
    let Some(len_field) = bytes.get(..8) else {
        return Err(CheckpointError::TooShort {
            path: p(),
            len: file_len,
        });
    };
    let mut n8 = [0u8; 8];
    n8.copy_from_slice(len_field);
    let header_len = u64::from_le_bytes(n8);
    if header_len > MAX_HEADER_LEN {
        return Err(CheckpointError::HeaderTooLarge {
            path: p(),
            header_len,
            limit: MAX_HEADER_LEN,
        });
    }
    if header_len > file_len - 8 {
        return Err(CheckpointError::HeaderPastEnd {
            path: p(),
            header_len,
            file_len,
        });
    }
    // header_len ≤ file_len − 8 fits in usize because `bytes` does.
    let data_start = 8 + header_len as usize;
    let header =
        std::str::from_utf8(&bytes[8..data_start]).map_err(|e| CheckpointError::HeaderNotUtf8 {
            path: p(),
            detail: e.to_string(),
        })?;
    let Entries(entries) =
        serde_json::from_str(header).map_err(|e| CheckpointError::HeaderNotJson {
            path: p(),
            detail: e.to_string(),
        })?;
    let data = &bytes[data_start..];
    let data_len = data.len() as u64;

    let mut metadata = None;
    let mut infos: Vec<Info> = Vec::with_capacity(entries.len());
    let mut seen = std::collections::HashSet::with_capacity(entries.len());
    for (name, value) in entries {
        if !seen.insert(name.clone()) {
            return Err(CheckpointError::DuplicateTensor {
                path: p(),
                tensor: name,
            });
        }
        if name == METADATA_KEY {
            let m: BTreeMap<String, String> =
                serde_json::from_value(value).map_err(|e| CheckpointError::BadMetadata {
                    path: p(),
                    detail: e.to_string(),
                })?;
            metadata = Some(m);
            continue;
        }
        infos.push(check_entry(path, name, value, data_len)?);
    }

    // The tensors, sorted by offset, must tile the data section exactly.
    let mut order: Vec<usize> = (0..infos.len()).collect();
    order.sort_by_key(|&i| (infos[i].start, infos[i].end));
    let mut cursor = 0u64;
    let mut previous: Option<usize> = None;
    for &i in &order {
        let t = &infos[i];
        if t.start > cursor {
            return Err(CheckpointError::OffsetGap {
                path: p(),
                tensor: t.name.clone(),
                start: t.start,
                expected: cursor,
            });
        }
        if t.start < cursor {
            return Err(CheckpointError::OffsetOverlap {
                path: p(),
                tensor: t.name.clone(),
                // cursor > 0, so some tensor set it.
                previous: previous.map_or_else(String::new, |j| infos[j].name.clone()),
                start: t.start,
                expected: cursor,
            });
        }
        if t.end > t.start {
            cursor = t.end;
            previous = Some(i);
        }
    }
    if cursor != data_len {
        // Every end ≤ data_len was checked, so cursor < data_len here.
        return Err(CheckpointError::TrailingBytes {
            path: p(),
            extra: data_len - cursor,
            data_len,
            covered: cursor,
        });
    }

    // Independent check by the reference reader: it must accept what we accept.
    safetensors::SafeTensors::deserialize(bytes).map_err(|e| CheckpointError::Safetensors {
        path: p(),
        detail: e.to_string(),
    })?;

    let mut tensors = Vec::with_capacity(infos.len());
    for t in infos {
        // start ≤ end ≤ data_len, checked in check_entry.
        let raw = &data[t.start as usize..t.end as usize];
        let mut values = AlignedVec::zeros(raw.len() / 4);
        for (v, c) in values.iter_mut().zip(raw.chunks_exact(4)) {
            *v = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        }
        // check_entry matched the shape against the bytes; the core checks
        // it again.
        let tensor =
            Tensor::from_aligned(values, &t.shape).map_err(|e| CheckpointError::BadEntry {
                path: p(),
                tensor: t.name.clone(),
                detail: e.to_string(),
            })?;
        tensors.push(NamedTensor {
            name: t.name,
            tensor,
        });
    }
    Ok((tensors, metadata.unwrap_or_default()))
}

/// Checks one tensor entry on its own: fields, dtype, shape against bytes, and
/// that its range lies inside the data section.
fn check_entry(
    path: &Path,
    name: String,
    value: Value,
    data_len: u64,
) -> Result<Info, CheckpointError> {
    let p = || path.to_path_buf();
    let raw: RawInfo = match serde_json::from_value(value) {
        Ok(r) => r,
        Err(e) => {
            return Err(CheckpointError::BadEntry {
                path: p(),
                tensor: name,
                detail: e.to_string(),
            })
        }
    };
    if raw.dtype != "F32" {
        return Err(CheckpointError::UnsupportedDtype {
            path: p(),
            tensor: name,
            dtype: raw.dtype,
        });
    }
    let (start, end) = raw.data_offsets;
    if end < start {
        return Err(CheckpointError::ReversedOffsets {
            path: p(),
            tensor: name,
            start,
            end,
        });
    }
    let elements = raw.shape.iter().try_fold(1u64, |a, &d| a.checked_mul(d));
    let needed = elements.and_then(|e| e.checked_mul(4));
    if needed != Some(end - start) {
        return Err(CheckpointError::ShapeBytesMismatch {
            path: p(),
            tensor: name,
            shape: raw.shape.iter().map(|&d| d as usize).collect(),
            elements: elements.unwrap_or(u64::MAX),
            needed: needed.unwrap_or(u64::MAX),
            start,
            end,
        });
    }
    if end > data_len {
        return Err(CheckpointError::TensorPastEnd {
            path: p(),
            tensor: name,
            start,
            end,
            data_len,
        });
    }
    // Each dim ≤ the element count ≤ data_len, which fits in usize (unless the
    // product is 0, then a dim may be huge: reject those as unusable).
    let shape = raw
        .shape
        .iter()
        .map(|&d| usize::try_from(d))
        .collect::<Result<Vec<usize>, _>>()
        .map_err(|_| CheckpointError::BadEntry {
            path: p(),
            tensor: name.clone(),
            detail: "a dimension does not fit in this machine's usize".to_string(),
        })?;
    Ok(Info {
        name,
        shape,
        start,
        end,
    })
}

/// Serializes the header for `tensors` (in the given order, packed from offset
/// 0) and `metadata` (sorted keys): the 8-byte length followed by the JSON,
/// space-padded to a multiple of 8 as the reference writer does.
pub fn header_bytes(
    tensors: &[(&str, &[usize], &[f32])],
    metadata: &BTreeMap<String, String>,
) -> Vec<u8> {
    let mut json = String::from("{");
    let mut first = true;
    let mut sep = |json: &mut String| {
        if !first {
            json.push(',');
        }
        first = false;
    };
    if !metadata.is_empty() {
        sep(&mut json);
        json.push_str(&quote(METADATA_KEY));
        json.push(':');
        // A BTreeMap<String, String> always serializes.
        json.push_str(&serde_json::to_string(metadata).unwrap_or_else(|_| "{}".into()));
    }
    let mut offset = 0usize;
    for &(name, shape, data) in tensors {
        sep(&mut json);
        let end = offset + 4 * data.len();
        let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
        json.push_str(&format!(
            "{}:{{\"dtype\":\"F32\",\"shape\":[{}],\"data_offsets\":[{offset},{end}]}}",
            quote(name),
            dims.join(",")
        ));
        offset = end;
    }
    json.push('}');
    let mut bytes = json.into_bytes();
    bytes.resize(bytes.len().next_multiple_of(8), b' ');
    let mut out = Vec::with_capacity(8 + bytes.len());
    out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
    out.extend_from_slice(&bytes);
    out
}

/// `s` as a JSON string literal.
fn quote(s: &str) -> String {
    // Serializing a &str cannot fail.
    serde_json::to_string(s).unwrap_or_default()
}
