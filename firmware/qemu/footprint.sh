#!/usr/bin/env bash
# Flash and static RAM of the release board binary (arm-none-eabi-size), then which part of the
# flash is MQTT, protobuf, HMAC-SHA256, the reporter, drivers and the rest: by symbol size from
# a second build whose parts' entry points are kept out of line (feature `footprint`), because
# LTO otherwise inlines them all into `main`.
# Usage: bash firmware/qemu/footprint.sh   (needs binutils-arm-none-eabi)
set -euo pipefail
cd "$(dirname "$0")"
elf=target/thumbv7m-none-eabi/release/heartline-qemu
build() { env -u CARGO_TARGET_DIR cargo build --release --locked --quiet "$@"; }

build
echo "== shipped build: arm-none-eabi-size (text = code + constants, bss = zeroed RAM)"
arm-none-eabi-size "$elf"
read -r text data bss < <(arm-none-eabi-size "$elf" | awk 'NR == 2 { print $1, $2, $3 }')
echo "flash $((text + data)) B, static RAM $((data + bss)) B"

build --features footprint
echo
echo "== flash by part (build with --features footprint: $(arm-none-eabi-size "$elf" | awk 'NR == 2 { print $1 + $2 }') B)"
arm-none-eabi-nm --print-size --size-sort --demangle --radix=d "$elf" |
    awk '$3 ~ /^[tTrR]$/ {
        size = $2 + 0; name = substr($0, index($0, $4))
        part = "rest: board, runtime, core (memcpy, str, panics), vector table"
        if (name ~ /compiler_builtins::mem|__aeabi_mem/) part = part
        else if (name ~ /mqtt::/) part = "MQTT: codec + session"
        else if (name ~ /micropb|::pb::|envelope::/) part = "protobuf: micropb encode/decode + Signed envelope"
        else if (name ~ /sha2|hmac|digest|signing::/) part = "HMAC-SHA256"
        else if (name ~ /reporter::|outbox::|report::|health::|topics::|text::/) part = "reporter: reports, checks, outbox, topics"
        else if (name ~ /drivers::|sensors::|qemu::i2c::/) part = "drivers: LM75, supply, board I2C master"
        else if (name ~ /compiler_builtins|__aeabi_[dfil]|__[a-z]*df[0-9]|__udivmoddi/) part = "soft-float (f64 metric values) and 64-bit division"
        sum[part] += size; total += size
    }
    END {
        for (p in sum) printf "%7d B  %5.1f %%  %s\n", sum[p], 100 * sum[p] / total, p
        printf "%7d B  100.0 %%  all sized symbols\n", total
    }' | sort -rn
build
