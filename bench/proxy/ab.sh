#!/usr/bin/env bash
# Side by side: servers already running take turns under one wrk workload,
# round after round, and each one's mean req/s and CPU µs per request come
# out with the ratio of each to the first. Best-of-3 rounds of run.sh move
# by ±10% between runs of one build on a shared 2-core VM; alternating the
# servers within a run spreads that drift over all of them.
#
#   bench/proxy/ab.sh [-n ROUNDS] [-d DURATION] [-c CONNS] [-t THREADS]
#                     [-s LUA | -u PATH] [-o ORIGIN_STATS_URL] NAME=PORT:PID ...
#
#   -n 6        rounds (each server once per round, in the order given)
#   -d 4s       wrk duration of each turn
#   -u /obj/1k  the path every request asks for, or -s a wrk Lua script
#               (bench/proxy/miss.lua or mix.lua, run.sh's miss-10k and mixed)
#   -o URL      the origin's /stats: also report each server's share of
#               requests that reached the origin
#   PID         the server's process, whose user+system CPU is counted
#
# Example, two builds on one origin (bench/proxy/origin):
#   bench/proxy/ab.sh -u /obj/1k old=18712:$(pgrep -f 'listen 127.0.0.1:18712') \
#       new=18722:$(pgrep -f 'listen 127.0.0.1:18722')
set -euo pipefail

rounds=6 duration=4s conns=64 threads=2 script= path=/ stats=
while getopts "n:d:c:t:s:u:o:" opt; do
	case $opt in
	n) rounds=$OPTARG ;;
	d) duration=$OPTARG ;;
	c) conns=$OPTARG ;;
	t) threads=$OPTARG ;;
	s) script=$OPTARG ;;
	u) path=$OPTARG ;;
	o) stats=$OPTARG ;;
	*) sed -n '2,22p' "$0" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
if (($# < 1)); then
	sed -n '2,22p' "$0" >&2
	exit 2
fi

names=() ports=() pids=()
for s in "$@"; do
	if [[ ! $s =~ ^([^=]+)=([0-9]+):([0-9]+)$ ]]; then
		echo "ab.sh: $s: want NAME=PORT:PID" >&2
		exit 2
	fi
	names+=("${BASH_REMATCH[1]}") ports+=("${BASH_REMATCH[2]}") pids+=("${BASH_REMATCH[3]}")
	[[ -r /proc/${BASH_REMATCH[3]}/stat ]] || { echo "ab.sh: no process ${BASH_REMATCH[3]}" >&2; exit 2; }
done

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
origin_requests() { if [[ -n $stats ]]; then curl -fsS --max-time 2 "$stats" | awk '{print $2}'; else echo 0; fi; }

declare -A sum_rps sum_cpu sum_share
echo "# round server req/s cpu-us/req${stats:+ to-origin}"
for round in $(seq "$rounds"); do
	for i in "${!names[@]}"; do
		args=(-t "$threads" -c "$conns" -d "$duration")
		if [[ -n $script ]]; then
			args+=(-s "$script" "http://127.0.0.1:${ports[$i]}")
		else
			args+=("http://127.0.0.1:${ports[$i]}$path")
		fi
		o0=$(origin_requests) t0=$(ticks "${pids[$i]}")
		out=$(timeout 120 wrk "${args[@]}")
		t1=$(ticks "${pids[$i]}") o1=$(origin_requests)
		rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
		reqs=$(awk '/requests in/ {print $1}' <<<"$out")
		cpu=$(awk -v a="$t0" -v b="$t1" -v n="$reqs" -v hz="$hz" 'BEGIN {printf "%.2f", (b - a) / hz * 1e6 / n}')
		share=$(awk -v a="$o0" -v b="$o1" -v n="$reqs" 'BEGIN {printf "%.3f", (b - a) / n}')
		echo "$round ${names[$i]} $rps $cpu${stats:+ $share}"
		sum_rps[$i]=$(awk -v s="${sum_rps[$i]:-0}" -v x="$rps" 'BEGIN {print s + x}')
		sum_cpu[$i]=$(awk -v s="${sum_cpu[$i]:-0}" -v x="$cpu" 'BEGIN {print s + x}')
		sum_share[$i]=$(awk -v s="${sum_share[$i]:-0}" -v x="$share" 'BEGIN {print s + x}')
	done
done
echo "# means over $rounds rounds; ratios to ${names[0]}"
for i in "${!names[@]}"; do
	awk -v name="${names[$i]}" -v r="${sum_rps[$i]}" -v c="${sum_cpu[$i]}" -v s="${sum_share[$i]}" \
		-v r0="${sum_rps[0]}" -v c0="${sum_cpu[0]}" -v n="$rounds" -v stats="$stats" 'BEGIN {
		printf "%s: %.0f req/s (%.2fx), %.2f us CPU/req (%.2fx)", name, r / n, r / r0, c / n, c / c0
		if (stats != "") printf ", %.3f to origin", s / n
		printf "\n" }'
done
