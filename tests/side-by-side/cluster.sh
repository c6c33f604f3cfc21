#!/usr/bin/env bash
# A fleet through a broker cluster: the hub and six `heartline-hub broker` nodes as separate
# processes, 100,000 devices from seven load-generator processes (each process under the
# container's 20,000 open files), a signed report every 120 s; one broker node SIGKILLed
# mid-run; every report must be committed and acknowledged with no ticket opened. Writes the
# figures into BENCHMARKS.md. About 15 minutes.
#
#   bash tests/side-by-side/cluster.sh   # env: DEVICES=100000 NODES=7 LOADGENS=7 KEEPALIVE_S=60
#                                        # REPORT_S=120 HOLD_S=150 AFTER_KILL_S=300 KILL_NODE=2 HANDSHAKES=16
source "$(dirname "$0")/lib.sh"

ulimit -n 1048576 2>/dev/null || ulimit -n "$(ulimit -Hn)"
echo "open files: soft $(ulimit -Sn), hard $(ulimit -Hn)"
run_bench cluster_fleet
publish cluster "bash tests/side-by-side/cluster.sh"
