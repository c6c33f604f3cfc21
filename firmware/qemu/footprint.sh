#!/usr/bin/env bash
# Flash and static RAM of the release board binary, and which part of the flash is MQTT,
# protobuf, HMAC-SHA256, the reporter, drivers and the rest (by symbol, from `nm --size-sort`).
# Usage: bash firmware/qemu/footprint.sh   (needs binutils-arm-none-eabi)
set -euo pipefail
cd "$(dirname "$0")"
env -u CARGO_TARGET_DIR cargo build --release --locked --quiet
elf=target/thumbv7m-none-eabi/release/heartline-qemu

echo "== arm-none-eabi-size (text = flash code+constants, data = flash and RAM, bss = RAM)"
arm-none-eabi-size "$elf"
read -r text data bss < <(arm-none-eabi-size "$elf" | awk 'NR == 2 { print $1, $2, $3 }')
printf 'flash %d B (%.1f KiB), static RAM %d B (%.1f KiB)\n' \
    $((text + data)) "$(echo "($text + $data) / 1024" | bc -l)" \
    $((data + bss)) "$(echo "($data + $bss) / 1024" | bc -l)"

echo
echo "== flash by part (code and constants in .text/.rodata, by demangled symbol)"
# Functions inlined into a caller count for the caller: LTO merges small helpers upward.
arm-none-eabi-nm --print-size --size-sort --demangle "$elf" |
    awk '$3 ~ /^[tTrR]$/ {
        size = strtonum("0x" $2); name = substr($0, index($0, $4))
        part = "other (runtime, core, board)"
        if (name ~ /mqtt::/) part = "MQTT (codec + session)"
        else if (name ~ /micropb|::pb::|envelope::|heartline_::v1_/) part = "protobuf (micropb) + envelope"
        else if (name ~ /sha2|hmac|digest|signing::/) part = "HMAC-SHA256"
        else if (name ~ /reporter::|outbox::|report::|health::|topics::/) part = "reporter (reports, checks, outbox)"
        else if (name ~ /drivers::|sensors::/) part = "drivers"
        else if (name ~ /compiler_builtins|__aeabi|__adddf|__muldf|__divdf|__floatsidf|__floatunsidf|__floatundidf|__udivmoddi|__aeabi_/) part = "soft-float and 64-bit division"
        sum[part] += size; total += size
    }
    END {
        for (p in sum) printf "%7d B  %5.1f %%  %s\n", sum[p], 100 * sum[p] / total, p
        printf "%7d B  100.0 %%  all symbols\n", total
    }' | sort -rn

echo
echo "== largest RAM symbols"
arm-none-eabi-nm --print-size --size-sort --demangle "$elf" | awk '$3 ~ /^[bBdD]$/' | tail -5
