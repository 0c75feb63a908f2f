#!/usr/bin/env bash
# Rebuilds RESULTS.md from the parts run.sh and proxy/run.sh write, so
# either can be re-run alone without losing the other's tables.
set -euo pipefail
cd "$(dirname "$0")"
{
	echo "# Benchmark results"
	echo
	echo "Cellar side by side with other Go caches (\`bench/run.sh\`) and with nginx, Varnish and the bare"
	echo "Go origin as reverse proxies (\`bench/proxy/run.sh\`). Everything on loopback, on the machine named"
	echo "in each section; every ratio compares figures measured in the same run."
	echo
	# findings.md is written by hand from the runs and their profiles.
	for part in results/go.md results/proxy.md results/findings.md results/faults.md; do
		if [[ -s $part ]]; then
			cat "$part"
			echo
		fi
	done
} >RESULTS.md
