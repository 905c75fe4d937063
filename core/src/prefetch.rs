//! Software prefetch of memory the program will read soon but not now.
//!
//! A mini-batch's rows sit at random places in a 47 MB data set, far from
//! any cache: gathering 64 MNIST rows is ~830 cache misses to DRAM, which
//! the hardware prefetcher cannot guess (each row starts somewhere new).
//! The trainer knows the next batch's rows a whole step ahead, so it asks
//! for them while the current step computes, and the next gather reads
//! from L2 instead of memory.

/// Bytes in a cache line on every x86-64 and most other CPUs.
const LINE_BYTES: usize = 64;

/// Asks the cache hierarchy to bring every line of `data` into every level
/// (`prefetcht0`). Whatever runs before the data is read evicts it from L1
/// but not from L2. (`prefetcht1`, L2 only, measured 1.2× slower for the
/// gather that follows: `bench small_batch`, gather/B=64, on Ice Lake.)
///
/// Reads nothing into the program and never faults: a prefetch is a hint,
/// and the slice's lines are valid memory anyway. Does nothing on targets
/// without a prefetch instruction.
#[inline]
pub fn prefetch<T>(data: &[T]) {
    let start = data.as_ptr() as usize;
    let len = std::mem::size_of_val(data);
    if len == 0 {
        return;
    }
    // From the line holding the first byte to the line holding the last.
    let first = start & !(LINE_BYTES - 1);
    let mut line = first;
    while line < start + len {
        prefetch_line(line as *const u8);
        line += LINE_BYTES;
    }
}

#[inline(always)]
fn prefetch_line(p: *const u8) {
    // SAFETY: SSE is part of every x86-64; the intrinsic is `unsafe` only
    // for its target feature, and the address is never dereferenced (a
    // prefetch of any address is allowed, and this one is inside a live
    // slice's lines).
    #[cfg(target_arch = "x86_64")]
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p as *const i8)
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefetch_accepts_any_slice() {
        // A hint cannot be observed; what can fail is the address walk
        // (an empty slice, a slice that starts mid-line, one element).
        let v: Vec<u8> = (0..1000).map(|i| i as u8).collect();
        prefetch(&v[..0]);
        prefetch(&v[3..4]);
        prefetch(&v[5..997]);
        let f = [1.0f32; 33];
        prefetch(&f[1..]);
        assert_eq!(v[5], 5);
    }
}
