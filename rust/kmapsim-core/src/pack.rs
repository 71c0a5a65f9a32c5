//! Machines packed into flat runs of bytes, for the checker's breadth-first levels (`check.rs`).
//!
//! A breadth-first level's machines are written once and read once, a level later. Held as
//! machines, each is some twenty allocations spread over the heap, and a level of thousands of
//! them is out of the caches by the time it is read: copying one is a string of cache misses.
//! Packed, a level is one arena read and written in order, and the checker runs every
//! transition in one working machine whose buffers stay in the caches: it unpacks a state into
//! it, runs the transition, and packs the result if it is new.
//!
//! `Pack` is written for each machine part by `reuse::clone_reusing!`, field by field from the
//! same exhaustive field list as its `Clone`: a field added to a part and not packed is a
//! compile error.

use std::collections::BinaryHeap;
use std::mem::{MaybeUninit, size_of};

/// A byte of a packed machine (padding bytes included: never read as numbers).
pub(crate) type Byte = MaybeUninit<u8>;

/// A part of a machine that can be packed, and unpacked into a machine of the same search
/// (same scenario: same number of CPUs, locks and slots), reusing that machine's buffers.
pub(crate) trait Pack {
    /// The bytes `pack_into` writes.
    fn packed_len(&self) -> usize;
    /// Write this part at the front of `out`, which has room for it; the rest of `out`. (A
    /// slice written front to back, not a `Vec` pushed onto: a byte written through a `Vec`
    /// might be its own length, which was read back after every part.)
    fn pack_into<'a>(&self, out: &'a mut [Byte]) -> &'a mut [Byte];
    /// Read this part back from the front of `input` (what `pack` wrote); the rest of `input`.
    /// (Passed and returned by value, so that the position stays in a register: through a
    /// `&mut` it was stored back after every part, which a panic could have observed.)
    ///
    /// # Safety
    /// `input` begins with the bytes `pack_into` wrote for a value of this type: a plain part
    /// is read as whatever bytes are there (a `bool` from a byte that is not 0 or 1 would be
    /// undefined behaviour). Every length is checked: a vector's is in the bytes, and a
    /// machine's CPUs and locks are counted (`pack_each!`), so that unpacking into a machine of
    /// another shape panics instead of reading parts at the wrong place.
    unsafe fn unpack<'a>(&mut self, input: &'a [Byte]) -> &'a [Byte];
}

/// A type packed as its bytes.
///
/// # Safety
/// The type owns nothing (no heap, nothing to drop: `plain!` asserts it) and its `Clone`, if
/// it has one, copies it field by field, so that a copy of its bytes is a clone of it.
pub(crate) unsafe trait Plain: Sized {}

/// `plain!(unsafe T, ...)`: `T` is packed as its bytes (`Plain`); a type that needs dropping
/// is a compile error. Each call site says, in a SAFETY comment, why its types qualify.
macro_rules! plain {
    (unsafe $($t:ty),* $(,)?) => {
        $(
            const _: () = assert!(!std::mem::needs_drop::<$t>());
            // SAFETY: the call site's.
            unsafe impl $crate::pack::Plain for $t {}
        )*
    };
}

pub(crate) use plain;

// SAFETY: integers and flags.
plain!(unsafe u8, u16, u32, u64, u128, usize, bool);

// SAFETY: an array, option, ordering wrapper or pair of plain data holds nothing else, and its
// `Clone` copies its items.
unsafe impl<T: Plain, const N: usize> Plain for [T; N] {}
unsafe impl<T: Plain> Plain for Option<T> {}
unsafe impl<T: Plain> Plain for std::cmp::Reverse<T> {}
unsafe impl<A: Plain, B: Plain> Plain for (A, B) {}

/// Append `part` to `out` (the tests' door: a level counts its states' bytes first).
#[cfg(test)]
pub(crate) fn pack<P: Pack>(part: &P, out: &mut Vec<Byte>) {
    pack_counted(part, part.packed_len(), out);
}

/// Append `part`, whose `packed_len` is `n`, to `out` (for a caller that has counted it
/// already: counting walks the whole part).
pub(crate) fn pack_counted<P: Pack>(part: &P, n: usize, out: &mut Vec<Byte>) {
    let from = out.len();
    out.resize(from + n, MaybeUninit::uninit());
    let rest = part.pack_into(&mut out[from..]);
    assert!(rest.is_empty(), "a part writes the bytes it counts");
}

/// Write the bytes of `items` at the front of `out`; the rest of `out`.
#[inline(always)]
pub(crate) fn put<'a, T: Plain>(out: &'a mut [Byte], items: &[T]) -> &'a mut [Byte] {
    let (head, rest) = out.split_at_mut(size_of_val(items));
    // A machine's queues and vectors are mostly empty, and a copy of a length known only when
    // it runs is a call to `memcpy`, even of nothing.
    if head.is_empty() {
        return rest;
    }
    // SAFETY: `MaybeUninit<u8>` has no validity requirement, so any bytes of `items` may be
    // copied as such, padding included (nothing reads those as numbers); `head` is as long as
    // `items`, and apart from it.
    unsafe {
        std::ptr::copy_nonoverlapping(items.as_ptr().cast::<Byte>(), head.as_mut_ptr(), head.len())
    };
    rest
}

/// The bytes `put_counted` writes for `items`.
pub(crate) fn counted_len<T>(items: &[T]) -> usize {
    size_of::<usize>() + size_of_val(items)
}

/// Write the number of `items`, then their bytes; the rest of `out`. (A vector's form, read
/// back by `Vec::unpack`.)
pub(crate) fn put_counted<'a, T: Plain>(out: &'a mut [Byte], items: &[T]) -> &'a mut [Byte] {
    let out = put(out, &[items.len()]);
    put(out, items)
}

/// Read one `T` that `put` wrote at the front of `input`; the rest of `input`.
///
/// # Safety
/// `input` begins with the bytes of a valid `T` (`Pack::unpack`'s condition).
#[inline(always)]
pub(crate) unsafe fn get<T: Plain>(input: &[Byte]) -> (T, &[Byte]) {
    // SAFETY: `input` begins with the bytes of a valid `T` (the caller's), so it is at least
    // that long; a `Plain` type is valid as a copy of its bytes, and `read_unaligned` reads
    // them wherever they are. (Unchecked: a machine's hundreds of parts each paid a bounds
    // test here; `Level::unpack_into` checks that a machine unpacked to the last byte.)
    unsafe {
        let (head, rest) = input.split_at_unchecked(size_of::<T>());
        (std::ptr::read_unaligned(head.as_ptr().cast::<T>()), rest)
    }
}

impl<T: Plain> Pack for T {
    #[inline(always)]
    fn packed_len(&self) -> usize {
        size_of::<T>()
    }

    #[inline(always)]
    fn pack_into<'a>(&self, out: &'a mut [Byte]) -> &'a mut [Byte] {
        put(out, std::slice::from_ref(self))
    }

    #[inline(always)]
    unsafe fn unpack<'a>(&mut self, input: &'a [Byte]) -> &'a [Byte] {
        // SAFETY: the caller's.
        let (value, rest) = unsafe { get(input) };
        *self = value;
        rest
    }
}

impl<T: Plain> Pack for Vec<T> {
    fn packed_len(&self) -> usize {
        counted_len(self)
    }

    fn pack_into<'a>(&self, out: &'a mut [Byte]) -> &'a mut [Byte] {
        put_counted(out, self)
    }

    unsafe fn unpack<'a>(&mut self, input: &'a [Byte]) -> &'a [Byte] {
        // SAFETY: the caller's: the length, then `n` `T`s.
        let (n, input): (usize, _) = unsafe { get(input) };
        let (bytes, rest) = input.split_at(n * size_of::<T>());
        self.clear();
        if n == 0 {
            return rest; // no call to `memcpy` for nothing (`put`)
        }
        self.reserve(n);
        // SAFETY: `bytes` holds `n` valid `T`s (the caller's), and `self` has room for `n`;
        // the bytes are copied whole, then the length is set over them.
        unsafe {
            let dst = self.as_mut_ptr().cast::<Byte>();
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), dst, bytes.len());
            self.set_len(n);
        }
        rest
    }
}

impl<T: Plain + Ord> Pack for BinaryHeap<T> {
    fn packed_len(&self) -> usize {
        counted_len(self.as_slice())
    }

    fn pack_into<'a>(&self, out: &'a mut [Byte]) -> &'a mut [Byte] {
        put_counted(out, self.as_slice())
    }

    unsafe fn unpack<'a>(&mut self, input: &'a [Byte]) -> &'a [Byte] {
        let mut items = std::mem::take(self).into_vec();
        // SAFETY: the caller's: a heap's items, packed as a vector.
        let rest = unsafe { items.unpack(input) };
        // A valid heap, in the order it was packed; were its items moved, no rule could tell:
        // every key reads the timers sorted, and equal items (a blocked task's wake-up, an
        // IPI's arrival) are identical.
        *self = BinaryHeap::from(items);
        rest
    }
}

/// `Pack` for vectors whose items are packed field by field (CPUs, locks): unpacked into the
/// machine's own items, which are as many in every machine of a search; their number is
/// packed too, and checked.
macro_rules! pack_each {
    ($($t:ty),* $(,)?) => {
        $(
            impl $crate::pack::Pack for Vec<$t> {
                fn packed_len(&self) -> usize {
                    let items: usize = self.iter().map($crate::pack::Pack::packed_len).sum();
                    std::mem::size_of::<usize>() + items
                }

                fn pack_into<'a>(
                    &self,
                    out: &'a mut [$crate::pack::Byte],
                ) -> &'a mut [$crate::pack::Byte] {
                    let mut out = $crate::pack::put(out, &[self.len()]);
                    for item in self {
                        out = item.pack_into(out);
                    }
                    out
                }

                unsafe fn unpack<'a>(
                    &mut self,
                    input: &'a [$crate::pack::Byte],
                ) -> &'a [$crate::pack::Byte] {
                    // SAFETY: the caller's: the number of items, then each.
                    let (n, mut input): (usize, _) = unsafe { $crate::pack::get(input) };
                    assert_eq!(n, self.len(), "unpacked into a machine of the same shape");
                    for item in self.iter_mut() {
                        // SAFETY: the caller's.
                        input = unsafe { item.unpack(input) };
                    }
                    input
                }
            }
        )*
    };
}

pub(crate) use pack_each;

/// `Pack` for the optional parts a checker's machine never has (trace, samples, replay,
/// recorded calls, histograms): packing one that is there is a bug of the checker's.
macro_rules! absent {
    ($($t:ty),* $(,)?) => {
        $(
            impl $crate::pack::Pack for Option<$t> {
                fn packed_len(&self) -> usize {
                    assert!(self.is_none(), "a checker's machine has no {}", stringify!($t));
                    0
                }

                fn pack_into<'a>(
                    &self,
                    out: &'a mut [$crate::pack::Byte],
                ) -> &'a mut [$crate::pack::Byte] {
                    out
                }

                unsafe fn unpack<'a>(
                    &mut self,
                    input: &'a [$crate::pack::Byte],
                ) -> &'a [$crate::pack::Byte] {
                    *self = None;
                    input
                }
            }
        )*
    };
}

pub(crate) use absent;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_values_vectors_fifos_and_heaps_come_back_as_packed() {
        let mut fifo = crate::reuse::Fifo::with_capacity(4);
        for i in 0..6u32 {
            fifo.push_back(i);
        }
        fifo.pop_front();
        fifo.pop_front();
        fifo.push_back(9); // wrapped: two slices
        let heap: BinaryHeap<std::cmp::Reverse<(u64, u32)>> =
            [(5, 1), (3, 2), (5, 0), (1, 7), (3, 2)]
                .into_iter()
                .map(std::cmp::Reverse)
                .collect();
        let v: Vec<u64> = vec![1, u64::MAX, 3];
        let x: Option<(u64, u32)> = Some((7, 8));
        let mut out = Vec::new();
        pack(&fifo, &mut out);
        pack(&heap, &mut out);
        pack(&v, &mut out);
        pack(&x, &mut out);
        pack(&[true, false], &mut out);
        // Each vector's length, then its items; the plain values as they are.
        let heap_item = size_of::<std::cmp::Reverse<(u64, u32)>>();
        let expected = (8 + 4 * 5) + (8 + heap_item * 5) + (8 + 8 * 3) + size_of_val(&x) + 2;
        assert_eq!(out.len(), expected);

        let mut f2 = crate::reuse::Fifo::with_capacity(1);
        f2.push_back(42);
        let mut h2 = BinaryHeap::new();
        h2.push(std::cmp::Reverse((0u64, 0u32)));
        let mut v2 = vec![0u64; 10];
        let mut x2: Option<(u64, u32)> = None;
        let mut b2 = [false, true];
        let input = &out[..];
        // SAFETY: the bytes just packed, read back in the order they were written.
        let input = unsafe {
            let input = f2.unpack(input);
            let input = h2.unpack(input);
            let input = v2.unpack(input);
            let input = x2.unpack(input);
            b2.unpack(input)
        };
        assert!(input.is_empty());
        assert_eq!(
            f2.iter().collect::<Vec<_>>(),
            fifo.iter().collect::<Vec<_>>()
        );
        assert_eq!(h2.as_slice(), heap.as_slice());
        assert_eq!(v2, v);
        assert_eq!(x2, x);
        assert_eq!(b2, [true, false]);
    }

    #[test]
    fn empty_vectors_and_fifos_pack_as_their_count_and_unpack_empty() {
        let (v, fifo): (Vec<u64>, crate::reuse::Fifo<u32>) = (vec![], Default::default());
        let mut out = Vec::new();
        pack(&v, &mut out);
        pack(&fifo, &mut out);
        assert_eq!(out.len(), 2 * size_of::<usize>());
        let (mut v2, mut f2) = (vec![7u64, 8], crate::reuse::Fifo::with_capacity(2));
        f2.push_back(9u32);
        // SAFETY: the bytes just packed, read back in the order they were written.
        let rest = unsafe { f2.unpack(v2.unpack(&out)) };
        assert!(rest.is_empty() && v2.is_empty() && f2.is_empty());
    }
}
