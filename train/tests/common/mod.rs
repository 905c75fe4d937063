//! Builders for small synthetic IDX files and a largest-allocation probe,
//! shared by the integration tests.
#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use flate2::write::GzEncoder;
use flate2::Compression;

/// The IDX header for `dims` with type code `code` (big-endian sizes).
pub fn idx_header(code: u8, dims: &[u32]) -> Vec<u8> {
    let mut v = vec![0, 0, code, dims.len() as u8];
    for d in dims {
        v.extend_from_slice(&d.to_be_bytes());
    }
    v
}

/// A valid images file: `n` images of `rows × cols`, pixel `(i, k)` = `(7i + 3k) mod 256`.
pub fn images_bytes(n: u32, rows: u32, cols: u32) -> Vec<u8> {
    let mut v = idx_header(0x08, &[n, rows, cols]);
    let d = (rows * cols) as usize;
    for i in 0..n as usize {
        for k in 0..d {
            v.push(((7 * i + 3 * k) % 256) as u8);
        }
    }
    v
}

/// A valid labels file: label `i` = `i mod 10`.
pub fn labels_bytes(n: u32) -> Vec<u8> {
    let mut v = idx_header(0x08, &[n]);
    v.extend((0..n).map(|i| (i % 10) as u8));
    v
}

/// `bytes` gzip-compressed.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// Writes `bytes` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// Writes a complete small MNIST-shaped directory (`n_train`, `n_test` images of
/// rows × cols) using the canonical names, compressed when `gz`.
pub fn write_set(dir: &Path, n_train: u32, n_test: u32, rows: u32, cols: u32, gz: bool) {
    let files = [
        ("train-images-idx3-ubyte", images_bytes(n_train, rows, cols)),
        ("train-labels-idx1-ubyte", labels_bytes(n_train)),
        ("t10k-images-idx3-ubyte", images_bytes(n_test, rows, cols)),
        ("t10k-labels-idx1-ubyte", labels_bytes(n_test)),
    ];
    for (name, bytes) in files {
        if gz {
            write(dir, &format!("{name}.gz"), &gzip(&bytes));
        } else {
            write(dir, name, &bytes);
        }
    }
}

/// The real MNIST directory (`../shared/mnist` from the workspace root), if present.
pub fn real_mnist() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/mnist");
    if p.is_dir() {
        Some(p)
    } else {
        eprintln!(
            "note: {} is missing; skipping the test on real MNIST (fetch it with scripts/fetch-mnist.sh)",
            p.display()
        );
        None
    }
}

/// A global allocator that records the largest single allocation request, so
/// property tests can assert that no reader allocates more than its input
/// justifies. Install it in a test binary with
/// `#[global_allocator] static A: common::PeakAlloc = common::PeakAlloc;`.
pub struct PeakAlloc;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

/// Resets the largest-allocation record.
pub fn reset_largest() {
    LARGEST.store(0, Ordering::SeqCst);
}

/// The largest single allocation (or reallocation target) since the last reset.
pub fn largest() -> usize {
    LARGEST.load(Ordering::SeqCst)
}

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
