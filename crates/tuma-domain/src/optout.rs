//! Opt-out and opt-in keywords in replies (MO messages).
//!
//! The rule: after trimming whitespace and any trailing `.`, `!` or `?`, the *whole message*
//! must be one keyword, in any case. `STOP`, `STOPALL` (also `STOP ALL`), `UNSUBSCRIBE`,
//! `CANCEL`, `END`, `QUIT` opt out; `START` (and `UNSTOP`) opt back in.
//!
//! Why whole-message only: "stop sending me stuff" clearly wants out, but "don't stop" or
//! "end of the month?" clearly do not, and a suppression list that swallows real replies is
//! worse than one that misses a sentence. Carriers' keyword rules (and CTIA's guidelines)
//! work the same way; a person who writes a sentence can be answered by a human, and the
//! confirmation text tells them to reply STOP.

/// What a reply asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MoKeyword {
    /// Put the sender on the account's suppression list.
    OptOut,
    /// Take the sender off the suppression list.
    OptIn,
}

const OPT_OUT: [&str; 7] = [
    "STOP",
    "STOPALL",
    "STOP ALL",
    "UNSUBSCRIBE",
    "CANCEL",
    "END",
    "QUIT",
];
const OPT_IN: [&str; 2] = ["START", "UNSTOP"];

/// Classifies an MO text; `None` for anything that is not exactly a keyword.
pub fn classify_mo(text: &str) -> Option<MoKeyword> {
    let word = text.trim().trim_end_matches(['.', '!', '?']).trim_end();
    // Keywords are short ASCII; a quick length test skips the comparison for real messages.
    if word.len() > 11 {
        return None;
    }
    let is = |list: &[&str]| list.iter().any(|k| k.eq_ignore_ascii_case(word));
    if is(&OPT_OUT) {
        Some(MoKeyword::OptOut)
    } else if is(&OPT_IN) {
        Some(MoKeyword::OptIn)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn keywords_in_any_case_with_trailing_punctuation() {
        for t in [
            "STOP",
            "stop",
            " Stop! ",
            "STOPALL",
            "stop all",
            "Unsubscribe.",
            "cancel",
            "END",
            "quit?!",
            "\tSTOP\n",
        ] {
            assert_eq!(classify_mo(t), Some(MoKeyword::OptOut), "{t:?}");
        }
        for t in ["START", "start.", "Unstop"] {
            assert_eq!(classify_mo(t), Some(MoKeyword::OptIn), "{t:?}");
        }
    }

    #[test]
    fn sentences_and_near_misses_are_not_keywords() {
        for t in [
            "stop sending me stuff",
            "don't stop",
            "end of the month?",
            "STOPP",
            "S TOP",
            ".STOP",
            "stop stop",
            "",
            "   ",
            "STARTED",
            "stöp",
        ] {
            assert_eq!(classify_mo(t), None, "{t:?}");
        }
    }

    proptest! {
        /// Any casing of a keyword with surrounding whitespace and trailing punctuation is
        /// recognised; anything with another letter added is not.
        #[test]
        fn casing_and_padding(
            k in prop::sample::select(OPT_OUT.to_vec()),
            upper in prop::collection::vec(any::<bool>(), 11),
            pad in "[ \t]{0,3}",
            punct in "[.!?]{0,3}",
            extra in "[a-z]",
        ) {
            let cased: String = k.chars().zip(upper.iter().cycle())
                .map(|(c, u)| if *u { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() })
                .collect();
            let text = format!("{pad}{cased}{punct}{pad}");
            prop_assert_eq!(classify_mo(&text), Some(MoKeyword::OptOut));
            let longer = format!("{cased}{extra}");
            prop_assert_eq!(classify_mo(&longer), None);
        }
    }
}
