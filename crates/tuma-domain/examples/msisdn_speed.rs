//! Measures `Msisdn::parse` throughput against `phonenumber` alone, and reading stored
//! numbers back (`Msisdn::from_stored`):
//! `cargo run --release -p tuma-domain --example msisdn_speed`.
use std::time::Instant;

use phonenumber::metadata::DATABASE;
use tuma_domain::{Msisdn, Region};

fn rate(name: &str, inputs: &[String], mut f: impl FnMut(&str) -> bool) {
    let start = Instant::now();
    let ok = inputs.iter().filter(|s| f(s)).count();
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{name:<48} {:>9.0} numbers/s ({ok} valid of {})",
        inputs.len() as f64 / secs,
        inputs.len()
    );
}

fn main() {
    let ke = Region::parse("KE").expect("KE is a known region");
    let n = 200_000u64;
    // Numbers spread over Kenyan mobile ranges so the pattern work is realistic.
    let e164: Vec<String> = (0..n)
        .map(|i| format!("+2547{:08}", (i * 7919) % 100_000_000))
        .collect();
    let national: Vec<String> = (0..n)
        .map(|i| format!("07{:08}", (i * 7919) % 100_000_000))
        .collect();
    // Every region's example mobile number, repeated: a campaign to many countries.
    let examples: Vec<String> = DATABASE
        .iter()
        .filter_map(|m| {
            let e = m.descriptors().mobile()?.example()?;
            Some(format!("+{}{e}", m.country_code()))
        })
        .collect();
    let mixed: Vec<String> = examples.iter().cycle().take(n as usize).cloned().collect();

    let reference = |s: &str| {
        phonenumber::parse(None, s)
            .map(|p| phonenumber::is_valid(&p))
            .unwrap_or(false)
    };
    rate("Msisdn::parse, E.164 Kenya", &e164, |s| {
        Msisdn::parse(s, ke).is_ok()
    });
    rate(
        "phonenumber parse + is_valid, E.164 Kenya",
        &e164,
        reference,
    );
    rate("Msisdn::parse, national 07... (KE)", &national, |s| {
        Msisdn::parse(s, ke).is_ok()
    });
    // First use builds each country's plan (compiles its patterns): measured apart.
    rate(
        "Msisdn::parse, first use of every country",
        &examples,
        |s| Msisdn::parse(s, ke).is_ok(),
    );
    rate("Msisdn::parse, E.164 mixed countries", &mixed, |s| {
        Msisdn::parse(s, ke).is_ok()
    });
    rate(
        "phonenumber parse + is_valid, mixed countries",
        &mixed,
        reference,
    );
    // Reading stored numbers back (the integer a store keeps): re-validating them as the
    // stores once did, against `Msisdn::from_stored`.
    let stored: Vec<String> = e164
        .iter()
        .chain(&mixed)
        .filter_map(|s| Msisdn::parse(s, ke).ok())
        .map(|m| m.as_u64().to_string())
        .collect();
    rate("stored: Msisdn::from_e164(\"+{value}\")", &stored, |s| {
        Msisdn::from_e164(&format!("+{s}")).is_ok()
    });
    rate("stored: Msisdn::from_stored(value)", &stored, |s| {
        s.parse()
            .ok()
            .and_then(|v| Msisdn::from_stored(v).ok())
            .is_some()
    });
}
