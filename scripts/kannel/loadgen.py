#!/usr/bin/env python3
"""Load generator for the Kannel comparison (scripts/kannel-compare.sh).

Standard library only (uses uvloop when it is importable). HTTP/1.1 over keep-alive
connections written by hand on asyncio streams: aiohttp's client, measured on this 2-core
machine, spends 64-85 us of CPU per request (7,600-11,200 requests/s), which would take
much of the CPU Kannel needs and come close to being the limit; this client spends 8-21 us.

  loadgen.py kannel   push N sendsms requests through C connections, then watch the
                      simulator's /v1/stats until every message reached it (submit_sm) and
                      every receipt went back (deliver_sm), and count Kannel's DLR callbacks
                      on a small HTTP server of our own (the dlr-url).
  loadgen.py selftest the same client against a trivial endpoint (the simulator's /v1/stats,
                      served by axum): the generator's own ceiling.

Both print a final line `RESULT <json>`.
"""

import argparse
import asyncio
import json
import resource
import sys
import time
import urllib.parse

try:  # optional: about 1.5-2x more requests per CPU-second
    import uvloop  # type: ignore
except ImportError:  # pragma: no cover - depends on the venv
    uvloop = None


def cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def split_hostport(s):
    host, _, port = s.rpartition(":")
    if not host or not port.isdigit():
        raise SystemExit(f"error: expected HOST:PORT, got {s!r}")
    return host, int(port)


def content_length(head):
    # Header names are case-insensitive; Kannel writes "Content-Length", axum "content-length".
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    return None


def wants_close(head):
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"connection" and value.strip().lower() == b"close":
            return True
    return head.startswith(b"HTTP/1.0")


class Counters:
    def __init__(self, total):
        self.total = total
        self.next = 0
        self.ok = 0
        self.other = {}  # "status body" -> count, for anything but 2xx
        self.bodies = {}  # 2xx body -> count ("0: Accepted for delivery", "3: Queued ...")
        self.latencies = []
        self.reconnects = 0


async def http_get(host, port, path):
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()
        )
        data = await reader.read(-1)
    finally:
        writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head[9:12])
    return status, body


async def worker(host, port, requests, c, record_latency):
    reader = writer = None
    n_req = len(requests)
    clock = time.perf_counter
    while True:
        i = c.next
        if i >= c.total:
            break
        c.next = i + 1
        if writer is None:
            reader, writer = await asyncio.open_connection(host, port)
        started = clock()
        try:
            writer.write(requests[i % n_req])
            head = await reader.readuntil(b"\r\n\r\n")
            length = content_length(head)
            if length is None:
                body = await reader.read(-1)  # no length: the body ends with the connection
                close = True
            else:
                body = await reader.readexactly(length) if length else b""
                close = wants_close(head)
        except (asyncio.IncompleteReadError, ConnectionError) as e:
            # The connection died under the request: count it as an error, reconnect.
            c.other[f"connection error: {e.__class__.__name__}"] = (
                c.other.get(f"connection error: {e.__class__.__name__}", 0) + 1
            )
            writer.close()
            writer = None
            c.reconnects += 1
            continue
        if record_latency:
            c.latencies.append(clock() - started)
        status = head[9:12]
        if status[:1] == b"2":
            c.ok += 1
            key = body[:40].decode("latin-1").strip()
            c.bodies[key] = c.bodies.get(key, 0) + 1
        else:
            key = f"{status.decode()} {body[:60].decode('latin-1').strip()}"
            c.other[key] = c.other.get(key, 0) + 1
        if close:
            writer.close()
            writer = None
            c.reconnects += 1
    if writer is not None:
        writer.close()


def percentile(sorted_values, q):
    if not sorted_values:
        return None
    k = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[k]


async def push(host, port, requests, total, concurrency, record_latency=True, timeout=None):
    c = Counters(total)
    tasks = [
        asyncio.create_task(worker(host, port, requests, c, record_latency))
        for _ in range(concurrency)
    ]
    # One deadline for the whole push rather than one per request (asyncio.wait_for per
    # request would cost more CPU than the request itself): a server that stops answering
    # ends the run with the requests still open counted as errors.
    done, pending = await asyncio.wait(tasks, timeout=timeout)
    for t in pending:
        t.cancel()
    if pending:
        await asyncio.gather(*pending, return_exceptions=True)
        c.other["no answer before the push deadline"] = len(pending)  # one in flight each
        c.other["not sent before the push deadline"] = max(0, c.total - c.next)
        print(f"loadgen: push deadline of {timeout}s reached", file=sys.stderr)
    for t in done:
        t.result()  # a worker's unexpected exception ends the run loudly
    return c


# ---------------------------------------------------------------------------------------
# DLR receiver: Kannel's smsbox calls the dlr-url once per final receipt.


class DlrReceiver:
    def __init__(self):
        self.count = 0
        self.by_status = {}
        self.first = None
        self.last = None
        self.writers = set()

    def close_all(self):
        for w in list(self.writers):
            w.close()

    async def handle(self, reader, writer):
        self.writers.add(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = content_length(head)
                if length:
                    await reader.readexactly(length)
                line = head.split(b"\r\n", 1)[0]
                # GET /dlr?type=%d HTTP/1.1 : the status Kannel substituted for %d.
                _, _, query = line.split(b" ")[1].partition(b"?")
                kind = urllib.parse.parse_qs(query.decode()).get("type", ["?"])[0]
                now = time.perf_counter()
                if self.first is None:
                    self.first = now
                self.last = now
                self.count += 1
                self.by_status[kind] = self.by_status.get(kind, 0) + 1
                close = wants_close(head)
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n"
                    + (b"Connection: close\r\n" if close else b"")
                    + b"\r\n"
                )
                if close:
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            # Kannel closed its keep-alive connection, or we are stopping.
            pass
        finally:
            self.writers.discard(writer)
            writer.close()


# ---------------------------------------------------------------------------------------


async def sim_stats(sim_host, sim_port):
    status, body = await http_get(sim_host, sim_port, "/v1/stats")
    if status != 200:
        raise RuntimeError(f"simulator /v1/stats answered {status}")
    return json.loads(body)


async def run_kannel(args):
    sendsms_host, sendsms_port = split_hostport(args.sendsms)
    sim_host, sim_port = split_hostport(args.sim_http)
    dlr_host, dlr_port = split_hostport(args.dlr_listen)

    dlr = DlrReceiver()
    server = await asyncio.start_server(dlr.handle, dlr_host, dlr_port, backlog=1024)
    dlr_port = server.sockets[0].getsockname()[1]
    dlr_url = f"http://{dlr_host}:{dlr_port}/dlr?type=%d"

    # Requests to the destinations 254700000100..199 (the simulator's deliver-at-once
    # range), built before the clock starts. With --recipients K each request names K of
    # them, space-separated (Kannel's sendsms splits `to` into one message per number), and
    # N / K requests carry the N messages.
    per = args.recipients
    if per < 1 or per > 100 or args.messages % per:
        raise SystemExit("loadgen: --recipients must be 1..100 and divide --messages")
    requests = []
    for k in range(100):
        to = " ".join(f"2547000001{(k + j) % 100:02d}" for j in range(per))
        query = urllib.parse.urlencode(
            {
                "username": args.user,
                "password": args.password,
                "from": args.sender,
                "to": to,
                "text": args.text,
                "dlr-mask": str(args.dlr_mask),
                "dlr-url": dlr_url,
            }
        )
        requests.append(
            f"GET {args.path}?{query} HTTP/1.1\r\nHost: {sendsms_host}\r\n\r\n".encode()
        )

    base = await sim_stats(sim_host, sim_port)
    wants_receipts = args.dlr_mask & 3 != 0
    marks = {}
    stop_polling = asyncio.Event()
    target = {"n": args.messages}  # lowered to the accepted count once pushing ends

    async def poll():
        last_progress = time.perf_counter()
        last_seen = None
        while not stop_polling.is_set():
            s = await sim_stats(sim_host, sim_port)
            now = time.perf_counter()
            sub = s["accepted"] - base["accepted"]
            rec = s["receipts_sent"] - base["receipts_sent"]
            n = target["n"]
            if "submitted" not in marks and n and sub >= n:
                marks["submitted"] = now
            if "receipts" not in marks and n and rec >= n:
                marks["receipts"] = now
            if "dlr" not in marks and n and dlr.count >= n:
                marks["dlr"] = dlr.last
            seen = (sub, rec, dlr.count)
            if seen != last_seen:
                last_seen = seen
                last_progress = now
                marks["stats"] = s
            done = "pushed" in marks and "submitted" in marks
            if wants_receipts:
                done = done and "receipts" in marks and "dlr" in marks
            if done:
                return
            if "pushed" in marks and now - last_progress > args.stall:
                print(
                    f"loadgen: no progress for {args.stall}s (simulator accepted {sub}, "
                    f"receipts sent {rec}, DLR callbacks {dlr.count}, target {n}); giving up",
                    file=sys.stderr,
                )
                return
            await asyncio.sleep(args.poll)

    cpu0 = cpu_seconds()
    t0 = time.perf_counter()
    poller = asyncio.create_task(poll())
    push_timeout = args.push_timeout or 120 + args.messages / 500
    c = await push(
        sendsms_host,
        sendsms_port,
        requests,
        args.messages // per,
        args.concurrency,
        timeout=push_timeout,
    )
    marks["pushed"] = time.perf_counter()
    accepted = c.ok * per  # messages in the requests Kannel accepted
    target["n"] = accepted
    await poller
    cpu1 = cpu_seconds()
    # The counts below are final: every DLR callback awaited has come; stop serving.
    final = await sim_stats(sim_host, sim_port)
    server.close()
    dlr.close_all()
    await asyncio.sleep(0)

    def rate(mark):
        if mark not in marks or accepted == 0:
            return None
        return round(accepted / (marks[mark] - t0), 1)

    lat = sorted(c.latencies)
    result = {
        "messages": args.messages,
        "concurrency": args.concurrency,
        "recipients_per_request": per,
        "requests_accepted": c.ok,
        "accepted": accepted,
        "accepted_bodies": c.bodies,
        "errors": c.other,
        "accepted_per_s": round(accepted / (marks["pushed"] - t0), 1) if accepted else None,
        "submitted_per_s": rate("submitted"),
        "receipts_sent_per_s": rate("receipts"),
        "dlr_callbacks_per_s": rate("dlr"),
        "seconds_push": round(marks["pushed"] - t0, 3),
        "seconds_submitted": round(marks["submitted"] - t0, 3) if "submitted" in marks else None,
        "seconds_receipts": round(marks["receipts"] - t0, 3) if "receipts" in marks else None,
        "seconds_dlr": round(marks["dlr"] - t0, 3) if "dlr" in marks else None,
        "sim_accepted": final["accepted"] - base["accepted"],
        "sim_submit_sm": final["submit_sm"] - base["submit_sm"],
        "sim_rejected": final["rejected"] - base["rejected"],
        "sim_throttled": final["throttled"] - base["throttled"],
        "sim_delivered": final["delivered"] - base["delivered"],
        "sim_receipts_sent": final["receipts_sent"] - base["receipts_sent"],
        "sim_outbound_pending": final["outbound_pending"],
        "dlr_callbacks": dlr.count,
        "dlr_by_type": dlr.by_status,
        "latency_ms_p50": round(percentile(lat, 0.5) * 1000, 2) if lat else None,
        "latency_ms_p99": round(percentile(lat, 0.99) * 1000, 2) if lat else None,
        "reconnects": c.reconnects,
        "generator_cpu_s": round(cpu1 - cpu0, 2),
        "uvloop": uvloop is not None,
    }
    print("RESULT " + json.dumps(result, sort_keys=True), flush=True)
    return 0 if accepted == args.messages and "submitted" in marks else 1


async def run_selftest(args):
    host, port = split_hostport(args.target)
    request = f"GET {args.path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    cpu0 = cpu_seconds()
    t0 = time.perf_counter()
    c = await push(host, port, [request], args.messages, args.concurrency, record_latency=False)
    elapsed = time.perf_counter() - t0
    cpu = cpu_seconds() - cpu0
    result = {
        "messages": args.messages,
        "concurrency": args.concurrency,
        "ok": c.ok,
        "errors": c.other,
        "requests_per_s": round(c.ok / elapsed, 1),
        "generator_cpu_s": round(cpu, 2),
        "generator_cpu_us_per_request": round(cpu / max(c.ok, 1) * 1e6, 1),
        "uvloop": uvloop is not None,
    }
    print("RESULT " + json.dumps(result, sort_keys=True), flush=True)
    return 0 if c.ok == args.messages else 1


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)

    k = sub.add_parser("kannel", help="push sendsms requests through Kannel and measure")
    k.add_argument("--sendsms", required=True, help="smsbox sendsms HOST:PORT")
    k.add_argument("--path", default="/cgi-bin/sendsms")
    k.add_argument("--user", required=True)
    k.add_argument("--password", required=True)
    k.add_argument("--sender", default="ACME")
    k.add_argument(
        "--text", default="Your code is 482913. It expires in 10 minutes. Do not share."
    )
    k.add_argument("--dlr-mask", type=int, default=3)
    k.add_argument("--sim-http", required=True, help="simulator HTTP API HOST:PORT")
    k.add_argument("--dlr-listen", default="127.0.0.1:0", help="DLR receiver HOST:PORT")
    k.add_argument("--messages", type=int, default=20000)
    k.add_argument("--concurrency", type=int, default=32)
    k.add_argument(
        "--recipients", type=int, default=1, help="destinations per sendsms request (1..100)"
    )
    k.add_argument("--poll", type=float, default=0.02, help="stats poll interval, seconds")
    k.add_argument("--stall", type=float, default=30.0, help="give up after this long without progress")
    k.add_argument(
        "--push-timeout", type=float, default=0, help="seconds for all requests (0: 120 + N/500)"
    )

    s = sub.add_parser("selftest", help="the generator alone against a trivial endpoint")
    s.add_argument("--target", required=True, help="HOST:PORT")
    s.add_argument("--path", default="/v1/stats")
    s.add_argument("--messages", type=int, default=100000)
    s.add_argument("--concurrency", type=int, default=32)

    args = p.parse_args()
    if getattr(args, "messages", 1) < 1 or getattr(args, "concurrency", 1) < 1:
        raise SystemExit("error: --messages and --concurrency must be at least 1")
    run = run_kannel if args.cmd == "kannel" else run_selftest
    if uvloop is not None:
        return uvloop.run(run(args)) if hasattr(uvloop, "run") else _run_uvloop(run(args))
    return asyncio.run(run(args))


def _run_uvloop(coro):
    uvloop.install()
    return asyncio.run(coro)


if __name__ == "__main__":
    sys.exit(main())
