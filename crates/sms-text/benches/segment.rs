//! Speed of the calculator and the segmenter on typical long messages.
//! Run: `cargo bench -p sms-text`.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use sms_text::{encode, estimate, Options};

/// 400 characters of GSM-7 with a few extension characters (3 parts).
fn gsm7_text() -> String {
    let base =
        "Hello {name}, your order #12345 of EUR 49.99 [€] ships today. Reply STOP to opt out. ";
    base.chars().cycle().take(400).collect()
}

/// 400 characters of UCS-2: Cyrillic text with emoji (surrogate pairs), 7 parts.
fn ucs2_text() -> String {
    let base = "Привет, ваш заказ отправлен 😀 спасибо! 🎉 ";
    base.chars().cycle().take(400).collect()
}

fn bench(c: &mut Criterion) {
    let options = Options::default();
    for (name, text, parts) in [
        ("gsm7_400", gsm7_text(), 3),
        ("ucs2_emoji_400", ucs2_text(), 7),
    ] {
        assert_eq!(text.chars().count(), 400);
        // The inputs are what docs/benchmarks.md says they are.
        assert_eq!(estimate(&text, &options).segments, parts, "{name}");
        let mut group = c.benchmark_group(name);
        group.throughput(Throughput::Elements(1));
        group.bench_function("estimate", |b| {
            b.iter(|| estimate(black_box(&text), black_box(&options)))
        });
        group.bench_function("encode", |b| {
            b.iter(|| encode(black_box(&text), black_box(&options)))
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
