#!/usr/bin/env bash
# Fuzzes the native HTTP framer (native/connengine/framer.c) with libFuzzer, ASan and UBSan.
#
#   scripts/fuzz-framer.sh              # 60 s (npm run fuzz:framer)
#   FUZZ_SECONDS=3600 scripts/fuzz-framer.sh
#
# Needs clang and libclang-rt-14-dev (Debian: apt-get install -y clang libclang-rt-14-dev).
# Starts from the checked-in seeds (native/connengine/fuzz/corpus, read only) and keeps what it
# finds in FUZZ_CORPUS (default build/fuzz/framer-corpus, reused by the next run). A crash, a
# sanitizer report or a broken invariant exits non-zero and leaves the input as
# build/fuzz/crash-<sha1>; copy it to the seed corpus as a regression input once fixed.
# FUZZ_JOBS=N runs N fuzzing processes in parallel (default 1). FUZZ_COVERAGE=1 then prints the
# line and branch coverage of framer.c over both corpora (llvm-profdata, llvm-cov).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${FUZZ_SECONDS:-60}"
out=build/fuzz
corpus="${FUZZ_CORPUS:-$out/framer-corpus}"
jobs="${FUZZ_JOBS:-1}"
cc="${CLANG:-clang}"
mkdir -p "$out" "$corpus"

"$cc" -g -O1 -std=gnu11 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -fno-omit-frame-pointer -Wall -Wextra -Wno-unused-parameter \
  -o "$out/framer_fuzz" native/connengine/fuzz/framer_fuzz.c native/connengine/framer.c -lm

args=(-max_total_time="$seconds" -max_len=16384 -timeout=10 -rss_limit_mb=1024 -print_final_stats=1
  -artifact_prefix="$out/")
if [ "$jobs" -gt 1 ]; then args+=(-jobs="$jobs" -workers="$jobs"); fi
ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}" \
UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}" \
  "$out/framer_fuzz" "${args[@]}" "$corpus" native/connengine/fuzz/corpus

if [ "${FUZZ_COVERAGE:-0}" = 1 ]; then
  "$cc" -g -O0 -std=gnu11 -fsanitize=fuzzer -fprofile-instr-generate -fcoverage-mapping \
    -o "$out/framer_cov" native/connengine/fuzz/framer_fuzz.c native/connengine/framer.c -lm
  rm -f "$out"/framer.profraw
  LLVM_PROFILE_FILE="$out/framer.profraw" "$out/framer_cov" -runs=0 "$corpus" native/connengine/fuzz/corpus >/dev/null 2>&1
  llvm-profdata merge -sparse -o "$out/framer.profdata" "$out/framer.profraw"
  llvm-cov report "$out/framer_cov" -instr-profile="$out/framer.profdata" native/connengine/framer.c
  echo "per line: llvm-cov show $out/framer_cov -instr-profile=$out/framer.profdata native/connengine/framer.c"
fi
