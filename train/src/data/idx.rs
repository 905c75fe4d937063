//! The IDX reader: one file of unsigned bytes, raw or gzip-compressed.
//!
//! Layout (all sizes big-endian u32):
//! ```text
//! magic: 0x00 0x00 <type code> <ndims>     type 0x08 = u8; ndims = 3 (images) or 1 (labels)
//! dims:  ndims × u32                       images: n, rows, cols; labels: n
//! data:  n·rows·cols (or n) bytes, nothing after
//! ```
//!
//! Trust rule: nothing is allocated from the header's sizes until they have been
//! checked against the real length. For a raw file that length is the file size.
//! For a gzip stream it is unknown until decompressed, so the reader (1) rejects
//! a header that no gzip file of that size could decompress to, and (2) reads
//! with a limit of header-implied size + 1 into a buffer that grows with the
//! bytes that actually arrive, never with the header's claim.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

use byteorder::{BigEndian, ByteOrder};
use flate2::bufread::MultiGzDecoder;

use super::error::{DataError, IdxKind};

/// The two bytes every gzip stream starts with (RFC 1952).
pub const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// DEFLATE cannot expand better than about 1032:1 (a 258-byte match coded in
/// 2 bits, plus block overhead). A gzip file of `c` bytes therefore cannot
/// decompress to more than `c · 1032` bytes; a header claiming more is
/// rejected before any decompression.
pub const MAX_DEFLATE_RATIO: u64 = 1032;

/// One decoded IDX file: its dimensions and its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxFile {
    /// The sizes from the header, outermost first (`[n, rows, cols]` or `[n]`).
    pub dims: Vec<usize>,
    /// `dims.iter().product()` bytes, row-major.
    pub data: Vec<u8>,
}

/// True when `path`'s name ends in `.gz` (ASCII case-insensitive).
pub fn is_gz_name(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("gz"))
}

/// Reads and checks the IDX file at `path`, which must be an MNIST `kind` file.
///
/// A name ending in `.gz` is decompressed; any other name must hold raw IDX
/// (a raw file starting with the gzip magic is [`DataError::CompressedNotGz`]).
pub fn read_idx(path: &Path, kind: IdxKind) -> Result<IdxFile, DataError> {
    let io_err = |source| DataError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(io_err)?;
    let len = file.metadata().map_err(io_err)?.len();
    let reader = BufReader::new(file);
    if is_gz_name(path) {
        read_gz(path, reader, len, kind)
    } else {
        read_raw(path, reader, len, kind)
    }
}

/// [`read_idx`] on bytes already in memory; `path` names them in errors and its
/// `.gz` suffix selects decompression exactly as for a file (used by the tests
/// and fuzz targets).
pub fn parse_idx(path: &Path, bytes: &[u8], kind: IdxKind) -> Result<IdxFile, DataError> {
    let len = bytes.len() as u64;
    if is_gz_name(path) {
        read_gz(path, bytes, len, kind)
    } else {
        read_raw(path, bytes, len, kind)
    }
}

/// Reads into `buf` until it is full or the reader is exhausted; returns the
/// number of bytes read (unlike `read_exact`, a short read is not an error, so
/// the caller can say how many bytes there were).
fn read_up_to<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(k) => filled += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// The parsed header: dimensions, the byte count they imply, and the header size.
struct Header {
    dims: Vec<usize>,
    /// `∏ dims`, checked for overflow.
    data_len: u64,
    /// `4 + 4·ndims`.
    header_len: u64,
}

impl Header {
    /// `"60000 × 28 × 28"`, for messages.
    fn dims_text(&self) -> String {
        let parts: Vec<String> = self.dims.iter().map(|d| d.to_string()).collect();
        parts.join(" × ")
    }
}

/// Checks the 4 magic bytes for an MNIST `kind` file.
fn check_magic(path: &Path, magic: [u8; 4], kind: IdxKind) -> Result<(), DataError> {
    let value = BigEndian::read_u32(&magic);
    if magic[0] != 0 || magic[1] != 0 {
        return Err(DataError::BadMagic {
            path: path.to_path_buf(),
            found: value,
            kind,
        });
    }
    let code = magic[2];
    let name = match code {
        0x08 => None,
        0x09 => Some("i8"),
        0x0b => Some("i16"),
        0x0c => Some("i32"),
        0x0d => Some("f32"),
        0x0e => Some("f64"),
        _ => {
            return Err(DataError::UnknownType {
                path: path.to_path_buf(),
                code,
                magic: value,
            })
        }
    };
    if let Some(name) = name {
        return Err(DataError::UnsupportedType {
            path: path.to_path_buf(),
            code,
            name,
        });
    }
    if magic[3] != kind.ndims() {
        return Err(DataError::WrongDims {
            path: path.to_path_buf(),
            found: magic[3],
            kind,
        });
    }
    Ok(())
}

/// Reads and checks the header from `r`. `truncated(read)` builds the error for
/// a stream that ends after `read` header bytes; `io` maps a read error.
fn read_header<R: Read>(
    path: &Path,
    r: &mut R,
    kind: IdxKind,
    io: &dyn Fn(io::Error) -> DataError,
    total_len: Option<u64>,
) -> Result<Header, DataError> {
    let header_len = 4 + 4 * u64::from(kind.ndims());
    let truncated = |read: usize| DataError::TruncatedHeader {
        path: path.to_path_buf(),
        len: total_len.unwrap_or(read as u64),
        needed: header_len,
    };
    let mut magic = [0u8; 4];
    let got = read_up_to(r, &mut magic).map_err(io)?;
    if got < 4 {
        // Too short to judge the magic: say so rather than "bad magic".
        return Err(truncated(got));
    }
    check_magic(path, magic, kind)?;
    // At most 3 dims: a fixed buffer, not one sized from the file.
    let mut raw = [0u8; 12];
    let want = 4 * usize::from(kind.ndims());
    let got = read_up_to(r, &mut raw[..want]).map_err(io)?;
    if got < want {
        return Err(truncated(4 + got));
    }
    let dims: Vec<usize> = raw[..want]
        .chunks_exact(4)
        .map(|c| BigEndian::read_u32(c) as usize)
        .collect();
    if kind == IdxKind::Images {
        if dims[1] == 0 || dims[2] == 0 {
            return Err(DataError::EmptyImage {
                path: path.to_path_buf(),
                rows: dims[1] as u32,
                cols: dims[2] as u32,
            });
        }
        if dims[0] == 0 {
            return Err(DataError::NoImages {
                path: path.to_path_buf(),
            });
        }
    }
    // Three dims below 2³² can multiply past u64::MAX; such a header cannot
    // describe any real file, so it is a size mismatch.
    let data_len = dims.iter().try_fold(1u64, |a, &d| a.checked_mul(d as u64));
    let Some(data_len) = data_len else {
        return Err(DataError::SizeMismatch {
            path: path.to_path_buf(),
            dims: dims
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(" × "),
            expected: u64::MAX,
            actual: total_len.unwrap_or(0).saturating_sub(header_len),
            exact: total_len.is_some(),
        });
    };
    Ok(Header {
        dims,
        data_len,
        header_len,
    })
}

/// A raw IDX stream of exactly `len` bytes.
fn read_raw<R: Read>(path: &Path, mut r: R, len: u64, kind: IdxKind) -> Result<IdxFile, DataError> {
    let io = |source| DataError::Io {
        path: path.to_path_buf(),
        source,
    };
    // Peek the first two bytes: gzip data under a raw name gets its own message.
    let mut head = [0u8; 2];
    let got = read_up_to(&mut r, &mut head).map_err(io)?;
    if got == 2 && head == GZIP_MAGIC {
        return Err(DataError::CompressedNotGz {
            path: path.to_path_buf(),
        });
    }
    let mut r = (&head[..got]).chain(r);
    let h = read_header(path, &mut r, kind, &io, Some(len))?;
    let actual = len - h.header_len; // read_header succeeded, so len ≥ header_len
    if actual != h.data_len {
        return Err(DataError::SizeMismatch {
            path: path.to_path_buf(),
            dims: h.dims_text(),
            expected: h.data_len,
            actual,
            exact: true,
        });
    }
    // Checked above: data_len equals bytes really present, so this allocation
    // is bounded by the file size.
    let mut data = vec![0u8; h.data_len as usize];
    r.read_exact(&mut data).map_err(io)?;
    Ok(IdxFile { dims: h.dims, data })
}

/// A gzip-compressed IDX stream whose compressed size is `compressed_len`.
fn read_gz<R: io::BufRead>(
    path: &Path,
    r: R,
    compressed_len: u64,
    kind: IdxKind,
) -> Result<IdxFile, DataError> {
    let corrupt = |e: io::Error| {
        let text = e.to_string();
        // flate2 prefixes some messages with what our own message already says.
        let detail = text.strip_prefix("corrupt gzip stream ").unwrap_or(&text);
        DataError::CorruptGzip {
            path: path.to_path_buf(),
            detail: detail.to_string(),
        }
    };
    let mut r = r;
    // A `.gz` name on data that is not gzip at all: say that, not a deflate error.
    let first = r.fill_buf().map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if first.len() < 2 || first[..2] != GZIP_MAGIC {
        return Err(DataError::CorruptGzip {
            path: path.to_path_buf(),
            detail: "not gzip data: the file does not start with bytes 1f 8b".to_string(),
        });
    }
    // Multi-member: bytes after the first member are decoded as further
    // members, so a second member becomes trailing IDX data (SizeMismatch)
    // and junk after the stream is a corrupt-gzip error, never silently
    // ignored (found by the idx_gzip fuzz target).
    let mut dec = MultiGzDecoder::new(r);
    let h = read_header(path, &mut dec, kind, &corrupt, None)?;
    let max = compressed_len.saturating_mul(MAX_DEFLATE_RATIO);
    if h.header_len.saturating_add(h.data_len) > max {
        return Err(DataError::ImpossibleGzipSize {
            path: path.to_path_buf(),
            dims: h.dims_text(),
            expected: h.data_len,
            compressed: compressed_len,
            max,
        });
    }
    // Read one byte more than the header implies, so trailing data is seen;
    // the Vec grows with what arrives, not with the header's claim. Reaching
    // the end of the stream makes the decoder check the CRC-32 and length.
    let mut data = Vec::new();
    (&mut dec)
        .take(h.data_len.saturating_add(1))
        .read_to_end(&mut data)
        .map_err(corrupt)?;
    let actual = data.len() as u64;
    if actual != h.data_len {
        return Err(DataError::SizeMismatch {
            path: path.to_path_buf(),
            dims: h.dims_text(),
            expected: h.data_len,
            actual,
            exact: actual < h.data_len,
        });
    }
    Ok(IdxFile { dims: h.dims, data })
}

/// Checks that every label is in 0..=9.
pub(crate) fn check_labels(path: &Path, labels: &[u8]) -> Result<(), DataError> {
    match labels.iter().position(|&l| l > 9) {
        Some(index) => Err(DataError::LabelOutOfRange {
            path: path.to_path_buf(),
            index,
            label: labels[index],
        }),
        None => Ok(()),
    }
}
