#!/usr/bin/env bash
# Counts the instructions of one collection cycle (the timed call of
# BenchmarkHeap, BenchmarkMutex and BenchmarkBlock, after one warm-up cycle)
# for each profiler under valgrind's callgrind: a count that does not depend
# on the machine's load, unlike ns/op. Usage, from bench/:
#
#	bash collect/instructions.sh ['regexp of sub-benchmarks']
#
# Needs valgrind (apt-get install -y valgrind). Go's runtime is run without
# asynchronous preemption signals and without RDTSCP, which valgrind 3.19
# does not handle; neither changes what a cycle executes.
set -euo pipefail
cd "$(dirname "$0")/.."
filter=${1:-.}
bin=$(mktemp -d)/collect.test
go test -c -o "$bin" ./collect
benches=(
	Heap/stacks=1k/{sdk,sdk-live-apart,godeltaprof,pprof}
	Heap/stacks=8k/{sdk,sdk-live-apart,godeltaprof,pprof}
	Heap/stacks=32k/{sdk,sdk-live-apart,godeltaprof,pprof}
	Mutex/stacks=1k/{sdk,godeltaprof,pprof}
	Block/stacks=1k/{sdk,godeltaprof,pprof}
)
# Each sub-benchmark runs in its own process with -benchtime=1x: one
# warm-up cycle, then one timed cycle. callgrind dumps its counters on
# entering measuredCycle and on entering cycleDone, right after it; the
# second dump holds the cycle's instructions, on every thread (garbage
# collection work included). GOMAXPROCS=1 keeps idle threads from spinning
# into the count.
dir=$(dirname "$bin")
printf '%-30s %15s\n' benchmark instructions/cycle
for b in "${benches[@]}"; do
	[[ $b =~ $filter ]] || continue
	out="$dir/cg.${b//\//_}"
	GOMAXPROCS=1 GODEBUG=asyncpreemptoff=1,cpu.rdtscp=off valgrind --tool=callgrind \
		--callgrind-out-file="$out" --dump-before='*measuredCycle' --dump-before='*cycleDone' \
		"$bin" -test.run='^$' -test.bench="^Benchmark${b}\$" -test.benchtime=1x >/dev/null 2>&1
	printf '%-30s %15d\n' "$b" "$(awk '/^summary:/ {print $2}' "$out.2")"
done
echo "callgrind files (callgrind_annotate --inclusive=yes FILE.2): $dir" >&2
