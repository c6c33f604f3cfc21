#!/usr/bin/env bash
# The firmware end to end under QEMU against the real hub. Installs qemu-system-arm and the
# thumbv7m target if missing, builds the board binary twice (a counted run and an endless one),
# then runs the e2e test that starts the hub and QEMU and asserts on the hub's side.
# Usage: bash firmware/qemu/e2e.sh   (tests/run-all calls it)
set -euo pipefail
cd "$(dirname "$0")"
board_dir=$(pwd)
root=$(cd ../.. && pwd)

as_root() {
    if [ "$(id -u)" = 0 ]; then
        "$@"
    elif command -v sudo > /dev/null; then
        sudo "$@"
    else
        echo "e2e.sh: need root to run: $*" >&2
        return 1
    fi
}

if ! command -v qemu-system-arm > /dev/null; then
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends qemu-system-arm
fi
if ! rustup target list --installed | grep -qx thumbv7m-none-eabi; then
    rustup target add thumbv7m-none-eabi
fi

# The device the board binaries are built for, and the hub's inventory entry for it.
export HEARTLINE_FW_TENANT=lab
export HEARTLINE_FW_DEVICE=mcu-e2e-0
export HEARTLINE_FW_TOKEN=e2e-token-7f3a91
export HEARTLINE_FW_KEY=5be1c7a0f2d94e6b8a3c1d0e9f7b6a5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a
export HEARTLINE_FW_INTERVAL_MS=1000
export HEARTLINE_FW_REPORTS=3

out="$board_dir/target/e2e"
mkdir -p "$out"
build() { # reports, output file
    # The board has its own workspace and target dir, whatever the caller's CARGO_TARGET_DIR.
    env -u CARGO_TARGET_DIR HEARTLINE_FW_REPORTS="$1" cargo build --release --locked --quiet
    cp target/thumbv7m-none-eabi/release/heartline-qemu "$2"
}
build "$HEARTLINE_FW_REPORTS" "$out/counted.elf"
build 0 "$out/endless.elf"
export HEARTLINE_FW_ELF_COUNTED="$out/counted.elf"
export HEARTLINE_FW_ELF_FOREVER="$out/endless.elf"

cd "$root"
timeout 1200 cargo test -p heartline-e2e --test firmware_qemu -- --ignored --nocapture
