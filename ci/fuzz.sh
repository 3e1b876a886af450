#!/usr/bin/env bash
# Runs every cargo-fuzz target (fuzz/) for a fixed budget and fails on the
# first crash, hang (an input running longer than 10 s) or out-of-memory.
# Part of ci/test.sh; FUZZ_SECONDS sets the budget per target (default 60).
#
# New inputs the fuzzer finds go to fuzz/corpus-work/<target> (not checked
# in); the checked-in seeds in fuzz/corpus/<target> are only read. A crash
# leaves its input in fuzz/artifacts/<target>/: copy it to
# fuzz/regressions/<target>/ (tests/fuzz_corpus.rs replays those on stable),
# then fix it.
set -euo pipefail
cd "$(dirname "$0")/.."

BUDGET="${FUZZ_SECONDS:-60}"
CARGO_FUZZ="$PWD/.cache/tools/cargo-fuzz/bin/cargo-fuzz"
[[ -x "$CARGO_FUZZ" ]] || { echo "fuzz: $CARGO_FUZZ missing (ci/install-deps.sh installs it)" >&2; exit 1; }
rustup toolchain list | grep -q '^nightly' || { echo "fuzz: the nightly toolchain is missing" >&2; exit 1; }
export RUSTUP_TOOLCHAIN=nightly

# Longest input per target: the reply reader must reach its 64 KiB reply
# bound; config files are short.
declare -A MAX_LEN=([reply_reader]=70000 [address_codecs]=512 [config_parse]=8192 [web_config_parse]=4096)
# libFuzzer grows inputs slowly from the seeds' sizes; in a 60 s budget the
# reply reader would never reach its line and reply bounds. Long inputs from
# the start found the UTF-8 expansion of a line (fuzz/regressions) in 4 s.
declare -A EXTRA=([reply_reader]="-len_control=0" [address_codecs]="" [config_parse]="" [web_config_parse]="")
TARGETS=(reply_reader address_codecs config_parse web_config_parse)

cd fuzz
start=$SECONDS
"$CARGO_FUZZ" build -O
echo "fuzz: built the targets in $((SECONDS - start)) s"
for target in "${TARGETS[@]}"; do
    mkdir -p "corpus-work/$target"
    log="corpus-work/$target.log"
    echo "fuzz: $target for ${BUDGET} s"
    if ! "$CARGO_FUZZ" run -O "$target" "corpus-work/$target" "corpus/$target" -- \
        -max_total_time="$BUDGET" -timeout=10 -rss_limit_mb=2048 -max_len="${MAX_LEN[$target]}" \
        -print_final_stats=1 ${EXTRA[$target]} >"$log" 2>&1; then
        tail -n 60 "$log" >&2
        echo "fuzz: $target FAILED; the input is in fuzz/artifacts/$target/" >&2
        exit 1
    fi
    grep -E '^Done [0-9]+ runs|stat::number_of_executed_units' "$log" | sed "s/^/fuzz: $target: /"
done
echo "fuzz: all targets passed in $((SECONDS - start)) s"
