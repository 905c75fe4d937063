//! Shared parts of descent's fuzz targets: a largest-allocation probe and the
//! independent oracles the targets compare the readers with.
//!
//! Each target checks more than "no panic": the IDX reader is compared with a
//! from-the-spec model of which error (or which `IdxFile`) each input must give,
//! the gzip path with an independent decompression, and the checkpoint reader
//! with its own writer (re-encode, parse again, compare bit for bit). Every
//! target also bounds the largest single allocation by what the input length
//! justifies, so a header that makes a reader allocate from its own claims is a
//! crash too.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use descent_train::checkpoint::CheckpointError;
use descent_train::data::{DataError, IdxFile, IdxKind};

/// A global allocator that records the largest single allocation request.
/// Install it in a target with
/// `#[global_allocator] static A: descent_fuzz::PeakAlloc = descent_fuzz::PeakAlloc;`.
pub struct PeakAlloc;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

/// Resets the largest-allocation record.
pub fn reset_largest() {
    LARGEST.store(0, Ordering::Relaxed);
}

/// The largest single allocation (or reallocation target) since the last reset.
pub fn largest() -> usize {
    LARGEST.load(Ordering::Relaxed)
}

// SAFETY: every method forwards to `System` unchanged; the probe only records sizes.
unsafe impl GlobalAlloc for PeakAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        // SAFETY: forwarded unchanged; the caller upholds GlobalAlloc's contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` through this allocator with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        // SAFETY: as for `dealloc`; `new_size` is the caller's, non-zero by contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// The name of a [`DataError`] variant, for comparing with [`idx_model`].
pub fn data_variant(e: &DataError) -> &'static str {
    use DataError::*;
    match e {
        MissingDir { .. } => "MissingDir",
        NotADirectory { .. } => "NotADirectory",
        MissingFile { .. } => "MissingFile",
        Io { .. } => "Io",
        BadMagic { .. } => "BadMagic",
        UnknownType { .. } => "UnknownType",
        UnsupportedType { .. } => "UnsupportedType",
        WrongDims { .. } => "WrongDims",
        TruncatedHeader { .. } => "TruncatedHeader",
        EmptyImage { .. } => "EmptyImage",
        SizeMismatch { .. } => "SizeMismatch",
        ImpossibleGzipSize { .. } => "ImpossibleGzipSize",
        CorruptGzip { .. } => "CorruptGzip",
        CompressedNotGz { .. } => "CompressedNotGz",
        LabelOutOfRange { .. } => "LabelOutOfRange",
        CountMismatch { .. } => "CountMismatch",
        NoImages { .. } => "NoImages",
        ImageSizeMismatch { .. } => "ImageSizeMismatch",
    }
}

/// The name of a [`CheckpointError`] variant.
pub fn checkpoint_variant(e: &CheckpointError) -> &'static str {
    use CheckpointError::*;
    match e {
        Io { .. } => "Io",
        TooShort { .. } => "TooShort",
        HeaderTooLarge { .. } => "HeaderTooLarge",
        HeaderPastEnd { .. } => "HeaderPastEnd",
        HeaderNotUtf8 { .. } => "HeaderNotUtf8",
        HeaderNotJson { .. } => "HeaderNotJson",
        BadMetadata { .. } => "BadMetadata",
        BadEntry { .. } => "BadEntry",
        DuplicateTensor { .. } => "DuplicateTensor",
        UnsupportedDtype { .. } => "UnsupportedDtype",
        ShapeBytesMismatch { .. } => "ShapeBytesMismatch",
        ReversedOffsets { .. } => "ReversedOffsets",
        TensorPastEnd { .. } => "TensorPastEnd",
        OffsetGap { .. } => "OffsetGap",
        OffsetOverlap { .. } => "OffsetOverlap",
        TrailingBytes { .. } => "TrailingBytes",
        NonFinite { .. } => "NonFinite",
        MissingTensor { .. } => "MissingTensor",
        ShapeMismatch { .. } => "ShapeMismatch",
        MissingMetadata { .. } => "MissingMetadata",
        InvalidMetadata { .. } => "InvalidMetadata",
        Safetensors { .. } => "Safetensors",
        InvalidTensor { .. } => "InvalidTensor",
    }
}

/// What a raw (uncompressed) IDX reader must return for `bytes` read as an
/// MNIST `kind` file, written from the format description alone (not from
/// the reader): `Ok` with the file, or the name of the error variant, checked
/// in the reader's documented order:
///
/// 1. starts with the gzip magic 1f 8b            → `CompressedNotGz`
/// 2. fewer than 4 bytes                           → `TruncatedHeader`
/// 3. magic bytes 0, 1 not zero                    → `BadMagic`
/// 4. type code not one IDX defines                → `UnknownType`;
///    defined but not 0x08                         → `UnsupportedType`
/// 5. byte 3 ≠ ndims of `kind` (3 or 1)            → `WrongDims`
/// 6. fewer than 4 + 4·ndims bytes                 → `TruncatedHeader`
/// 7. images: rows or cols 0 → `EmptyImage`; n = 0 → `NoImages`
/// 8. ∏ dims ≠ bytes after the header              → `SizeMismatch`
pub fn idx_model(bytes: &[u8], kind: IdxKind) -> Result<IdxFile, &'static str> {
    if bytes.len() >= 2 && bytes[..2] == [0x1f, 0x8b] {
        return Err("CompressedNotGz");
    }
    if bytes.len() < 4 {
        return Err("TruncatedHeader");
    }
    if bytes[0] != 0 || bytes[1] != 0 {
        return Err("BadMagic");
    }
    match bytes[2] {
        0x08 => {}
        0x09 | 0x0b | 0x0c | 0x0d | 0x0e => return Err("UnsupportedType"),
        _ => return Err("UnknownType"),
    }
    let ndims = match kind {
        IdxKind::Images => 3,
        IdxKind::Labels => 1,
    };
    if bytes[3] != ndims as u8 {
        return Err("WrongDims");
    }
    let header = 4 + 4 * ndims;
    if bytes.len() < header {
        return Err("TruncatedHeader");
    }
    let dims: Vec<u32> = (0..ndims)
        .map(|i| u32::from_be_bytes(bytes[4 + 4 * i..8 + 4 * i].try_into().unwrap()))
        .collect();
    if kind == IdxKind::Images {
        if dims[1] == 0 || dims[2] == 0 {
            return Err("EmptyImage");
        }
        if dims[0] == 0 {
            return Err("NoImages");
        }
    }
    // u128 cannot overflow for three u32 factors.
    let product: u128 = dims.iter().map(|&d| u128::from(d)).product();
    if product != (bytes.len() - header) as u128 {
        return Err("SizeMismatch");
    }
    Ok(IdxFile {
        dims: dims.iter().map(|&d| d as usize).collect(),
        data: bytes[header..].to_vec(),
    })
}

/// Both kinds, for targets that try each input as images and as labels.
pub const KINDS: [IdxKind; 2] = [IdxKind::Images, IdxKind::Labels];
