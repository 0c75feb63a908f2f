#!/usr/bin/env bash
# The fault harness of issue 13: builds cellar from this working tree (and,
# with BASELINE=REV, from that git revision too, so that before and after are
# measured in the same run), then runs bench/faults against them and writes
# bench/results/faults.md, which bench/assemble.sh puts in RESULTS.md.
#
#   bench/faults/run.sh                         1 GiB bodies, ~3 minutes
#   SIZE=256MiB PHASE=3s bench/faults/run.sh    a quick run
#   BASELINE=main bench/faults/run.sh           also measure main
#   EXP=redis,stall bench/faults/run.sh         some experiments only
#   EXP=kill KILLS=8 bench/faults/run.sh        SIGKILL the disk store 8 times
#                                               under load (default 20)
#
# Loopback only; needs redis-server for the redis experiment. Every process
# it starts is stopped on exit.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bench=$(cd "$here/.." && pwd)
repo=$(cd "$bench/.." && pwd)
export GOFLAGS="-mod=mod ${GOFLAGS:-}"
SIZE=${SIZE:-1GiB}
PHASE=${PHASE:-5s}
EXP=${EXP:-memory,redis,stall,disk,kill}
KILLS=${KILLS:-20}
CONNS=${CONNS:-32}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
log() { printf '%s %s\n' "$(date +%T)" "$*" >&2; }

log "building cellar from the working tree"
(cd "$repo" && go build -o "$work/cellar" ./cmd/cellar)
args=(-cellar "$work/cellar")
if [[ -n ${BASELINE:-} ]]; then
	log "building cellar at $BASELINE"
	mkdir "$work/baseline"
	git -C "$repo" archive "$BASELINE" | tar -x -C "$work/baseline"
	(cd "$work/baseline" && GOFLAGS= go build -o "$work/cellar-baseline" ./cmd/cellar)
	args+=(-baseline "$work/cellar-baseline")
fi
(cd "$bench" && go build -o "$work/faults" ./faults)
mkdir -p "$bench/results"
out=$bench/results/faults.md
{
	echo "## Faults (\`bench/faults/run.sh\`, issue 13)"
	echo
	echo "$(date -u +%F), $(nproc) cores, $(go version | cut -d' ' -f3), SIZE=$SIZE PHASE=$PHASE CONNS=$CONNS KILLS=$KILLS${BASELINE:+, baseline $BASELINE ($(git -C "$repo" rev-parse --short "$BASELINE"))}, branch at $(git -C "$repo" rev-parse --short HEAD)."
	echo "Every body was checked byte for byte against what the origin served (\"verified\")."
	echo
} >"$out"
TMPDIR=$work "$work/faults" "${args[@]}" -exp "$EXP" -size "$SIZE" -phase "$PHASE" -conns "$CONNS" -kills "$KILLS" -md "$work/tables.md"
cat "$work/tables.md" >>"$out"
if [[ -s $bench/results/findings-faults.md ]]; then
	cat "$bench/results/findings-faults.md" >>"$out"
fi
"$bench/assemble.sh"
log "wrote $out and RESULTS.md"
