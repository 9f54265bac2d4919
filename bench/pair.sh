#!/usr/bin/env bash
# Compares truce builds or settings in paired, alternating runs, since this
# machine's speed drifts from one minute to the next: only runs made next
# to each other compare. Each run starts `truce serve` on a fresh data
# directory, drives it with `truce bench` (64 clients, 3 s warm-up) and
# prints throughput, latency, and the CPU per operation of the server (from
# /proc) and of the load generator.
#
#   bench/pair.sh [-rounds N] [-workload W] [-docs N] [-duration Ns] [-bench BIN] SPEC SPEC...
#
# SPEC is LABEL=BINARY, optionally followed by settings of the server, each
# after a comma: NAME=VALUE sets its environment, --flag=value passes it a
# flag, and +auth runs it with a fresh --auth-file whose one admin token the
# load generator sends (LABEL=BINARY,NAME=VALUE,--flag=value,+auth), and
# bench:--flag=value passes a flag to that run's truce bench. Builds
# that know --rate-limit run with --rate-limit off unless a flag says. The
# duration is in whole seconds (8s). Each run's load generator is the
# binary under test, unless -bench names one binary for all runs (builds
# that differ in more than the server then compare fairly). The server's
# CPU per operation includes the warm-up and the seeding of the documents,
# which with -docs 100000 is a large share of it.
#
#   go build -o /tmp/truce-old ./cmd/truce   # on the old commit
#   go build -o /tmp/truce-new ./cmd/truce   # on the new one
#   bench/pair.sh -rounds 5 old=/tmp/truce-old new=/tmp/truce-new
#   bench/pair.sh -workload read two=/tmp/truce-new,GOMAXPROCS=2 spare=/tmp/truce-new
#   bench/pair.sh off=/tmp/truce on=/tmp/truce,+auth,--rate-limit=10000000/s,--burst=20000000
#   bench/pair.sh none=/tmp/truce one=/tmp/truce,bench:--index=n three=/tmp/truce,bench:--index=n,bench:--index=_version,bench:--index=_updatedAt
set -euo pipefail

rounds=3 workload=update docs=() duration=8s gen=""
while [ $# -gt 0 ]; do
	case "$1" in
	-rounds) rounds=$2; shift 2 ;;
	-workload) workload=$2; shift 2 ;;
	-docs) docs=(--docs "$2"); shift 2 ;;
	-bench) gen=$2; shift 2 ;;
	-duration) duration=$2; shift 2 ;;
	-h | -help | --help) sed -n '2,22p' "$0"; exit 0 ;;
	-*) echo "pair.sh: unknown flag $1 (see -help)" >&2; exit 2 ;;
	*) break ;;
	esac
done
[ $# -ge 1 ] || { echo "pair.sh: give at least one LABEL=BINARY (see -help)" >&2; exit 2; }
[[ $duration =~ ^[0-9]+s$ ]] || { echo "pair.sh: -duration must be whole seconds, like 8s, not $duration" >&2; exit 2; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/truce-pair.XXXXXX")
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; } # user + system, in clock ticks
hz=$(getconf CLK_TCK)

for round in $(seq "$rounds"); do
	for spec in "$@"; do
		label=${spec%%=*} rest=${spec#*=}
		bin=${rest%%,*} env="" flags=() auth=() benchargs=()
		if [ "$rest" != "$bin" ]; then
			IFS=',' read -ra parts <<<"${rest#*,}"
			for part in "${parts[@]}"; do
				case "$part" in
				+auth)
					rm -f "$tmp/auth.json"
					token=$("$bin" token create --auth-file "$tmp/auth.json" --name bench --scope admin)
					flags+=(--auth-file "$tmp/auth.json") auth=(--token "$token") ;;
				bench:*) benchargs+=("${part#bench:}") ;;
				--*) flags+=("$part") ;;
				*) env="$env $part" ;;
				esac
			done
		fi
		rm -rf "$tmp/data"
		# The generator is one caller: builds with rate limits run without,
		# unless the spec's flags (which come later, and win) say otherwise.
		help=$("$bin" serve --help 2>&1 || true) # read whole: grep -q would end it with SIGPIPE, which pipefail counts
		case "$help" in *--rate-limit*) flags=(--rate-limit off "${flags[@]}") ;; esac
		# shellcheck disable=SC2086 # env holds NAME=VALUE words
		env $env "$bin" serve --addr 127.0.0.1:0 --data "$tmp/data" --log-level info "${flags[@]}" >"$tmp/serve.log" 2>&1 &
		pid=$!
		addr=""
		for _ in $(seq 100); do
			addr=$(sed -n 's/.*msg=listening addr=\([^ ]*\).*/\1/p' "$tmp/serve.log")
			[ -n "$addr" ] && break
			sleep 0.1
		done
		[ -n "$addr" ] || { echo "pair.sh: $label did not start:" >&2; cat "$tmp/serve.log" >&2; exit 1; }
		timer=()
		[ -x /usr/bin/time ] && timer=(/usr/bin/time -f "GEN %U %S") # Debian's package time
		before=$(cpu_ticks "$pid")
		if ! out=$( { "${timer[@]}" "${gen:-$bin}" bench --server "http://$addr" --workload "$workload" "${auth[@]}" "${benchargs[@]}" \
			"${docs[@]}" --clients 64 --duration "$duration" --warmup 3s; } 2>&1); then
			echo "pair.sh: truce bench failed against $label:" >&2
			echo "$out" >&2
			exit 1
		fi
		after=$(cpu_ticks "$pid")
		kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
		# The server's CPU includes the warm-up (and the seeding of the
		# documents), so both CPU figures are per operation of the whole run,
		# the warm-up's operations estimated at the measured rate.
		echo "$out" | awk -v r="$round" -v l="$label" -v srv=$((after - before)) -v hz="$hz" -v d="${duration%s}" '
			/^measured/ { gsub(",", "", $4); ops = $4 }
			/^throughput/ { t = $2 }
			/^latency/ { p50 = $3 $4; p99 = $9 $10 }
			/^GEN/ { gen = $2 + $3; timed = 1 }
			END {
				all = ops * (d + 3) / d
				g = timed ? sprintf("%4.0f µs/op", gen * 1e6 / all) : "(no /usr/bin/time)"
				printf "round %s %-10s %8s ops/s  p50 %-8s p99 %-8s  server %4.0f µs/op  generator %s\n",
					r, l, t, p50, p99, srv / hz * 1e6 / all, g
			}'
	done
done
