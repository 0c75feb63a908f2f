#!/usr/bin/env bash
# Runs the Go benchmarks of this module (Cellar vs pquerna/cachecontrol,
# gregjones/httpcache and no cache; see the *_test.go files) and writes
#   results/go-bench.txt  raw `go test -bench` output (benchstat reads it)
#   results/go.md         the tables, with the date, CPU and Go version
# then rebuilds RESULTS.md from results/go.md and results/proxy.md.
#
# Everything runs on loopback, in about two minutes on 2 cores.
#   COUNT=5 ./run.sh          more runs per benchmark (medians are reported)
#   PROFILE=/tmp/p ./run.sh   also write a CPU profile per family there
set -euo pipefail
cd "$(dirname "$0")"
# The replace directive follows the working tree: let go adjust go.sum when
# Cellar's own requirements moved since go.mod here was tidied.
export GOFLAGS="-mod=mod ${GOFLAGS:-}"
COUNT=${COUNT:-3}
mkdir -p results
raw=results/go-bench.txt
: >"$raw"

# family regexp and -benchtime: the heavy ones run a fixed number of times.
families=(
	"Decision 1s"
	"Hit 1s"
	"HitParallel 1s"
	"ServeHit 1s"
	"Miss64MiB 3x"
	"Coalescing 5x"
)
go test -c -o results/bench.test . >/dev/null
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
for f in "${families[@]}"; do
	set -- $f
	prof=()
	if [[ -n ${PROFILE:-} ]]; then
		mkdir -p "$PROFILE"
		prof=(-test.cpuprofile "$PROFILE/$1.cpu" -test.memprofile "$PROFILE/$1.mem")
	fi
	echo "== $1" >&2
	./results/bench.test -test.run '^$' -test.bench "^Benchmark$1\$" -test.benchmem \
		-test.benchtime "$2" -test.count "$COUNT" "${prof[@]}" | tee -a "$raw" >&2
done
./results/bench.test -test.run 'TestDecisionAgreement|TestCoalescing' -test.v >results/go-tests.txt 2>&1 || {
	cat results/go-tests.txt >&2
	echo "run.sh: a check failed (see above)" >&2
	failed=1
}
if [[ -n ${PROFILE:-} ]]; then cp results/bench.test "$PROFILE/"; fi
rm -f results/bench.test
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
{
	echo "## Go benchmarks (\`bench/run.sh\`)"
	echo
	echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $cpu, $(nproc) cores, $(go version | cut -d' ' -f3-), working tree at $(git rev-parse --short HEAD 2>/dev/null || echo unknown)."
	echo "Load average (1, 5, 15 min) $load_start at the start, $load_end at the end: on a shared 2-core machine, other work skews absolute figures; the libraries alternate within each run, so ratios suffer less."
	echo "Medians of $COUNT runs; \"speed vs X\" is X's ns/op ÷ the row's (above 1 is faster). Raw output: \`bench/results/go-bench.txt\`."
	echo
	go run ./cmd/benchmd <"$raw"
	echo "Verdicts of both decision libraries on the corpus, and the coalescing check:"
	echo
	echo '```'
	grep -E '^\s+(response|immutable|html|php|api|expires|heuristic|cdn|set-cookie|cached|permanent|authorization)|→' results/go-tests.txt |
		sed -E 's/^\s+(decision|coalesce)_test.go:[0-9]+: //; s/^        //'
	echo '```'
} >results/go.md
./assemble.sh
echo "wrote results/go.md and RESULTS.md" >&2
exit "${failed:-0}"
