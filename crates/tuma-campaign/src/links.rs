//! Tracked links: every URL in a rendered message becomes `{base_url}/{code}`, a code unique
//! to the recipient.
//!
//! URLs are found by `linkify` (trailing punctuation, balanced parentheses and quotes are
//! handled the way a reader expects): `http://` and `https://` URLs, and `www.` ones without
//! a scheme. Other schemes (`ftp:`, `mailto:`) and bare domains (`example.com`) are left
//! alone, and so are links already on `base_url`.
//!
//! Codes are [`LinkRewriter::code_len`] characters (10 by default, at least 8) of base62 drawn
//! from the caller's random number generator without modulo bias: about 5.95 bits each, 59.5
//! bits for 10, so they cannot be guessed or enumerated. The store must still refuse a
//! duplicate code (a collision is unlikely, not impossible) and the caller then draws again.
//! The redirector only knows codes from sent messages, so it is not an open redirect.

use std::fmt;

use linkify::{LinkFinder, LinkKind};
use rand::RngCore;
use tuma_domain::Msisdn;

/// Shortest code allowed.
pub const MIN_CODE_LEN: usize = 8;
/// Default code length.
pub const DEFAULT_CODE_LEN: usize = 10;
/// Longest code allowed.
pub const MAX_CODE_LEN: usize = 32;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A bad link configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LinkError {
    /// The base URL is not an absolute http(s) URL without spaces, query or fragment.
    #[error("links.base_url {0:?} must be an absolute http:// or https:// URL without spaces, '?' or '#'")]
    BadBaseUrl(String),
    /// The code length is out of range.
    #[error("link code length {0} is out of range: {MIN_CODE_LEN} to {MAX_CODE_LEN}")]
    BadCodeLength(usize),
}

/// One tracked link, for the store: the click redirector looks `code` up.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TrackedLink {
    /// The code in the short link.
    pub code: String,
    /// Where the redirect goes: the URL as written, with `http://` in front of a `www.` one.
    pub target: String,
    /// Who got it.
    pub recipient: Msisdn,
}

/// A message with its links replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rewritten {
    /// The text to send.
    pub text: String,
    /// The links in the order they appear in the text.
    pub links: Vec<TrackedLink>,
}

/// Replaces URLs by tracked short links. One per campaign.
#[derive(Clone)]
pub struct LinkRewriter {
    base_url: String,
    code_len: usize,
}

impl fmt::Debug for LinkRewriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LinkRewriter")
            .field("base_url", &self.base_url)
            .field("code_len", &self.code_len)
            .finish()
    }
}

impl LinkRewriter {
    /// A rewriter for short links `{base_url}/{code}` (a trailing `/` on `base_url` is
    /// ignored), with codes of [`DEFAULT_CODE_LEN`].
    pub fn new(base_url: &str) -> Result<Self, LinkError> {
        let base = base_url.trim().trim_end_matches('/');
        let lower = base.to_ascii_lowercase();
        let host = lower
            .strip_prefix("https://")
            .or_else(|| lower.strip_prefix("http://"));
        let ok = host.is_some_and(|h| !h.is_empty() && !h.starts_with('/'))
            && !base.contains(|c: char| c.is_whitespace() || c == '?' || c == '#');
        if !ok {
            return Err(LinkError::BadBaseUrl(base_url.to_owned()));
        }
        Ok(Self {
            base_url: base.to_owned(),
            code_len: DEFAULT_CODE_LEN,
        })
    }

    /// Sets the code length ([`MIN_CODE_LEN`]..=[`MAX_CODE_LEN`]).
    pub fn with_code_len(mut self, len: usize) -> Result<Self, LinkError> {
        if !(MIN_CODE_LEN..=MAX_CODE_LEN).contains(&len) {
            return Err(LinkError::BadCodeLength(len));
        }
        self.code_len = len;
        Ok(self)
    }

    /// The base URL, without a trailing `/`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The code length.
    pub fn code_len(&self) -> usize {
        self.code_len
    }

    /// Replaces every URL in `text` by a fresh short link for `recipient`.
    pub fn rewrite<R: RngCore + ?Sized>(
        &self,
        text: &str,
        recipient: Msisdn,
        rng: &mut R,
    ) -> Rewritten {
        self.rewrite_in(text, recipient, None, rng)
    }

    /// [`LinkRewriter::rewrite`] with codes that start with two characters derived from
    /// `bucket` (modulo 3,844), followed by random ones, when the code is long enough to
    /// keep [`MIN_CODE_LEN`] random characters (the default length is).
    ///
    /// Why: a store keeps codes in one index ordered by code. Random codes make every insert
    /// land on a random page of it, so storing a page of 2,000 links rewrote about 2,000
    /// pages of a large table (measured: a 200,000-recipient campaign handed over 35k
    /// messages/s with links, 57k without). Links made together with the same bucket (the
    /// runner uses a coarse clock) sit together in the index. The prefix is not secret; the
    /// random characters alone make a code unguessable.
    pub fn rewrite_in<R: RngCore + ?Sized>(
        &self,
        text: &str,
        recipient: Msisdn,
        bucket: Option<u16>,
        rng: &mut R,
    ) -> Rewritten {
        let prefix = bucket
            .filter(|_| self.code_len >= MIN_CODE_LEN + 2)
            .map(|b| {
                let b = usize::from(b) % (62 * 62);
                [BASE62[b / 62], BASE62[b % 62]]
            });
        let mut links = Vec::new();
        let text = self.replace(text, |target, out| {
            let code = match prefix {
                Some(p) => {
                    let mut code = String::with_capacity(self.code_len);
                    code.push(char::from(p[0]));
                    code.push(char::from(p[1]));
                    code.push_str(&random_code(self.code_len - 2, rng));
                    code
                }
                None => random_code(self.code_len, rng),
            };
            out.push_str(&code);
            links.push(TrackedLink {
                code,
                target,
                recipient,
            });
        });
        Rewritten { text, links }
    }

    /// The text as it will be sent, with `x` in place of each code: same length and same
    /// alphabet (GSM-7, one septet a character) as a real code, so encoding and segments
    /// are exact without drawing codes. For previews and cost estimates.
    pub fn rewrite_for_estimate(&self, text: &str) -> String {
        self.replace(text, |_, out| {
            out.extend(std::iter::repeat_n('x', self.code_len));
        })
    }

    /// Copies `text`, calling `emit(target, out)` to write each code.
    fn replace(&self, text: &str, mut emit: impl FnMut(String, &mut String)) -> String {
        let mut out = String::with_capacity(text.len() + 16);
        let mut last = 0;
        // A `LinkFinder` is a few flags (not `Clone`): building one per message is free.
        let mut finder = LinkFinder::new();
        finder.kinds(&[LinkKind::Url]).url_must_have_scheme(false);
        for link in finder.links(text) {
            let Some(target) = self.target(link.as_str()) else {
                continue;
            };
            out.push_str(text.get(last..link.start()).unwrap_or(""));
            out.push_str(&self.base_url);
            out.push('/');
            emit(target, &mut out);
            last = link.end();
        }
        out.push_str(text.get(last..).unwrap_or(""));
        out
    }

    /// The redirect target for a found link, or `None` to leave it as it is.
    fn target(&self, url: &str) -> Option<String> {
        let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
        let target = if lower.starts_with("http://") || lower.starts_with("https://") {
            url.to_owned()
        } else if lower.starts_with("www.") {
            // A browser would pick the scheme; a redirect needs one. Plain http works on
            // every site (those with TLS redirect to it).
            format!("http://{url}")
        } else {
            return None;
        };
        let ours = url.len() > self.base_url.len()
            && url
                .get(..self.base_url.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(&self.base_url))
            && url.as_bytes().get(self.base_url.len()) == Some(&b'/');
        (!ours).then_some(target)
    }
}

/// `len` base62 characters, uniformly distributed: bytes of 248 and above (248 = 4 * 62)
/// are drawn again so that `% 62` has no bias.
fn random_code<R: RngCore + ?Sized>(len: usize, rng: &mut R) -> String {
    let mut code = String::with_capacity(len);
    let mut buf = [0u8; 16];
    while code.len() < len {
        rng.fill_bytes(&mut buf);
        for &b in &buf {
            if b < 248 && code.len() < len {
                // `b % 62` < 62 = BASE62.len(): the index is always in range.
                code.push(char::from(BASE62[usize::from(b % 62)]));
            }
        }
    }
    code
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;
    use std::collections::HashSet;

    fn to() -> Msisdn {
        Msisdn::from_e164("+254712345678").unwrap()
    }

    #[test]
    fn bucketed_codes_share_their_prefix_and_stay_random() {
        let rw = LinkRewriter::new("https://t.example").unwrap();
        let mut rng = StdRng::seed_from_u64(9);
        let a = rw.rewrite_in("https://x.example/1", to(), Some(62 * 3 + 7), &mut rng);
        let b = rw.rewrite_in(
            "https://x.example/1",
            to(),
            Some(62 * 3 + 7 + 3844),
            &mut rng,
        );
        let (ca, cb) = (&a.links[0].code, &b.links[0].code);
        assert_eq!((ca.len(), cb.len()), (10, 10));
        assert_eq!((&ca[..2], &cb[..2]), ("37", "37"));
        assert_ne!(ca[2..], cb[2..]);
        assert!(ca.bytes().all(|c| c.is_ascii_alphanumeric()));
        // Too short to keep 8 random characters: no prefix.
        let short = LinkRewriter::new("https://t.example")
            .unwrap()
            .with_code_len(9)
            .unwrap();
        let codes: HashSet<String> = (0..50)
            .map(|_| {
                short
                    .rewrite_in("www.x.example", to(), Some(0), &mut rng)
                    .links[0]
                    .code
                    .clone()
            })
            .collect();
        assert!(codes.iter().any(|c| !c.starts_with("00")), "{codes:?}");
    }

    fn rewriter() -> LinkRewriter {
        LinkRewriter::new("https://t.example/l/").unwrap()
    }

    /// The text with codes blanked, and the targets.
    fn shape(r: &Rewritten) -> (String, Vec<String>) {
        let mut text = r.text.clone();
        for l in &r.links {
            text = text.replace(&l.code, "CODE");
        }
        (text, r.links.iter().map(|l| l.target.clone()).collect())
    }

    #[test]
    fn several_urls_with_punctuation() {
        let mut rng = StdRng::seed_from_u64(1);
        let text = "Sale! See https://shop.example/a?b=1&c=2, or (www.shop.example/x). \
                    Docs: http://docs.example/page. Mail me: a@b.example, ftp://f.example";
        let r = rewriter().rewrite(text, to(), &mut rng);
        let (shaped, targets) = shape(&r);
        assert_eq!(
            shaped,
            "Sale! See https://t.example/l/CODE, or (https://t.example/l/CODE). \
             Docs: https://t.example/l/CODE. Mail me: a@b.example, ftp://f.example"
        );
        assert_eq!(
            targets,
            [
                "https://shop.example/a?b=1&c=2",
                "http://www.shop.example/x",
                "http://docs.example/page"
            ]
        );
        assert!(r.links.iter().all(|l| l.recipient == to()));
    }

    #[test]
    fn codes_are_long_base62_and_distinct() {
        let mut rng = StdRng::seed_from_u64(2);
        let rw = rewriter();
        let other = Msisdn::from_e164("+254722000111").unwrap();
        let mut codes = HashSet::new();
        for i in 0..2000 {
            let who = if i % 2 == 0 { to() } else { other };
            let r = rw.rewrite("https://a.example https://a.example", who, &mut rng);
            assert_eq!(r.links.len(), 2);
            for l in &r.links {
                assert_eq!(l.code.len(), DEFAULT_CODE_LEN);
                assert!(
                    l.code.bytes().all(|b| b.is_ascii_alphanumeric()),
                    "{}",
                    l.code
                );
                assert!(codes.insert(l.code.clone()), "repeated {}", l.code);
                assert!(r.text.contains(&format!("https://t.example/l/{}", l.code)));
            }
        }
        // All 62 symbols occur: the alphabet is used, not a subset.
        let symbols: HashSet<char> = codes.iter().flat_map(|c| c.chars()).collect();
        assert_eq!(symbols.len(), 62);
        let short = rewriter().with_code_len(8).unwrap();
        assert_eq!(
            short.rewrite("www.a.example", to(), &mut rng).links[0]
                .code
                .len(),
            8
        );
        assert_eq!(
            rewriter().with_code_len(7).unwrap_err(),
            LinkError::BadCodeLength(7)
        );
    }

    #[test]
    fn same_seed_same_codes() {
        let a = rewriter().rewrite("https://a.example", to(), &mut StdRng::seed_from_u64(9));
        let b = rewriter().rewrite("https://a.example", to(), &mut StdRng::seed_from_u64(9));
        assert_eq!(a, b);
    }

    #[test]
    fn own_links_and_plain_text_are_left_alone() {
        let mut rng = StdRng::seed_from_u64(3);
        let text =
            "Already short: https://t.example/l/abc12345. Price 10.50 KES, e.g. shop.example";
        let r = rewriter().rewrite(text, to(), &mut rng);
        assert_eq!(r.text, text);
        assert!(r.links.is_empty());
    }

    #[test]
    fn estimate_text_has_the_real_length() {
        let mut rng = StdRng::seed_from_u64(4);
        let text = "Go to https://very.long.example/path/that/is/long?x=1 now";
        let real = rewriter().rewrite(text, to(), &mut rng).text;
        let estimate = rewriter().rewrite_for_estimate(text);
        assert_eq!(real.len(), estimate.len());
        assert_eq!(estimate, "Go to https://t.example/l/xxxxxxxxxx now");
    }

    #[test]
    fn base_url_is_checked() {
        for bad in [
            "t.example",
            "ftp://t.example",
            "https://",
            "https://t.example/?a",
            "https://t .example",
        ] {
            assert!(LinkRewriter::new(bad).is_err(), "{bad}");
        }
        assert_eq!(
            LinkRewriter::new("HTTPS://T.example//").unwrap().base_url(),
            "HTTPS://T.example"
        );
    }
}
