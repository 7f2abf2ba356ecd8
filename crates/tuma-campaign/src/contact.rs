//! Contacts and their columns: what the importer yields and templates read.
//!
//! # Column names
//! Every CSV column other than the phone column becomes a template variable. Header cells
//! are free text (`First Name`, `Balance (KES)`), template identifiers are not, so each header
//! is turned into a variable name by one rule ([`variable_name`]):
//! 1. trim, lower-case ASCII letters (other characters are kept as they are for step 2);
//! 2. every run of characters other than `a-z`, `0-9` and `_` becomes one `_`;
//! 3. leading and trailing `_` are removed;
//! 4. a name starting with a digit gets a `_` in front (`2fa` -> `_2fa`);
//! 5. a name that is a template keyword (`true`, `none`, `if`, `not`, ...) or `phone` gets a
//!    `_` appended (`None` -> `none_`);
//! 6. an empty result (a blank header cell, or one of only symbols) becomes `column_N`,
//!    N being the 1-based column position.
//!
//! So `First Name` is `first_name`, `Balance (KES)` is `balance_kes`, `Prénom` is `pr_nom`.
//! Two headers with the same name are an import error naming both.
//!
//! The variable `phone` is always there: the recipient in E.164 (`+254712345678`).

use std::fmt;
use std::sync::Arc;

use minijinja::value::{DynObject, Enumerator, Object, ObjectRepr, Value};
use tuma_domain::Msisdn;

/// Names a template expression can use that are not variables.
const KEYWORDS: &[&str] = &[
    "and",
    "block",
    "call",
    "else",
    "elif",
    "endif",
    "endfor",
    "extends",
    "false",
    "for",
    "from",
    "if",
    "import",
    "in",
    "include",
    "is",
    "loop",
    "macro",
    "none",
    "not",
    "or",
    "raw",
    "recursive",
    "self",
    "set",
    "super",
    "true",
    "with",
    "without",
    "phone",
];

/// The template variable for the header cell at 0-based `index` (see the module
/// documentation for the rule).
pub fn variable_name(header: &str, index: usize) -> String {
    let mut name = String::with_capacity(header.len());
    let mut pending_underscore = false;
    for c in header.trim().chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            if pending_underscore && !name.is_empty() {
                name.push('_');
            }
            pending_underscore = false;
            name.push(c);
        } else {
            // `_` itself, and anything else: collapses into one separator.
            pending_underscore = true;
        }
    }
    if name.is_empty() {
        return format!("column_{}", index + 1);
    }
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        name.insert(0, '_');
    }
    if KEYWORDS.contains(&name.as_str()) {
        name.push('_');
    }
    name
}

/// The variable columns of an import: their template names and the header cells they came
/// from, in file order (the phone column excluded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Columns {
    names: Vec<String>,
    headers: Vec<String>,
    phone_header: String,
}

impl Columns {
    /// Columns from their variable names (distinct, as [`variable_name`] makes them), the
    /// header cells they came from (same order) and the phone column's header cell: for
    /// contacts that come from elsewhere than [`crate::ContactImporter`] (stored, or an API).
    pub fn new(names: Vec<String>, headers: Vec<String>, phone_header: String) -> Self {
        Self {
            names,
            headers,
            phone_header,
        }
    }

    /// Template variable names, in file order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The header cells the variables came from (same order as [`Columns::names`]).
    pub fn headers(&self) -> &[String] {
        &self.headers
    }

    /// The header cell of the phone column, as written in the file.
    pub fn phone_header(&self) -> &str {
        &self.phone_header
    }

    /// Position of a variable among [`Columns::names`].
    pub fn index_of(&self, name: &str) -> Option<usize> {
        // A linear scan: files have a handful of columns, and this beats hashing for them.
        self.names.iter().position(|n| n == name)
    }
}

/// One accepted recipient: the number, where it was in the file, and its variables.
/// Cloning is cheap (shared data).
#[derive(Clone)]
pub struct Contact(Arc<ContactData>);

struct ContactData {
    msisdn: Msisdn,
    line: u64,
    columns: Arc<Columns>,
    /// All values, concatenated (one allocation instead of one per column).
    text: String,
    /// End offset of each value in `text`, one per column of `columns`.
    ends: Box<[u32]>,
}

impl Contact {
    /// Builds a contact from values in column order. Fails if the count differs from the
    /// columns' or the values are longer than 4 GiB in all.
    pub fn new<S: AsRef<str>>(
        msisdn: Msisdn,
        line: u64,
        columns: Arc<Columns>,
        values: &[S],
    ) -> Option<Self> {
        if values.len() != columns.names.len() {
            return None;
        }
        let mut text = String::new();
        let mut ends = Vec::with_capacity(values.len());
        for v in values {
            text.push_str(v.as_ref());
            ends.push(u32::try_from(text.len()).ok()?);
        }
        Some(Self::from_parts(msisdn, line, columns, text, ends))
    }

    /// `ends` must be as many as the columns, non-decreasing, on char boundaries of `text`;
    /// [`Contact::get`] returns `None` rather than panicking if they are not.
    pub(crate) fn from_parts(
        msisdn: Msisdn,
        line: u64,
        columns: Arc<Columns>,
        text: String,
        ends: Vec<u32>,
    ) -> Self {
        Self(Arc::new(ContactData {
            msisdn,
            line,
            columns,
            text,
            ends: ends.into_boxed_slice(),
        }))
    }

    /// The recipient.
    pub fn msisdn(&self) -> Msisdn {
        self.0.msisdn
    }

    /// The line of the file the row started on (the header is line 1).
    pub fn line(&self) -> u64 {
        self.0.line
    }

    /// The columns this contact has values for.
    pub fn columns(&self) -> &Arc<Columns> {
        &self.0.columns
    }

    /// The value of a variable column (trimmed; may be empty), or `None` if there is no such
    /// column.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.value_at(self.0.columns.index_of(name)?)
    }

    /// The value of the `index`-th variable column.
    pub fn value_at(&self, index: usize) -> Option<&str> {
        let d = &*self.0;
        let end = usize::try_from(*d.ends.get(index)?).ok()?;
        let start = match index.checked_sub(1) {
            Some(prev) => usize::try_from(*d.ends.get(prev)?).ok()?,
            None => 0,
        };
        d.text.get(start..end)
    }

    /// (variable name, value) pairs in column order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0
            .columns
            .names
            .iter()
            .enumerate()
            .filter_map(move |(i, n)| Some((n.as_str(), self.value_at(i)?)))
    }

    /// The template context: an object over this contact's data, without copying it.
    pub(crate) fn to_value(&self) -> Value {
        Value::from_dyn_object(DynObject::new(self.0.clone()))
    }
}

impl fmt::Debug for Contact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Contact")
            .field("msisdn", &self.0.msisdn)
            .field("line", &self.0.line)
            .field("values", &self.iter().collect::<Vec<_>>())
            .finish()
    }
}

impl PartialEq for Contact {
    fn eq(&self, other: &Self) -> bool {
        self.0.msisdn == other.0.msisdn
            && self.0.line == other.0.line
            && self.iter().eq(other.iter())
    }
}

impl fmt::Debug for ContactData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ContactData")
            .field("msisdn", &self.msisdn)
            .field("line", &self.line)
            .finish_non_exhaustive()
    }
}

impl Object for ContactData {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let key = key.as_str()?;
        if key == "phone" {
            return Some(Value::from(self.msisdn.as_e164()));
        }
        Contact(self.clone()).get(key).map(Value::from)
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        let mut keys: Vec<Value> = vec![Value::from("phone")];
        keys.extend(self.columns.names.iter().map(|n| Value::from(n.as_str())));
        Enumerator::Values(keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_cells_become_identifiers() {
        let cases = [
            ("name", "name"),
            ("  First Name ", "first_name"),
            ("Balance (KES)", "balance_kes"),
            ("first__name", "first_name"),
            ("_private_", "private"),
            ("2fa code", "_2fa_code"),
            ("None", "none_"),
            ("if", "if_"),
            ("Phone", "phone_"),
            ("Prénom", "pr_nom"),
            ("", "column_4"),
            ("€€", "column_4"),
        ];
        for (header, want) in cases {
            assert_eq!(variable_name(header, 3), want, "{header:?}");
        }
    }

    #[test]
    fn contact_values_by_name_and_position() {
        let cols = Arc::new(Columns::new(
            vec!["name".into(), "city".into()],
            vec!["Name".into(), "City".into()],
            "phone".into(),
        ));
        let m = Msisdn::from_e164("+254712345678").unwrap();
        let c = Contact::new(m, 2, cols.clone(), &["Zoë", ""]).unwrap();
        assert_eq!(c.get("name"), Some("Zoë"));
        assert_eq!(c.get("city"), Some(""));
        assert_eq!(c.get("nope"), None);
        assert_eq!(c.value_at(2), None);
        assert_eq!(
            c.iter().collect::<Vec<_>>(),
            [("name", "Zoë"), ("city", "")]
        );
        assert!(Contact::new(m, 2, cols, &["only one"]).is_none());
    }
}
