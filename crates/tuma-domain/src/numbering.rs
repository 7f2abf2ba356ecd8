//! Per-country numbering plans compiled once, for the E.164 fast path of [`crate::msisdn`].
//!
//! Why not call `phonenumber` directly: its metadata regexes live in one global LRU cache of
//! 100 entries behind a `Mutex` that is held *during* each match. Numbers from many countries
//! recompile patterns as they evict each other, and parallel imports serialise on the lock.
//! Here each country's patterns are compiled on first use, from the same sources and with the
//! same flags (`ignore_whitespace`), into plain `regex::Regex` values that need no lock.
//!
//! The decisions replicate `phonenumber` 0.3's `validator::is_valid_with` (region choice by
//! leading digits, then "some number type matches") and the part of its parser that strips
//! national prefixes; the property tests in `msisdn` check the agreement.

use std::sync::OnceLock;

use phonenumber::metadata::{Descriptor, Metadata, DATABASE};
use regex::{Regex, RegexBuilder};

/// What is known about a country calling code.
#[derive(Clone, Copy)]
pub(crate) enum Lookup {
    /// No country or non-geographic service uses this code.
    Unknown,
    /// A pattern failed to compile (never expected): use `phonenumber` itself.
    Unavailable,
    /// The compiled plan.
    Plan(&'static CountryPlan),
}

/// One calling code's plan.
pub(crate) struct CountryPlan {
    /// The candidate regions in `phonenumber`'s order (see [`CountryPlan::is_valid`]).
    regions: Vec<RegionPlan>,
    /// Whether there is one region only: it is chosen without looking at the number.
    single: bool,
    /// National-prefix rules of every region using the code: (pattern, literal prefix).
    strip: Vec<(Option<Regex>, Option<String>)>,
    /// Shortest and longest national numbers any number type allows.
    lengths: Option<(usize, usize)>,
}

struct RegionPlan {
    leading_digits: Option<Regex>,
    general: Desc,
    /// Every specific number type (fixed line, mobile, toll free...).
    types: Vec<Desc>,
}

struct Desc {
    pattern: Regex,
    lengths: Vec<u16>,
}

impl Desc {
    fn compile(d: &Descriptor) -> Option<Self> {
        Some(Self {
            pattern: compile(d.national_number().as_str())?,
            lengths: d.possible_length().to_vec(),
        })
    }

    /// `phonenumber::metadata::Descriptor::is_match`: a listed length, and a match that
    /// starts at the first digit (the end is not anchored there either).
    fn is_match(&self, national: &str) -> bool {
        let len_ok = self.lengths.is_empty()
            || u16::try_from(national.len()).is_ok_and(|n| self.lengths.contains(&n));
        len_ok && self.pattern.find(national).is_some_and(|m| m.start() == 0)
    }
}

fn compile(source: &str) -> Option<Regex> {
    RegexBuilder::new(source)
        .ignore_whitespace(true)
        .build()
        .ok()
}

fn descriptors(meta: &Metadata) -> impl Iterator<Item = &Descriptor> {
    let d = meta.descriptors();
    [
        d.premium_rate(),
        d.toll_free(),
        d.shared_cost(),
        d.voip(),
        d.personal_number(),
        d.pager(),
        d.uan(),
        d.voicemail(),
        d.fixed_line(),
        d.mobile(),
    ]
    .into_iter()
    .flatten()
}

impl RegionPlan {
    fn compile(meta: &Metadata) -> Option<Self> {
        Some(Self {
            leading_digits: match meta.leading_digits() {
                Some(re) => Some(compile(re.as_str())?),
                None => None,
            },
            general: Desc::compile(meta.descriptors().general())?,
            types: descriptors(meta)
                .map(Desc::compile)
                .collect::<Option<Vec<_>>>()?,
        })
    }

    /// `validator::number_type(meta, national) != Type::Unknown`.
    fn has_type(&self, national: &str) -> bool {
        self.general.is_match(national) && self.types.iter().any(|d| d.is_match(national))
    }
}

impl CountryPlan {
    fn build(country_code: u16) -> Lookup {
        let Some(names) = DATABASE.region(&country_code) else {
            return Lookup::Unknown;
        };
        // `validator::source_for`: a single "001" entry (non-geographic services) means the
        // first metadata of the code; otherwise each named region's metadata.
        let metas: Vec<&Metadata> = match names.as_slice() {
            [only] if *only == "001" => DATABASE
                .by_code(&country_code)
                .and_then(|m| m.into_iter().next())
                .into_iter()
                .collect(),
            many => many.iter().filter_map(|n| DATABASE.by_id(*n)).collect(),
        };
        let all = DATABASE.by_code(&country_code).unwrap_or_default();
        let regions = metas.iter().map(|m| RegionPlan::compile(m)).collect();
        let strip = all
            .iter()
            .map(|m| {
                let pattern = m
                    .national_prefix_for_parsing()
                    .map(|re| compile(re.as_str()));
                (pattern, m.national_prefix().map(str::to_owned))
            })
            .map(|(p, n)| match p {
                Some(None) => None,
                Some(Some(re)) => Some((Some(re), n)),
                None => Some((None, n)),
            })
            .collect();
        let lengths: Vec<usize> = all
            .iter()
            .flat_map(|m| {
                // The general description often lists no lengths; the types do.
                std::iter::once(m.descriptors().general())
                    .chain(descriptors(m))
                    .flat_map(|d| d.possible_length().iter().map(|&n| usize::from(n)))
            })
            .collect();
        match (regions, strip) {
            (Some(regions), Some(strip)) if names.len() == metas.len() => {
                let plan = Self {
                    single: names.len() == 1,
                    regions,
                    strip,
                    lengths: lengths
                        .iter()
                        .min()
                        .zip(lengths.iter().max())
                        .map(|(a, b)| (*a, *b)),
                };
                Lookup::Plan(Box::leak(Box::new(plan)))
            }
            _ => Lookup::Unavailable,
        }
    }

    /// Whether `phonenumber`'s parser could strip a national prefix (or apply a prefix
    /// transform) at the start of `national`, for any region using this code. Conservative:
    /// a pattern that can match the empty string counts.
    pub(crate) fn may_strip_national_prefix(&self, national: &str) -> bool {
        self.strip.iter().any(|(pattern, prefix)| {
            pattern
                .as_ref()
                .is_some_and(|re| re.find(national).is_some_and(|m| m.start() == 0))
                || prefix.as_deref().is_some_and(|p| national.starts_with(p))
        })
    }

    /// Shortest and longest national numbers the plan allows, when it lists lengths.
    pub(crate) fn lengths(&self) -> Option<(usize, usize)> {
        self.lengths
    }

    /// `phonenumber::is_valid` for this code and `national` (leading zeros included): pick
    /// the region (the only one; else the first whose leading digits match the start, or,
    /// without leading digits, whose number types match), then require a number type.
    pub(crate) fn is_valid(&self, national: &str) -> bool {
        let chosen = if self.single {
            self.regions.first()
        } else {
            self.regions.iter().find(|r| match &r.leading_digits {
                Some(re) => re.find(national).is_some_and(|m| m.start() == 0),
                None => r.has_type(national),
            })
        };
        chosen.is_some_and(|r| r.has_type(national))
    }
}

/// Plans by calling code (1-999), built on first use. A built plan is leaked on purpose: at
/// most one per code, for the life of the process.
static PLANS: [OnceLock<Lookup>; 1000] = [const { OnceLock::new() }; 1000];

/// The plan for `country_code`.
pub(crate) fn lookup(country_code: u16) -> Lookup {
    match PLANS.get(usize::from(country_code)) {
        Some(cell) => *cell.get_or_init(|| CountryPlan::build(country_code)),
        None => Lookup::Unknown,
    }
}
