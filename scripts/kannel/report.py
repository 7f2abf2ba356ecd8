#!/usr/bin/env python3
"""Summary of scripts/kannel-compare.sh: prints both figures and the ratio, and with
WRITE_DOCS=1 replaces the dated block between the markers below in docs/benchmarks.md (the
"Kannel comparison" section, appended at the end of the file when it is missing).

Input comes from the environment the shell script exports (JSON results of the generator and
of `tuma bench gateway`)."""

import json
import os
import sys

BEGIN = "<!-- kannel-compare:begin (written by scripts/kannel-compare.sh --write-docs) -->"
END = "<!-- kannel-compare:end -->"
DOCS = "docs/benchmarks.md"


def parse(raw, what):
    """`raw` as JSON, or None (empty, or not JSON: then a warning naming `what`)."""
    raw = raw.strip()
    if not raw:
        return None
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        print(f"warning: {what} is not JSON: {raw[:200]}", file=sys.stderr)
        return None


def load(name):
    return parse(os.environ.get(name, ""), name)


def load_file(path):
    try:
        with open(path, encoding="utf-8") as f:
            return parse(f.read(), path)
    except OSError:
        return None


def median(values):
    v = sorted(values)
    mid = len(v) // 2
    return v[mid] if len(v) % 2 else (v[mid - 1] + v[mid]) / 2


def rounds_lines(env):
    """With --rounds R > 1: one row per round (Kannel, then tuma's batch mode a minute
    later) and the median ratio. Returns (lines, median ratio or None)."""
    rounds = int(env.get("ROUNDS", "1"))
    work = env.get("WORK", "")
    if rounds < 2 or not work:
        return [], None
    lines = [
        "",
        f"Rounds (Kannel, then tuma `--mode batch`, alternating; the table above is the last "
        f"round's Kannel run):",
        "",
        "| round | Kannel submitted/s | Kannel DLR callbacks/s | tuma batch delivered/s "
        "| ratio (over submitted) | like for like (over DLR callbacks) |",
        "|---|---|---|---|---|---|",
    ]
    strict, like = [], []
    for i in range(1, rounds + 1):
        k = load_file(os.path.join(work, f"round-{i}-kannel.json"))
        t = load_file(os.path.join(work, f"round-{i}-tuma-batch.json"))
        ks = k.get("submitted_per_s") if k else None
        kd = k.get("dlr_callbacks_per_s") if k else None
        td = t.get("delivered_per_s") if t else None
        r = td / ks if td and ks else None
        rl = td / kd if td and kd else None
        if r is not None:
            strict.append(r)
        if rl is not None:
            like.append(rl)
        lines.append(
            f"| {i} | {fmt(ks)} | {fmt(kd)} | {fmt(td)} "
            f"| {f'{r:.1f}x' if r is not None else 'missing'} "
            f"| {f'{rl:.1f}x' if rl is not None else 'missing'} |"
        )
    lines.append("")
    if not strict:
        lines.append("- Median ratio: missing (no round has both figures)")
        return lines, None
    m = median(strict)
    at_goal = sum(1 for r in strict if r >= 10)
    lines.append(
        f"- **Median ratio over {len(strict)} round{'s' if len(strict) != 1 else ''}, tuma `--mode batch` delivered/s over "
        f"Kannel submitted/s: {m:.1f}x** (goal >= 10x; {min(strict):.1f}-{max(strict):.1f}x, "
        f"{at_goal} of {len(strict)} rounds at or above 10x)"
    )
    if like:
        lines.append(
            f"- Median like for like (over Kannel's DLR callbacks): {median(like):.1f}x "
            f"({min(like):.1f}-{max(like):.1f}x)"
        )
    if len(strict) < rounds:
        lines.append(f"- {rounds - len(strict)} round(s) missing a figure")
    return lines, m


def fmt(v):
    if v is None:
        return "missing"
    return f"{v:,.0f}"


def main():
    env = os.environ
    kannel = load("KANNEL_JSON")
    selftest = load("SELFTEST_JSON")
    single = load("TUMA_SINGLE_JSON")
    batch = load("TUMA_BATCH_JSON")
    n, c, w = env["MESSAGES"], env["CONCURRENCY"], env["WINDOW"]
    recipients = int(env.get("KANNEL_RECIPIENTS") or 1)
    per_request = (
        "1 message per request" if recipients == 1 else f"{recipients} recipients per request"
    )

    k_sub = kannel.get("submitted_per_s") if kannel else None
    k_dlr = kannel.get("dlr_callbacks_per_s") if kannel else None

    def ratio(t, k=None):
        k = k_sub if k is None else k
        d = t.get("delivered_per_s") if t else None
        if d is None or not k:
            return None
        return d / k

    lines = []
    lines.append(
        f"- {n} messages, {c} connections, SMPP window {w} (Kannel's `max-pending-submits`, "
        f"tuma's `--window`), receipts on (`dlr-mask=3`, registered_delivery 1)."
    )
    lines.append(
        f"- Machine: {os.cpu_count()} cores ({env.get('CPU_MODEL', '?')}), load average "
        f"{env['LOAD_BEFORE']} before, {env['LOAD_AFTER']} after; Kannel "
        f"{env.get('KANNEL_VERSION', '?')}."
    )
    if selftest:
        lines.append(
            f"- Load generator alone (trivial endpoint: the simulator's `/v1/stats`): "
            f"{fmt(selftest['requests_per_s'])} requests/s, "
            f"{selftest['generator_cpu_us_per_request']} µs CPU per request"
            f"{' (uvloop)' if selftest.get('uvloop') else ''}."
        )
    lines.append("")
    lines.append(
        "| system | accepted/s | submitted to the SMSC/s | receipts back/s | fully delivered/s "
        "| CPU per message |"
    )
    lines.append("|---|---|---|---|---|---|")
    if kannel:
        cpu = env.get("KANNEL_CPU_US") or "?"
        lines.append(
            f"| Kannel, sendsms ({per_request}) | {fmt(kannel.get('accepted_per_s'))} "
            f"| {fmt(kannel.get('submitted_per_s'))} | {fmt(kannel.get('receipts_sent_per_s'))} "
            f"| {fmt(kannel.get('dlr_callbacks_per_s'))} (DLR callbacks) "
            f"| {cpu} µs (bearerbox + smsbox) |"
        )
    else:
        lines.append("| Kannel | missing | missing | missing | missing | - |")
    for name, t in (("single", single), ("batch", batch)):
        if t:
            cpu = t.get("cpu_seconds")
            msgs = t.get("messages") or t.get("accepted")
            cpu_text = (
                f"{cpu / msgs * 1e6:.0f} µs (generator + gateway + simulator)"
                if cpu is not None and msgs
                else "-"
            )
            lines.append(
                f"| tuma, `--mode {name}` | {fmt(t.get('accepted_per_s'))} "
                f"| {fmt(t.get('submitted_per_s'))} | - | {fmt(t.get('delivered_per_s'))} "
                f"(receipt matched and stored) | {cpu_text} |"
            )
        else:
            lines.append(f"| tuma, `--mode {name}` | missing | missing | - | missing | - |")
    lines.append("")
    last = " (last round)" if int(env.get("ROUNDS", "1")) > 1 else ""
    for name, t in (("single", single), ("batch", batch)):
        r = ratio(t)
        lines.append(
            f"- Ratio{last}, tuma `--mode {name}` delivered/s over Kannel submitted/s: "
            + (f"**{r:.1f}x** (goal >= 10x)" if r is not None else "missing (a figure is missing)")
        )
    # Like for like: a receipt matched and reported on both sides. The ratio above is the
    # stricter one (Kannel's submit rate is above its delivered rate); both are printed.
    for name, t in (("single", single), ("batch", batch)):
        r = ratio(t, k_dlr)
        if r is not None:
            lines.append(
                f"- Like for like, tuma `--mode {name}` delivered/s over Kannel fully "
                f"delivered/s (DLR callbacks): {r:.1f}x"
            )
    if kannel:
        lines.append("")
        lines.append(
            f"Kannel details: {kannel['accepted']} of {kannel['messages']} messages accepted "
            f"in {kannel.get('requests_accepted', kannel['accepted'])} requests "
            f"({', '.join(f'{v} x {k!r}' for k, v in kannel['accepted_bodies'].items())}); "
            f"errors {kannel['errors'] or 'none'}; simulator accepted {kannel['sim_accepted']} "
            f"submit_sm (rejected {kannel['sim_rejected']}, throttled {kannel['sim_throttled']}), "
            f"sent {kannel['sim_receipts_sent']} receipts; Kannel made {kannel['dlr_callbacks']} "
            f"DLR callbacks {kannel['dlr_by_type']}. sendsms latency p50 "
            f"{kannel['latency_ms_p50']} ms, p99 {kannel['latency_ms_p99']} ms. Seconds from the "
            f"first request: last answer {kannel['seconds_push']}, last submit_sm "
            f"{kannel['seconds_submitted']}, last receipt {kannel['seconds_receipts']}, last DLR "
            f"callback {kannel['seconds_dlr']}. CPU during the run: {env.get('KANNEL_CPU') or '?'}, "
            f"generator {kannel['generator_cpu_s']} s."
        )
    extra, _ = rounds_lines(env)
    lines.extend(extra)
    lines.append("")
    lines.append(f"Command: `{env['COMMAND']}`")
    text = "\n".join(lines)
    print()
    print(text)

    complete = bool(kannel) and kannel.get("submitted_per_s") is not None
    if env.get("WRITE_DOCS") == "1":
        if complete:
            write_docs(env["STARTED"], text)
            print(f"\n(written to {DOCS})")
        else:
            # Never replace recorded Kannel figures with a block that has none.
            print(f"\n(not written to {DOCS}: no complete Kannel figures in this run)")
    # Exit status: the Kannel half must have produced complete figures when it ran; a
    # missing tuma figure is only reported (its benchmark command may not exist yet).
    if env.get("RUN_KANNEL") == "1":
        if not complete:
            print("error: the Kannel half produced no complete result", file=sys.stderr)
            return 1
    return 0


def write_docs(started, text):
    with open(DOCS, encoding="utf-8") as f:
        doc = f.read()
    block = f"{BEGIN}\n### Latest run ({started})\n\n{text}\n{END}"
    if BEGIN in doc and END in doc:
        head, rest = doc.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        doc = head + block + tail
    else:
        if "## Kannel comparison" not in doc:
            doc = doc.rstrip("\n") + "\n\n## Kannel comparison\n"
        doc = doc.rstrip("\n") + "\n\n" + block + "\n"
    with open(DOCS, "w", encoding="utf-8") as f:
        f.write(doc)


if __name__ == "__main__":
    sys.exit(main())
