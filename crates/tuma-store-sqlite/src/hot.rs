//! The writer thread's cache: what the status path would otherwise read back from the
//! database for every submit result and receipt.
//!
//! - **Live messages**: a message's status, segment statuses, multipart policy, callback
//!   URL, next event number, and whether its error is set. Filled
//!   at intake (the writer knows everything about a message it just inserted) and by
//!   loads; updated by every write of the status path; a message leaves when a call leaves
//!   it final (a later receipt for it reads the database again).
//! - **SMSC id keys**: `(connector, key) -> (message, segment)`, filled by submit results
//!   and consulted by receipts before the `smsc_keys` table (which stays the truth, for
//!   restarts and for keys the cache has forgotten). A message's keys leave with it when a
//!   call leaves it final: a late repeat of its receipt reads the table.
//!
//! Only the writer thread touches it, inside its transactions. Anything that may have
//! changed the database differently from the cache (a job rolled back to its savepoint, a
//! failed commit) clears it all: it is a shortcut, never the truth. Both maps are bounded
//! by [`Generations`]: the oldest entries go first. It assumes this store is the database
//! file's only writer (the writer thread is), as everything else in this backend does.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};

use compact_str::CompactString;
use tuma_domain::{ConnectorId, MessageId};
use tuma_store::apply::LiveMessage;

/// Live messages kept at most (two generations of half this).
pub(crate) const LIVE_MAX: usize = 1 << 20;
/// SMSC id keys kept at most (two generations of half this): the keys of up to a million
/// submissions waiting for their receipt (one key each, see `sql::number_as_normalised`).
pub(crate) const KEYS_MAX: usize = 1 << 20;

/// What the status path knows about a message (see the module docs).
#[derive(Debug, Clone)]
pub(crate) struct HotMessage {
    /// The algorithms' view.
    pub live: LiveMessage,
    /// The `seq` of its last stored event (0: only the initial status).
    pub last_seq: u32,
    /// Whether its error is set (the first one stands).
    pub has_error: bool,
    /// The key cache entries its submissions added (removed with it when it is final).
    pub keys: Vec<CacheKey>,
    /// Its submit result, when it is stored on its key row only (a deferred submit, see
    /// migration 0006): the message row still says `accepted`, and the next write of the
    /// row writes this first.
    pub deferred: Option<DeferredSubmit>,
}

/// A submit result stored on the key row only (see [`HotMessage::deferred`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DeferredSubmit {
    /// The number of its `submitted` event.
    pub seq: u32,
    /// When it was submitted.
    pub at_ms: u64,
    /// Segment 0's SMSC id.
    pub smsc_id: Box<str>,
}

/// The cache (see the module docs).
#[derive(Debug)]
pub(crate) struct Hot {
    /// Boxed: an entry is about 160 bytes, and the writer moves it in and out of this map
    /// (and `sql::SqlTx`'s `local`) for every submit result and receipt. A box keeps the
    /// tables at 24 bytes an entry and those moves at a pointer; the boxes themselves are
    /// allocated in intake order, the order their receipts mostly come back in.
    pub live: Generations<MessageId, Box<HotMessage>>,
    pub keys: Generations<CacheKey, (MessageId, u8)>,
    /// The connectors the key cache has seen, numbered by their place here (see
    /// [`CacheKey`]); a name, not state: never cleared.
    connectors: Vec<ConnectorId>,
    /// The keys receipts are parked under, when known (see [`ParkedKeys`]).
    pub parked: ParkedKeys,
    /// The message-row `UPDATE` statements built so far, by the set of columns they set
    /// (see `sql::MessageWrite`); not state, never cleared.
    pub update_sql: [Option<String>; 64],
    /// Empty maps a call of `sql::SqlTx` borrows and returns, so their capacity outlives the
    /// call (allocating and growing two maps per call was ~2 % of the writer's instructions).
    pub spare: SpareMaps,
}

/// See [`Hot::spare`]; always empty between calls.
#[derive(Default)]
pub(crate) struct SpareMaps {
    pub writes: FastMap<MessageId, crate::sql::MessageWrite>,
    pub local: FastMap<MessageId, Box<HotMessage>>,
}

impl std::fmt::Debug for SpareMaps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpareMaps")
            .field("writes_capacity", &self.writes.capacity())
            .field("local_capacity", &self.local.capacity())
            .finish()
    }
}

impl Default for Hot {
    fn default() -> Self {
        Self {
            live: Generations::new(LIVE_MAX),
            keys: Generations::new(KEYS_MAX),
            connectors: Vec::new(),
            parked: ParkedKeys::Unknown,
            update_sql: std::array::from_fn(|_| None),
            spare: SpareMaps::default(),
        }
    }
}

impl Hot {
    /// The key cache's key for `key` of `connector`.
    pub(crate) fn cache_key(&mut self, connector: &ConnectorId, key: &str) -> CacheKey {
        // A gateway has a handful of connectors: a scan beats a map here.
        let number = match self.connectors.iter().position(|c| c == connector) {
            Some(n) => n,
            None => {
                self.connectors.push(connector.clone());
                self.connectors.len() - 1
            }
        };
        CacheKey {
            connector: number,
            key: CompactString::from(key),
        }
    }

    /// Forgets everything.
    pub(crate) fn clear(&mut self) {
        self.live.clear();
        self.keys.clear();
        self.parked = ParkedKeys::Unknown;
    }
}

/// A key of the SMSC id cache: the connector by its number (see [`Hot::cache_key`]) and the
/// key, inline when it has at most 24 bytes, as SMSC ids mostly do. Building one allocates
/// nothing, and comparing two reads nothing outside the table: with the connector's name and
/// the key behind pointers, as before, each probe's comparison missed the cache twice (4 %
/// of a saturated batch run's samples were that `memcmp`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct CacheKey {
    connector: usize,
    key: CompactString,
}

/// Parked keys kept in memory at most; past this, every submit result asks the database.
pub(crate) const PARKED_MAX: usize = 1 << 20;

/// What the writer knows about the `parked_keys` table: every submit result asks whether a
/// receipt is parked under one of its keys, and almost never is one. The set may hold keys
/// whose receipts were taken meanwhile (they cost one lookup in the table, which finds
/// nothing), never miss a parked one: `park` adds to it, and it is reloaded after
/// `drop_parked_receipts` and whenever the cache is cleared.
#[derive(Debug)]
pub(crate) enum ParkedKeys {
    /// Not loaded (at start, after a drop or a rollback).
    Unknown,
    /// A superset of the parked `(connector, key)`s.
    Known(std::collections::HashSet<(ConnectorId, Box<str>), BuildHasherDefault<FastHasher>>),
    /// More than [`PARKED_MAX`]: ask the table.
    TooMany,
}

/// A fast non-cryptographic hash (the FxHash mix): SipHash was a visible part of the
/// writer's profile. The keys are our own message ids and the SMSC's ids: an SMSC that
/// wanted to slow its own gateway's cache down could only make it slower, not wrong.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct FastHasher(u64);

impl FastHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    fn write_u128(&mut self, i: u128) {
        self.add(i as u64);
        self.add((i >> 64) as u64);
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

pub(crate) type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

/// A map bounded to about `max` entries that drops its oldest half when full: entries go
/// into the current generation; when it holds `max / 2`, it becomes the old one (the
/// previous old one is dropped). A hit in the old generation moves the entry back to the
/// current one. O(1) per operation, no per-entry bookkeeping.
#[derive(Debug)]
pub(crate) struct Generations<K, V> {
    current: FastMap<K, V>,
    old: FastMap<K, V>,
    half: usize,
}

impl<K: Hash + Eq, V> Generations<K, V> {
    pub(crate) fn new(max: usize) -> Self {
        Self {
            current: FastMap::default(),
            old: FastMap::default(),
            half: (max / 2).max(1),
        }
    }

    /// A copy of the value: one probe when the entry is in the current generation; a hit in
    /// the old one moves the entry back to the current one.
    pub(crate) fn get_copied(&mut self, key: &K) -> Option<V>
    where
        V: Copy,
    {
        if let Some(v) = self.current.get(key) {
            return Some(*v);
        }
        let (k, v) = self.old.remove_entry(key)?;
        self.insert(k, v);
        Some(v)
    }

    /// Inserts or replaces. An older value left in the old generation is shadowed by this
    /// one (lookups try the current generation first) and goes with its generation.
    pub(crate) fn insert(&mut self, key: K, value: V) {
        if self.current.len() >= self.half {
            self.old = std::mem::take(&mut self.current);
        }
        self.current.insert(key, value);
    }

    /// Removes and returns the entry (from both generations: an older value shadowed by
    /// the current one must not come back).
    pub(crate) fn take(&mut self, key: &K) -> Option<V> {
        let current = self.current.remove(key);
        let old = self.old.remove(key);
        current.or(old)
    }

    pub(crate) fn clear(&mut self) {
        self.current = FastMap::default();
        self.old = FastMap::default();
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.current.len() + self.old.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generations_keep_recent_entries_and_stay_bounded() {
        let mut g = Generations::new(4);
        for k in 0..10u32 {
            g.insert(k, k * 10);
        }
        assert!(g.len() <= 4, "{}", g.len());
        // The newest two are in the current generation, the two before in the old one.
        assert_eq!(g.get_copied(&9), Some(90));
        assert_eq!(g.get_copied(&7), Some(70));
        assert_eq!(g.get_copied(&0), None);
        assert_eq!(g.take(&9), Some(90));
        assert_eq!(g.get_copied(&9), None);
        // A replaced value shadows the older one, and taking it takes both.
        g.insert(20, 1);
        g.insert(21, 1);
        g.insert(20, 2);
        assert_eq!(g.get_copied(&20), Some(2));
        assert_eq!(g.take(&20), Some(2));
        assert_eq!(g.get_copied(&20), None);
        g.clear();
        assert_eq!(g.len(), 0);
    }

    #[test]
    fn cache_keys_tell_connectors_and_long_keys_apart() {
        let mut hot = Hot::default();
        let a = ConnectorId::parse("smsc-a").unwrap();
        let b = ConnectorId::parse("smsc-b").unwrap();
        // Longer than the 24 bytes kept inline: stored on the heap, compared the same way.
        let long = "s:0123456789abcdef0123456789abcdef0123456789";
        let short = "s:c0ffee";
        let id = MessageId::from_u128(7);
        let key = hot.cache_key(&a, long);
        hot.keys.insert(key, (id, 1));
        let key = hot.cache_key(&a, short);
        hot.keys.insert(key, (id, 0));
        let key = hot.cache_key(&a, long);
        assert_eq!(hot.keys.get_copied(&key), Some((id, 1)));
        let key = hot.cache_key(&a, short);
        assert_eq!(hot.keys.get_copied(&key), Some((id, 0)));
        let key = hot.cache_key(&b, long);
        assert_eq!(hot.keys.get_copied(&key), None, "another connector's key");
        let key = hot.cache_key(&a, &long[..long.len() - 1]);
        assert_eq!(hot.keys.get_copied(&key), None, "a prefix of the key");
        // A connector keeps its number once seen.
        assert_eq!(hot.cache_key(&b, short), hot.cache_key(&b, short));
        assert_ne!(hot.cache_key(&a, short), hot.cache_key(&b, short));
    }

    #[test]
    fn get_copied_finds_both_generations_and_refreshes_old_entries() {
        let mut g = Generations::new(4);
        for k in 0..4u32 {
            g.insert(k, k * 10);
        }
        // current {2, 3}, old {0, 1}
        assert_eq!(g.get_copied(&3), Some(30));
        assert!(g.current.contains_key(&3) && !g.old.contains_key(&3));
        assert_eq!(g.get_copied(&0), Some(0));
        // Moved back to the (new) current generation, out of the old one.
        assert!(g.current.contains_key(&0) && !g.old.contains_key(&0));
        assert_eq!(g.get_copied(&7), None);
        assert!(g.len() <= 4, "{}", g.len());
    }
}
