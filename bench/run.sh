#!/usr/bin/env bash
# Measures truce side by side with etcd, PostgreSQL (the hand-written
# version-column pattern), truce on PostgreSQL with 1, 2 and 3 nodes, and a
# no-op net/http handler, in one run on this machine, and regenerates
# docs/benchmarks.md and its charts.
#
#   bench/run.sh                      # the full comparison: 3 rounds, about 25 minutes
#   bench/run.sh -duration 5s         # any peerbench flag: see -help
#   bench/run.sh -systems truce,etcd,postgres,noop   # without truce on PostgreSQL (about 12 minutes)
#   bench/run.sh -rounds 1            # one round: figures from one machine state only
#
# The systems take turns within each round (A B C, A B C, A B C), so each
# ratio in the report is the median of the rounds' ratios, with its range.
#
# It installs what is missing from Debian's packages (etcd-server,
# postgresql), builds truce from this repository, starts every server in a
# temporary directory on loopback with durable settings, and stops all of
# them when it ends, fails or is interrupted.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi

install() {
	echo "installing $* from Debian's packages" >&2
	$sudo apt-get install -y "$@" >/dev/null 2>&1 || { $sudo apt-get update >/dev/null && $sudo apt-get install -y "$@" >/dev/null; }
}

command -v etcd >/dev/null || install etcd-server
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$pgbin" ] || [ ! -x "$pgbin/postgres" ]; then
	install postgresql
	pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/truce-bench.XXXXXX")
chmod 755 "$tmp" # PostgreSQL runs as the postgres user when this is root
pid=""
cleanup() {
	status=$?
	trap - EXIT INT TERM
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		# peerbench stops every server it started on SIGTERM.
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
		kill -KILL "$pid" 2>/dev/null || true
	fi
	# Servers that peerbench could not stop (it was killed): their process
	# groups, as it recorded them.
	if [ -f "$tmp/pids" ]; then
		while read -r pg; do
			kill -0 -- "-$pg" 2>/dev/null && kill -TERM -- "-$pg" 2>/dev/null || true
		done < "$tmp/pids"
		sleep 2
		while read -r pg; do kill -0 -- "-$pg" 2>/dev/null && kill -KILL -- "-$pg" 2>/dev/null || true; done < "$tmp/pids"
	fi
	rm -rf "$tmp"
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "building truce and peerbench" >&2
(cd "$repo" && go build -o "$tmp/truce" ./cmd/truce)
(cd "$here" && go build -o "$tmp/peerbench" ./peerbench)

echo "load before: $(uptime)" >&2
"$tmp/peerbench" -truce "$tmp/truce" -etcd "$(command -v etcd)" -pg-bin "$pgbin" \
	-workdir "$tmp/data" -pidfile "$tmp/pids" -out "$repo/docs" -command "bench/run.sh $*" "$@" &
pid=$!
wait "$pid"
pid=""
echo "load after: $(uptime)" >&2
