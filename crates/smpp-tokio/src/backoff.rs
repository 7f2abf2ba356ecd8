//! Reconnect delays: exponential, capped, with jitter.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

/// Exponential backoff with "equal jitter": the n-th delay (from 0) is drawn uniformly from
/// `[d/2, d]` where `d = min(max, initial * factor^n)`. Jitter keeps a fleet of clients that
/// lost the same MC from re-dialling in lock step; the lower bound keeps the delay from
/// collapsing to zero.
#[derive(Clone, Debug, PartialEq)]
pub struct Backoff {
    /// The first delay (before jitter).
    pub initial: Duration,
    /// The cap (before jitter).
    pub max: Duration,
    /// Growth per failed attempt (values below 1 are treated as 1).
    pub factor: f64,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_millis(500),
            max: Duration::from_secs(60),
            factor: 2.0,
        }
    }
}

impl Backoff {
    /// The delay before retry number `attempt` (0-based) without jitter: the upper bound of
    /// the jittered delay.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let factor = self.factor.max(1.0);
        // powi on a clamped exponent: 2^64 already exceeds any sane cap.
        let grown = self.initial.as_secs_f64() * factor.powi(attempt.min(64) as i32);
        let max = self.max.as_secs_f64();
        if grown.is_finite() && grown < max {
            Duration::from_secs_f64(grown)
        } else {
            self.max
        }
    }

    /// The jittered delay before retry number `attempt`, in `[ceiling/2, ceiling]`.
    pub fn delay(&self, attempt: u32, rng: &mut Jitter) -> Duration {
        let ceiling = self.ceiling(attempt);
        let half = ceiling / 2;
        half + (ceiling - half).mul_f64(rng.next_unit())
    }
}

/// A small random source for jitter (splitmix64, seeded from the standard library's
/// per-process random hasher keys). Jitter needs spread, not cryptographic quality.
#[derive(Clone, Debug)]
pub struct Jitter {
    state: u64,
}

impl Jitter {
    /// A generator with a random seed.
    pub fn new() -> Self {
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_u64(0x5eed);
        Jitter::with_seed(hasher.finish())
    }

    /// A generator with a fixed seed (reproducible tests).
    pub fn with_seed(seed: u64) -> Self {
        Jitter { state: seed }
    }

    /// A number in `[0, 1)`.
    pub fn next_unit(&mut self) -> f64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        // The top 53 bits fill an f64 mantissa exactly.
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

impl Default for Jitter {
    fn default() -> Self {
        Jitter::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceiling_grows_then_caps() {
        let b = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(1),
            factor: 2.0,
        };
        let ceilings: Vec<_> = (0..6).map(|n| b.ceiling(n)).collect();
        assert_eq!(
            ceilings,
            [100, 200, 400, 800, 1000, 1000].map(Duration::from_millis)
        );
        assert_eq!(b.ceiling(u32::MAX), Duration::from_secs(1));
    }

    #[test]
    fn delays_stay_within_half_and_full_ceiling_and_spread() {
        let b = Backoff::default();
        let mut rng = Jitter::with_seed(7);
        let mut distinct = std::collections::HashSet::new();
        for attempt in 0..200 {
            let ceiling = b.ceiling(attempt % 10);
            let d = b.delay(attempt % 10, &mut rng);
            assert!(
                d >= ceiling / 2 && d <= ceiling,
                "{d:?} outside [{ceiling:?}/2, {ceiling:?}]"
            );
            distinct.insert(d);
        }
        // Jitter must actually vary the delays.
        assert!(
            distinct.len() > 100,
            "only {} distinct delays",
            distinct.len()
        );
    }

    #[test]
    fn unit_values_are_in_range() {
        let mut rng = Jitter::with_seed(1);
        for _ in 0..10_000 {
            let x = rng.next_unit();
            assert!((0.0..1.0).contains(&x));
        }
    }
}
