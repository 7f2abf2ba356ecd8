//! Measures the campaign hot path on generated contacts: CSV import alone, then import +
//! render + tracked-link rewrite + segment count, and the peak RSS.
//!
//! `cargo run --release -p tuma-campaign --example import_speed -- [ROWS] [NATIONAL_PERCENT]`
//! (defaults 1,000,000 and 0: every number already E.164, as exports usually are; national
//! numbers such as `0712...` take `phonenumber`'s slower general parser).
//!
//! The CSV is written to a temporary file first, so the import streams from disk and the RSS
//! shows what the importer holds, not the file.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::time::Instant;

use rand::rngs::StdRng;
use rand::SeedableRng;
use tuma_campaign::{personalize, ContactImporter, ImportOptions, LinkRewriter, Template};
use tuma_domain::Region;

const NAMES: [&str; 8] = [
    "amina", "baraka", "chebet", "daudi", "esther", "faraji", "gathoni", "hamisi",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let rows: u64 = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let national: u64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(0);
    let path = std::env::temp_dir().join(format!("tuma-import-speed-{}.csv", std::process::id()));
    {
        let mut w = BufWriter::new(File::create(&path)?);
        writeln!(w, "Phone,Name,Balance,City")?;
        for i in 0..rows {
            // 7 * i < 10^8 for i < 14M: every number distinct, all valid Kenyan mobiles.
            let n = (i * 7) % 100_000_000;
            let name = NAMES[(i % 8) as usize];
            if i % 100 < national {
                writeln!(w, "07{n:08},{name},{}.50,Nairobi", i % 10_000)?;
            } else {
                writeln!(w, "+2547{n:08},{name},{}.50,Nairobi", i % 10_000)?;
            }
        }
    }
    let bytes = std::fs::metadata(&path)?.len();
    println!(
        "rows: {rows}, national numbers: {national}%, file: {:.1} MB",
        bytes as f64 / 1e6
    );
    let ke = Region::parse("KE")?;

    // 1. Import alone.
    let (start, cpu) = (Instant::now(), cpu_seconds());
    let mut import = ContactImporter::new(File::open(&path)?, ImportOptions::new(ke))?;
    let mut accepted = 0u64;
    for c in import.by_ref() {
        c?;
        accepted += 1;
    }
    let (secs, cpu) = (start.elapsed().as_secs_f64(), cpu_seconds() - cpu);
    assert_eq!(accepted, rows, "{:?}", import.summary().rejections.first());
    report("import:", rows, secs, cpu, "");
    let rss_import = peak_rss_kib();
    drop(import);

    // 2. Import + render, + link rewrite, + segment count: what a campaign expansion does.
    let template_source =
        "Hi {{ name | title }}, your balance is KES {{ balance | default('0') }}. \
         Top up in {{ city }} at https://shop.example/topup?src=sms";
    let links = LinkRewriter::new("https://t.example")?;
    let options = sms_text::Options::default();
    for stage in [Stage::Render, Stage::Links, Stage::Segments] {
        let (start, cpu) = (Instant::now(), cpu_seconds());
        let mut import = ContactImporter::new(File::open(&path)?, ImportOptions::new(ke))?;
        let template = Template::compile(template_source, import.columns().names())?;
        let mut rng = StdRng::seed_from_u64(1);
        let (mut bytes_out, mut segments, mut link_count) = (0u64, 0u64, 0u64);
        for c in import.by_ref() {
            let c = c?;
            if stage == Stage::Render {
                bytes_out += template.render(&c)?.len() as u64;
                continue;
            }
            let m = personalize(&template, Some(&links), &c, &mut rng)?;
            bytes_out += m.text.len() as u64;
            link_count += m.links.len() as u64;
            if stage == Stage::Segments {
                segments += sms_text::estimate(&m.text, &options).segments as u64;
            }
        }
        let (secs, cpu) = (start.elapsed().as_secs_f64(), cpu_seconds() - cpu);
        assert!(stage == Stage::Render || link_count == rows);
        let note = format!("{} MB of text, {segments} segments", bytes_out / 1_000_000);
        report(stage.label(), rows, secs, cpu, &note);
    }
    println!(
        "peak RSS: {} MiB after import, {} MiB at the end",
        rss_import / 1024,
        peak_rss_kib() / 1024
    );
    std::fs::remove_file(&path)?;
    Ok(())
}

fn report(label: &str, rows: u64, secs: f64, cpu: f64, note: &str) {
    let per_cpu = if cpu > 0.0 { rows as f64 / cpu } else { 0.0 };
    println!(
        "{label:<30} wall {secs:>6.3} s {:>9.0} rows/s | cpu {cpu:>6.2} s {per_cpu:>9.0} rows/cpu-s  {note}",
        rows as f64 / secs
    );
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    Render,
    Links,
    Segments,
}

impl Stage {
    fn label(self) -> &'static str {
        match self {
            Stage::Render => "import+render:",
            Stage::Links => "import+render+links:",
            Stage::Segments => "import+render+links+segments:",
        }
    }
}

/// CPU seconds (user + system) this process has used, from /proc (Linux, 100 ticks per
/// second as on every mainstream kernel); 0 elsewhere. On a shared machine wall time varies
/// with the neighbours' load, CPU time much less.
fn cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            // Fields after the command name (which is in parentheses and may hold spaces).
            let rest = s.rsplit_once(')')?.1;
            let fields: Vec<&str> = rest.split_whitespace().collect();
            // utime and stime are fields 14 and 15 of the whole line: 12 and 13 here.
            let utime: f64 = fields.get(11)?.parse().ok()?;
            let stime: f64 = fields.get(12)?.parse().ok()?;
            Some((utime + stime) / 100.0)
        })
        .unwrap_or(0.0)
}

/// VmHWM from /proc (Linux); 0 elsewhere.
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}
