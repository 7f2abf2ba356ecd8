//! Before sending: the first messages as they will look, and what the campaign costs.
//! While sending: [`personalize`], one recipient's final text and links.
//!
//! Segments are counted on the text as sent: rendered, then with links replaced (codes have
//! a fixed length and alphabet, so the count is exact before any code is drawn).

use rand::RngCore;
use sms_text::{estimate, Encoding, Options};
use tuma_domain::Msisdn;

use crate::contact::Contact;
use crate::links::{LinkRewriter, TrackedLink};
use crate::template::{RenderError, Template};

/// How many render failures a [`Preview`] lists (all are counted).
const LISTED_FAILURES: usize = 100;

/// One sample message.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PreviewMessage {
    /// The recipient.
    pub to: Msisdn,
    /// The CSV line of the contact.
    pub line: u64,
    /// The text, with `x` in place of link codes.
    pub text: String,
    /// `"gsm7"` or `"ucs2"`.
    #[serde(serialize_with = "encoding_name")]
    pub encoding: Encoding,
    /// SMS segments.
    pub segments: usize,
}

fn display<S: serde::Serializer>(e: &RenderError, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(e)
}

fn encoding_name<S: serde::Serializer>(e: &Encoding, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(match e {
        Encoding::Gsm7 => "gsm7",
        Encoding::Ucs2 => "ucs2",
    })
}

/// A contact whose message could not be rendered. Serialized as
/// `{"line": 3, "to": "+254...", "error": "rendering failed: ..."}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PreviewFailure {
    /// The CSV line.
    pub line: u64,
    /// The recipient.
    pub to: Msisdn,
    /// Why.
    #[serde(serialize_with = "display")]
    pub error: RenderError,
}

/// A campaign before sending.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Preview {
    /// The first messages.
    pub messages: Vec<PreviewMessage>,
    /// Recipients whose message rendered.
    pub recipients: u64,
    /// Their segments in all.
    pub total_segments: u64,
    /// Messages using UCS-2 (which costs more segments: worth a warning).
    pub ucs2_messages: u64,
    /// Recipients whose message failed to render.
    pub failed: u64,
    /// The first 100 failures.
    pub failures: Vec<PreviewFailure>,
}

/// Builds a [`Preview`] contact by contact, so a whole list is counted while streaming.
#[derive(Debug)]
pub struct Previewer<'a> {
    template: &'a Template,
    links: Option<&'a LinkRewriter>,
    options: Options,
    sample: usize,
    buf: String,
    preview: Preview,
}

impl<'a> Previewer<'a> {
    /// Keeps the first `sample` messages; `links` when the campaign tracks links; `options`
    /// as the messages will be encoded.
    pub fn new(
        template: &'a Template,
        links: Option<&'a LinkRewriter>,
        options: Options,
        sample: usize,
    ) -> Self {
        Self {
            template,
            links,
            options,
            sample,
            buf: String::new(),
            preview: Preview::default(),
        }
    }

    /// Renders and counts one contact.
    pub fn push(&mut self, contact: &Contact) {
        if let Err(error) = self.template.render_into(contact, &mut self.buf) {
            self.preview.failed += 1;
            if self.preview.failures.len() < LISTED_FAILURES {
                self.preview.failures.push(PreviewFailure {
                    line: contact.line(),
                    to: contact.msisdn(),
                    error,
                });
            }
            return;
        }
        let rewritten;
        let text = match self.links {
            Some(links) => {
                rewritten = links.rewrite_for_estimate(&self.buf);
                rewritten.as_str()
            }
            None => self.buf.as_str(),
        };
        let cost = estimate(text, &self.options);
        let p = &mut self.preview;
        p.recipients += 1;
        p.total_segments += cost.segments as u64;
        p.ucs2_messages += u64::from(cost.encoding == Encoding::Ucs2);
        if p.messages.len() < self.sample {
            p.messages.push(PreviewMessage {
                to: contact.msisdn(),
                line: contact.line(),
                text: text.to_owned(),
                encoding: cost.encoding,
                segments: cost.segments,
            });
        }
    }

    /// The preview.
    pub fn finish(self) -> Preview {
        self.preview
    }
}

/// The preview of `contacts`: the first `sample` messages and the totals of all of them.
///
/// ```
/// use tuma_campaign::{preview, ContactImporter, ImportOptions, LinkRewriter, Template};
/// use tuma_domain::Region;
///
/// let csv = "phone,name\n0712345678,Amina\n0722000111,Zoë\n";
/// let mut import = ContactImporter::new(csv.as_bytes(), ImportOptions::new(Region::parse("KE")?))?;
/// let contacts: Vec<_> = import.by_ref().collect::<Result<_, _>>()?;
/// let template = Template::compile("Hi {{ name }}, see https://shop.example/sale", import.columns().names())?;
/// let links = LinkRewriter::new("https://t.example")?;
/// let p = preview(&template, Some(&links), &contacts, sms_text::Options::default(), 1);
/// assert_eq!(p.messages[0].text, "Hi Amina, see https://t.example/xxxxxxxxxx");
/// assert_eq!((p.recipients, p.total_segments), (2, 2));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn preview<'c, I>(
    template: &Template,
    links: Option<&LinkRewriter>,
    contacts: I,
    options: Options,
    sample: usize,
) -> Preview
where
    I: IntoIterator<Item = &'c Contact>,
{
    let mut p = Previewer::new(template, links, options, sample);
    for c in contacts {
        p.push(c);
    }
    p.finish()
}

/// One recipient's message, ready to store and send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Personalized {
    /// The recipient.
    pub to: Msisdn,
    /// The final text.
    pub text: String,
    /// The tracked links in it (empty without link tracking).
    pub links: Vec<TrackedLink>,
}

/// Renders `contact`'s message and, with `links`, replaces its URLs by fresh tracked links.
pub fn personalize<R: RngCore + ?Sized>(
    template: &Template,
    links: Option<&LinkRewriter>,
    contact: &Contact,
    rng: &mut R,
) -> Result<Personalized, RenderError> {
    personalize_in(template, links, contact, None, rng)
}

/// [`personalize`] with link codes grouped by `bucket` ([`LinkRewriter::rewrite_in`]).
pub fn personalize_in<R: RngCore + ?Sized>(
    template: &Template,
    links: Option<&LinkRewriter>,
    contact: &Contact,
    bucket: Option<u16>,
    rng: &mut R,
) -> Result<Personalized, RenderError> {
    let text = template.render(contact)?;
    let (text, links) = match links {
        Some(rw) => {
            let r = rw.rewrite_in(&text, contact.msisdn(), bucket, rng);
            (r.text, r.links)
        }
        None => (text, Vec::new()),
    };
    Ok(Personalized {
        to: contact.msisdn(),
        text,
        links,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::{ContactImporter, ImportOptions};
    use rand::rngs::StdRng;
    use rand::SeedableRng;
    use tuma_domain::Region;

    fn contacts(csv: &str) -> (Vec<Contact>, Vec<String>) {
        let opts = ImportOptions::new(Region::parse("KE").unwrap());
        let mut imp = ContactImporter::new(csv.as_bytes(), opts).unwrap();
        let c = imp.by_ref().collect::<Result<Vec<_>, _>>().unwrap();
        (c, imp.columns().names().to_vec())
    }

    #[test]
    fn sample_encoding_segments_and_totals() {
        let long = "x".repeat(150);
        let csv = format!(
            "phone,name,extra\n0712345678,Amina,\n0722000111,Zoé,\n0733000111,Ali,{long}\n0711000222,李,\n"
        );
        let (c, cols) = contacts(&csv);
        let t = Template::compile("Hi {{ name }}{{ extra }} https://s.example/a", &cols).unwrap();
        let links = LinkRewriter::new("https://t.example").unwrap();
        let p = preview(&t, Some(&links), &c, Options::default(), 2);
        let got: Vec<(&str, Encoding, usize)> = p
            .messages
            .iter()
            .map(|m| (m.text.as_str(), m.encoding, m.segments))
            .collect();
        assert_eq!(
            got,
            [
                ("Hi Amina https://t.example/xxxxxxxxxx", Encoding::Gsm7, 1),
                ("Hi Zoé https://t.example/xxxxxxxxxx", Encoding::Gsm7, 1),
            ]
        );
        // Ali: 3 + 3 + 150 + 1 + 28 = 185 septets = 2 segments; 李 forces UCS-2, 1 segment.
        assert_eq!((p.recipients, p.total_segments, p.ucs2_messages), (4, 5, 1));
        assert_eq!(p.messages[1].to.as_e164(), "+254722000111");
        let json = serde_json::to_value(&p.messages[0]).unwrap();
        assert_eq!(json["encoding"], "gsm7");
        assert_eq!(json["to"], "+254712345678");
        // Without tracking the original (shorter) URL counts: Ali's message is still 2.
        let p = preview(&t, None, &c, Options::default(), 0);
        assert!(p.messages.is_empty());
        assert_eq!(p.total_segments, 5);
    }

    #[test]
    fn segments_are_counted_after_link_replacement() {
        let url = format!("https://s.example/{}", "p".repeat(140));
        let (c, cols) = contacts("phone\n0712345678\n");
        let t = Template::compile(&format!("Go {url}"), &cols).unwrap();
        let links = LinkRewriter::new("https://t.example").unwrap();
        assert_eq!(
            preview(&t, None, &c, Options::default(), 1).total_segments,
            2
        );
        assert_eq!(
            preview(&t, Some(&links), &c, Options::default(), 1).total_segments,
            1
        );
    }

    #[test]
    fn render_failures_are_counted_not_fatal() {
        let (c, cols) = contacts("phone,name\n0712345678,A\n0722000111,B\n");
        let t = Template::compile("{{ name.x }}", &cols).unwrap();
        let p = preview(&t, None, &c, Options::default(), 5);
        assert_eq!((p.recipients, p.failed, p.failures.len()), (0, 2, 2));
        assert_eq!(p.failures[1].line, 3);
        let json = serde_json::to_value(&p).unwrap();
        assert_eq!(json["failures"][1]["to"], "+254722000111");
        let error = json["failures"][1]["error"].as_str().unwrap();
        assert!(error.starts_with("rendering failed: "), "{error}");
    }

    #[test]
    fn personalize_gives_text_and_links() {
        let (c, cols) = contacts("phone,name\n0712345678,A\n");
        let t = Template::compile("{{ name }}: www.s.example", &cols).unwrap();
        let links = LinkRewriter::new("https://t.example").unwrap();
        let mut rng = StdRng::seed_from_u64(5);
        let m = personalize(&t, Some(&links), &c[0], &mut rng).unwrap();
        assert_eq!(m.links.len(), 1);
        assert_eq!(m.text, format!("A: https://t.example/{}", m.links[0].code));
        assert_eq!(m.links[0].target, "http://www.s.example");
        assert_eq!(m.links[0].recipient, m.to);
        let plain = personalize(&t, None, &c[0], &mut rng).unwrap();
        assert_eq!(
            (plain.text.as_str(), plain.links.len()),
            ("A: www.s.example", 0)
        );
    }
}
