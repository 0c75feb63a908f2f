#!/usr/bin/env bash
# Cellar as a caching reverse proxy, side by side with nginx (proxy_cache)
# and Varnish in front of the same Go origin, and with that origin measured
# bare (the limit of a Go server). Loopback only, bounded in time (about five
# minutes with the defaults), every process it starts stopped on exit.
#
# Workloads, each for ROUNDS rounds of DURATION with CONNS connections on
# THREADS wrk threads (the servers take turns within a round; the best round
# is reported):
#   hit-1k     GET /obj/1k again and again (warmed first)
#   hit-100k   GET /obj/100k again and again (warmed first)
#   hit-1m     GET /obj/1m again and again (warmed first)
#   hit-16m    GET /obj/16m again and again (warmed first)
#   miss-10k   GET /miss/N, N random in [0, 10000), cold at the start;
#              /miss/ responses live MISS_MAX_AGE seconds (1 by default) and
#              carry no validator, so each key is fetched in full again once
#              they are stale
#   mixed      GET /mix/K of 8 KiB, fresh for an hour: 90% of requests draw K
#              from a Zipf distribution (s=1) over MIX_KEYS keys (16,000 by
#              default: 125 MiB of bodies, more than cellar serve's 64 MiB
#              memory tier, less than the memory store's 256 MiB), 10% ask
#              for a key never asked before (a miss); one unrecorded run of
#              DURATION warms every server first
# The table gives requests/s, p50 and p99 latency, the share of requests
# that reached the origin during the run (the hit ratio is one minus it),
# the server's CPU time per request, and each cache's requests/s as a
# ratio to nginx's, Varnish's and the bare origin's in the same workload.
#
# Writes bench/results/proxy.md (the table), bench/results/proxy-raw.txt
# (every round) and rebuilds bench/RESULTS.md.
#   DURATION=4s ROUNDS=3 CONNS=64 THREADS=2 PORT_BASE=18700 bench/proxy/run.sh
#   WORKLOADS="hit-1k miss-10k" bench/proxy/run.sh   a subset of the workloads
#   MISS_MAX_AGE=2 WORKLOADS=miss-10k bench/proxy/run.sh   longer-lived misses
#   PROFILE=1 bench/proxy/run.sh   also saves CPU profiles of cellar serve
#                                  (first round of each workload) in bench/results/pprof/
set -euo pipefail

DURATION=${DURATION:-4s}
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
PORT_BASE=${PORT_BASE:-18700}
MISS_KEYS=${MISS_KEYS:-10000}
MISS_MAX_AGE=${MISS_MAX_AGE:-1}
MIX_KEYS=${MIX_KEYS:-16000}

here=$(cd "$(dirname "$0")" && pwd)
bench=$(cd "$here/.." && pwd)
repo=$(cd "$bench/.." && pwd)
results=$bench/results
mkdir -p "$results"

origin_port=$PORT_BASE
nginx_port=$((PORT_BASE + 1))
varnish_port=$((PORT_BASE + 2))
cmem_port=$((PORT_BASE + 3))
cmem_admin=$((PORT_BASE + 4))
cdisk_port=$((PORT_BASE + 5))
cdisk_admin=$((PORT_BASE + 6))
ctier_port=$((PORT_BASE + 7))
ctier_admin=$((PORT_BASE + 8))

log() { printf '%s %s\n' "$(date +%T)" "$*" >&2; }

# --- tools -----------------------------------------------------------------
missing=()
command -v nginx >/dev/null || missing+=(nginx)
command -v varnishd >/dev/null || missing+=(varnish)
command -v wrk >/dev/null || missing+=(wrk)
if ((${#missing[@]})); then
	log "installing ${missing[*]}"
	# RUNLEVEL=1 keeps the packages' init scripts from starting the system
	# nginx and varnish: this script runs its own, on loopback ports.
	apt-get update -qq
	RUNLEVEL=1 DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
for p in $origin_port $nginx_port $varnish_port $cmem_port $cmem_admin $cdisk_port $cdisk_admin $ctier_port $ctier_admin; do
	if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
		echo "run.sh: port $p on 127.0.0.1 is in use; set PORT_BASE" >&2
		exit 1
	fi
done

# --- processes: every one started is recorded and stopped on exit -----------
tmp=$(mktemp -d /tmp/cellar-proxy-bench.XXXXXX)
chmod 755 "$tmp" # varnishd's unprivileged child reads its working directory
pids=()
cleanup() {
	local pid
	for pid in "${pids[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${pids[@]}"; do
		for _ in $(seq 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start NAME CMD...: runs CMD in the background, logging to $tmp/NAME.log;
# its pid is ${pid_of[NAME]}.
declare -A pid_of
start() {
	local name=$1
	shift
	"$@" >"$tmp/$name.log" 2>&1 &
	pids+=($!)
	pid_of[$name]=$!
}

# cpu_ticks PID: user+system CPU time, in clock ticks, of PID and its
# children (nginx's workers, Varnish's cache process).
cpu_ticks() {
	local p total=0 t
	for p in "$1" $(ps -o pid= --ppid "$1"); do
		# fields after the ")" that ends the command name: utime is the 12th, stime the 13th
		t=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | awk '{print $12 + $13}') || t=0
		total=$((total + ${t:-0}))
	done
	echo "$total"
}
hz=$(getconf CLK_TCK)

# wait_http URL: until URL answers, at most 20 s.
wait_http() {
	for _ in $(seq 200); do
		if curl -fsS -o /dev/null --max-time 1 "$1" 2>/dev/null; then return 0; fi
		sleep 0.1
	done
	echo "run.sh: $1 did not answer; logs:" >&2
	tail -n 20 "$tmp"/*.log >&2 || true
	exit 1
}

# --- build -------------------------------------------------------------------
log "building the origin and cellar"
(cd "$bench" && go build -o "$tmp/origin" ./proxy/origin)
(cd "$repo" && go build -o "$tmp/cellar" ./cmd/cellar)

# --- origin ------------------------------------------------------------------
start origin "$tmp/origin" -listen "127.0.0.1:$origin_port" -miss-max-age "$MISS_MAX_AGE"
wait_http "http://127.0.0.1:$origin_port/stats"

# --- nginx: proxy_cache on disk (the page cache), cache lock as coalescing ------
mkdir -p "$tmp/nginx"
user_line=""
if ((EUID == 0)); then user_line="user root;"; fi
cat >"$tmp/nginx/nginx.conf" <<EOF
$user_line
worker_processes auto;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $tmp/nginx/client_body;
    proxy_temp_path $tmp/nginx/proxy_temp;
    fastcgi_temp_path $tmp/nginx/fastcgi_temp;
    uwsgi_temp_path $tmp/nginx/uwsgi_temp;
    scgi_temp_path $tmp/nginx/scgi_temp;
    proxy_cache_path $tmp/nginx/cache levels=1:2 keys_zone=bench:64m max_size=1g inactive=1h use_temp_path=off;
    upstream origin {
        server 127.0.0.1:$origin_port;
        keepalive 64;
    }
    server {
        listen 127.0.0.1:$nginx_port;
        location / {
            proxy_pass http://origin;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_cache bench;
            proxy_cache_lock on;
            add_header X-Cache-Status \$upstream_cache_status;
        }
    }
}
EOF
start nginx nginx -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -g 'daemon off;'
wait_http "http://127.0.0.1:$nginx_port/obj/1k"

# --- Varnish: malloc storage, the built-in VCL, no grace -----------------------
# default_grace=0: without it Varnish serves an expired /miss/ object for 10 s
# while it refetches in the background, which RFC 9111 does not allow without
# stale-while-revalidate (nginx and Cellar do not), and the miss workload
# would measure hits.
start varnish varnishd -F -a "127.0.0.1:$varnish_port" -b "127.0.0.1:$origin_port" \
	-s malloc,256m -n "$tmp/varnish" -p default_grace=0
wait_http "http://127.0.0.1:$varnish_port/obj/1k"

# --- cellar serve: memory store, disk store alone, disk store with its memory tier --
# cellar-tiered is cellar serve's default (--store disk:DIR with --hot-size
# 64MiB in front); cellar-disk is the disk store alone (--hot-size 0).
cellar_flags=(--upstream "http://127.0.0.1:$origin_port" --access-log=false --log-level warn --pprof)
start cellar-memory "$tmp/cellar" serve "${cellar_flags[@]}" --store memory --max-size 256MiB \
	--listen "127.0.0.1:$cmem_port" --admin "127.0.0.1:$cmem_admin"
start cellar-disk "$tmp/cellar" serve "${cellar_flags[@]}" --store "disk:$tmp/cellar-disk" --max-size 1GiB --hot-size 0 \
	--listen "127.0.0.1:$cdisk_port" --admin "127.0.0.1:$cdisk_admin"
start cellar-tiered "$tmp/cellar" serve "${cellar_flags[@]}" --store "disk:$tmp/cellar-tiered" --max-size 1GiB \
	--listen "127.0.0.1:$ctier_port" --admin "127.0.0.1:$ctier_admin"
wait_http "http://127.0.0.1:$cmem_port/obj/1k"
wait_http "http://127.0.0.1:$cdisk_port/obj/1k"
wait_http "http://127.0.0.1:$ctier_port/obj/1k"

servers=(origin nginx varnish cellar-memory cellar-disk cellar-tiered)
declare -A port=([origin]=$origin_port [nginx]=$nginx_port [varnish]=$varnish_port
	[cellar-memory]=$cmem_port [cellar-disk]=$cdisk_port [cellar-tiered]=$ctier_port)
declare -A admin=([cellar-memory]=$cmem_admin [cellar-disk]=$cdisk_admin [cellar-tiered]=$ctier_admin)

# The workloads' wrk scripts (miss.lua, mix.lua, beside this one) read their
# key counts from the environment.
export MISS_KEYS MIX_KEYS

# --- warm and check that the hit workloads hit ---------------------------------
origin_requests() { curl -fsS --max-time 2 "http://127.0.0.1:$origin_port/stats" | awk '{print $2}'; }

for s in "${servers[@]}"; do
	for obj in 1k 100k 1m 16m; do
		for _ in 1 2 3; do
			curl -fsS -o /dev/null --max-time 5 "http://127.0.0.1:${port[$s]}/obj/$obj"
		done
	done
	if [[ $s != origin ]]; then
		before=$(origin_requests)
		curl -fsS -o /dev/null --max-time 5 "http://127.0.0.1:${port[$s]}/obj/1k"
		curl -fsS -o /dev/null --max-time 5 "http://127.0.0.1:${port[$s]}/obj/100k"
		if (($(origin_requests) != before)); then
			echo "run.sh: $s does not serve /obj/ from its cache after warming; headers:" >&2
			curl -sS -D - -o /dev/null "http://127.0.0.1:${port[$s]}/obj/1k" >&2
			exit 1
		fi
	fi
done
log "all caches warm"

# --- measure -----------------------------------------------------------------------
# to_ms VALUE: wrk latency (e.g. 812.00us, 1.23ms, 1.05s) in milliseconds.
to_ms() {
	awk -v v="$1" 'BEGIN {
		n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
		if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
		printf "%.3f", n }'
}

declare -A rps p50 p99 share errs cpu all
read -ra workloads <<<"${WORKLOADS:-hit-1k hit-100k hit-1m hit-16m miss-10k mixed}"
raw=$results/proxy-raw.txt
echo "# workload server round req/s p50ms p99ms to-origin cpu-us/req errors" >"$raw"
for w in "${workloads[@]}"; do
	if [[ $w == mixed ]]; then
		for s in "${servers[@]}"; do
			log "mixed $s: warming"
			timeout 120 wrk -t "$THREADS" -c "$CONNS" -d "$DURATION" -s "$here/mix.lua" "http://127.0.0.1:${port[$s]}" >/dev/null
		done
	fi
	# Rounds go through every server in turn, so that a burst of other work on
	# the machine hits one round of each rather than all of one server's; the
	# best round is reported (other work only ever slows a run down).
	for round in $(seq "$ROUNDS"); do
		for s in "${servers[@]}"; do
			url="http://127.0.0.1:${port[$s]}"
			args=(-t "$THREADS" -c "$CONNS" -d "$DURATION" --latency --timeout 5s)
			case $w in
			hit-1k) args+=("$url/obj/1k") ;;
			hit-100k) args+=("$url/obj/100k") ;;
			hit-1m) args+=("$url/obj/1m") ;;
			hit-16m) args+=("$url/obj/16m") ;;
			miss-10k) args+=(-s "$here/miss.lua" "$url") ;;
			mixed) args+=(-s "$here/mix.lua" "$url") ;;
			*)
				echo "run.sh: unknown workload $w" >&2
				exit 1
				;;
			esac
			prof_pid=
			if [[ -n ${PROFILE:-} && -n ${admin[$s]:-} && $round == 1 ]]; then
				mkdir -p "$results/pprof"
				secs=$(($(to_ms "$DURATION" | cut -d. -f1) / 1000 - 1))
				secs=$((secs > 1 ? secs : 1))
				curl -fsS --max-time $((secs + 10)) -o "$results/pprof/$s-$w.cpu" \
					"http://127.0.0.1:${admin[$s]}/debug/pprof/profile?seconds=$secs" &
				prof_pid=$!
			fi
			before=$(origin_requests)
			ticks0=$(cpu_ticks "${pid_of[$s]}")
			log "$w $s round $round: wrk ${args[*]}"
			out=$(timeout 120 wrk "${args[@]}")
			ticks1=$(cpu_ticks "${pid_of[$s]}")
			after=$(origin_requests)
			if [[ -n $prof_pid ]]; then wait "$prof_pid" || true; fi
			r=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
			q50=$(to_ms "$(awk '$1 == "50%" {print $2}' <<<"$out")")
			q99=$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")
			total=$(awk '/requests in/ {print $1}' <<<"$out")
			bad=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' <<<"$out")
			sock=$(awk '/Socket errors:/ {gsub(/,/, ""); print $4 + $6 + $8 + $10}' <<<"$out")
			e=$((${bad:-0} + ${sock:-0}))
			c=$(awk -v d=$((ticks1 - ticks0)) -v hz="$hz" -v t="$total" 'BEGIN { printf "%.1f", t ? d / hz * 1e6 / t : 0 }')
			sh=1
			if [[ $s != origin ]]; then
				sh=$(awk -v a="$after" -v b="$before" -v t="$total" 'BEGIN { printf "%.3f", t ? (a - b) / t : 0 }')
			fi
			log "  $r req/s, p50 $q50 ms, p99 $q99 ms, to origin $sh, $c µs CPU/req, errors $e"
			echo "$w $s $round $r $q50 $q99 $sh $c $e" >>"$raw"
			all[$w,$s]+="$(printf '%.0f' "$r") "
			if [[ -z ${rps[$w,$s]:-} ]] || awk -v a="$r" -v b="${rps[$w,$s]}" 'BEGIN { exit !(a > b) }'; then
				rps[$w,$s]=$r p50[$w,$s]=$q50 p99[$w,$s]=$q99 share[$w,$s]=$sh cpu[$w,$s]=$c
			fi
			errs[$w,$s]=$((${errs[$w,$s]:-0} + e))
		done
	done
done

# --- table ---------------------------------------------------------------------------
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f×", a / b; else print "-" }'; }
cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
nginx_v=$( (nginx -v 2>&1 || true) | sed 's/^nginx version: //')
varnish_v=$( (varnishd -V 2>&1 || true) | head -1 | sed -E 's/^varnishd \((varnish-[^ ]+).*/\1/')
wrk_v=$( (wrk -v 2>&1 || true) | head -1 | awk '{print $1, $2}')
go_v=$(go version | cut -d' ' -f3-)
commit=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)
{
	echo "## Reverse proxies (\`bench/proxy/run.sh\`)"
	echo
	echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $cpu, $(nproc) cores; $nginx_v, $varnish_v, $wrk_v, $go_v, Cellar built from the working tree at $commit."
	echo "wrk -t$THREADS -c$CONNS -d$DURATION --latency on loopback, sharing the cores with the server measured; $ROUNDS rounds in which the servers take turns, the best round shown (req/s of every round in the last column, all figures in \`bench/results/proxy-raw.txt\`)."
	echo "Load average (1, 5, 15 min) at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
	echo "Workloads: hit-1k, hit-100k, hit-1m and hit-16m repeat GET /obj/1k, /obj/100k, /obj/1m or /obj/16m (public, max-age=3600, warmed first); miss-10k asks for /miss/N with N random in [0, $MISS_KEYS), cold at the start, responses fresh for $MISS_MAX_AGE s (max-age=$MISS_MAX_AGE) with no validator, so each key is fetched in full again once stale (a faster cache answers more of them from storage: see \"to origin\"); mixed asks for 8 KiB /mix/K (fresh for an hour), 90% with K Zipf-distributed (s=1) over $MIX_KEYS keys ($((MIX_KEYS * 8 / 1024)) MiB of bodies, more than the 64 MiB memory tier of cellar-tiered), 10% for a key never asked before, after one unrecorded warming run; its hit ratio is 1 − \"to origin\"."
	echo "\"origin\" is the Go origin measured bare, serving the bytes from memory: the limit of a Go server."
	echo "\"to origin\" is the share of requests that reached the origin during the run (requests still in flight when wrk stops count at the origin, not in wrk's total, so a slow server can show a little over 1)."
	echo "\"CPU µs/req\" is the user+system CPU time of the server's processes (nginx's workers, Varnish's cache process included; the origin's excluded) over the run, per request wrk completed: less sensitive than req/s to whatever else runs on the machine."
	echo "nginx: proxy_cache (keys_zone 64m, on disk), proxy_cache_lock, upstream keepalive 64, access_log off, workers = cores."
	echo "Varnish: -s malloc,256m, built-in VCL, default_grace=0. cellar serve: --store memory --max-size 256MiB (cellar-memory), --store disk:DIR --hot-size 0 (cellar-disk: the disk store alone), or --store disk:DIR with the default 64 MiB memory tier (cellar-tiered: what \`cellar serve\` runs by default); access log off."
	echo
	echo "| workload | server | req/s | p50 ms | p99 ms | to origin | hit ratio | CPU µs/req | errors | × nginx | × Varnish | × origin | req/s of each round |"
	echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
	for w in "${workloads[@]}"; do
		for s in "${servers[@]}"; do
			r=${rps[$w,$s]}
			hr=-
			if [[ $s != origin ]]; then hr=$(awk -v s="${share[$w,$s]}" 'BEGIN { printf "%.3f", s < 1 ? 1 - s : 0 }'); fi
			printf '| %s | %s | %.0f | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$w" "$s" "$r" \
				"${p50[$w,$s]}" "${p99[$w,$s]}" "${share[$w,$s]}" "$hr" "${cpu[$w,$s]}" "${errs[$w,$s]}" \
				"$(ratio "$r" "${rps[$w,nginx]}")" "$(ratio "$r" "${rps[$w,varnish]}")" "$(ratio "$r" "${rps[$w,origin]}")" "${all[$w,$s]% }"
		done
	done
	echo
	echo "Targets (hit workloads, cellar-memory): ≥ 1.0× nginx, ≥ 0.8× Varnish, ≥ 0.8× the bare origin."
} >"$results/proxy.md"
cat "$results/proxy.md"
"$bench/assemble.sh"
log "wrote $results/proxy.md and $bench/RESULTS.md"
