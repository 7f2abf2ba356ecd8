#!/usr/bin/env bash
# The Kannel comparison (issue 4, "Speed"): the same load through Kannel 1.4.5 and through
# tuma, both against tuma's SMSC simulator on loopback, receipts on.
#
#   scripts/kannel-compare.sh [--messages N] [--concurrency C] [--window W] [--rounds R]
#                             [--kannel-recipients K] [--write-docs] [--no-build]
#                             [--skip-kannel] [--skip-tuma] [--keep-work]
#   (environment: TUMA_BIN=path uses that tuma binary; with --no-build nothing is built)
#
# 1. installs Kannel from Debian's packages if missing (root) and stops its system service;
# 2. builds tuma (release) and starts `tuma smsc` on free loopback ports;
# 3. writes a Kannel config (scripts/kannel/kannel.conf.in: bearerbox + smsbox, one SMPP
#    transceiver bind with a window of W, internal DLR storage, log level warning), starts
#    bearerbox and smsbox and waits for the bind;
# 4. measures the generator alone against a trivial endpoint, then pushes N sendsms requests
#    with C connections and dlr-mask=3 to 2547000001xx (delivered at once by the simulator),
#    timing: requests accepted, messages the simulator accepted (submit_sm), receipts it sent
#    back, and Kannel's DLR callbacks (scripts/kannel/loadgen.py);
# 5. stops Kannel and the simulator, then runs `tuma bench gateway --mode single|batch`;
# 6. prints both figures and the ratio; --write-docs puts them in docs/benchmarks.md.
#
# With --rounds R (default 1), steps 3-5 run R times, Kannel and tuma's batch mode
# alternating (tuma's single mode runs once, in the first round): each round's ratio is
# Kannel and tuma measured a minute apart, and the headline is the median of the rounds, so
# that one slow minute of a shared host on either side does not make the figure.
#
# With --kannel-recipients K (default 1), each sendsms request names K destinations
# (space-separated `to`, which Kannel splits into one message per number): Kannel's own way
# of taking many messages per request, set against tuma's batch mode.
#
# Every process started here is stopped by PID on exit (trap), whatever the exit path.
set -euo pipefail

MESSAGES=20000
CONCURRENCY=32
WINDOW=64
WRITE_DOCS=0
ROUNDS=1
KANNEL_RECIPIENTS=1
BUILD=1
RUN_KANNEL=1
RUN_TUMA=1
KEEP_WORK=0
SELFTEST_MESSAGES=100000

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }

while [ $# -gt 0 ]; do
    case "$1" in
        --messages) MESSAGES="${2:?--messages needs a number}"; shift 2 ;;
        --concurrency) CONCURRENCY="${2:?--concurrency needs a number}"; shift 2 ;;
        --window) WINDOW="${2:?--window needs a number}"; shift 2 ;;
        --rounds) ROUNDS="${2:?--rounds needs a number}"; shift 2 ;;
        --kannel-recipients) KANNEL_RECIPIENTS="${2:?--kannel-recipients needs a number}"; shift 2 ;;
        --write-docs) WRITE_DOCS=1; shift ;;
        --no-build) BUILD=0; shift ;;
        --skip-kannel) RUN_KANNEL=0; shift ;;
        --skip-tuma) RUN_TUMA=0; shift ;;
        --keep-work) KEEP_WORK=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "error: unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done
for v in MESSAGES CONCURRENCY WINDOW ROUNDS KANNEL_RECIPIENTS; do
    if ! [[ "${!v}" =~ ^[1-9][0-9]*$ ]]; then
        echo "error: --$(echo "$v" | tr 'A-Z_' 'a-z-') must be a positive integer, got '${!v}'" >&2
        exit 2
    fi
done
if [ "$KANNEL_RECIPIENTS" -gt 100 ] || [ $((MESSAGES % KANNEL_RECIPIENTS)) -ne 0 ]; then
    echo "error: --kannel-recipients must be at most 100 and divide --messages ($MESSAGES)" >&2
    exit 2
fi

# Work from the repository root whatever the current directory.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# TUMA_BIN: another tuma binary (with --no-build), e.g. one built from an older commit.
TUMA="${TUMA_BIN:-$ROOT/target/release/tuma}"
TMPBASE="${TMPDIR:-/tmp}"
WORK="$(mktemp -d "$TMPBASE/tuma-kannel.XXXXXX")"
VENV="$TMPBASE/tuma-kannel-venv"

log() { printf '[kannel-compare %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

# --- cleanup: every PID we started, by PID ---------------------------------------------
PIDS=()
stop_pid() {
    local pid="$1" i
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    # bearerbox shuts down in a few seconds (it waits for its boxes); then insist.
    for i in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "PID $pid did not stop after SIGTERM; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}
stop_all() {
    local i
    # Newest first: smsbox before bearerbox before the simulator.
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
        stop_pid "${PIDS[$i]}"
    done
    PIDS=()
}
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_all
    if [ "$KEEP_WORK" = 1 ] || [ "$rc" != 0 ]; then
        log "logs and config kept in $WORK"
    else
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- helpers ----------------------------------------------------------------------------
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
# Fresh ports, all distinct (the kernel could hand out the same one twice once each
# probe socket is closed).
PORTS_TAKEN=" "
pick_port() {
    local p
    while :; do
        p="$(free_port)"
        case "$PORTS_TAKEN" in *" $p "*) continue ;; esac
        PORTS_TAKEN="$PORTS_TAKEN$p "
        echo "$p"
        return
    done
}
wait_tcp() { # host port seconds
    python3 - "$1" "$2" "$3" <<'EOF'
import socket, sys, time
host, port, limit = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
end = time.time() + limit
while time.time() < end:
    try:
        socket.create_connection((host, port), timeout=1).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.1)
sys.exit(1)
EOF
}
sim_stat() { # field
    python3 -c 'import json,sys,urllib.request; print(json.load(urllib.request.urlopen(sys.argv[1]))[sys.argv[2]])' \
        "http://127.0.0.1:$SIM_HTTP/v1/stats" "$1"
}
proc_cpu() { # pid -> CPU seconds (user + system)
    awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$1/stat" 2>/dev/null || echo 0
}
json_field() { # json field
    python3 -c 'import json,sys; v=json.loads(sys.argv[1]).get(sys.argv[2]); print("" if v is None else v)' "$1" "$2"
}
run_bg() { # outfile cmd... : run in the background (so the trap can stop it), wait for it
    local out="$1" pid rc=0
    shift
    "$@" >"$out" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    wait "$pid" || rc=$?
    unset 'PIDS[${#PIDS[@]}-1]'
    return "$rc"
}
result_line() { # file -> the JSON of its last RESULT line, or nothing
    { grep '^RESULT ' "$1" || true; } | tail -n 1 | sed 's/^RESULT //'
}

# --- 1. Kannel --------------------------------------------------------------------------
install_kannel() {
    if [ -x /usr/sbin/bearerbox ] && [ -x /usr/sbin/smsbox ]; then
        return
    fi
    if [ "$(id -u)" != 0 ]; then
        echo "error: Kannel is not installed and installing it needs root (apt-get install kannel)" >&2
        exit 1
    fi
    log "installing Kannel from Debian's packages"
    DEBIAN_FRONTEND=noninteractive apt-get install -y kannel >"$WORK/apt.log" 2>&1 || {
        log "apt-get install failed; trying after apt-get update"
        apt-get update >>"$WORK/apt.log" 2>&1
        DEBIAN_FRONTEND=noninteractive apt-get install -y kannel >>"$WORK/apt.log" 2>&1
    }
    # The package may start (and enable) its own bearerbox service; we run our own instance
    # on other ports, and leave no system service running behind us.
    if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
        systemctl disable --now kannel >/dev/null 2>&1 || true
    elif [ -x /etc/init.d/kannel ] && ls /var/run/kannel/*.pid >/dev/null 2>&1; then
        /etc/init.d/kannel stop >/dev/null 2>&1 || true
    fi
}

# --- the load generator (Python, standard library; uvloop in a venv when pip works) -----
setup_python() {
    PY=python3
    if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import uvloop' 2>/dev/null; then
        PY="$VENV/bin/python"
        return
    fi
    log "creating $VENV (uvloop for the load generator)"
    if python3 -m venv "$VENV" >>"$WORK/venv.log" 2>&1 &&
        "$VENV/bin/pip" install -q uvloop >>"$WORK/venv.log" 2>&1; then
        PY="$VENV/bin/python"
    else
        log "no uvloop (see $WORK/venv.log): the generator runs on the standard asyncio loop"
    fi
}

start_sim() {
    SIM_SMPP="$(pick_port)"
    SIM_HTTP="$(pick_port)"
    RUST_LOG=warn "$TUMA" smsc --listen "127.0.0.1:$SIM_SMPP" --http "127.0.0.1:$SIM_HTTP" \
        >"$WORK/sim.log" 2>&1 &
    SIM_PID=$!
    PIDS+=("$SIM_PID")
    if ! wait_tcp 127.0.0.1 "$SIM_HTTP" 20; then
        cat "$WORK/sim.log" >&2
        echo "error: the simulator did not start (log above)" >&2
        exit 1
    fi
    log "simulator PID $SIM_PID: SMPP 127.0.0.1:$SIM_SMPP, HTTP 127.0.0.1:$SIM_HTTP"
}

KANNEL_JSON=""
SELFTEST_JSON=""
KANNEL_CPU=""
KANNEL_CPU_US=""
run_kannel() {
    install_kannel
    setup_python
    start_sim

    # The generator's own ceiling, against a trivial endpoint (the simulator's /v1/stats).
    log "generator alone: $SELFTEST_MESSAGES requests to the simulator's /v1/stats, $CONCURRENCY connections"
    run_bg "$WORK/selftest.out" "$PY" scripts/kannel/loadgen.py selftest \
        --target "127.0.0.1:$SIM_HTTP" --messages "$SELFTEST_MESSAGES" \
        --concurrency "$CONCURRENCY" || true
    SELFTEST_JSON="$(result_line "$WORK/selftest.out")"
    if [ -z "$SELFTEST_JSON" ]; then
        cat "$WORK/selftest.out" >&2
        log "the generator self-test failed (output above)"
    else
        log "generator alone: $(json_field "$SELFTEST_JSON" requests_per_s) requests/s"
    fi

    ADMIN_PORT="$(pick_port)"
    SMSBOX_PORT="$(pick_port)"
    SENDSMS_PORT="$(pick_port)"
    ADMIN_PASSWORD="$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
    sed -e "s|@ADMIN_PORT@|$ADMIN_PORT|g" -e "s|@ADMIN_PASSWORD@|$ADMIN_PASSWORD|g" \
        -e "s|@SMSBOX_PORT@|$SMSBOX_PORT|g" -e "s|@SENDSMS_PORT@|$SENDSMS_PORT|g" \
        -e "s|@SIM_SMPP_PORT@|$SIM_SMPP|g" -e "s|@WINDOW@|$WINDOW|g" -e "s|@WORK@|$WORK|g" \
        scripts/kannel/kannel.conf.in >"$WORK/kannel.conf"

    # -v 2: warnings and up on the console too (the default, debug, prints ~100 lines per
    # message to stderr and would slow Kannel down several times).
    /usr/sbin/bearerbox -v 2 "$WORK/kannel.conf" >"$WORK/bearerbox.out" 2>&1 &
    BB_PID=$!
    PIDS+=("$BB_PID")
    if ! wait_tcp 127.0.0.1 "$SMSBOX_PORT" 20; then
        tail -n 30 "$WORK/bearerbox.out" >&2
        echo "error: bearerbox did not open its smsbox port (log above)" >&2
        exit 1
    fi
    /usr/sbin/smsbox -v 2 "$WORK/kannel.conf" >"$WORK/smsbox.out" 2>&1 &
    SB_PID=$!
    PIDS+=("$SB_PID")
    log "bearerbox PID $BB_PID, smsbox PID $SB_PID (sendsms 127.0.0.1:$SENDSMS_PORT, window $WINDOW)"

    # Ready when the simulator sees the bind and smsbox serves sendsms.
    local i bound=0
    for i in $(seq 1 300); do
        bound="$(sim_stat bound 2>/dev/null || echo 0)"
        if [ "$bound" -ge 1 ] && wait_tcp 127.0.0.1 "$SENDSMS_PORT" 0.1; then
            break
        fi
        sleep 0.1
    done
    if [ "$bound" -lt 1 ]; then
        tail -n 30 "$WORK/bearerbox.out" >&2
        echo "error: Kannel did not bind to the simulator within 30 s (bearerbox log above)" >&2
        exit 1
    fi
    # smsbox registers with bearerbox after opening its port; give the link a moment.
    sleep 1
    log "Kannel bound (simulator: $bound session(s))"

    local cpu_bb0 cpu_sb0 cpu_sim0
    cpu_bb0="$(proc_cpu "$BB_PID")"; cpu_sb0="$(proc_cpu "$SB_PID")"; cpu_sim0="$(proc_cpu "$SIM_PID")"
    log "pushing $MESSAGES messages in sendsms requests of $KANNEL_RECIPIENTS recipient(s), $CONCURRENCY connections, dlr-mask=3"
    run_bg "$WORK/kannel.out" "$PY" scripts/kannel/loadgen.py kannel \
        --sendsms "127.0.0.1:$SENDSMS_PORT" --user bench --password bench \
        --sim-http "127.0.0.1:$SIM_HTTP" --messages "$MESSAGES" \
        --recipients "$KANNEL_RECIPIENTS" --concurrency "$CONCURRENCY" --dlr-mask 3 || true
    KANNEL_CPU="$(python3 -c 'import sys; n=int(sys.argv[1]); a=[float(x) for x in sys.argv[2:]]; bb, sb, sim = a[3]-a[0], a[4]-a[1], a[5]-a[2]; print(f"{(bb+sb)/n*1e6:.0f}|bearerbox {bb:.1f} s, smsbox {sb:.1f} s, simulator {sim:.1f} s")' \
        "$MESSAGES" "$cpu_bb0" "$cpu_sb0" "$cpu_sim0" \
        "$(proc_cpu "$BB_PID")" "$(proc_cpu "$SB_PID")" "$(proc_cpu "$SIM_PID")")"
    KANNEL_CPU_US="${KANNEL_CPU%%|*}"
    KANNEL_CPU="${KANNEL_CPU#*|}"
    KANNEL_JSON="$(result_line "$WORK/kannel.out")"
    grep -v '^RESULT ' "$WORK/kannel.out" >&2 || true
    if [ -z "$KANNEL_JSON" ]; then
        log "the Kannel run gave no result (output above)"
    fi
    # Kannel's own complaints during the run (log level warning and up).
    if grep -qiE 'ERROR|PANIC' "$WORK/bearerbox.log" "$WORK/smsbox.log" 2>/dev/null; then
        log "Kannel logged errors (first lines):"
        grep -hiE 'ERROR|PANIC' "$WORK/bearerbox.log" "$WORK/smsbox.log" | head -n 10 >&2 || true
    fi
    stop_all
}

# --- 5. tuma -----------------------------------------------------------------------------
TUMA_SINGLE_JSON=""
TUMA_BATCH_JSON=""
run_tuma_mode() { # mode: writes $WORK/tuma-<mode>.out
    local mode="$1" extra=()
    # Same SMPP window as Kannel's max-pending-submits, when the command takes one.
    if "$TUMA" bench gateway --help 2>/dev/null | grep -q -- '--window'; then
        extra=(--window "$WINDOW")
    fi
    log "tuma bench gateway --messages $MESSAGES --concurrency $CONCURRENCY --mode $mode ${extra[*]}"
    if ! run_bg "$WORK/tuma-$mode.out" "$TUMA" bench gateway --messages "$MESSAGES" \
        --concurrency "$CONCURRENCY" --mode "$mode" "${extra[@]}"; then
        tail -n 5 "$WORK/tuma-$mode.out" >&2
        log "tuma bench gateway --mode $mode failed: tuma's $mode figure is missing"
    elif [ -z "$(result_line "$WORK/tuma-$mode.out")" ]; then
        tail -n 5 "$WORK/tuma-$mode.out" >&2
        log "tuma bench gateway --mode $mode printed no RESULT line: tuma's $mode figure is missing"
    fi
}

# --- main ---------------------------------------------------------------------------------
if [ "$BUILD" = 1 ]; then
    log "cargo build --release -p tuma"
    cargo build --release -p tuma >"$WORK/build.log" 2>&1 || {
        tail -n 30 "$WORK/build.log" >&2
        echo "error: cargo build --release failed (log above)" >&2
        exit 1
    }
fi
[ -x "$TUMA" ] || { echo "error: $TUMA is missing (run without --no-build)" >&2; exit 1; }

LOAD_BEFORE="$(uptime | sed 's/.*load average: //')"
STARTED="$(date -u '+%Y-%m-%d %H:%M UTC')"
for round in $(seq 1 "$ROUNDS"); do
    [ "$ROUNDS" -gt 1 ] && log "round $round of $ROUNDS"
    if [ "$RUN_KANNEL" = 1 ]; then
        run_kannel
        printf '%s\n' "$KANNEL_JSON" >"$WORK/round-$round-kannel.json"
    fi
    if [ "$RUN_TUMA" = 1 ]; then
        if [ "$round" = 1 ]; then
            run_tuma_mode single
            TUMA_SINGLE_JSON="$(result_line "$WORK/tuma-single.out")"
        fi
        run_tuma_mode batch
        TUMA_BATCH_JSON="$(result_line "$WORK/tuma-batch.out")"
        printf '%s\n' "$TUMA_BATCH_JSON" >"$WORK/round-$round-tuma-batch.json"
    fi
done
LOAD_AFTER="$(uptime | sed 's/.*load average: //')"

# --- 6. report ----------------------------------------------------------------------------
export MESSAGES CONCURRENCY WINDOW STARTED LOAD_BEFORE LOAD_AFTER KANNEL_JSON SELFTEST_JSON \
    KANNEL_CPU KANNEL_CPU_US TUMA_SINGLE_JSON TUMA_BATCH_JSON WRITE_DOCS RUN_KANNEL ROUNDS WORK \
    KANNEL_RECIPIENTS
KANNEL_VERSION="$(dpkg-query -W -f='${Version}' kannel 2>/dev/null || echo unknown)"
CPU_MODEL="$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')"
export KANNEL_VERSION CPU_MODEL
COMMAND="scripts/kannel-compare.sh --messages $MESSAGES --concurrency $CONCURRENCY --window $WINDOW"
[ "$ROUNDS" -gt 1 ] && COMMAND="$COMMAND --rounds $ROUNDS"
[ "$KANNEL_RECIPIENTS" -gt 1 ] && COMMAND="$COMMAND --kannel-recipients $KANNEL_RECIPIENTS"
export COMMAND
python3 scripts/kannel/report.py
