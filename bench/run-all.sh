#!/usr/bin/env bash
# Reruns every figure of the README's "Benchmarks" and "Chaos" tables, one after the other,
# and keeps the output in bench/results-<date>.log. Takes about 20 minutes on 2 cores.
#
#   bench/run-all.sh            # everything
#   RUNS=1 bench/run-all.sh     # one run of each repeated benchmark instead of three
#
# Every command starts its own private redis-server (UNDERWRITE_REDIS_URL points at a port
# where nothing listens), so a Redis you run yourself is never touched. The BullMQ
# comparison needs Node.js and npm; it is skipped without them.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-3}
LOG="bench/results-$(date -u +%Y-%m-%d).log"
BIN=./target/release/underwrite
export UNDERWRITE_REDIS_URL=redis://127.0.0.1:1/

cargo build --release
{
  echo "# $(date -u +%FT%TZ) on $(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
  echo "# $(redis-server --version)"
} | tee "$LOG"

run() {
  echo "\$ underwrite $*" | tee -a "$LOG"
  "$BIN" "$@" 2>&1 | tee -a "$LOG" || echo "# FAILED: underwrite $*" | tee -a "$LOG"
}

for _ in $(seq "$RUNS"); do run bench noop --jobs 100000 --concurrency 64; done
if command -v node >/dev/null && command -v npm >/dev/null; then
  port=6390
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes >/dev/null
  (cd bench/bullmq && npm install --silent)
  for _ in $(seq "$RUNS"); do
    echo "\$ node bench/bullmq/noop.mjs --jobs 100000 --concurrency 64" | tee -a "$LOG"
    REDIS_URL="redis://127.0.0.1:$port/" node bench/bullmq/noop.mjs --jobs 100000 --concurrency 64 2>&1 | tee -a "$LOG"
  done
  redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
fi
run bench latency
run bench backlog
for _ in $(seq "$RUNS"); do run bench e2e --jobs 10000; done
run bench trickle --jobs 1000
run bench webhooks --jobs 10000
run bench retention --jobs 100000

run chaos kill --jobs 10000
run chaos redis-restart --jobs 10000
run chaos vendor-faults --jobs 10000
run chaos receiver-down --jobs 5000 --down-secs 120
run chaos poison --jobs 10000
echo "# kept in $LOG"
