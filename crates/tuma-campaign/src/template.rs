//! Message templates: `Hi {{ name | default("there") }}, your balance is {{ balance }}`.
//!
//! # Sandbox
//! The engine is minijinja, compiled once per campaign, in an environment that can only
//! format values (playSMS had remote code execution through its templates, CVE-2020-8644):
//! - statements are limited to `{% if %}` / `{% elif %}` / `{% else %}` / `{% endif %}`,
//!   checked before minijinja sees the source: no `include` / `import` / `extends` (there is
//!   no loader either, and this crate leaves minijinja's `multi_template` feature off), no
//!   loops, `set` or macros;
//! - no `*` operator, so a template cannot build a huge value from a short source
//!   (minijinja allows `"x" * 100000000`);
//! - no functions (`range`, `dict`, ...: the environment is empty), no `is` tests, and only
//!   the filters below (an unknown one is refused at compile time, not at the first render);
//! - no file system, no HTML escaping (plain text);
//! - fuel (instructions per render), the recursion limit and an output cap bound every
//!   render anyway.
//!
//! # Variables
//! Every variable a template uses must be a CSV column (or `phone`): checked at compile
//! time, naming the missing one. Undefined values are errors (strict mode), not empty text.
//! An empty cell is an empty string; [`default`](#filters) replaces it.
//!
//! # Filters
//! `upper`, `lower`, `title`, `capitalize`, `trim`; `default(value)` (also for empty cells,
//! unlike Jinja's); `truncate(length, end="...")` (at most `length` characters, `end`
//! included: SMS counts characters).

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::io;

use minijinja::value::{Kwargs, Value};
use minijinja::{Environment, ErrorKind, UndefinedBehavior};

use crate::contact::Contact;

const NAME: &str = "message";

/// Statements a template may use.
const ALLOWED_STATEMENTS: &[&str] = &["if", "elif", "else", "endif"];

/// Filters a template may use (minijinja resolves filters only when rendering: checking them
/// here turns a typo into an error before sending).
const FILTERS: &[&str] = &[
    "upper",
    "lower",
    "title",
    "capitalize",
    "trim",
    "default",
    "truncate",
];

/// Limits on one template and its renders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TemplateLimits {
    /// Longest source, in bytes.
    pub max_source_bytes: usize,
    /// Longest rendered text, in bytes (SMS allow 255 parts of at most 153 characters).
    pub max_output_bytes: usize,
    /// Instructions one render may run.
    pub fuel: u64,
}

impl Default for TemplateLimits {
    /// 8 KiB of source, 64 KiB of output, 10,000 instructions.
    fn default() -> Self {
        Self {
            max_source_bytes: 8 * 1024,
            max_output_bytes: 64 * 1024,
            fuel: 10_000,
        }
    }
}

/// Why a template was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TemplateError {
    /// The source is longer than [`TemplateLimits::max_source_bytes`].
    #[error("the template is {bytes} bytes long; at most {limit} are allowed")]
    TooLong {
        /// Its length.
        bytes: usize,
        /// The limit.
        limit: usize,
    },
    /// Not valid template syntax (includes unknown filters and tags).
    #[error("template syntax error: {message}")]
    Syntax {
        /// minijinja's description, with the line.
        message: String,
    },
    /// A construct the sandbox does not allow.
    #[error("{construct} is not allowed in a message template (line {line}): only variables, filters and if/elif/else/endif")]
    Forbidden {
        /// What was found (`{% for %}`, `*`).
        construct: String,
        /// 1-based line in the template.
        line: usize,
    },
    /// A filter that does not exist here.
    #[error("unknown filter {name:?} (line {line}): available are {}", FILTERS.join(", "))]
    UnknownFilter {
        /// The name used.
        name: String,
        /// 1-based line in the template.
        line: usize,
    },
    /// Variables the CSV has no column for.
    #[error(
        "the template uses {} that the contact list does not have (its columns: {})",
        describe_missing(missing),
        available.join(", ")
    )]
    UnknownColumns {
        /// The missing names, sorted.
        missing: Vec<String>,
        /// The names that exist (`phone` and the CSV's variables).
        available: Vec<String>,
    },
}

fn describe_missing(missing: &[String]) -> String {
    let quoted: Vec<String> = missing.iter().map(|m| format!("{m:?}")).collect();
    match quoted.as_slice() {
        [one] => format!("column {one}"),
        _ => format!("columns {}", quoted.join(", ")),
    }
}

/// Why one message could not be rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RenderError {
    /// The text grew past [`TemplateLimits::max_output_bytes`].
    #[error("the rendered message is longer than {limit} bytes")]
    TooLong {
        /// The limit.
        limit: usize,
    },
    /// The render ran out of fuel.
    #[error("the template needs too much work to render")]
    TooComplex,
    /// Anything else (an undefined value, a filter given the wrong arguments).
    #[error("rendering failed: {message}")]
    Failed {
        /// minijinja's description.
        message: String,
    },
}

/// A compiled, checked message template. Cheap to render, `Send + Sync` (one per campaign,
/// shared by the workers).
#[derive(Debug)]
pub struct Template {
    env: Environment<'static>,
    variables: Vec<String>,
    limits: TemplateLimits,
}

impl Template {
    /// Compiles `source` for a contact list with `columns` (the importer's
    /// [`crate::Columns::names`]), with default limits.
    ///
    /// ```
    /// use tuma_campaign::{Template, TemplateError};
    /// let t = Template::compile("Hi {{ name | title }}", ["name"])?;
    /// assert_eq!(t.variables(), ["name"]);
    /// let e = Template::compile("Hi {{ nmae }}", ["name"]).unwrap_err();
    /// assert_eq!(e.to_string(), "the template uses column \"nmae\" that the contact list does not have (its columns: phone, name)");
    /// # Ok::<(), TemplateError>(())
    /// ```
    pub fn compile<I, S>(source: &str, columns: I) -> Result<Self, TemplateError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Self::compile_with(source, columns, TemplateLimits::default())
    }

    /// [`Template::compile`] with explicit limits.
    pub fn compile_with<I, S>(
        source: &str,
        columns: I,
        limits: TemplateLimits,
    ) -> Result<Self, TemplateError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        if source.len() > limits.max_source_bytes {
            return Err(TemplateError::TooLong {
                bytes: source.len(),
                limit: limits.max_source_bytes,
            });
        }
        check_constructs(source)?;
        let mut env = Environment::empty();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_fuel(Some(limits.fuel));
        env.set_recursion_limit(32);
        // Plain text: never HTML-escape an SMS.
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
        env.add_filter("upper", minijinja::filters::upper);
        env.add_filter("lower", minijinja::filters::lower);
        env.add_filter("title", minijinja::filters::title);
        env.add_filter("capitalize", minijinja::filters::capitalize);
        env.add_filter("trim", minijinja::filters::trim);
        env.add_filter("default", default_filter);
        env.add_filter("truncate", truncate_filter);
        env.add_template_owned(NAME, source.to_owned())
            .map_err(|e| TemplateError::Syntax {
                message: describe(&e),
            })?;
        let template = env.get_template(NAME).map_err(|e| TemplateError::Syntax {
            message: describe(&e),
        })?;
        let used: BTreeSet<String> = template.undeclared_variables(false).into_iter().collect();
        let mut available = vec!["phone".to_owned()];
        available.extend(columns.into_iter().map(|c| c.as_ref().to_owned()));
        let missing: Vec<String> = used
            .iter()
            .filter(|v| !available.contains(v))
            .cloned()
            .collect();
        if !missing.is_empty() {
            return Err(TemplateError::UnknownColumns { missing, available });
        }
        Ok(Self {
            env,
            variables: used.into_iter().collect(),
            limits,
        })
    }

    /// The variables the template uses, sorted.
    pub fn variables(&self) -> &[String] {
        &self.variables
    }

    /// Renders the message for one contact.
    pub fn render(&self, contact: &Contact) -> Result<String, RenderError> {
        let mut out = String::new();
        self.render_into(contact, &mut out)?;
        Ok(out)
    }

    /// Renders into `out` (cleared first), to reuse its allocation across recipients.
    pub fn render_into(&self, contact: &Contact, out: &mut String) -> Result<(), RenderError> {
        out.clear();
        let template = self
            .env
            .get_template(NAME)
            .map_err(|e| RenderError::Failed {
                message: describe(&e),
            })?;
        let mut sink = CappedWriter {
            buf: std::mem::take(out).into_bytes(),
            limit: self.limits.max_output_bytes,
            overflow: false,
        };
        let result = template.render_captured_to(contact.to_value(), &mut sink);
        let overflow = sink.overflow;
        // minijinja writes only whole `str` pieces, so the bytes are UTF-8; a lossy
        // conversion keeps this total anyway.
        *out = match String::from_utf8(sink.buf) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        };
        match result {
            Ok(_) => Ok(()),
            Err(_) if overflow => Err(RenderError::TooLong {
                limit: self.limits.max_output_bytes,
            }),
            Err(e) if e.kind() == ErrorKind::OutOfFuel => Err(RenderError::TooComplex),
            Err(e) => Err(RenderError::Failed {
                message: describe(&e),
            }),
        }
    }
}

/// minijinja's error on one line: kind, detail and place (`... (in message:2)`).
fn describe(e: &minijinja::Error) -> String {
    e.to_string()
}

/// An `io::Write` that fails once `limit` bytes are exceeded, so a render stops early.
struct CappedWriter {
    buf: Vec<u8>,
    limit: usize,
    overflow: bool,
}

impl io::Write for CappedWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.buf.len() + data.len() > self.limit {
            self.overflow = true;
            return Err(io::Error::other("message too long"));
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// `default(fallback="")`: the fallback for an undefined or none value and for an empty or
/// blank string (a missing cell in a CSV is empty, and that is what users mean by missing).
fn default_filter(value: Value, fallback: Option<Value>) -> Value {
    let missing = value.is_undefined()
        || value.is_none()
        || value.as_str().is_some_and(|s| s.trim().is_empty());
    if missing {
        fallback.unwrap_or_else(|| Value::from(""))
    } else {
        value
    }
}

/// `truncate(length, end="...")`: at most `length` characters, `end` included when cut.
fn truncate_filter(
    value: Cow<'_, str>,
    length: usize,
    kwargs: Kwargs,
) -> Result<String, minijinja::Error> {
    let end: Option<String> = kwargs.get("end")?;
    kwargs.assert_all_used()?;
    let end = end.unwrap_or_else(|| "...".to_owned());
    if value.chars().count() <= length {
        return Ok(value.into_owned());
    }
    let keep = length.saturating_sub(end.chars().count());
    let mut out: String = value.chars().take(keep).collect();
    // An end longer than the length is cut too: the limit is the point.
    out.extend(end.chars().take(length - keep));
    Ok(out)
}

/// Refuses statements other than if/elif/else/endif and the `*` operator, by a scan of the
/// template's code sections that skips string literals. Unterminated sections are left to
/// minijinja's parser, which reports them.
fn check_constructs(source: &str) -> Result<(), TemplateError> {
    let bytes = source.as_bytes();
    let line_at = |i: usize| 1 + source.get(..i).map_or(0, |s| s.matches('\n').count());
    let mut i = 0;
    while let Some(offset) = source.get(i..).and_then(|s| s.find('{')) {
        let open = i + offset;
        let (close, is_statement) = match bytes.get(open + 1) {
            Some(b'{') => ("}}", false),
            Some(b'%') => ("%}", true),
            Some(b'#') => {
                // A comment: skip to its end.
                match source.get(open + 2..).and_then(|s| s.find("#}")) {
                    Some(end) => {
                        i = open + 2 + end + 2;
                        continue;
                    }
                    None => return Ok(()),
                }
            }
            _ => {
                i = open + 1;
                continue;
            }
        };
        let mut j = open + 2;
        if is_statement {
            let rest = source.get(j..).unwrap_or("");
            let trimmed = rest.trim_start_matches(['-', '+']).trim_start();
            let keyword: String = trimmed
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !ALLOWED_STATEMENTS.contains(&keyword.as_str()) {
                return Err(TemplateError::Forbidden {
                    construct: format!("{{% {keyword} %}}"),
                    line: line_at(open),
                });
            }
        }
        // Scan the code up to the closing delimiter, skipping string literals.
        let mut quote: Option<u8> = None;
        loop {
            let Some(&b) = bytes.get(j) else {
                return Ok(());
            };
            match quote {
                Some(q) => {
                    if b == b'\\' {
                        j += 1;
                    } else if b == q {
                        quote = None;
                    }
                }
                None => match b {
                    b'"' | b'\'' => quote = Some(b),
                    b'*' => {
                        return Err(TemplateError::Forbidden {
                            construct: "the `*` operator".into(),
                            line: line_at(j),
                        })
                    }
                    b'i' if is_keyword_at(source, j, "is") => {
                        return Err(TemplateError::Forbidden {
                            construct: "an `is` test".into(),
                            line: line_at(j),
                        })
                    }
                    b'|' => {
                        let rest = source.get(j + 1..).unwrap_or("").trim_start();
                        let name: String = rest
                            .chars()
                            .take_while(|c| c.is_alphanumeric() || *c == '_')
                            .collect();
                        if !FILTERS.contains(&name.as_str()) {
                            return Err(TemplateError::UnknownFilter {
                                name,
                                line: line_at(j),
                            });
                        }
                    }
                    _ if source.get(j..).is_some_and(|s| s.starts_with(close)) => break,
                    _ => {}
                },
            }
            j += 1;
        }
        i = j + 2;
    }
    Ok(())
}

/// Whether the identifier `word` stands alone at byte `at` (not part of a longer name).
fn is_keyword_at(source: &str, at: usize, word: &str) -> bool {
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    let before = source.get(..at).and_then(|s| s.chars().next_back());
    let after = source.get(at + word.len()..).and_then(|s| s.chars().next());
    source.get(at..).is_some_and(|s| s.starts_with(word))
        && !before.is_some_and(ident)
        && !after.is_some_and(ident)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contact::Columns;
    use std::sync::Arc;
    use tuma_domain::Msisdn;

    fn contact(pairs: &[(&str, &str)]) -> Contact {
        let names = pairs.iter().map(|(n, _)| n.to_string()).collect::<Vec<_>>();
        let cols = Arc::new(Columns::new(names.clone(), names, "phone".into()));
        let values: Vec<&str> = pairs.iter().map(|(_, v)| *v).collect();
        let m = Msisdn::from_e164("+254712345678").unwrap();
        Contact::new(m, 2, cols, &values).unwrap()
    }

    fn render(source: &str, pairs: &[(&str, &str)]) -> Result<String, RenderError> {
        let names: Vec<&str> = pairs.iter().map(|(n, _)| *n).collect();
        Template::compile(source, &names)
            .unwrap()
            .render(&contact(pairs))
    }

    #[test]
    fn variables_defaults_and_filters() {
        let src = "Hi {{ name | default(\"there\") | title }}, balance {{ balance }} ({{ phone }})";
        assert_eq!(
            render(src, &[("name", "amina wanjiru"), ("balance", "KES 100")]).unwrap(),
            "Hi Amina Wanjiru, balance KES 100 (+254712345678)"
        );
        assert_eq!(
            render(src, &[("name", ""), ("balance", "0")]).unwrap(),
            "Hi There, balance 0 (+254712345678)"
        );
        assert_eq!(
            render(
                "{{ a | upper }} {{ a | lower }} {{ a | capitalize }} [{{ b | trim }}]",
                &[("a", "mIxEd"), ("b", "x")]
            )
            .unwrap(),
            "MIXED mixed Mixed [x]"
        );
        assert_eq!(
            render(
                "{% if vip == 'yes' %}Dear VIP{% else %}Hello{% endif %}",
                &[("vip", "yes")]
            )
            .unwrap(),
            "Dear VIP"
        );
        // No HTML escaping in an SMS.
        assert_eq!(render("{{ a }}", &[("a", "<b>&</b>")]).unwrap(), "<b>&</b>");
    }

    #[test]
    fn truncate_counts_characters_with_the_end() {
        let t = |v: &str, src: &str| render(src, &[("v", v)]).unwrap();
        assert_eq!(t("Wanjiru", "{{ v | truncate(5) }}"), "Wa...");
        assert_eq!(t("Wanjiru", "{{ v | truncate(5, end='') }}"), "Wanji");
        assert_eq!(t("Zoë", "{{ v | truncate(3) }}"), "Zoë");
        assert_eq!(t("Wanjiru", "{{ v | truncate(2) }}"), "..");
    }

    #[test]
    fn missing_column_is_named_before_sending() {
        let e = Template::compile(
            "Hi {{ name }}, {{ balanse }} {{ x | default('y') }}",
            ["name", "balance"],
        )
        .unwrap_err();
        assert_eq!(
            e,
            TemplateError::UnknownColumns {
                missing: vec!["balanse".into(), "x".into()],
                available: vec!["phone".into(), "name".into(), "balance".into()],
            }
        );
        assert!(e.to_string().contains("columns \"balanse\", \"x\""), "{e}");
    }

    #[test]
    fn sandbox_refuses_includes_loops_and_repetition() {
        for (src, what) in [
            ("{% include 'x' %}", "{% include %}"),
            ("{% import 'x' as y %}", "{% import %}"),
            ("{% extends 'x' %}", "{% extends %}"),
            ("{%- for c in name %}{{ c }}{% endfor %}", "{% for %}"),
            ("{% set a = name %}", "{% set %}"),
            ("{% macro m() %}{% endmacro %}", "{% macro %}"),
            ("line 1\n{{ name * 100000000 }}", "the `*` operator"),
            ("{{ 2 ** 10 }}", "the `*` operator"),
            ("{% if name is defined %}x{% endif %}", "an `is` test"),
        ] {
            match Template::compile(src, ["name"]) {
                Err(TemplateError::Forbidden { construct, .. }) => {
                    assert_eq!(construct, what, "{src}")
                }
                other => panic!("{src}: {other:?}"),
            }
        }
        // `is` inside a name is not a test.
        assert!(Template::compile("{{ this_is }}{{ island }}", ["this_is", "island"]).is_ok());
        // Inside strings and comments `*` and keywords are text.
        let t = Template::compile(
            "{# {% for %} * #}{{ name | default('*** {% for %}') }}",
            ["name"],
        )
        .unwrap();
        assert_eq!(
            t.render(&contact(&[("name", "")])).unwrap(),
            "*** {% for %}"
        );
        // Functions are not there: `range` is an unknown variable, not a loop source.
        assert!(matches!(
            Template::compile("{{ range(10) }}", ["name"]),
            Err(TemplateError::UnknownColumns { .. })
        ));
        // Unknown filters are errors at compile time, not at the first render.
        assert_eq!(
            Template::compile("{{ name | upper }}\n{{ name|tojson }}", ["name"]).unwrap_err(),
            TemplateError::UnknownFilter {
                name: "tojson".into(),
                line: 2
            }
        );
        let e = Template::compile("{{ name ", ["name"]).unwrap_err();
        assert!(matches!(e, TemplateError::Syntax { .. }), "{e:?}");
    }

    #[test]
    fn huge_output_is_capped() {
        let limits = TemplateLimits {
            max_output_bytes: 100,
            ..TemplateLimits::default()
        };
        let src = "{{ v }}{{ v }}{{ v }}";
        let t = Template::compile_with(src, ["v"], limits).unwrap();
        let c = contact(&[("v", &"x".repeat(40))]);
        assert_eq!(t.render(&c), Err(RenderError::TooLong { limit: 100 }));
        let c = contact(&[("v", &"x".repeat(30))]);
        assert_eq!(t.render(&c).unwrap().len(), 90);
        let long = "x".repeat(9000);
        assert!(matches!(
            Template::compile(&long, ["v"]),
            Err(TemplateError::TooLong { bytes: 9000, .. })
        ));
    }

    #[test]
    fn fuel_bounds_the_work() {
        let limits = TemplateLimits {
            fuel: 50,
            ..TemplateLimits::default()
        };
        let src = "{% if v %}{{ v|upper|lower|upper|lower|upper|lower }}{% endif %}".repeat(20);
        let t = Template::compile_with(&src, ["v"], limits).unwrap();
        assert_eq!(
            t.render(&contact(&[("v", "x")])),
            Err(RenderError::TooComplex)
        );
    }

    #[test]
    fn undefined_values_are_errors_not_empty_text() {
        // `name` exists, `name.first` does not: strict mode refuses to print it.
        let e = render("Hi {{ name.first }}", &[("name", "A")]).unwrap_err();
        assert!(matches!(e, RenderError::Failed { .. }), "{e:?}");
        // ... but `default` handles it.
        assert_eq!(
            render("Hi {{ name.first | default('you') }}", &[("name", "A")]).unwrap(),
            "Hi you"
        );
    }

    #[test]
    fn render_into_reuses_the_buffer() {
        let t = Template::compile("Hi {{ n }}", ["n"]).unwrap();
        let mut buf = String::from("old text");
        t.render_into(&contact(&[("n", "A")]), &mut buf).unwrap();
        assert_eq!(buf, "Hi A");
    }
}
