# Sourced by the side-by-side scripts: installs a peer from Debian packages when it is missing,
# runs one bench with a trap that stops whatever the run started, and writes the bench's table
# into BENCHMARKS.md between the section's markers.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
WORK=$(mktemp -d /tmp/side-by-side.XXXXXX)
# The bench's temp folders (hub store, peer configs) go here, so every process it starts has
# this path on its command line: that is how the trap recognises them.
export TMPDIR=$WORK
export SIDE_BY_SIDE_PIDS=$WORK/pids SIDE_BY_SIDE_MD=$WORK/table.md
BENCH=
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

cleanup() {
    local mine=$WORK
    [ -z "$BENCH" ] || mine="$WORK|$BENCH"
    if [ -f "$SIDE_BY_SIDE_PIDS" ]; then
        while read -r pid; do
            # Only what this run started and is still running (pids are reused).
            if [ -r "/proc/$pid/cmdline" ] &&
                tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qE "$mine"; then
                kill -KILL "$pid" 2>/dev/null || true
            fi
        done <"$SIDE_BY_SIDE_PIDS"
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

APT_UPDATED=
# need PROGRAM PACKAGE...: installs the packages unless PROGRAM is there.
need() {
    local program=$1
    shift
    if ! command -v "$program" >/dev/null 2>&1; then
        if [ -z "$APT_UPDATED" ]; then
            apt-get update
            APT_UPDATED=1
        fi
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@"
    fi
}

# run_bench NAME: builds and runs tests/benches/NAME.rs (release profile) in the foreground.
run_bench() {
    BENCH=$1
    (cd "$ROOT" && cargo bench -p heartline-e2e --bench "$BENCH")
}

# publish SECTION COMMAND: puts the bench's table, with the date, the machine and COMMAND, between
# `<!-- side-by-side:SECTION -->` and `<!-- /side-by-side:SECTION -->` in BENCHMARKS.md (appended
# at the end when the markers are missing).
publish() {
    local section=$1 command=$2
    local machine
    machine="$(nproc) cores (shared with other engineers' builds; load average before the run $LOAD_BEFORE), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(. /etc/os-release && echo "$PRETTY_NAME")"
    SECTION=$section COMMAND=$command MACHINE=$machine python3 - "$ROOT/BENCHMARKS.md" "$SIDE_BY_SIDE_MD" <<'EOF'
import datetime, os, sys
path, table = sys.argv[1], open(sys.argv[2]).read().strip()
start, end = f"<!-- side-by-side:{os.environ['SECTION']} -->", f"<!-- /side-by-side:{os.environ['SECTION']} -->"
when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
block = (f"{start}\nLast run {when} on {os.environ['MACHINE']}, with\n"
         f"`{os.environ['COMMAND']}`:\n\n{table}\n{end}")
text = open(path).read()
if start in text and end in text:
    text = text[: text.index(start)] + block + text[text.index(end) + len(end):]
else:
    text = text.rstrip("\n") + f"\n\n## Side by side: {os.environ['SECTION']}\n\n{block}\n"
open(path, "w").write(text)
EOF
    echo "BENCHMARKS.md: section $section updated"
}
