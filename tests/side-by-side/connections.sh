#!/usr/bin/env bash
# Connections: as many devices as fit (100,000 wanted) held connected to one hub with keepalive
# pings and a report every few minutes; the hub's RSS per device and CPU, level by level, then
# Mosquitto (Debian, installed if missing) holding the same devices the same way; writes the
# tables to BENCHMARKS.md. About 10 minutes.
#
#   bash tests/side-by-side/connections.sh   # env: DEVICES=100000 STEP=5000 HOLD_S=45
#                                            # FINAL_HOLD_S=150 KEEPALIVE_S=30 REPORT_S=120 SOURCES=5 HANDSHAKES=32
source "$(dirname "$0")/lib.sh"

# One descriptor per device in the hub and in the load generator: raise the soft limit as far as
# this machine allows (raising the hard limit needs CAP_SYS_RESOURCE).
ulimit -n 1048576 2>/dev/null || ulimit -n "$(ulimit -Hn)"
echo "open files: soft $(ulimit -Sn), hard $(ulimit -Hn)"
need mosquitto mosquitto
export MOSQUITTO=$(command -v mosquitto)
run_bench connections
publish connections "bash tests/side-by-side/connections.sh"
