//! Deterministic draws: every random choice is a hash of (seed, what it is for, the number,
//! a per-number counter), so outcomes do not depend on how sessions interleave.
//!
//! SplitMix64 finalisation is a dozen instructions and passes BigCrush as a hash of a counter;
//! a seeded stream generator would have to be kept per number or re-seeded per message.

/// SplitMix64's finaliser.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Hash of `seed`, a purpose tag, a byte string (the number) and a counter.
pub(crate) fn hash(seed: u64, purpose: u64, bytes: &[u8], counter: u64) -> u64 {
    let mut h = mix(seed ^ mix(purpose));
    for chunk in bytes.chunks(8) {
        let mut w = [0u8; 8];
        // `chunks(8)` yields at most 8 octets: the slice is in range.
        w[..chunk.len()].copy_from_slice(chunk);
        h = mix(h ^ u64::from_le_bytes(w));
    }
    mix(h ^ mix(counter ^ ((bytes.len() as u64) << 56)))
}

/// A uniform draw in `[0, 1)` from 53 bits of `h`.
pub(crate) fn unit(h: u64) -> f64 {
    (h >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// Purpose tags.
pub(crate) const HANDSET: u64 = 1;
pub(crate) const OUTCOME: u64 = 2;
pub(crate) const LATENCY: u64 = 3;
pub(crate) const OFF_PHASE: u64 = 4;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_depend_on_every_input_and_look_uniform() {
        let a = hash(1, OUTCOME, b"254712345678", 0);
        assert_eq!(a, hash(1, OUTCOME, b"254712345678", 0));
        assert_ne!(a, hash(2, OUTCOME, b"254712345678", 0));
        assert_ne!(a, hash(1, LATENCY, b"254712345678", 0));
        assert_ne!(a, hash(1, OUTCOME, b"254712345679", 0));
        assert_ne!(a, hash(1, OUTCOME, b"254712345678", 1));
        let n = 100_000;
        let below = (0..n)
            .filter(|&i| unit(hash(9, OUTCOME, b"x", i)) < 0.3)
            .count();
        assert!((29_000..31_000).contains(&below), "{below}");
    }
}
