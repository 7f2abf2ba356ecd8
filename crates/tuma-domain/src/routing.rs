//! Routing: which connector (SMPP bind) carries a message.
//!
//! A [`RouteTable`] holds routes keyed by a digit prefix of the E.164 number; the longest
//! matching prefix wins, and an optional default route (empty prefix) catches the rest. A
//! route lists one or more connectors with weights.
//!
//! [`RouteTable::route`] is a pure function of the number, the connectors' liveness and a
//! counter the caller increments per message:
//!
//! 1. *Weighted round-robin.* Each route precomputes one cycle of length `sum(weights)` in
//!    the "smooth" order (nginx's algorithm: weights 5,1,1 give `a a b a c a a`, not
//!    `a a a a a b c`), so traffic interleaves instead of arriving in bursts. Entry
//!    `counter % cycle` is the primary choice; over any full cycle each connector is chosen
//!    exactly `weight` times.
//! 2. *Failover.* When the primary is down, the next connector *in the route's list order*
//!    (wrapping) that is up is used: operators think of "primary, then backup", and a down
//!    connector's share moves to one predictable neighbour.
//! 3. All connectors down: [`RouteError::AllDown`] naming the route.

use std::collections::HashSet;
use std::fmt;

use crate::msisdn::Msisdn;

/// Most characters in a connector id.
pub const MAX_CONNECTOR_ID_LEN: usize = 64;
/// Most connectors in one route.
pub const MAX_CONNECTORS_PER_ROUTE: usize = 64;
/// Largest sum of weights in one route: bounds the precomputed cycle's memory.
pub const MAX_ROUTE_WEIGHT: u32 = 10_000;

/// The name of a connector: 1-64 ASCII letters, digits, `-`, `_` or `.`, as written in the
/// configuration (it appears in logs, metrics labels and URLs, hence the narrow alphabet).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct ConnectorId(String);

impl ConnectorId {
    /// Checks a connector name.
    pub fn parse(name: &str) -> Result<Self, RouteTableError> {
        let bad = name
            .char_indices()
            .find(|(_, c)| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')));
        if name.is_empty() || name.len() > MAX_CONNECTOR_ID_LEN || bad.is_some() {
            return Err(RouteTableError::InvalidConnectorId {
                id: name.to_owned(),
            });
        }
        Ok(Self(name.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ConnectorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for ConnectorId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        ConnectorId::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A connector in a route, with its share of the traffic.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub struct WeightedConnector {
    /// The connector.
    pub connector: ConnectorId,
    /// Its weight, at least 1.
    pub weight: u32,
}

/// One route as configured.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub struct RouteSpec {
    /// Digits of the E.164 number the route applies to (`2547` for Kenyan mobiles); a
    /// leading `+` is allowed; empty for the default route.
    pub prefix: String,
    /// The connectors in failover order, with their weights.
    pub connectors: Vec<WeightedConnector>,
}

/// Why a route table is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RouteTableError {
    /// A connector name with characters outside `[A-Za-z0-9._-]`, empty, or too long.
    #[error("invalid connector id {id:?}: use 1-64 ASCII letters, digits, '-', '_' or '.'")]
    InvalidConnectorId {
        /// The name given.
        id: String,
    },
    /// A prefix with something other than digits (after an optional leading `+`).
    #[error("route prefix {prefix:?} must be digits only (an optional leading '+')")]
    InvalidPrefix {
        /// The prefix given.
        prefix: String,
    },
    /// A prefix longer than any E.164 number.
    #[error("route prefix {prefix:?} is longer than 15 digits")]
    PrefixTooLong {
        /// The prefix given.
        prefix: String,
    },
    /// Two routes with the same prefix.
    #[error("two routes for prefix {}", route_name(prefix))]
    DuplicatePrefix {
        /// The digits (empty: the default route).
        prefix: String,
    },
    /// A route without connectors.
    #[error("route {} has no connectors", route_name(prefix))]
    NoConnectors {
        /// The route's digits.
        prefix: String,
    },
    /// Too many connectors in one route.
    #[error(
        "route {} has {count} connectors, at most {MAX_CONNECTORS_PER_ROUTE} are allowed",
        route_name(prefix)
    )]
    TooManyConnectors {
        /// The route's digits.
        prefix: String,
        /// Connectors listed.
        count: usize,
    },
    /// A weight of zero.
    #[error(
        "route {}: connector {connector} has weight 0 (weights must be at least 1)",
        route_name(prefix)
    )]
    ZeroWeight {
        /// The route's digits.
        prefix: String,
        /// The connector.
        connector: ConnectorId,
    },
    /// The weights of a route add up to more than [`MAX_ROUTE_WEIGHT`].
    #[error("route {}: weights add up to {total}, at most {MAX_ROUTE_WEIGHT} (use smaller numbers with the same ratio)", route_name(prefix))]
    WeightTooLarge {
        /// The route's digits.
        prefix: String,
        /// Their sum (saturating).
        total: u64,
    },
    /// A connector listed twice in one route.
    #[error("route {}: connector {connector} is listed twice", route_name(prefix))]
    DuplicateConnector {
        /// The route's digits.
        prefix: String,
        /// The connector.
        connector: ConnectorId,
    },
}

/// Why no connector could be chosen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RouteError {
    /// No route's prefix matches and there is no default route.
    #[error("no route for {msisdn} (no prefix matches and there is no default route)")]
    NoRoute {
        /// The number.
        msisdn: Msisdn,
    },
    /// Every connector of the matching route is down.
    #[error(
        "every connector of route {} is down: {}",
        route_name(prefix),
        list(connectors)
    )]
    AllDown {
        /// The matching route's digits (empty: the default route).
        prefix: String,
        /// Its connectors.
        connectors: Vec<ConnectorId>,
    },
}

fn route_name(prefix: &str) -> String {
    if prefix.is_empty() {
        "default".to_owned()
    } else {
        format!("+{prefix}")
    }
}

fn list(ids: &[ConnectorId]) -> String {
    ids.iter()
        .map(ConnectorId::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A checked route with its precomputed cycle.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Route {
    prefix: String,
    connectors: Vec<WeightedConnector>,
    /// Indexes into `connectors`, one full smooth weighted round-robin cycle.
    cycle: Vec<u8>,
}

/// Routes by longest prefix. Build with [`RouteTable::new`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteTable {
    /// Sorted by prefix length, longest first, so the first match is the longest.
    routes: Vec<Route>,
}

impl RouteTable {
    /// Checks the routes (prefix digits, weights at least 1, no duplicates) and builds the
    /// table.
    pub fn new(specs: Vec<RouteSpec>) -> Result<Self, RouteTableError> {
        let mut seen = HashSet::new();
        let mut routes = Vec::with_capacity(specs.len());
        for spec in specs {
            let digits = spec.prefix.strip_prefix('+').unwrap_or(&spec.prefix);
            if !digits.bytes().all(|b| b.is_ascii_digit()) || spec.prefix == "+" {
                return Err(RouteTableError::InvalidPrefix {
                    prefix: spec.prefix.clone(),
                });
            }
            if digits.len() > crate::msisdn::MAX_E164_DIGITS {
                return Err(RouteTableError::PrefixTooLong {
                    prefix: spec.prefix.clone(),
                });
            }
            let prefix = digits.to_owned();
            if !seen.insert(prefix.clone()) {
                return Err(RouteTableError::DuplicatePrefix { prefix });
            }
            routes.push(Route::new(prefix, spec.connectors)?);
        }
        routes.sort_by_key(|r| std::cmp::Reverse(r.prefix.len()));
        Ok(Self { routes })
    }

    /// Chooses the connector for `msisdn`: longest matching prefix, then weighted
    /// round-robin by `counter`, then failover past connectors for which `is_up` is false.
    pub fn route(
        &self,
        msisdn: &Msisdn,
        is_up: impl Fn(&ConnectorId) -> bool,
        counter: u64,
    ) -> Result<ConnectorId, RouteError> {
        let digits = msisdn.digits();
        let route = self
            .routes
            .iter()
            .find(|r| digits.starts_with(&r.prefix))
            .ok_or(RouteError::NoRoute { msisdn: *msisdn })?;
        route.choose(is_up, counter)
    }

    /// The prefix (digits, empty for the default) of the route `msisdn` would use.
    pub fn matching_prefix(&self, msisdn: &Msisdn) -> Option<&str> {
        let digits = msisdn.digits();
        self.routes
            .iter()
            .find(|r| digits.starts_with(&r.prefix))
            .map(|r| r.prefix.as_str())
    }
}

impl Route {
    fn new(prefix: String, connectors: Vec<WeightedConnector>) -> Result<Self, RouteTableError> {
        if connectors.is_empty() {
            return Err(RouteTableError::NoConnectors { prefix });
        }
        if connectors.len() > MAX_CONNECTORS_PER_ROUTE {
            return Err(RouteTableError::TooManyConnectors {
                prefix,
                count: connectors.len(),
            });
        }
        let mut names = HashSet::new();
        let mut total: u64 = 0;
        for c in &connectors {
            if c.weight == 0 {
                return Err(RouteTableError::ZeroWeight {
                    prefix,
                    connector: c.connector.clone(),
                });
            }
            if !names.insert(&c.connector) {
                return Err(RouteTableError::DuplicateConnector {
                    prefix,
                    connector: c.connector.clone(),
                });
            }
            total += u64::from(c.weight);
        }
        if total > u64::from(MAX_ROUTE_WEIGHT) {
            return Err(RouteTableError::WeightTooLarge { prefix, total });
        }
        let cycle = smooth_cycle(&connectors);
        Ok(Self {
            prefix,
            connectors,
            cycle,
        })
    }

    fn choose(
        &self,
        is_up: impl Fn(&ConnectorId) -> bool,
        counter: u64,
    ) -> Result<ConnectorId, RouteError> {
        // `cycle` is never empty: every route has a connector of weight >= 1. The modulo keeps
        // the index in range; the `get`s below only guard against that invariant breaking.
        let len = self.cycle.len().max(1) as u64;
        let start = self
            .cycle
            .get((counter % len) as usize)
            .map_or(0, |&i| usize::from(i));
        let n = self.connectors.len();
        (0..n)
            .filter_map(|k| self.connectors.get((start + k) % n))
            .find(|c| is_up(&c.connector))
            .map(|c| c.connector.clone())
            .ok_or_else(|| RouteError::AllDown {
                prefix: self.prefix.clone(),
                connectors: self
                    .connectors
                    .iter()
                    .map(|c| c.connector.clone())
                    .collect(),
            })
    }
}

/// One cycle of smooth weighted round-robin (nginx): each step, every connector's current
/// weight grows by its weight, the largest is picked (first on ties) and loses the total.
/// After `total` steps every current weight is back to 0, so the cycle repeats exactly.
fn smooth_cycle(connectors: &[WeightedConnector]) -> Vec<u8> {
    let total: i64 = connectors.iter().map(|c| i64::from(c.weight)).sum();
    // `current` has one entry per connector and `best` is always one of their indexes, so
    // the indexing below cannot go out of bounds.
    let mut current = vec![0i64; connectors.len()];
    let mut cycle = Vec::with_capacity(usize::try_from(total).unwrap_or(0));
    for _ in 0..total {
        let mut best = 0;
        for (i, c) in connectors.iter().enumerate() {
            current[i] += i64::from(c.weight);
            if current[i] > current[best] {
                best = i;
            }
        }
        current[best] -= total;
        // At most MAX_CONNECTORS_PER_ROUTE (64) connectors, so the index fits a u8.
        cycle.push(best as u8);
    }
    cycle
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msisdn::Region;
    use proptest::prelude::*;
    use std::collections::HashMap;

    fn id(s: &str) -> ConnectorId {
        ConnectorId::parse(s).unwrap()
    }

    fn spec(prefix: &str, cs: &[(&str, u32)]) -> RouteSpec {
        RouteSpec {
            prefix: prefix.into(),
            connectors: cs
                .iter()
                .map(|(c, w)| WeightedConnector {
                    connector: id(c),
                    weight: *w,
                })
                .collect(),
        }
    }

    fn num(s: &str) -> Msisdn {
        Msisdn::parse(s, Region::parse("KE").unwrap()).unwrap()
    }

    #[test]
    fn longest_prefix_wins() {
        let t = RouteTable::new(vec![
            spec("", &[("default", 1)]),
            spec("254", &[("kenya", 1)]),
            spec("+25471", &[("safaricom", 1)]),
        ])
        .unwrap();
        let up = |_: &ConnectorId| true;
        assert_eq!(t.route(&num("+254712345678"), up, 0), Ok(id("safaricom")));
        assert_eq!(t.route(&num("+254733123456"), up, 0), Ok(id("kenya")));
        assert_eq!(t.route(&num("+447911123456"), up, 0), Ok(id("default")));
        assert_eq!(t.matching_prefix(&num("+447911123456")), Some(""));
    }

    #[test]
    fn no_route_and_all_down_are_errors() {
        let t = RouteTable::new(vec![spec("2547", &[("a", 1), ("b", 1)])]).unwrap();
        let uk = num("+447911123456");
        assert_eq!(
            t.route(&uk, |_| true, 0),
            Err(RouteError::NoRoute { msisdn: uk })
        );
        let err = t.route(&num("+254712345678"), |_| false, 0).unwrap_err();
        assert_eq!(
            err,
            RouteError::AllDown {
                prefix: "2547".into(),
                connectors: vec![id("a"), id("b")]
            }
        );
        assert_eq!(
            err.to_string(),
            "every connector of route +2547 is down: a, b"
        );
    }

    #[test]
    fn smooth_order_interleaves() {
        let t = RouteTable::new(vec![spec("", &[("a", 5), ("b", 1), ("c", 1)])]).unwrap();
        let m = num("+254712345678");
        let order: String = (0..7)
            .map(|i| t.route(&m, |_| true, i).unwrap().as_str().to_owned())
            .collect();
        assert_eq!(order, "aabacaa");
    }

    #[test]
    fn failover_takes_the_next_in_list_order() {
        let t = RouteTable::new(vec![spec("", &[("a", 1), ("b", 1), ("c", 1)])]).unwrap();
        let m = num("+254712345678");
        let b_down = |c: &ConnectorId| c.as_str() != "b";
        // Counter 1 picks b; b is down, so c (next in the list), not a.
        assert_eq!(t.route(&m, b_down, 1), Ok(id("c")));
        let c_down = |c: &ConnectorId| c.as_str() != "c";
        // Counter 2 picks c; wrapping to a.
        assert_eq!(t.route(&m, c_down, 2), Ok(id("a")));
    }

    #[test]
    fn table_validation() {
        use RouteTableError as E;
        assert_eq!(
            RouteTable::new(vec![spec("25a", &[("a", 1)])]),
            Err(E::InvalidPrefix {
                prefix: "25a".into()
            })
        );
        assert!(matches!(
            RouteTable::new(vec![spec("+", &[("a", 1)])]),
            Err(E::InvalidPrefix { .. })
        ));
        assert_eq!(
            RouteTable::new(vec![spec("254", &[("a", 1)]), spec("+254", &[("b", 1)])]),
            Err(E::DuplicatePrefix {
                prefix: "254".into()
            })
        );
        assert_eq!(
            RouteTable::new(vec![spec("254", &[("a", 0)])]),
            Err(E::ZeroWeight {
                prefix: "254".into(),
                connector: id("a")
            })
        );
        assert_eq!(
            RouteTable::new(vec![spec("254", &[])]),
            Err(E::NoConnectors {
                prefix: "254".into()
            })
        );
        assert_eq!(
            RouteTable::new(vec![spec("", &[("a", 1), ("a", 2)])]),
            Err(E::DuplicateConnector {
                prefix: "".into(),
                connector: id("a")
            })
        );
        assert!(matches!(
            RouteTable::new(vec![spec("", &[("a", 9_000), ("b", 1_001)])]),
            Err(E::WeightTooLarge { total: 10_001, .. })
        ));
        assert!(matches!(
            RouteTable::new(vec![spec("1234567890123456", &[("a", 1)])]),
            Err(E::PrefixTooLong { .. })
        ));
        assert!(ConnectorId::parse("smsc one").is_err());
        assert!(ConnectorId::parse("").is_err());
        assert!(ConnectorId::parse("safaricom-1.tx_2").is_ok());
        let e = RouteTable::new(vec![spec("", &[("a", 0)])])
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "route default: connector a has weight 0 (weights must be at least 1)"
        );
    }

    fn weights() -> impl Strategy<Value = Vec<u32>> {
        prop::collection::vec(1u32..20, 1..6)
    }

    fn table(ws: &[u32]) -> RouteTable {
        let cs: Vec<(String, u32)> = ws
            .iter()
            .enumerate()
            .map(|(i, w)| (format!("c{i}"), *w))
            .collect();
        let refs: Vec<(&str, u32)> = cs.iter().map(|(c, w)| (c.as_str(), *w)).collect();
        RouteTable::new(vec![spec("", &refs)]).unwrap()
    }

    proptest! {
        /// Over any full cycle (starting anywhere), each connector is chosen exactly `weight`
        /// times.
        #[test]
        fn weights_honoured_over_a_full_cycle(ws in weights(), start in any::<u64>()) {
            let t = table(&ws);
            let m = num("+254712345678");
            let total: u64 = ws.iter().map(|w| u64::from(*w)).sum();
            let mut counts: HashMap<String, u32> = HashMap::new();
            for k in 0..total {
                let c = t.route(&m, |_| true, start.wrapping_add(k)).unwrap();
                *counts.entry(c.as_str().to_owned()).or_default() += 1;
            }
            for (i, w) in ws.iter().enumerate() {
                prop_assert_eq!(counts.get(&format!("c{i}")).copied().unwrap_or(0), *w);
            }
        }

        /// A down connector is never chosen; a route with any up connector always answers.
        #[test]
        fn down_connector_never_chosen(ws in weights(), down_mask in any::<u64>(), counter in any::<u64>()) {
            let t = table(&ws);
            let m = num("+254712345678");
            let is_up = |c: &ConnectorId| {
                let i: u32 = c.as_str()[1..].parse().unwrap();
                down_mask & (1 << i) == 0
            };
            let any_up = (0..ws.len()).any(|i| down_mask & (1 << i) == 0);
            match t.route(&m, is_up, counter) {
                Ok(c) => prop_assert!(is_up(&c)),
                Err(RouteError::AllDown { .. }) => prop_assert!(!any_up),
                Err(e) => prop_assert!(false, "unexpected {}", e),
            }
        }
    }
}
