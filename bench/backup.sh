#!/usr/bin/env bash
# Measures truce backup on a server holding DOCS documents of 1 KiB
# (default 100,000): how long one backup takes on an idle server, and the
# update throughput of the live server without a backup and while backups
# run back to back (truce bench --workload update, CLIENTS clients, for
# DURATION each).
#
#   bench/backup.sh                 # 100000 documents, 16 clients, 20s
#   bench/backup.sh 20000 8 10s     # DOCS CLIENTS DURATION
#
# It builds truce from this repository, serves a data directory in a
# temporary directory on loopback, writes the backups next to it (the
# same file system: tables are hard-linked), and removes it all at the end.
set -euo pipefail

docs=${1:-100000}
clients=${2:-16}
duration=${3:-20s}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/truce-backup-bench.XXXXXX")
pid=""
cleanup() {
	if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

(cd "$repo" && go build -o "$tmp/truce" ./cmd/truce)
"$tmp/truce" serve --addr 127.0.0.1:0 --data "$tmp/data" --rate-limit off 2>"$tmp/serve.log" &
pid=$!
for _ in $(seq 100); do
	addr=$(sed -n 's/.*listening addr=\([0-9.:]*\).*/\1/p' "$tmp/serve.log" | head -n 1)
	[ -n "$addr" ] && break
	sleep 0.1
done
url="http://$addr"
bench() { "$tmp/truce" bench --server "$url" --workload update --docs "$docs" --clients "$clients" --duration "$duration" --json; }
ops() { sed -n 's/.*"throughput": *\([0-9.]*\).*/\1/p' | head -n 1; }

echo "seeding $docs documents of 1 KiB and measuring updates without a backup ($clients clients, $duration)" >&2
without=$(bench | ops)
echo "one backup of the idle server" >&2
n=0
idle=$( { /usr/bin/time -f %e "$tmp/truce" backup --server "$url" --to "$tmp/backup-$n" --json >"$tmp/idle.json"; } 2>&1 | tail -n 1)
size=$(sed -n 's/.*"bytes":\([0-9]*\).*/\1/p' "$tmp/idle.json" | tail -n 1)
rm -rf "$tmp/backup-$n"

echo "measuring updates while backups run back to back" >&2
bench >"$tmp/during.json" &
bpid=$!
times=()
while kill -0 "$bpid" 2>/dev/null; do
	n=$((n + 1))
	t=$( { /usr/bin/time -f %e "$tmp/truce" backup --server "$url" --to "$tmp/backup-$n" --json >/dev/null; } 2>&1 | tail -n 1)
	times+=("$t")
	rm -rf "$tmp/backup-$n"
done
wait "$bpid"
during=$(ops <"$tmp/during.json")
echo "documents: $docs of 1 KiB; backup size: $size bytes"
echo "backup of the idle server: ${idle}s"
echo "backups under load: ${#times[@]}, seconds each: ${times[*]}"
echo "update throughput without a backup: $without ops/s"
echo "update throughput during backups:   $during ops/s"
