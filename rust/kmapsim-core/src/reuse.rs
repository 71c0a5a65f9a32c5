//! `Clone` with a `clone_from` that reuses the target's allocations, and `pack::Pack` from the
//! same field lists. The checker copies a whole machine per transition (`check.rs`); copying
//! into a machine it no longer needs, buffer by buffer, saves every allocation. The field list
//! is checked by exhaustive patterns: a field added to a struct and not to its list here is a
//! compile error, for both.

use crate::pack::{Byte, Pack, Plain, get, put};

/// `clone_reusing!(Type { field, ... } statistics { field, ... })`: `Clone` for `Type`, field
/// by field, both ways, and `pack::Pack` (the checker's flat copies), field by field in the same
/// order. The fields after `statistics` (optional) are cloned but not packed: sums the machine
/// only ever adds to and reports, which nothing it does and nothing the checker reads depends
/// on (`check.rs` reads a state's key, its stale-access counter and its violations); unpacking
/// sets them to their defaults, so that a machine unpacked from a level counts from there.
macro_rules! clone_reusing {
    ($ty:ident { $($(#[$m:meta])* $f:ident),* $(,)? } $(statistics { $($s:ident),* $(,)? })?) => {
        impl Clone for $ty {
            fn clone(&self) -> Self {
                let $ty { $($(#[$m])* $f,)* $($($s),*)? } = self;
                $ty { $($(#[$m])* $f: Clone::clone($f),)* $($($s: Clone::clone($s)),*)? }
            }

            fn clone_from(&mut self, source: &Self) {
                let $ty { $($(#[$m])* $f,)* $($($s),*)? } = self;
                $($(#[$m])* Clone::clone_from($f, &source.$f);)*
                $($(Clone::clone_from($s, &source.$s);)*)?
            }
        }

        impl $crate::pack::Pack for $ty {
            fn packed_len(&self) -> usize {
                let $ty { $($(#[$m])* $f,)* $($($s: _),*)? } = self;
                let mut n = 0;
                $($(#[$m])* {
                    n += $crate::pack::Pack::packed_len($f);
                })*
                n
            }

            fn pack_into<'a>(
                &self,
                out: &'a mut [$crate::pack::Byte],
            ) -> &'a mut [$crate::pack::Byte] {
                let $ty { $($(#[$m])* $f,)* $($($s: _),*)? } = self;
                $($(#[$m])* let out = $crate::pack::Pack::pack_into($f, out);)*
                out
            }

            unsafe fn unpack<'a>(
                &mut self,
                input: &'a [$crate::pack::Byte],
            ) -> &'a [$crate::pack::Byte] {
                let $ty { $($(#[$m])* $f,)* $($($s),*)? } = self;
                // SAFETY: the caller's: each field's bytes, in the order `pack_into` wrote them.
                $($(#[$m])* let input = unsafe { $crate::pack::Pack::unpack($f, input) };)*
                $($(*$s = Default::default();)*)?
                input
            }
        }
    };
}

pub(crate) use clone_reusing;

/// A value shared by every copy of a machine (its scenario, its program): `clone_from` between
/// two copies that already share it touches no reference count.
#[derive(Debug)]
pub struct Shared<T: ?Sized>(pub std::sync::Arc<T>);

impl<T: ?Sized> Clone for Shared<T> {
    fn clone(&self) -> Self {
        Shared(self.0.clone())
    }

    fn clone_from(&mut self, source: &Self) {
        if !std::sync::Arc::ptr_eq(&self.0, &source.0) {
            self.0 = source.0.clone();
        }
    }
}

impl<T: ?Sized> std::ops::Deref for Shared<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

/// A `VecDeque` of plain values whose `clone_from` copies its two slices whole: the standard
/// one goes element by element through an iterator, which the checker's copies felt
/// (`check.rs`).
#[derive(Debug, Default)]
pub struct Fifo<T: Copy>(pub std::collections::VecDeque<T>);

impl<T: Copy> Fifo<T> {
    pub fn with_capacity(n: usize) -> Self {
        Fifo(std::collections::VecDeque::with_capacity(n))
    }
}

impl<T: Copy> Clone for Fifo<T> {
    fn clone(&self) -> Self {
        Fifo(self.0.clone())
    }

    fn clone_from(&mut self, source: &Self) {
        self.0.clear();
        if source.0.is_empty() {
            return;
        }
        let (front, back) = source.0.as_slices();
        self.0.extend(front);
        self.0.extend(back);
    }
}

impl<T: Copy> std::ops::Deref for Fifo<T> {
    type Target = std::collections::VecDeque<T>;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl<T: Copy> std::ops::DerefMut for Fifo<T> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl<T: Plain + Copy> Pack for Fifo<T> {
    fn packed_len(&self) -> usize {
        size_of::<usize>() + self.0.len() * size_of::<T>()
    }

    fn pack_into<'a>(&self, out: &'a mut [Byte]) -> &'a mut [Byte] {
        let (front, back) = self.0.as_slices();
        let out = put(out, &[self.0.len()]);
        let out = put(out, front);
        put(out, back)
    }

    unsafe fn unpack<'a>(&mut self, input: &'a [Byte]) -> &'a [Byte] {
        // SAFETY: the caller's: the length, then the items.
        let (n, mut input): (usize, _) = unsafe { get(input) };
        self.0.clear();
        for _ in 0..n {
            // SAFETY: the caller's.
            let (item, rest) = unsafe { get::<T>(input) };
            self.0.push_back(item);
            input = rest;
        }
        input
    }
}

/// Shared by every machine of a search (scenario, program): nothing to pack.
impl<T: ?Sized> Pack for Shared<T> {
    fn packed_len(&self) -> usize {
        0
    }

    fn pack_into<'a>(&self, out: &'a mut [Byte]) -> &'a mut [Byte] {
        out
    }

    unsafe fn unpack<'a>(&mut self, input: &'a [Byte]) -> &'a [Byte] {
        input
    }
}
