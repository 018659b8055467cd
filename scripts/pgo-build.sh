#!/usr/bin/env bash
# Builds palisade with profile-guided optimisation (PGO), for serving `palisade guard`.
#
#   scripts/pgo-build.sh            # → target/pgo/release/palisade
#   scripts/pgo-build.sh --tools    # only find (or install) llvm-profdata, and say which
#
# Three steps: an instrumented release build (target/pgo-gen), a training run of the guard
# on a workload of its own (scripts/pgo-train.py: a Python model server, two tenants, mixed
# number forms and batch sizes, refusals of each kind), and a release build that uses the
# profile it recorded. It needs llvm-profdata of the LLVM major version rustc was built
# with; where that is missing and apt-get is there (as root), it installs llvm-N.
# Two release builds: 16 min 21 s in all on the project's two-core machine.
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
    "" | --tools) ;;
    *) echo "usage: scripts/pgo-build.sh [--tools]" >&2; exit 2 ;;
esac
root=$PWD

major=$(rustc -vV | sed -n 's/^LLVM version: \([0-9]*\).*/\1/p')
[ -n "$major" ] || { echo "pgo-build: cannot tell rustc's LLVM version (rustc -vV)" >&2; exit 1; }
profdata=""
for c in "llvm-profdata-$major" llvm-profdata; do
    if command -v "$c" >/dev/null && "$c" --version 2>/dev/null | grep -q "LLVM version $major\."; then
        profdata=$c
        break
    fi
done
if [ -z "$profdata" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "pgo-build: installing llvm-$major for llvm-profdata-$major (rustc uses LLVM $major)"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "llvm-$major" >/dev/null
        profdata=llvm-profdata-$major
    else
        echo "pgo-build: needs llvm-profdata from LLVM $major (rustc's); install llvm-$major or" \
            "rustup component add llvm-tools" >&2
        exit 1
    fi
fi

if [ "${1:-}" = --tools ]; then
    echo "pgo-build: $(command -v "$profdata") ($("$profdata" --version | grep -o 'LLVM version [0-9.]*'))"
    exit 0
fi

data=$root/target/pgo-data
rm -rf "$data"
mkdir -p "$data"
echo "pgo-build: 1/3 instrumented build (target/pgo-gen)"
RUSTFLAGS="-Cprofile-generate=$data" CARGO_TARGET_DIR=$root/target/pgo-gen \
    cargo build --release -q -p palisade
echo "pgo-build: 2/3 training run"
python3 scripts/pgo-train.py "$root/target/pgo-gen/release/palisade" --seconds 30
"$profdata" merge -o "$data/merged.profdata" "$data"/*.profraw
echo "pgo-build: 3/3 optimised build (target/pgo)"
RUSTFLAGS="-Cprofile-use=$data/merged.profdata" CARGO_TARGET_DIR=$root/target/pgo \
    cargo build --release -q -p palisade
echo "pgo-build: target/pgo/release/palisade"
