//! The one error type of the checkpoint layer. Every variant names the file,
//! and the tensor or metadata key when there is one.

use std::io;
use std::path::PathBuf;

/// Formats a shape as `[128, 784]`.
pub(crate) fn shape_text(shape: &[usize]) -> String {
    let parts: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    format!("[{}]", parts.join(", "))
}

/// Everything that can go wrong while writing, reading or checking a checkpoint.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// The operating system refused (missing directory, permissions, disk full…).
    #[error("{}: cannot {action}: {source}", .path.display())]
    Io {
        path: PathBuf,
        /// What was being done, e.g. "read the checkpoint".
        action: &'static str,
        #[source]
        source: io::Error,
    },

    /// Fewer than the 8 bytes of the header length.
    #[error("{}: not a safetensors file: {len} byte(s), too short for the 8-byte header length", .path.display())]
    TooShort { path: PathBuf, len: u64 },

    /// The header length is beyond any sane header (100 MB, the safetensors limit).
    #[error("{}: safetensors header length {header_len} is absurd (limit {limit} bytes); the file is corrupt or not safetensors", .path.display())]
    HeaderTooLarge {
        path: PathBuf,
        header_len: u64,
        limit: u64,
    },

    /// The header length points past the end of the file.
    #[error("{}: safetensors header length {header_len} runs past the end of the file ({file_len} bytes, {} after the length field)", .path.display(), .file_len.saturating_sub(8))]
    HeaderPastEnd {
        path: PathBuf,
        header_len: u64,
        file_len: u64,
    },

    /// The header bytes are not UTF-8.
    #[error("{}: safetensors header is not valid UTF-8 ({detail})", .path.display())]
    HeaderNotUtf8 { path: PathBuf, detail: String },

    /// The header is UTF-8 but not JSON (or not a JSON object).
    #[error("{}: safetensors header is not a JSON object: {detail}", .path.display())]
    HeaderNotJson { path: PathBuf, detail: String },

    /// `__metadata__` is not an object of string values.
    #[error("{}: safetensors `__metadata__` must map strings to strings: {detail}", .path.display())]
    BadMetadata { path: PathBuf, detail: String },

    /// A tensor entry lacks `dtype`, `shape` or `data_offsets`, or has the wrong types.
    #[error("{}: tensor {tensor}: malformed header entry: {detail}", .path.display())]
    BadEntry {
        path: PathBuf,
        tensor: String,
        detail: String,
    },

    /// The same tensor name appears twice in the header.
    #[error("{}: tensor {tensor} appears more than once in the header", .path.display())]
    DuplicateTensor { path: PathBuf, tensor: String },

    /// A dtype other than F32.
    #[error("{}: tensor {tensor} has dtype {dtype}; descent reads F32 tensors only", .path.display())]
    UnsupportedDtype {
        path: PathBuf,
        tensor: String,
        dtype: String,
    },

    /// The shape's element count times 4 bytes is not the byte range given.
    #[error("{}: tensor {tensor} has shape {} = {elements} F32 value(s) = {needed} bytes, but data_offsets [{start}, {end}] hold {} bytes", .path.display(), shape_text(.shape), .end.saturating_sub(*.start))]
    ShapeBytesMismatch {
        path: PathBuf,
        tensor: String,
        shape: Vec<usize>,
        /// ∏ shape (saturated at u64::MAX on overflow).
        elements: u64,
        /// 4·elements (saturated).
        needed: u64,
        start: u64,
        end: u64,
    },

    /// `data_offsets` has end < start.
    #[error("{}: tensor {tensor} has data_offsets [{start}, {end}]: end is before start", .path.display())]
    ReversedOffsets {
        path: PathBuf,
        tensor: String,
        start: u64,
        end: u64,
    },

    /// A tensor's bytes run past the end of the data section.
    #[error("{}: tensor {tensor} has data_offsets [{start}, {end}] but the data section holds only {data_len} bytes", .path.display())]
    TensorPastEnd {
        path: PathBuf,
        tensor: String,
        start: u64,
        end: u64,
        data_len: u64,
    },

    /// Bytes no tensor claims between two tensors (or before the first).
    #[error("{}: tensor {tensor} starts at byte {start} but the previous tensor ends at {expected}: {} unclaimed byte(s) (gap in data_offsets)", .path.display(), .start - .expected)]
    OffsetGap {
        path: PathBuf,
        tensor: String,
        start: u64,
        expected: u64,
    },

    /// Two tensors claim the same bytes.
    #[error("{}: tensor {tensor} starts at byte {start}, inside tensor {previous} which ends at {expected} (overlapping data_offsets)", .path.display())]
    OffsetOverlap {
        path: PathBuf,
        tensor: String,
        previous: String,
        start: u64,
        expected: u64,
    },

    /// Bytes after the last tensor.
    #[error("{}: {extra} trailing byte(s) after the last tensor (data section is {data_len} bytes, tensors cover {covered})", .path.display())]
    TrailingBytes {
        path: PathBuf,
        extra: u64,
        data_len: u64,
        covered: u64,
    },

    /// A NaN or infinite value where finite weights are required.
    #[error("{}: tensor {tensor} holds a non-finite value {value} at flat index {index} ({count} non-finite value(s) in all); pass --allow-nonfinite to load it anyway", .path.display())]
    NonFinite {
        path: PathBuf,
        tensor: String,
        index: usize,
        value: f32,
        count: usize,
    },

    /// The model needs a tensor the file does not have.
    #[error("{}: tensor {tensor} is missing (the model needs shape {}); the file holds: {present}", .path.display(), shape_text(.shape))]
    MissingTensor {
        path: PathBuf,
        tensor: String,
        shape: Vec<usize>,
        /// The names in the file, comma-separated.
        present: String,
    },

    /// A tensor's shape does not fit the model.
    #[error("{}: tensor {tensor} has shape {} in file, model needs {}", .path.display(), shape_text(.in_file), shape_text(.needed))]
    ShapeMismatch {
        path: PathBuf,
        tensor: String,
        in_file: Vec<usize>,
        needed: Vec<usize>,
    },

    /// A metadata key the caller needs is absent.
    #[error("{}: metadata key `{key}` is missing (not a descent checkpoint, or written by another version?)", .path.display())]
    MissingMetadata { path: PathBuf, key: String },

    /// A metadata value that does not parse.
    #[error("{}: metadata key `{key}` has value `{value}`: {detail}", .path.display())]
    InvalidMetadata {
        path: PathBuf,
        key: String,
        value: String,
        detail: String,
    },

    /// The safetensors crate rejected a file descent's own checks accepted.
    #[error("{}: rejected by the safetensors reader: {detail}", .path.display())]
    Safetensors { path: PathBuf, detail: String },

    /// A tensor handed to `save_checkpoint` is inconsistent (a bug in the caller).
    #[error("{}: cannot save tensor {tensor}: {detail}", .path.display())]
    InvalidTensor {
        path: PathBuf,
        tensor: String,
        detail: String,
    },
}
