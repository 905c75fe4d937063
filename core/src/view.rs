//! Borrowed strided matrix views [`MatRef`] / [`MatMut`], so a transpose is
//! a view ([`MatRef::t`]) and never a copy. The GEMM and the tensor both
//! sit on these; the views know neither.
//!
//! Element `(i, j)` of a view lives at `data[i·rs + j·cs]`: `rs` is the row
//! stride, `cs` the column stride (BLAS names them `rsa`/`csa` for A, …).
//! A row-major `rows × cols` matrix has `rs = cols, cs = 1`; its transpose
//! is the same memory with `rs = 1, cs = cols`.

use crate::error::{CoreError, Result};

/// Checks that a `rows × cols` view with strides `(rs, cs)` stays inside a
/// buffer of `len` elements.
fn check_view(
    what: &'static str,
    len: usize,
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
) -> Result<()> {
    if rows == 0 || cols == 0 {
        return Ok(());
    }
    let last = (rows - 1)
        .checked_mul(rs)
        .and_then(|r| (cols - 1).checked_mul(cs).and_then(|c| r.checked_add(c)));
    match last {
        Some(last) if last < len => Ok(()),
        _ => Err(CoreError::OutOfBounds {
            what,
            rows,
            cols,
            rs,
            cs,
            last: last.unwrap_or(usize::MAX),
            len,
        }),
    }
}

/// A borrowed, read-only `rows × cols` matrix with arbitrary strides.
#[derive(Clone, Copy, Debug)]
pub struct MatRef<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
}

impl<'a> MatRef<'a> {
    /// A view of `data` with element `(i, j)` at `data[i·rs + j·cs]`.
    /// Errors if the view would reach past the end of `data`.
    pub fn new(data: &'a [f32], rows: usize, cols: usize, rs: usize, cs: usize) -> Result<Self> {
        check_view("MatRef::new", data.len(), rows, cols, rs, cs)?;
        Ok(Self {
            data,
            rows,
            cols,
            rs,
            cs,
        })
    }

    /// A contiguous row-major view: `data.len()` must be `rows·cols`.
    pub fn row_major(data: &'a [f32], rows: usize, cols: usize) -> Result<Self> {
        if data.len() != rows * cols {
            return Err(CoreError::BadLength {
                what: "MatRef::row_major",
                shape: vec![rows, cols],
                needed: rows * cols,
                len: data.len(),
            });
        }
        Ok(Self {
            data,
            rows,
            cols,
            rs: cols,
            cs: 1,
        })
    }

    /// The transpose, as a view of the same memory (strides swapped).
    pub fn t(self) -> Self {
        Self {
            data: self.data,
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
        }
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }
    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }
    /// Row stride (elements between `(i, j)` and `(i + 1, j)`).
    pub fn rs(&self) -> usize {
        self.rs
    }
    /// Column stride (elements between `(i, j)` and `(i, j + 1)`).
    pub fn cs(&self) -> usize {
        self.cs
    }
    /// `[rows, cols]`.
    pub fn shape(&self) -> [usize; 2] {
        [self.rows, self.cols]
    }
    /// The underlying buffer (the view's first element is at index 0).
    pub fn data(&self) -> &'a [f32] {
        self.data
    }
    /// Element `(i, j)`. Panics when out of range.
    pub fn get(&self, i: usize, j: usize) -> f32 {
        assert!(
            i < self.rows && j < self.cols,
            "({i}, {j}) outside {:?}",
            self.shape()
        );
        self.data[i * self.rs + j * self.cs]
    }
}

/// A borrowed, writable `rows × cols` matrix with arbitrary strides.
///
/// Strides must not make two elements alias (checked by [`MatMut::new`]
/// only for the bounds; `rs = cs = 0` style aliasing is the caller's
/// responsibility, and GEMM rejects it).
#[derive(Debug)]
pub struct MatMut<'a> {
    data: &'a mut [f32],
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
}

impl<'a> MatMut<'a> {
    /// A writable view of `data` with element `(i, j)` at `data[i·rs + j·cs]`.
    pub fn new(
        data: &'a mut [f32],
        rows: usize,
        cols: usize,
        rs: usize,
        cs: usize,
    ) -> Result<Self> {
        check_view("MatMut::new", data.len(), rows, cols, rs, cs)?;
        Ok(Self {
            data,
            rows,
            cols,
            rs,
            cs,
        })
    }

    /// A contiguous row-major writable view: `data.len()` must be `rows·cols`.
    pub fn row_major(data: &'a mut [f32], rows: usize, cols: usize) -> Result<Self> {
        if data.len() != rows * cols {
            return Err(CoreError::BadLength {
                what: "MatMut::row_major",
                shape: vec![rows, cols],
                needed: rows * cols,
                len: data.len(),
            });
        }
        Ok(Self {
            data,
            rows,
            cols,
            rs: cols,
            cs: 1,
        })
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }
    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }
    /// Row stride.
    pub fn rs(&self) -> usize {
        self.rs
    }
    /// Column stride.
    pub fn cs(&self) -> usize {
        self.cs
    }
    /// `[rows, cols]`.
    pub fn shape(&self) -> [usize; 2] {
        [self.rows, self.cols]
    }
    /// A read-only reborrow.
    pub fn as_ref(&self) -> MatRef<'_> {
        MatRef {
            data: self.data,
            rows: self.rows,
            cols: self.cols,
            rs: self.rs,
            cs: self.cs,
        }
    }
    /// A shorter-lived writable reborrow.
    pub fn reborrow(&mut self) -> MatMut<'_> {
        MatMut {
            data: self.data,
            rows: self.rows,
            cols: self.cols,
            rs: self.rs,
            cs: self.cs,
        }
    }
    /// The underlying buffer.
    pub fn data_mut(&mut self) -> &mut [f32] {
        self.data
    }
    /// Element `(i, j)`. Panics when out of range.
    pub fn get(&self, i: usize, j: usize) -> f32 {
        assert!(
            i < self.rows && j < self.cols,
            "({i}, {j}) outside {:?}",
            self.shape()
        );
        self.data[i * self.rs + j * self.cs]
    }
    /// Writes element `(i, j)`. Panics when out of range.
    pub fn set(&mut self, i: usize, j: usize, v: f32) {
        assert!(
            i < self.rows && j < self.cols,
            "({i}, {j}) outside {:?}",
            self.shape()
        );
        self.data[i * self.rs + j * self.cs] = v;
    }
}
