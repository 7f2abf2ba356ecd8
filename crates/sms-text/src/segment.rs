//! Splitting a sequence of indivisible items (a GSM-7 character of 1 or 2 septets, a UTF-16
//! character of 1 or 2 code units) into parts.
//!
//! The one rule that covers both "never split an escape sequence" and "never split a surrogate
//! pair": an item that does not fit in what is left of the current part starts the next part.
//! [`crate::estimate`] and [`crate::encode`] both run on the same internal planner, so the
//! calculator and the segmenter cannot disagree.

use std::ops::Range;

/// Capacity of one SMS, in units (septets or UTF-16 code units).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Limits {
    /// A message of at most this many units goes as one SMS without UDH.
    pub single: usize,
    /// Otherwise each part carries at most this many units.
    pub per_part: usize,
}

/// Greedy part planner fed one item cost at a time.
#[derive(Debug, Clone)]
pub(crate) struct Planner {
    per_part: usize,
    /// Units in the current (last) part under the multi-part layout.
    used: usize,
    /// Parts opened under the multi-part layout.
    parts: usize,
    /// Total units seen.
    total: usize,
}

/// What a text needs, once every item has been fed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Plan {
    /// Number of parts (1 for a text that fits the single limit, including the empty text).
    pub parts: usize,
    /// Total units.
    pub units: usize,
    /// Units in the last part.
    pub last_units: usize,
    /// The limit that applies to each part: `single` for one part, `per_part` otherwise.
    pub limit: usize,
}

impl Planner {
    pub(crate) fn new(per_part: usize) -> Self {
        Planner {
            // A limit of 0 could never place an item; treat it as 1 to stay total.
            per_part: per_part.max(1),
            used: 0,
            parts: 0,
            total: 0,
        }
    }

    /// Feeds one item; returns `true` if it opens a new part under the multi-part layout.
    #[inline]
    pub(crate) fn push(&mut self, cost: usize) -> bool {
        self.total += cost;
        if self.parts == 0 || self.used + cost > self.per_part {
            self.parts += 1;
            self.used = cost;
            true
        } else {
            self.used += cost;
            false
        }
    }

    pub(crate) fn finish(&self, limits: Limits) -> Plan {
        if self.total <= limits.single {
            Plan {
                parts: 1,
                units: self.total,
                last_units: self.total,
                limit: limits.single,
            }
        } else {
            Plan {
                parts: self.parts,
                units: self.total,
                last_units: self.used,
                limit: self.per_part,
            }
        }
    }
}

/// Splits items of the given costs into parts and returns the item index range of each part.
///
/// Every item must cost at least 1 and at most `limits.per_part` units (otherwise it is placed
/// alone in a part that is over the limit, since it cannot be divided). No input gives zero
/// parts: the empty sequence is one empty part.
pub fn split(costs: impl IntoIterator<Item = usize>, limits: Limits) -> Vec<Range<usize>> {
    let mut planner = Planner::new(limits.per_part);
    let mut starts = Vec::new();
    let mut n = 0;
    for (i, cost) in costs.into_iter().enumerate() {
        if planner.push(cost) {
            starts.push(i);
        }
        n = i + 1;
    }
    if planner.finish(limits).parts == 1 {
        return std::iter::once(0..n).collect();
    }
    let mut ranges = Vec::with_capacity(starts.len());
    for (k, &start) in starts.iter().enumerate() {
        let end = starts.get(k + 1).copied().unwrap_or(n);
        ranges.push(start..end);
    }
    ranges
}

#[cfg(test)]
mod tests {
    use super::*;

    const GSM: Limits = Limits {
        single: 160,
        per_part: 153,
    };

    #[test]
    fn two_unit_item_never_straddles_a_boundary() {
        // 152 one-unit items, then a two-unit item: it does not fit in the 1 unit left.
        let costs = std::iter::repeat_n(1, 152)
            .chain([2])
            .chain(std::iter::repeat_n(1, 10));
        let parts = split(costs, GSM);
        assert_eq!(parts, vec![0..152, 152..163]);
    }

    #[test]
    fn single_limit_applies_to_the_whole_text() {
        assert_eq!(split(std::iter::repeat_n(1, 160), GSM), vec![0..160]);
        assert_eq!(
            split(std::iter::repeat_n(1, 161), GSM),
            vec![0..153, 153..161]
        );
        assert_eq!(split(std::iter::empty(), GSM), vec![0..0]);
    }
}
