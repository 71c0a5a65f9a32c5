//! How a state's key is written (`engine/key.rs`): little-endian bytes, each field at its own
//! width, in blocks whose layout is the same for every machine of a search, and lists that give
//! their length first. A key so written reads back in one way only: two states with one key
//! agree on every field it holds (the key is injective up to the renamings `key.rs` applies).
//!
//! Fields used to be widened to a 64-bit word each, with a marker word before every list: the
//! default check's key was 132 words (1,056 bytes), and writing the words one at a time through
//! a `Vec` and hashing them was about half the checker's time (docs/performance.md, change 12).

/// A key in the making: the bytes still free in the key's buffer, written front to back, each
/// write returning the rest. (Passed by value, so that the position stays in a register: a
/// `Vec<u8>` pushed onto reloaded its length and capacity after every byte written, since a
/// byte may be anything's, and that was a fifth of a key's cost.) A write past the end panics:
/// the buffer is sized by `Parts::bound`, which every key the tests build checks.
pub(crate) trait Put: Sized {
    /// Bytes, as they are: every write below is one of these.
    fn bytes(self, b: &[u8]) -> Self;

    /// Bytes and flags.
    #[inline(always)]
    fn u8s<const N: usize>(self, w: [u8; N]) -> Self {
        self.bytes(&w)
    }

    /// Fields of 32 bits or fewer.
    #[inline(always)]
    fn u32s<const N: usize>(self, w: [u32; N]) -> Self {
        self.bytes(w.map(u32::to_le_bytes).as_flattened())
    }

    /// Fields of 64 bits.
    #[inline(always)]
    fn u64s<const N: usize>(self, w: [u64; N]) -> Self {
        self.bytes(w.map(u64::to_le_bytes).as_flattened())
    }

    /// Items whose number is the same in every machine of a search (one a slot, one a handle
    /// the program names): no length is needed to read them back.
    #[inline(always)]
    fn each(mut self, items: impl IntoIterator<Item = u32>) -> Self {
        for x in items {
            self = self.u32s([x]);
        }
        self
    }

    /// A list whose length varies from state to state: its length, then its items.
    fn list(self, items: impl IntoIterator<Item = u32>) -> Self;
}

impl Put for &mut [u8] {
    #[inline(always)]
    fn bytes(self, b: &[u8]) -> Self {
        let (head, rest) = self.split_at_mut(b.len());
        head.copy_from_slice(b);
        rest
    }

    #[inline(always)]
    fn list(self, items: impl IntoIterator<Item = u32>) -> Self {
        // The length is written when known: in front, over its place.
        let (len, mut rest) = self.split_at_mut(4);
        let mut n: u32 = 0;
        for x in items {
            rest = rest.u32s([x]);
            n += 1;
        }
        len.copy_from_slice(&n.to_le_bytes());
        rest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A list's length comes first, so that lists of different lengths and what follows them
    /// never read alike (the markers of the word key did this).
    #[test]
    fn lists_tell_their_lengths() {
        let (mut a, mut b) = ([0u8; 32], [0u8; 32]);
        let n = 32 - a.as_mut_slice().list([1, 2]).list([]).len();
        b.as_mut_slice().list([1]).list([2]);
        assert_ne!(a, b);
        assert_eq!(n, 4 + 8 + 4);
        assert_eq!(&a[..4], &2u32.to_le_bytes());
    }

    /// Blocks are written at their width, little-endian, in order.
    #[test]
    fn blocks_are_their_fields_bytes() {
        let mut k = [0u8; 32];
        let n = 32
            - (k.as_mut_slice())
                .u8s([7, 8])
                .u32s([0x0102_0304])
                .u64s([u64::MAX - 1])
                .each([5, 6])
                .len();
        assert_eq!(
            k[..n],
            [
                &[7u8, 8][..],
                &[4, 3, 2, 1],
                &(u64::MAX - 1).to_le_bytes(),
                &5u32.to_le_bytes(),
                &6u32.to_le_bytes(),
            ]
            .concat()[..]
        );
    }

    /// A write past the end of the buffer panics (a bound too small is found, not ignored).
    #[test]
    #[should_panic]
    fn a_write_past_the_end_panics() {
        let mut k = [0u8; 6];
        k.as_mut_slice().u32s([1]).u32s([2]);
    }
}
