//! Measures the engine alone: submit throughput (one thread), the memory of N queued
//! messages, and delivery + receipt throughput.
//!
//! `cargo run --release -p smsc-sim --example fill -- [N]` (default 1,000,000).

use std::time::Instant;

use smpp::pdu::SubmitSm;
use smpp::types::{Npi, RegisteredDelivery, Ton};
use smpp::BindKind;
use smsc_sim::{Engine, SimConfig};

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let t0: u64 = 1_795_687_200_000;
    let mut engine = Engine::new(SimConfig::default()).expect("default config is valid");
    let bind = engine
        .bind("bench", "", BindKind::Transceiver)
        .expect("open mode binds");
    let base_rss = rss_kib();
    // One PDU, re-addressed for each message (as a decoder reusing its buffer would): the
    // timing covers `submit` and a 12-digit address write, and RSS counts only the engine.
    let text = b"Your order 12345 has shipped. Track: https://t.example/abc";
    let mut s = SubmitSm::try_new("Acme", "254700000000", text).expect("valid fields");
    s.source_addr_ton = Ton::ALPHANUMERIC;
    s.dest_addr_ton = Ton::INTERNATIONAL;
    s.dest_addr_npi = Npi::ISDN;
    s.registered_delivery = RegisteredDelivery::RECEIPT;
    let mut digits = *b"254700000000";
    let start = Instant::now();
    let mut accepted = 0u64;
    for i in 0..n {
        let mut v = 10_000_000 + i % 89_999_999;
        for d in digits[4..].iter_mut().rev() {
            *d = b'0' + (v % 10) as u8;
            v /= 10;
        }
        s.destination_addr = smpp::types::Address::new(&digits).expect("12 digits fit");
        // All at t0: nothing is due yet (the minimum latency is 100 ms), so all stay queued.
        if engine.submit(t0, bind, &s).is_ok() {
            accepted += 1;
        }
    }
    let submit_s = start.elapsed().as_secs_f64();
    let queued_rss = rss_kib();
    println!(
        "submit: {accepted} accepted of {n} in {submit_s:.3} s = {:.0} submit/s",
        n as f64 / submit_s
    );
    println!(
        "memory: {} queued; RSS {} MiB ({} MiB over the {} MiB baseline)",
        engine.stats().queued,
        queued_rss / 1024,
        queued_rss.saturating_sub(base_rss) / 1024,
        base_rss / 1024,
    );
    let start = Instant::now();
    let finished = engine.advance(t0 + 8 * 24 * 3600 * 1000);
    let advance_s = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let mut receipts = 0usize;
    loop {
        let batch = engine.take_outbound(bind.account, 1000);
        if batch.is_empty() {
            break;
        }
        receipts += batch.len();
    }
    let take_s = start.elapsed().as_secs_f64();
    let s = engine.stats();
    println!(
        "advance: {finished} final in {advance_s:.3} s = {:.0}/s (delivered {}, failed {}, expired {})",
        finished as f64 / advance_s,
        s.delivered,
        s.failed,
        s.expired
    );
    println!(
        "receipts: {receipts} deliver_sm built in {take_s:.3} s = {:.0}/s; RSS now {} MiB",
        receipts as f64 / take_s,
        rss_kib() / 1024
    );
}
