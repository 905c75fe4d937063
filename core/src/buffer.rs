//! [`AlignedVec`]: a growable array of `f32` that starts on a cache line.
//!
//! The system allocator gives a `Vec<f32>` 16-byte alignment, and glibc
//! serves large blocks (from 128 KiB, e.g. a 784 × 128 weight or a batch of
//! 64 MNIST images) from `mmap` at 16 bytes past a page boundary. Then every
//! 16-float row of a GEMM operand (what the micro-kernel reads per k step,
//! or writes per row of a tile) straddles two cache lines, and one of its
//! two `f32x8` loads or stores crosses the line boundary. On 64x784x128 that
//! costs about 2 points of peak, on 128x64x784 1–2 (B at 16 bytes off a line
//! against B on a line, same code, in one process). PyTorch's CPU allocator
//! aligns to 64 bytes for the same reason; descent's own buffers (tensors,
//! the MLP's parameters, activations and gradients, the packing buffers)
//! use this type so that a row whose length is a multiple of 16 floats
//! starts on a line.

use std::fmt;
use std::ops::{Deref, DerefMut};

/// Floats in one 64-byte cache line.
pub const LINE_FLOATS: usize = 16;

/// One cache line of floats: the storage unit, so the first float of the
/// array is 64-byte aligned. `repr(C)` and no padding (16 × 4 = 64 bytes):
/// a run of lines is a run of floats.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Line([f32; LINE_FLOATS]);

const _: () = assert!(std::mem::size_of::<Line>() == 4 * LINE_FLOATS);

const ZERO_LINE: Line = Line([0.0; LINE_FLOATS]);

/// A growable array of `len` floats whose first element is 64-byte aligned.
/// It dereferences to `[f32]`; the floats past `len` in the last line are
/// padding, never exposed.
#[derive(Clone, Default)]
pub struct AlignedVec {
    lines: Vec<Line>,
    len: usize,
}

impl AlignedVec {
    /// An empty array (allocates nothing).
    pub fn new() -> Self {
        Self::default()
    }

    /// `len` zeros.
    pub fn zeros(len: usize) -> Self {
        Self {
            lines: vec![ZERO_LINE; len.div_ceil(LINE_FLOATS)],
            len,
        }
    }

    /// A copy of `values`.
    pub fn from_slice(values: &[f32]) -> Self {
        let mut out = Self::zeros(values.len());
        out.copy_from_slice(values);
        out
    }

    /// Number of floats.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when it holds no float.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The floats as a slice.
    pub fn as_slice(&self) -> &[f32] {
        // SAFETY: `lines` holds `len.div_ceil(16)` lines, each 16 floats
        // with no padding, contiguous, so the first `len` floats are
        // initialized and in bounds; an empty Vec's pointer is non-null and
        // aligned, as a zero-length slice needs.
        unsafe { std::slice::from_raw_parts(self.lines.as_ptr().cast::<f32>(), self.len) }
    }

    /// The floats as a mutable slice.
    pub fn as_mut_slice(&mut self) -> &mut [f32] {
        // SAFETY: as in `as_slice`, and `&mut self` makes the borrow unique.
        unsafe { std::slice::from_raw_parts_mut(self.lines.as_mut_ptr().cast::<f32>(), self.len) }
    }

    /// Sets the length to `len`, as `Vec::resize`: new floats are `value`,
    /// a shorter length drops the tail (the allocation is kept).
    pub fn resize(&mut self, len: usize, value: f32) {
        let old = self.len;
        // Shrinking only truncates: the floats past `len` are never read,
        // and growing writes every float it adds.
        self.lines.resize(len.div_ceil(LINE_FLOATS), ZERO_LINE);
        self.len = len;
        if len > old {
            self.as_mut_slice()[old..].fill(value);
        }
    }

    /// Empties it, keeping the allocation.
    pub fn clear(&mut self) {
        self.resize(0, 0.0);
    }

    /// The first `len` floats, growing the array (with zeros) if it is
    /// shorter: for scratch buffers reused across calls of varying size.
    pub fn at_least(&mut self, len: usize) -> &mut [f32] {
        if self.len < len {
            self.resize(len, 0.0);
        }
        &mut self.as_mut_slice()[..len]
    }

    /// The floats as a `Vec` (a copy).
    pub fn to_vec(&self) -> Vec<f32> {
        self.as_slice().to_vec()
    }
}

impl Deref for AlignedVec {
    type Target = [f32];
    fn deref(&self) -> &[f32] {
        self.as_slice()
    }
}

impl DerefMut for AlignedVec {
    fn deref_mut(&mut self) -> &mut [f32] {
        self.as_mut_slice()
    }
}

impl fmt::Debug for AlignedVec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_slice(), f)
    }
}

impl PartialEq for AlignedVec {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl From<&[f32]> for AlignedVec {
    fn from(values: &[f32]) -> Self {
        Self::from_slice(values)
    }
}

impl From<Vec<f32>> for AlignedVec {
    /// Copies: a `Vec`'s allocation is not line-aligned.
    fn from(values: Vec<f32>) -> Self {
        Self::from_slice(&values)
    }
}

impl<'a> IntoIterator for &'a AlignedVec {
    type Item = &'a f32;
    type IntoIter = std::slice::Iter<'a, f32>;
    fn into_iter(self) -> Self::IntoIter {
        self.as_slice().iter()
    }
}

impl<'a> IntoIterator for &'a mut AlignedVec {
    type Item = &'a mut f32;
    type IntoIter = std::slice::IterMut<'a, f32>;
    fn into_iter(self) -> Self::IntoIter {
        self.as_mut_slice().iter_mut()
    }
}

impl FromIterator<f32> for AlignedVec {
    fn from_iter<I: IntoIterator<Item = f32>>(iter: I) -> Self {
        let iter = iter.into_iter();
        let mut out = Self::new();
        out.lines.reserve(iter.size_hint().0.div_ceil(LINE_FLOATS));
        for (i, v) in iter.enumerate() {
            if i % LINE_FLOATS == 0 {
                out.lines.push(ZERO_LINE);
            }
            out.lines[i / LINE_FLOATS].0[i % LINE_FLOATS] = v;
            out.len = i + 1;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aligned(v: &AlignedVec) -> bool {
        v.as_ptr() as usize % 64 == 0
    }

    #[test]
    fn starts_on_a_line_at_every_length() {
        for len in 0..=70 {
            let v = AlignedVec::zeros(len);
            assert_eq!(v.len(), len);
            assert!(aligned(&v), "len {len}");
            assert!(v.iter().all(|&x| x == 0.0));
            let c: AlignedVec = (0..len).map(|i| i as f32).collect();
            assert!(aligned(&c), "collected, len {len}");
            assert_eq!(c.to_vec(), (0..len).map(|i| i as f32).collect::<Vec<_>>());
            assert_eq!(AlignedVec::from(c.to_vec()), c);
        }
    }

    #[test]
    fn resize_keeps_values_and_fills_new_ones() {
        let mut v = AlignedVec::from_slice(&[1.0, 2.0, 3.0]);
        v.resize(20, 7.0);
        assert_eq!(&v[..4], &[1.0, 2.0, 3.0, 7.0]);
        assert!(v[3..].iter().all(|&x| x == 7.0));
        v.resize(2, 0.5);
        assert_eq!(v.as_slice(), &[1.0, 2.0]);
        // The floats dropped above must not come back when it grows again.
        v.resize(5, 9.0);
        assert_eq!(v.as_slice(), &[1.0, 2.0, 9.0, 9.0, 9.0]);
        assert!(aligned(&v));
    }

    #[test]
    fn at_least_grows_but_never_shrinks() {
        let mut v = AlignedVec::new();
        assert_eq!(v.at_least(10).len(), 10);
        v.at_least(10)[9] = 4.0;
        assert_eq!(v.at_least(3).len(), 3);
        assert_eq!(v.len(), 10);
        assert_eq!(v.at_least(40)[9], 4.0);
        assert!(aligned(&v));
    }
}
