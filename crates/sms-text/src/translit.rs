//! Optional transliteration: replace characters that would force UCS-2 by their GSM-7
//! look-alikes, so text pasted from a word processor does not silently cost double.
//!
//! Two sources, tried in order:
//! 1. an explicit table of typographic characters (smart quotes, dashes, ellipsis, unusual
//!    spaces, bullets, invisible format characters, Greek capitals that look like Latin ones);
//! 2. Unicode compatibility decomposition with combining marks removed (`á` → `a`,
//!    `ﬁ` → `fi`, full-width `Ａ` → `A`), accepted only when every resulting character is GSM-7.
//!
//! The caller ([`crate::estimate`] / [`crate::encode`]) applies it only when it makes the *whole*
//! message GSM-7; otherwise the text is sent unchanged in UCS-2, which can show it exactly.

use crate::gsm7;
use unicode_normalization::char::{decompose_compatible, is_combining_mark};

/// The explicit table. Kept as a `match` on `char`, which compiles to range checks and a jump
/// table, not a map lookup.
fn table(c: char) -> Option<&'static str> {
    Some(match c {
        // single quotes, primes, apostrophe look-alikes, backtick (not in GSM-7)
        '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}' | '\u{2032}' | '\u{2035}'
        | '\u{00B4}' | '\u{02B9}' | '\u{02BC}' | '\u{02C8}' | '`' | '\u{2039}' | '\u{203A}' => "'",
        // double quotes and guillemets
        '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{201F}' | '\u{2033}' | '\u{2036}'
        | '\u{00AB}' | '\u{00BB}' | '\u{02BA}' => "\"",
        // hyphens, dashes, minus
        '\u{2010}' | '\u{2011}' | '\u{2012}' | '\u{2013}' | '\u{2014}' | '\u{2015}'
        | '\u{2212}' | '\u{2043}' | '\u{FE58}' | '\u{FE63}' | '\u{FF0D}' => "-",
        // bullets
        '\u{2022}' | '\u{2023}' | '\u{2219}' | '\u{25CF}' | '\u{25E6}' | '\u{25AA}' => "-",
        '\u{00B7}' => ".",
        '\u{2026}' => "...",
        '\u{2044}' | '\u{2215}' => "/",
        '\u{00D7}' => "x",
        // spaces of every width, tab
        '\t'
        | '\u{00A0}'
        | '\u{1680}'
        | '\u{2000}'..='\u{200A}'
        | '\u{202F}'
        | '\u{205F}'
        | '\u{3000}' => " ",
        // line and paragraph separators
        '\u{2028}' | '\u{2029}' | '\u{0085}' => "\n",
        // invisible format characters: soft hyphen, zero-width space/joiners, word joiner, BOM
        '\u{00AD}' | '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{2060}' | '\u{FEFF}' => "",
        // letters the basic table lacks but a close form has
        'ç' => "Ç",
        'ł' => "l",
        'Ł' => "L",
        'đ' => "d",
        'Đ' => "D",
        'ı' => "i",
        'œ' => "oe",
        'Œ' => "OE",
        // Greek capitals identical in shape to Latin capitals (reference §1 notes)
        'Α' => "A",
        'Β' => "B",
        'Ε' => "E",
        'Ζ' => "Z",
        'Η' => "H",
        'Ι' => "I",
        'Κ' => "K",
        'Μ' => "M",
        'Ν' => "N",
        'Ο' => "O",
        'Ρ' => "P",
        'Τ' => "T",
        'Υ' => "Y",
        'Χ' => "X",
        '\u{2122}' => "TM",
        '\u{00A9}' => "(C)",
        '\u{00AE}' => "(R)",
        _ => return None,
    })
}

/// Appends a GSM-7 replacement for `c` to `out` and returns `true`, or leaves `out` unchanged
/// and returns `false` if there is none. Characters that are already GSM-7 are not handled
/// here (callers only ask about the others).
pub fn transliterate_char(c: char, out: &mut String) -> bool {
    if let Some(s) = table(c) {
        out.push_str(s);
        return true;
    }
    let start = out.len();
    let mut ok = true;
    let mut changed = false;
    decompose_compatible(c, |d| {
        if !ok {
            return;
        }
        if gsm7::code_of(d).is_some() {
            out.push(d);
            changed |= d != c;
        } else if let Some(s) = table(d) {
            out.push_str(s);
            changed = true;
        } else if is_combining_mark(d) {
            changed = true;
        } else {
            ok = false;
        }
    });
    // Reject a decomposition that only left combining marks (nothing visible would remain).
    if ok && changed && out.len() > start {
        true
    } else {
        out.truncate(start);
        false
    }
}

/// The replacement for `c` as a new string, if there is one.
pub fn transliterate(c: char) -> Option<String> {
    let mut s = String::new();
    transliterate_char(c, &mut s).then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typographic_characters_become_gsm7() {
        for (from, to) in [
            ('\u{201C}', "\""),
            ('\u{2019}', "'"),
            ('\u{2014}', "-"),
            ('\u{2026}', "..."),
            ('\u{00A0}', " "),
            ('\u{2022}', "-"),
            ('á', "a"),
            ('ﬁ', "fi"),
            ('Ａ', "A"),
            ('ç', "Ç"),
            ('\u{200B}', ""),
        ] {
            assert_eq!(transliterate(from).as_deref(), Some(to), "{from:?}");
            assert!(gsm7::is_gsm7(to));
        }
    }

    /// Whatever transliteration produces must itself be GSM-7, for every code point.
    #[test]
    fn every_replacement_is_gsm7() {
        let mut replaced = 0;
        for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
            if let Some(s) = transliterate(c) {
                assert!(gsm7::is_gsm7(&s), "{c:?} -> {s:?}");
                replaced += 1;
            }
        }
        // Sanity: the decomposition fallback covers thousands of accented letters.
        assert!(replaced > 1000, "{replaced}");
    }

    #[test]
    fn characters_without_a_look_alike_are_left_alone() {
        assert_eq!(transliterate('😀'), None);
        assert_eq!(transliterate('ж'), None);
        assert_eq!(transliterate('中'), None);
        // A lone combining mark would vanish entirely: refuse rather than delete it.
        assert_eq!(transliterate('\u{0301}'), None);
    }
}
