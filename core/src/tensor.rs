//! A small owned [`Tensor`] (contiguous, row-major `f32` + shape, its first
//! element on a cache line: [`AlignedVec`]) and
//! borrowed strided matrix views [`MatRef`] / [`MatMut`], so a transpose is a
//! view ([`MatRef::t`]) and never a copy.
//!
//! Element `(i, j)` of a view lives at `data[i·rs + j·cs]`: `rs` is the row
//! stride, `cs` the column stride (BLAS names them `rsa`/`csa` for A, …).
//! A row-major `rows × cols` matrix has `rs = cols, cs = 1`; its transpose
//! is the same memory with `rs = 1, cs = cols`.

use crate::buffer::AlignedVec;
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
    /// A contiguous row-major copy.
    pub fn to_tensor(&self) -> Tensor {
        let out = (0..self.rows)
            .flat_map(|i| (0..self.cols).map(move |j| (i, j)))
            .map(|(i, j)| self.data[i * self.rs + j * self.cs])
            .collect();
        Tensor {
            data: out,
            shape: vec![self.rows, self.cols],
        }
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

/// An owned, contiguous, row-major `f32` tensor of any rank, whose first
/// element starts a 64-byte cache line (see [`AlignedVec`] for why).
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    data: AlignedVec,
    shape: Vec<usize>,
}

impl Tensor {
    /// A tensor of zeros.
    pub fn zeros(shape: &[usize]) -> Self {
        Self {
            data: AlignedVec::zeros(shape.iter().product()),
            shape: shape.to_vec(),
        }
    }

    /// `data` as a row-major tensor of `shape` (copied into line-aligned
    /// storage); errors if the element count disagrees.
    pub fn from_vec(data: Vec<f32>, shape: &[usize]) -> Result<Self> {
        Self::from_aligned(data.into(), shape)
    }

    /// `data` as a row-major tensor of `shape`, without a copy; errors if
    /// the element count disagrees.
    pub fn from_aligned(data: AlignedVec, shape: &[usize]) -> Result<Self> {
        let needed: usize = shape.iter().product();
        if data.len() != needed {
            return Err(CoreError::BadLength {
                what: "Tensor::from_vec",
                shape: shape.to_vec(),
                needed,
                len: data.len(),
            });
        }
        Ok(Self {
            data,
            shape: shape.to_vec(),
        })
    }

    /// The shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.data.len()
    }
    /// True when the tensor holds no element.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
    /// The elements, row-major.
    pub fn data(&self) -> &[f32] {
        &self.data
    }
    /// The elements, row-major, writable.
    pub fn data_mut(&mut self) -> &mut [f32] {
        &mut self.data
    }
    /// The elements as a `Vec` (a copy: a `Vec` cannot take over aligned
    /// storage).
    pub fn into_vec(self) -> Vec<f32> {
        self.data.to_vec()
    }
    /// Gives the buffer back, without a copy.
    pub fn into_aligned(self) -> AlignedVec {
        self.data
    }

    /// Same elements, new shape with the same element count.
    pub fn reshape(self, shape: &[usize]) -> Result<Self> {
        Self::from_aligned(self.data, shape)
    }

    fn check_2d(&self, op: &'static str) -> Result<[usize; 2]> {
        match *self.shape.as_slice() {
            [r, c] => Ok([r, c]),
            _ => Err(CoreError::ShapeMismatch {
                op,
                left_name: "tensor",
                left: self.shape.clone(),
                right_name: "a 2-D shape",
                right: vec![],
            }),
        }
    }

    /// A 2-D tensor as a matrix view (errors for other ranks).
    pub fn view(&self) -> Result<MatRef<'_>> {
        let [r, c] = self.check_2d("Tensor::view")?;
        MatRef::row_major(&self.data, r, c)
    }

    /// A 2-D tensor as a writable matrix view (errors for other ranks).
    pub fn view_mut(&mut self) -> Result<MatMut<'_>> {
        let [r, c] = self.check_2d("Tensor::view_mut")?;
        MatMut::row_major(&mut self.data, r, c)
    }

    /// `self · other` for 2-D tensors, through the fast [`crate::gemm`].
    /// Errors print both shapes when the inner dimensions differ.
    pub fn matmul(&self, other: &Tensor) -> Result<Tensor> {
        let a = self.view()?;
        let b = other.view()?;
        if a.cols() != b.rows() {
            return Err(CoreError::ShapeMismatch {
                op: "matmul",
                left_name: "left",
                left: self.shape.clone(),
                right_name: "right",
                right: other.shape.clone(),
            });
        }
        let mut out = Tensor::zeros(&[a.rows(), b.cols()]);
        crate::gemm::gemm(1.0, a, b, 0.0, out.view_mut()?, crate::gemm::Epilogue::None)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_starts_on_a_line() {
        for shape in [&[0usize][..], &[3, 5], &[64, 784], &[7]] {
            let t = Tensor::zeros(shape);
            assert_eq!(t.data().as_ptr() as usize % 64, 0, "{shape:?}");
            let c = Tensor::from_vec(vec![1.5; t.len()], shape).unwrap();
            assert_eq!(c.data().as_ptr() as usize % 64, 0, "{shape:?}");
            assert!(c.data().iter().all(|&x| x == 1.5));
        }
    }

    #[test]
    fn transpose_is_a_view() {
        let t = Tensor::from_vec((0..6).map(|x| x as f32).collect(), &[2, 3]).unwrap();
        let v = t.view().unwrap();
        let vt = v.t();
        assert_eq!(vt.shape(), [3, 2]);
        assert!(std::ptr::eq(vt.data(), v.data()));
        assert_eq!(vt.get(2, 1), v.get(1, 2));
        assert_eq!(vt.to_tensor().data(), &[0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
    }

    #[test]
    fn shape_errors_print_both_shapes() {
        let a = Tensor::zeros(&[2, 3]);
        let b = Tensor::zeros(&[4, 5]);
        let e = a.matmul(&b).unwrap_err().to_string();
        assert!(e.contains("[2, 3]") && e.contains("[4, 5]"), "{e}");
        let e = Tensor::from_vec(vec![0.0; 5], &[2, 3])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("[2, 3]") && e.contains('5') && e.contains('6'),
            "{e}"
        );
    }

    #[test]
    fn views_are_bounds_checked() {
        let d = vec![0.0; 10];
        assert!(MatRef::new(&d, 2, 5, 5, 1).is_ok());
        let e = MatRef::new(&d, 3, 5, 5, 1).unwrap_err().to_string();
        assert!(e.contains("3x5"), "{e}");
        assert!(MatRef::new(&d, 0, 100, 1000, 1).is_ok());
    }

    #[test]
    fn matmul_small() {
        let a = Tensor::from_vec(vec![1., 2., 3., 4., 5., 6.], &[2, 3]).unwrap();
        let b = Tensor::from_vec(vec![1., 0., 0., 1., 1., 1.], &[3, 2]).unwrap();
        let c = a.matmul(&b).unwrap();
        assert_eq!(c.shape(), &[2, 2]);
        assert_eq!(c.data(), &[4., 5., 10., 11.]);
    }
}
