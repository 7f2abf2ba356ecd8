//! Streaming CSV contact import.
//!
//! [`ContactImporter`] reads any [`Read`] record by record and yields [`Contact`]s; it never
//! holds the file, only one record (capped by [`ImportOptions::max_row_bytes`]) and the set of
//! numbers seen (8 bytes each, for duplicates).
//!
//! # The file
//! - **Encoding**: UTF-8, with or without a byte order mark. A field that is not valid UTF-8
//!   is read as Windows-1252 (what Excel on Windows saves as plain "CSV"; its non-ASCII bytes
//!   are almost never valid UTF-8, so the guess is per field and cheap); such rows are counted
//!   in [`ImportSummary::windows_1252_rows`]. UTF-16 (byte order mark, or NUL bytes in the
//!   header) is refused with an error saying how to re-save the file.
//! - **Delimiter**: the one of `,` `;` and tab that occurs most often (outside quotes) in the
//!   header line; comma when there is none (a one-column file).
//! - **Quoting**: RFC 4180 (`"a ""quoted"" value"`, line breaks inside quotes).
//! - **Header**: required. The phone column is the first header cell matching, in this order
//!   of preference, `phone`, `msisdn`, `number`, `mobile`, `to`, `phone_number`,
//!   `mobile_number` (compared after trimming and [`crate::variable_name`]'s normalisation, so
//!   `Phone Number` and ` MSISDN ` match). Every other column is a variable.
//! - **Values** are trimmed. Numbers become E.164 with [`ImportOptions::default_region`].
//!
//! # Rows
//! Line numbers are what a spreadsheet user sees: the header is line 1, and a quoted value
//! with line breaks moves the following rows down. Empty lines and rows of empty cells are
//! skipped and counted, not rejected. A rejected row never stops the import; only an I/O
//! error or an unusable header does.

use std::borrow::Cow;
use std::collections::HashSet;
use std::io::{BufRead, BufReader, Chain, Cursor, ErrorKind, Read};
use std::sync::Arc;

use csv_core::ReadRecordResult;
use serde::ser::SerializeStruct;
use tuma_domain::{Msisdn, MsisdnError, Region};

use crate::contact::{variable_name, Columns, Contact};

/// Header cells that name the phone column, in order of preference (after normalisation).
pub const PHONE_ALIASES: [&str; 7] = [
    "phone",
    "msisdn",
    "number",
    "mobile",
    "to",
    "phone_number",
    "mobile_number",
];

/// Longest phone value echoed back in a rejection (the rest is cut, so a report stays small).
const ECHO_LIMIT: usize = 40;

/// How a file is read, and the limits that keep a hostile file from costing much.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportOptions {
    /// The region for numbers written without a country code.
    pub default_region: Region,
    /// Most columns a header may have.
    pub max_columns: usize,
    /// Longest value of one cell, in bytes; a longer one rejects the row.
    pub max_field_bytes: usize,
    /// Longest row (and header), in bytes of cell content; a longer row is skipped and
    /// rejected without being held in memory.
    pub max_row_bytes: usize,
    /// How many rejected rows [`ImportSummary::rejections`] lists (all are counted).
    pub max_listed_rejections: usize,
}

impl ImportOptions {
    /// Defaults: 100 columns, 1 KiB per cell, 64 KiB per row, the first 1,000 rejections.
    pub fn new(default_region: Region) -> Self {
        Self {
            default_region,
            max_columns: 100,
            max_field_bytes: 1024,
            max_row_bytes: 64 * 1024,
            max_listed_rejections: 1000,
        }
    }
}

/// Why a file cannot be imported at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// Reading failed (the upload broke off, the disk failed).
    #[error("reading the file failed: {0}")]
    Io(#[from] std::io::Error),
    /// No header line.
    #[error("the file is empty: expected a header line naming the columns")]
    Empty,
    /// A UTF-16 byte order mark.
    #[error(
        "the file is UTF-16 ({0} byte order mark): save it as \"CSV UTF-8\" and upload it again"
    )]
    Utf16(&'static str),
    /// NUL bytes in the header: binary, or UTF-16 without a byte order mark.
    #[error("the header line contains NUL bytes: the file is not text, or is UTF-16 without a byte order mark; save it as \"CSV UTF-8\"")]
    NotText,
    /// The header is longer than [`ImportOptions::max_row_bytes`].
    #[error("the header line is longer than {limit} bytes: is this a CSV file?")]
    HeaderTooLong {
        /// The limit.
        limit: usize,
    },
    /// More header cells than [`ImportOptions::max_columns`].
    #[error("the header has {found} columns; at most {limit} are allowed")]
    TooManyColumns {
        /// Columns found.
        found: usize,
        /// The limit.
        limit: usize,
    },
    /// No header cell names the phone column.
    #[error(
        "no phone column: the header needs a column named phone, msisdn, number, mobile or to \
         (any case); it has {}",
        list(headers)
    )]
    MissingPhoneColumn {
        /// The header cells found.
        headers: Vec<String>,
    },
    /// Two header cells give the same variable name.
    #[error(
        "columns {first:?} and {second:?} both become the template variable {name:?}: rename one"
    )]
    DuplicateColumn {
        /// The variable name.
        name: String,
        /// The first header cell.
        first: String,
        /// The second one.
        second: String,
    },
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        return "no columns".into();
    }
    let quoted: Vec<String> = items.iter().map(|h| format!("{h:?}")).collect();
    quoted.join(", ")
}

/// A rejected row.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct RowError {
    /// Line of the file the row starts on (the header is line 1).
    pub line: u64,
    /// What was wrong.
    pub reason: RejectReason,
}

/// What was wrong with a row.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RejectReason {
    /// The phone value is not a valid number.
    #[error("invalid phone number {value:?}: {error}")]
    InvalidNumber {
        /// The value (cut at 40 characters).
        value: String,
        /// Why it is not valid.
        error: MsisdnError,
    },
    /// The phone cell is empty.
    #[error("the phone column {column:?} is empty")]
    MissingPhone {
        /// The phone column's header cell.
        column: String,
    },
    /// Not as many cells as the header.
    #[error("expected {expected} columns as in the header, found {found}")]
    WrongColumnCount {
        /// Header cells.
        expected: usize,
        /// Cells in the row.
        found: usize,
    },
    /// One cell is longer than [`ImportOptions::max_field_bytes`].
    #[error("the value in column {column:?} is longer than {limit} bytes")]
    FieldTooLong {
        /// The header cell of the column.
        column: String,
        /// The limit.
        limit: usize,
    },
    /// The row is longer than [`ImportOptions::max_row_bytes`].
    #[error("the row is longer than {limit} bytes")]
    RowTooLong {
        /// The limit.
        limit: usize,
    },
}

impl RejectReason {
    /// A stable machine-readable code for reports and the API.
    pub fn code(&self) -> &'static str {
        match self {
            RejectReason::InvalidNumber { .. } => "invalid_number",
            RejectReason::MissingPhone { .. } => "missing_phone",
            RejectReason::WrongColumnCount { .. } => "wrong_column_count",
            RejectReason::FieldTooLong { .. } => "field_too_long",
            RejectReason::RowTooLong { .. } => "row_too_long",
        }
    }
}

impl serde::Serialize for RowError {
    /// `{"line": 7, "code": "invalid_number", "reason": "invalid phone number ..."}`.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("RowError", 3)?;
        st.serialize_field("line", &self.line)?;
        st.serialize_field("code", self.reason.code())?;
        st.serialize_field("reason", &self.reason.to_string())?;
        st.end()
    }
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ImportSummary {
    /// Data rows read (header, empty lines and rows of empty cells excluded).
    pub rows: u64,
    /// Contacts yielded.
    pub accepted: u64,
    /// Rows rejected (all of them; `rejections` lists the first few).
    pub rejected: u64,
    /// The first [`ImportOptions::max_listed_rejections`] rejected rows, in file order.
    pub rejections: Vec<RowError>,
    /// Rows dropped because an earlier row had the same number.
    pub duplicates: u64,
    /// Rows of empty cells skipped (fully empty lines are skipped without being counted).
    pub blank_rows: u64,
    /// Rows with at least one cell read as Windows-1252 rather than UTF-8.
    pub windows_1252_rows: u64,
}

type Input<R> = BufReader<Chain<Cursor<Vec<u8>>, R>>;

/// A record's place in the importer's buffers.
struct Record {
    line: u64,
    /// Bytes of cell content in `out` (0 when the row was too long and discarded).
    len: usize,
    /// Cells in the row, also those whose ends were not kept.
    fields: usize,
    /// Cells whose ends are in `ends`.
    kept_fields: usize,
    /// Longer than the row limit: content discarded.
    too_long: bool,
}

impl Record {
    /// Whether only some cells were kept (more than the caller's `max_fields`).
    fn fields_dropped(&self) -> bool {
        self.kept_fields != self.fields
    }
}

/// Reads contacts from a CSV file, one at a time. See the module documentation.
///
/// ```
/// use tuma_campaign::{ContactImporter, ImportOptions};
/// use tuma_domain::Region;
///
/// let csv = "Name;Phone\nAmina;0712 345 678\nBad;12\nAmina again;+254712345678\n";
/// let mut import = ContactImporter::new(csv.as_bytes(), ImportOptions::new(Region::parse("KE")?))?;
/// let contacts: Vec<_> = import.by_ref().collect::<Result<_, _>>()?;
/// assert_eq!(contacts.len(), 1);
/// assert_eq!(contacts[0].msisdn().as_e164(), "+254712345678");
/// assert_eq!(contacts[0].get("name"), Some("Amina"));
/// let summary = import.summary();
/// assert_eq!((summary.rows, summary.accepted, summary.rejected, summary.duplicates), (3, 1, 1, 1));
/// assert_eq!(summary.rejections[0].line, 3);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct ContactImporter<R> {
    input: Input<R>,
    core: csv_core::Reader,
    out: Vec<u8>,
    ends: Vec<usize>,
    /// The last byte consumed, to tell whether the record just read ended with a line break
    /// (and whether a `\n` completes a `\r\n`).
    last_byte: u8,
    /// The line the parser is on (1-based). Counted here rather than by csv-core, which
    /// counts only `\n`: a lone `\r` (old Mac files) is a line break too.
    line: u64,
    options: ImportOptions,
    delimiter: u8,
    columns: Arc<Columns>,
    header_len: usize,
    phone_index: usize,
    seen: HashSet<u64>,
    summary: ImportSummary,
    done: bool,
}

impl<R: Read> ContactImporter<R> {
    /// Reads the header: detects the encoding and delimiter, finds the phone column and names
    /// the variables. Fails if the header is unusable.
    pub fn new(mut reader: R, options: ImportOptions) -> Result<Self, ImportError> {
        let mut prefix = read_first_line(&mut reader, options.max_row_bytes)?;
        if prefix.starts_with(b"\xEF\xBB\xBF") {
            prefix.drain(..3);
        } else if prefix.starts_with(b"\xFF\xFE") {
            return Err(ImportError::Utf16("little-endian"));
        } else if prefix.starts_with(b"\xFE\xFF") {
            return Err(ImportError::Utf16("big-endian"));
        }
        if prefix.contains(&0) {
            return Err(ImportError::NotText);
        }
        let delimiter = sniff_delimiter(&prefix);
        let core = csv_core::ReaderBuilder::new().delimiter(delimiter).build();
        let mut importer = Self {
            input: BufReader::with_capacity(64 * 1024, Cursor::new(prefix).chain(reader)),
            core,
            out: vec![0; 1024],
            ends: vec![0; 16],
            last_byte: 0,
            line: 1,
            columns: Arc::new(Columns::new(Vec::new(), Vec::new(), String::new())),
            header_len: 0,
            phone_index: 0,
            seen: HashSet::new(),
            summary: ImportSummary::default(),
            done: false,
            delimiter,
            options,
        };
        importer.read_header()?;
        Ok(importer)
    }

    fn read_header(&mut self) -> Result<(), ImportError> {
        let limit = self.options.max_columns;
        let record = loop {
            let Some(record) = self.read_record(limit + 1)? else {
                return Err(ImportError::Empty);
            };
            if !self.is_blank(&record) {
                break record;
            }
        };
        if record.fields > limit {
            return Err(ImportError::TooManyColumns {
                found: record.fields,
                limit,
            });
        }
        if record.too_long {
            return Err(ImportError::HeaderTooLong {
                limit: self.options.max_row_bytes,
            });
        }
        let headers: Vec<String> = (0..record.kept_fields)
            .map(|i| decode(self.field(i)).0.trim().to_owned())
            .collect();
        let keys: Vec<String> = headers
            .iter()
            .enumerate()
            .map(|(i, h)| variable_name(h, i).trim_end_matches('_').to_owned())
            .collect();
        let phone_index = PHONE_ALIASES
            .iter()
            .find_map(|alias| keys.iter().position(|k| k == alias))
            .ok_or_else(|| ImportError::MissingPhoneColumn {
                headers: headers.clone(),
            })?;
        let mut names: Vec<String> = Vec::with_capacity(headers.len());
        let mut variable_headers = Vec::with_capacity(headers.len());
        for (i, header) in headers.iter().enumerate() {
            if i == phone_index {
                continue;
            }
            let name = variable_name(header, i);
            if let Some(j) = names.iter().position(|n| *n == name) {
                return Err(ImportError::DuplicateColumn {
                    name,
                    first: variable_headers.get(j).cloned().unwrap_or_default(),
                    second: header.clone(),
                });
            }
            names.push(name);
            variable_headers.push(header.clone());
        }
        let phone_header = headers.get(phone_index).cloned().unwrap_or_default();
        self.columns = Arc::new(Columns::new(names, variable_headers, phone_header));
        self.header_len = headers.len();
        self.phone_index = phone_index;
        Ok(())
    }

    /// The variable columns (known once the header is read, i.e. always).
    pub fn columns(&self) -> &Arc<Columns> {
        &self.columns
    }

    /// The delimiter detected.
    pub fn delimiter(&self) -> u8 {
        self.delimiter
    }

    /// The counts so far; complete once the iterator has returned `None`.
    pub fn summary(&self) -> &ImportSummary {
        &self.summary
    }

    /// The summary, giving up the importer.
    pub fn into_summary(self) -> ImportSummary {
        self.summary
    }

    /// The next accepted contact, skipping (and recording) rejected rows and duplicates.
    /// `Ok(None)` at the end of the file.
    pub fn next_contact(&mut self) -> Result<Option<Contact>, ImportError> {
        loop {
            let Some(record) = self.read_record(self.header_len + 1)? else {
                return Ok(None);
            };
            if self.is_blank(&record) {
                self.summary.blank_rows += 1;
                continue;
            }
            self.summary.rows += 1;
            match self.check(&record) {
                Ok(Some(contact)) => {
                    self.summary.accepted += 1;
                    return Ok(Some(contact));
                }
                Ok(None) => self.summary.duplicates += 1,
                Err(reason) => {
                    self.summary.rejected += 1;
                    if self.summary.rejections.len() < self.options.max_listed_rejections {
                        self.summary.rejections.push(RowError {
                            line: record.line,
                            reason,
                        });
                    }
                }
            }
        }
    }

    /// A row to a contact; `Ok(None)` for a duplicate.
    fn check(&mut self, record: &Record) -> Result<Option<Contact>, RejectReason> {
        if record.too_long {
            return Err(RejectReason::RowTooLong {
                limit: self.options.max_row_bytes,
            });
        }
        if record.fields != self.header_len {
            return Err(RejectReason::WrongColumnCount {
                expected: self.header_len,
                found: record.fields,
            });
        }
        let limit = self.options.max_field_bytes;
        if let Some(i) = (0..record.kept_fields).find(|&i| self.field(i).len() > limit) {
            let column = if i == self.phone_index {
                self.columns.phone_header().to_owned()
            } else {
                let var = if i < self.phone_index { i } else { i - 1 };
                self.columns.headers().get(var).cloned().unwrap_or_default()
            };
            return Err(RejectReason::FieldTooLong { column, limit });
        }
        let (phone, _) = decode(self.field(self.phone_index));
        let phone = phone.trim();
        if phone.is_empty() {
            return Err(RejectReason::MissingPhone {
                column: self.columns.phone_header().to_owned(),
            });
        }
        let msisdn = Msisdn::parse(phone, self.options.default_region).map_err(|error| {
            RejectReason::InvalidNumber {
                value: phone.chars().take(ECHO_LIMIT).collect(),
                error,
            }
        })?;
        if !self.seen.insert(msisdn.as_u64()) {
            return Ok(None);
        }
        let mut text = String::with_capacity(record.len);
        let mut ends = Vec::with_capacity(self.header_len.saturating_sub(1));
        let mut transcoded = false;
        for i in (0..record.kept_fields).filter(|&i| i != self.phone_index) {
            let (value, was_transcoded) = decode(self.field(i));
            transcoded |= was_transcoded;
            text.push_str(value.trim());
            // Bounded by `max_row_bytes` (a usize); a row over 4 GiB is refused above.
            let end = u32::try_from(text.len()).map_err(|_| RejectReason::RowTooLong {
                limit: self.options.max_row_bytes,
            })?;
            ends.push(end);
        }
        if transcoded {
            self.summary.windows_1252_rows += 1;
        }
        Ok(Some(Contact::from_parts(
            msisdn,
            record.line,
            self.columns.clone(),
            text,
            ends,
        )))
    }

    /// The bytes of the `i`-th kept cell of the record just read (empty if out of range).
    fn field(&self, i: usize) -> &[u8] {
        let start = match i.checked_sub(1) {
            Some(prev) => self.ends.get(prev).copied().unwrap_or(0),
            None => 0,
        };
        let end = self.ends.get(i).copied().unwrap_or(start);
        self.out.get(start..end).unwrap_or(&[])
    }

    fn is_blank(&self, record: &Record) -> bool {
        !record.too_long
            && !record.fields_dropped()
            && (0..record.kept_fields).all(|i| self.field(i).iter().all(u8::is_ascii_whitespace))
    }

    /// Reads one record into `out`/`ends`, keeping at most `max_fields` cell ends and
    /// `max_row_bytes` of content (the rest is parsed and dropped).
    fn read_record(&mut self, max_fields: usize) -> Result<Option<Record>, ImportError> {
        let (mut len, mut kept) = (0usize, 0usize);
        let mut dropped_fields = 0usize;
        let mut dropped_newlines = 0u64;
        let mut too_long = false;
        let mut ends_full = false;
        loop {
            let input = match self.input.fill_buf() {
                Ok(input) => input,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.done = true;
                    return Err(e.into());
                }
            };
            // `len <= out.len()` and `kept <= ends.len()` hold: csv-core never reports more
            // output than the slices it was given, and both are reset to 0 when dropped.
            let out = self.out.get_mut(len..).unwrap_or(&mut []);
            let ends = self.ends.get_mut(kept..).unwrap_or(&mut []);
            let (result, n_in, n_out, n_ends) = self.core.read_record(input, out, ends);
            let consumed = input.get(..n_in).unwrap_or(&[]);
            self.line += count_line_breaks(consumed, self.last_byte);
            if let Some(&b) = consumed.last() {
                self.last_byte = b;
            }
            self.input.consume(n_in);
            len += n_out;
            kept += n_ends;
            match result {
                ReadRecordResult::InputEmpty => {}
                ReadRecordResult::OutputFull => {
                    if self.out.len() < self.options.max_row_bytes {
                        let grown = (self.out.len() * 2).min(self.options.max_row_bytes);
                        self.out.resize(grown.max(1), 0);
                    } else {
                        // Too long: keep parsing to find the end of the row, but drop the
                        // content, counting the line breaks for the line numbers.
                        let kept_bytes = self.out.get(..len).unwrap_or(&[]);
                        dropped_newlines += count_line_breaks(kept_bytes, 0);
                        len = 0;
                        too_long = true;
                    }
                }
                ReadRecordResult::OutputEndsFull => {
                    if self.ends.len() < max_fields {
                        let grown = (self.ends.len() * 2).min(max_fields);
                        self.ends.resize(grown.max(1), 0);
                    } else {
                        dropped_fields += kept;
                        kept = 0;
                        ends_full = true;
                    }
                }
                ReadRecordResult::Record => {
                    // The record's first line: its last one, less the line breaks inside
                    // quoted cells (they are in the content).
                    let newlines =
                        dropped_newlines + count_line_breaks(self.out.get(..len).unwrap_or(&[]), 0);
                    let ended_by_break = matches!(self.last_byte, b'\n' | b'\r');
                    let last_line = self.line - u64::from(ended_by_break);
                    return Ok(Some(Record {
                        line: last_line.saturating_sub(newlines),
                        len,
                        fields: dropped_fields + kept,
                        kept_fields: if ends_full { 0 } else { kept },
                        too_long,
                    }));
                }
                ReadRecordResult::End => {
                    self.done = true;
                    return Ok(None);
                }
            }
        }
    }
}

impl<R: Read> Iterator for ContactImporter<R> {
    type Item = Result<Contact, ImportError>;

    /// Contacts in file order; after an error (I/O), `None`.
    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        self.next_contact().transpose()
    }
}

/// Reads until the first non-empty line is complete, or the end of the input, or `limit`
/// bytes.
fn read_first_line<R: Read>(reader: &mut R, limit: usize) -> Result<Vec<u8>, ImportError> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let n = match reader.read(&mut chunk) {
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        };
        if n == 0 {
            return Ok(buf);
        }
        buf.extend_from_slice(chunk.get(..n).unwrap_or(&[]));
        // Rescanning from the start is quadratic only up to `limit` / 8 KiB chunks.
        if scan_first_line(&buf, |_| {}).is_some() {
            return Ok(buf);
        }
        if buf.len() > limit.saturating_add(3) {
            return Err(ImportError::HeaderTooLong { limit });
        }
    }
}

/// Walks the first non-empty line, calling `on_delimiter` for each candidate delimiter
/// outside quotes; returns the index of the line break that ends it. Quotes are read as
/// csv-core reads them: a `"` opens a quoted part only at the start of a cell (`5'10"` is
/// text), and `""` inside one is a literal quote.
fn scan_first_line(bytes: &[u8], mut on_delimiter: impl FnMut(u8)) -> Option<usize> {
    let (mut in_quotes, mut cell_start, mut content, mut just_closed) = (false, true, false, false);
    for (i, &b) in bytes.iter().enumerate() {
        if in_quotes {
            if b == b'"' {
                in_quotes = false;
                just_closed = true;
            }
            continue;
        }
        let reopen = std::mem::take(&mut just_closed);
        match b {
            b'"' if cell_start || reopen => {
                in_quotes = true;
                cell_start = false;
                content = true;
            }
            b'\n' | b'\r' if content => return Some(i),
            b'\n' | b'\r' => cell_start = true,
            b',' | b';' | b'\t' => {
                on_delimiter(b);
                cell_start = true;
                content = true;
            }
            // A BOM is not content: a file of only a BOM and blank lines is empty.
            0xEF | 0xBB | 0xBF | 0xFE | 0xFF if !content => {}
            _ => {
                cell_start = false;
                content = true;
            }
        }
    }
    None
}

/// The delimiter that occurs most often outside quotes in the first non-empty line.
fn sniff_delimiter(prefix: &[u8]) -> u8 {
    let (mut comma, mut semicolon, mut tab) = (0usize, 0usize, 0usize);
    scan_first_line(prefix, |b| match b {
        b',' => comma += 1,
        b';' => semicolon += 1,
        _ => tab += 1,
    });
    // Ties go to the earlier (more common) delimiter.
    if semicolon > comma && semicolon >= tab {
        b';'
    } else if tab > comma && tab > semicolon {
        b'\t'
    } else {
        b','
    }
}

/// Line breaks in `bytes`: `\n`, `\r\n` and a lone `\r` count one each. `before` is the
/// byte preceding `bytes` (a `\n` right after a `\r` is the same break).
fn count_line_breaks(bytes: &[u8], before: u8) -> u64 {
    let mut prev = before;
    let mut n = 0;
    for &b in bytes {
        n += u64::from(b == b'\r' || (b == b'\n' && prev != b'\r'));
        prev = b;
    }
    n
}

/// UTF-8 if valid, else Windows-1252; the flag says whether it was transcoded.
fn decode(bytes: &[u8]) -> (Cow<'_, str>, bool) {
    match std::str::from_utf8(bytes) {
        Ok(s) => (Cow::Borrowed(s), false),
        Err(_) => (
            Cow::Owned(bytes.iter().map(|&b| windows_1252(b)).collect()),
            true,
        ),
    }
}

/// One Windows-1252 byte as a character. 0x80-0x9F hold typographic characters; the five
/// unassigned ones map to the C1 controls of the same value, as the WHATWG decoder does.
fn windows_1252(b: u8) -> char {
    const HIGH: [char; 32] = [
        '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8D}', 'Ž',
        '\u{8F}', '\u{90}', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9D}',
        'ž', 'Ÿ',
    ];
    match b {
        0x80..=0x9F => HIGH
            .get(usize::from(b - 0x80))
            .copied()
            .unwrap_or('\u{FFFD}'),
        // Latin-1 and ASCII are the first 256 code points.
        _ => char::from(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn options() -> ImportOptions {
        ImportOptions::new(Region::parse("KE").unwrap())
    }

    fn import(csv: &[u8]) -> (Vec<Contact>, ImportSummary) {
        let mut importer = ContactImporter::new(csv, options()).unwrap();
        let contacts = importer.by_ref().collect::<Result<Vec<_>, _>>().unwrap();
        (contacts, importer.into_summary())
    }

    fn numbers(contacts: &[Contact]) -> Vec<String> {
        contacts.iter().map(|c| c.msisdn().as_e164()).collect()
    }

    #[test]
    fn comma_file_with_variables() {
        let (contacts, summary) =
            import(b"phone,First Name,balance\n0712345678,Amina,100\n+254722000111,Baraka,\n");
        assert_eq!(numbers(&contacts), ["+254712345678", "+254722000111"]);
        assert_eq!(contacts[0].columns().names(), ["first_name", "balance"]);
        assert_eq!(contacts[0].get("first_name"), Some("Amina"));
        assert_eq!(contacts[1].get("balance"), Some(""));
        assert_eq!((contacts[0].line(), contacts[1].line()), (2, 3));
        assert_eq!(
            (summary.rows, summary.accepted, summary.rejected),
            (2, 2, 0)
        );
    }

    #[test]
    fn bom_semicolons_and_tabs_are_detected() {
        let (c, _) = import(b"\xEF\xBB\xBFname;phone\nAmina;0712345678\n");
        assert_eq!(numbers(&c), ["+254712345678"]);
        assert_eq!(c[0].get("name"), Some("Amina"));
        // A comma inside a cell does not outvote the semicolons.
        let importer = ContactImporter::new(&b"name;note;phone\n"[..], options()).unwrap();
        assert_eq!(importer.delimiter(), b';');
        let (c, _) = import(b"name\tphone\tcity, region\nAmina\t0712345678\tNairobi, KE\n");
        assert_eq!(c[0].get("city_region"), Some("Nairobi, KE"));
        // Only one column: no delimiter at all.
        let (c, _) = import(b"msisdn\n0712345678\n");
        assert_eq!(numbers(&c), ["+254712345678"]);
    }

    #[test]
    fn phone_aliases_case_and_spaces() {
        for header in [
            "MSISDN",
            " Number ",
            "mobile",
            "To",
            "Phone Number",
            "phone",
        ] {
            let csv = format!("name,{header}\nA,0712345678\n");
            let (c, _) = import(csv.as_bytes());
            assert_eq!(numbers(&c), ["+254712345678"], "{header}");
            assert_eq!(c[0].columns().phone_header(), header.trim());
        }
        // `phone` is preferred over `to`, which then is a variable.
        let (c, _) = import(b"to,phone\nHQ,0712345678\n");
        assert_eq!(c[0].get("to"), Some("HQ"));
    }

    #[test]
    fn missing_phone_column_names_the_headers() {
        let err = ContactImporter::new(&b"name,tel\nA,1\n"[..], options())
            .err()
            .unwrap();
        assert!(
            matches!(&err, ImportError::MissingPhoneColumn { headers } if headers == &["name", "tel"])
        );
        assert!(err.to_string().contains("\"name\", \"tel\""), "{err}");
    }

    #[test]
    fn quotes_and_embedded_newlines_keep_line_numbers() {
        let csv = b"phone,note\r\n0712345678,\"He said \"\"hi\"\"\"\r\n\r\n0722000111,\"two\r\nlines\"\r\nbad,x\r\n0733000111,\"three\nmore\nlines\"\n0711000222,last";
        let (c, summary) = import(csv);
        assert_eq!(c[0].get("note"), Some("He said \"hi\""));
        assert_eq!(c[1].get("note"), Some("two\r\nlines"));
        let lines: Vec<u64> = c.iter().map(Contact::line).collect();
        assert_eq!(lines, [2, 4, 7, 10]);
        assert_eq!(summary.rejections[0].line, 6);
    }

    #[test]
    fn old_mac_line_breaks_and_stray_quotes_in_the_header() {
        let (c, summary) =
            import(b"phone,height 5'10\",name\r0712345678,x,\"A\rB\"\r\r0722000111,y,C");
        assert_eq!(numbers(&c), ["+254712345678", "+254722000111"]);
        assert_eq!(c[0].columns().names(), ["height_5_10", "name"]);
        assert_eq!(c[0].get("name"), Some("A\rB"));
        assert_eq!((c[0].line(), c[1].line()), (2, 5));
        assert_eq!(summary.rejected, 0);
    }

    #[test]
    fn row_errors_are_precise_and_do_not_stop_the_import() {
        let csv = b"phone,name\n0712345678,A\n\n0912345678,B\n,C\n0722000111\n0733000111,D,extra\n0711000222,E\n";
        let (c, summary) = import(csv);
        assert_eq!(numbers(&c), ["+254712345678", "+254711000222"]);
        assert_eq!(
            (summary.rows, summary.accepted, summary.rejected),
            (6, 2, 4)
        );
        let got: Vec<(u64, &str)> = summary
            .rejections
            .iter()
            .map(|r| (r.line, r.reason.code()))
            .collect();
        assert_eq!(
            got,
            [
                (4, "invalid_number"),
                (5, "missing_phone"),
                (6, "wrong_column_count"),
                (7, "wrong_column_count")
            ]
        );
        assert_eq!(
            summary.rejections[2].reason,
            RejectReason::WrongColumnCount {
                expected: 2,
                found: 1
            }
        );
        let text = summary.rejections[0].to_string();
        assert!(
            text.starts_with("line 4: invalid phone number \"0912345678\""),
            "{text}"
        );
    }

    #[test]
    fn blank_lines_and_empty_rows_are_skipped() {
        let (c, summary) = import(b"\n\nphone,name\n\n0712345678,A\n , \n\n0722000111,B\n\n");
        assert_eq!(numbers(&c), ["+254712345678", "+254722000111"]);
        assert_eq!((c[0].line(), c[1].line()), (5, 8));
        assert_eq!(
            (summary.rows, summary.blank_rows, summary.rejected),
            (2, 1, 0)
        );
    }

    #[test]
    fn duplicates_are_counted_and_dropped() {
        let (c, summary) =
            import(b"phone,name\n0712345678,A\n+254 712 345 678,B\n254712345678,C\n0722000111,D\n");
        assert_eq!(numbers(&c), ["+254712345678", "+254722000111"]);
        assert_eq!(c[0].get("name"), Some("A"));
        assert_eq!((summary.duplicates, summary.accepted), (2, 2));
    }

    #[test]
    fn unicode_and_windows_1252() {
        let (c, summary) = import("phone,name\n0712345678,Zoë Nyambura 🌍\n".as_bytes());
        assert_eq!(c[0].get("name"), Some("Zoë Nyambura 🌍"));
        assert_eq!(summary.windows_1252_rows, 0);
        // "Zoë" and a curly apostrophe as Excel on Windows writes them.
        let (c, summary) = import(b"phone,name\n0712345678,Zo\xEB O\x92Brien\n");
        assert_eq!(c[0].get("name"), Some("Zoë O’Brien"));
        assert_eq!(summary.windows_1252_rows, 1);
    }

    #[test]
    fn fatal_header_errors() {
        let e = |b: &[u8]| ContactImporter::new(b, options()).err().unwrap();
        assert!(matches!(e(b""), ImportError::Empty));
        assert!(matches!(e(b"\xEF\xBB\xBF\n\n"), ImportError::Empty));
        assert!(matches!(
            e(b"\xFF\xFEp\0h\0"),
            ImportError::Utf16("little-endian")
        ));
        assert!(matches!(e(b"p\0h\0o\0n\0e\0\n\0"), ImportError::NotText));
        assert!(matches!(
            e(b"phone,Name,name\n"),
            ImportError::DuplicateColumn { ref first, ref second, .. } if first == "Name" && second == "name"
        ));
        let wide = format!("phone{}\n", ",x".repeat(200));
        assert!(matches!(
            e(wide.as_bytes()),
            ImportError::TooManyColumns {
                found: 201,
                limit: 100
            }
        ));
        let long = format!("phone,{}\n", "x".repeat(70_000));
        assert!(matches!(
            e(long.as_bytes()),
            ImportError::HeaderTooLong { .. }
        ));
    }

    #[test]
    fn hostile_rows_are_rejected_without_being_held() {
        let mut csv = b"phone,name\n".to_vec();
        // A 1 MB quoted cell with line breaks (lines 2 to 250,002), a row with 10,001 cells,
        // a 2 KB cell.
        csv.extend_from_slice(b"0712345678,\"");
        csv.extend(std::iter::repeat_n(b"abc\n".as_slice(), 250_000).flatten());
        csv.extend_from_slice(b"\"\n");
        csv.extend_from_slice(format!("0722000111{}\n", ",x".repeat(10_000)).as_bytes());
        csv.extend_from_slice(format!("0722000111,{}\n", "y".repeat(2000)).as_bytes());
        csv.extend_from_slice(b"0733000111,ok\n");
        let mut importer = ContactImporter::new(&csv[..], options()).unwrap();
        let c = importer.by_ref().collect::<Result<Vec<_>, _>>().unwrap();
        assert_eq!(numbers(&c), ["+254733000111"]);
        assert_eq!(c[0].line(), 250_005);
        // The buffers stopped at the row limit and at the header's width (plus one).
        assert_eq!(importer.out.len(), 64 * 1024);
        assert_eq!(importer.ends.len(), 16);
        let s = importer.into_summary();
        let got: Vec<(u64, RejectReason)> = s
            .rejections
            .into_iter()
            .map(|r| (r.line, r.reason))
            .collect();
        assert_eq!(
            got,
            [
                (2, RejectReason::RowTooLong { limit: 65536 }),
                (
                    250_003,
                    RejectReason::WrongColumnCount {
                        expected: 2,
                        found: 10_001
                    }
                ),
                (
                    250_004,
                    RejectReason::FieldTooLong {
                        column: "name".into(),
                        limit: 1024
                    }
                ),
            ]
        );
    }

    #[test]
    fn rejections_list_is_capped_but_all_are_counted() {
        let mut csv = String::from("phone\n");
        for _ in 0..1500 {
            csv.push_str("123\n");
        }
        let (_, summary) = import(csv.as_bytes());
        assert_eq!((summary.rejected, summary.rejections.len()), (1500, 1000));
        assert_eq!(summary.rejections[999].line, 1001);
    }

    #[test]
    fn io_error_stops_with_an_error() {
        struct Failing(usize);
        impl Read for Failing {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                if self.0 == 0 {
                    return Err(std::io::Error::other("connection reset"));
                }
                self.0 -= 1;
                let data = b"phone\n0712345678\n";
                let n = data.len().min(buf.len());
                buf[..n].copy_from_slice(&data[..n]);
                Ok(n)
            }
        }
        let mut importer = ContactImporter::new(Failing(1), options()).unwrap();
        assert!(importer.next().unwrap().is_ok());
        assert!(matches!(importer.next(), Some(Err(ImportError::Io(_)))));
        assert!(importer.next().is_none());
    }

    #[test]
    fn summary_serializes_with_codes() {
        let (_, summary) = import(b"phone\n12\n");
        let json = serde_json::to_value(&summary).unwrap();
        assert_eq!(json["rejected"], 1);
        assert_eq!(json["rejections"][0]["line"], 2);
        assert_eq!(json["rejections"][0]["code"], "invalid_number");
        let reason = json["rejections"][0]["reason"].as_str().unwrap();
        assert!(
            reason.starts_with("invalid phone number \"12\""),
            "{reason}"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Any bytes: a header error or contacts and a summary whose counts add up.
        #[test]
        fn import_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let mut small = options();
            small.max_row_bytes = 64;
            small.max_field_bytes = 16;
            small.max_columns = 5;
            if let Ok(mut importer) = ContactImporter::new(&bytes[..], small) {
                let n = importer.by_ref().filter(Result::is_ok).count() as u64;
                let s = importer.summary();
                prop_assert_eq!(s.accepted, n);
                prop_assert_eq!(s.rows, s.accepted + s.rejected + s.duplicates);
            }
        }

        /// Structured CSV with random quoting and line breaks: every row is accounted for
        /// and line numbers are strictly increasing.
        #[test]
        fn structured_rows_are_accounted_for(
            rows in proptest::collection::vec(("[0-9 +]{0,14}", "[a-z\"\n,;]{0,6}"), 0..40),
        ) {
            let mut csv = String::from("phone,note\n");
            for (phone, note) in &rows {
                csv.push_str(&format!("{phone},\"{}\"\n", note.replace('"', "\"\"")));
            }
            let mut importer = ContactImporter::new(csv.as_bytes(), options()).unwrap();
            let contacts: Vec<Contact> = importer.by_ref().collect::<Result<_, _>>().unwrap();
            let s = importer.summary();
            prop_assert_eq!(s.rows + s.blank_rows, rows.len() as u64);
            let mut line = 1;
            for c in &contacts {
                prop_assert!(c.line() > line);
                line = c.line();
                let note = c.get("note").unwrap_or_default();
                prop_assert!(rows.iter().any(|(_, n)| n.trim() == note));
            }
        }
    }
}
