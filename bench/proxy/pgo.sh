#!/usr/bin/env bash
# Rewrites cmd/cellar/default.pgo, the CPU profile `go build` optimises
# cellar serve with (profile-guided optimisation, on by default for a main
# package that has one). It builds the origin and cellar without PGO, runs
# cellar serve with its default store in front of the origin, profiles it
# for PROFILE_SECS under each of run.sh's hit-1k, hit-100k, mixed and
# miss-10k workloads in turn, and merges the profiles. Loopback only.
#
#   bench/proxy/pgo.sh               PORT_BASE=18800 PROFILE_SECS=10
#
# Regenerate it after changes to the hot paths; a stale profile costs
# nothing but the gain (A/B at its first commit: 1 KiB hits 1.03x the
# requests at 0.96x the CPU, miss-10k 1.03x at 0.95x, mixed within noise).
set -euo pipefail

PORT_BASE=${PORT_BASE:-18800}
PROFILE_SECS=${PROFILE_SECS:-10}
here=$(cd "$(dirname "$0")" && pwd)
bench=$(cd "$here/.." && pwd)
repo=$(cd "$bench/.." && pwd)
tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

for tool in wrk curl; do
	command -v "$tool" >/dev/null || { echo "pgo.sh: $tool is needed (apt-get install -y $tool)" >&2; exit 1; }
done
(cd "$bench" && go build -o "$tmp/origin" ./proxy/origin)
(cd "$repo" && go build -pgo=off -o "$tmp/cellar" ./cmd/cellar)

origin=$PORT_BASE proxy=$((PORT_BASE + 1)) admin=$((PORT_BASE + 2))
"$tmp/origin" -listen "127.0.0.1:$origin" >/dev/null 2>&1 &
pids+=($!)
"$tmp/cellar" serve --upstream "http://127.0.0.1:$origin" --listen "127.0.0.1:$proxy" \
	--admin "127.0.0.1:$admin" --pprof --access-log=false --log-level warn \
	--store "disk:$tmp/store" >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 50); do
	curl -fsS -o /dev/null --max-time 1 "http://127.0.0.1:$proxy/obj/1k" 2>/dev/null && break
	sleep 0.1
done

url=http://127.0.0.1:$proxy
profiles=()
for w in hit-1k hit-100k mixed miss-10k; do
	case $w in
	hit-1k) args=("$url/obj/1k") ;;
	hit-100k) args=("$url/obj/100k") ;;
	mixed) args=(-s "$here/mix.lua" "$url") ;;
	miss-10k) args=(-s "$here/miss.lua" "$url") ;;
	esac
	echo "pgo.sh: profiling cellar serve under $w for ${PROFILE_SECS}s" >&2
	timeout $((PROFILE_SECS + 30)) wrk -t2 -c64 -d "$((PROFILE_SECS + 2))s" "${args[@]}" >/dev/null &
	load=$!
	sleep 1
	curl -fsS --max-time $((PROFILE_SECS + 10)) -o "$tmp/$w.prof" \
		"http://127.0.0.1:$admin/debug/pprof/profile?seconds=$PROFILE_SECS"
	wait "$load"
	profiles+=("$tmp/$w.prof")
done
go tool pprof -proto "${profiles[@]}" >"$repo/cmd/cellar/default.pgo"
echo "pgo.sh: wrote cmd/cellar/default.pgo ($(wc -c <"$repo/cmd/cellar/default.pgo") bytes)" >&2
