#!/usr/bin/env bash
# Soak: the hub and a fleet in separate processes for a while at an accelerated report rate
# (2,000 devices, a report every 5 s each, one in a hundred silent now and then); samples the
# hub's RSS, open files and store size every minute, checks that memory stays flat and nothing
# is lost, and writes a table and a plot (docs/soak.png) into BENCHMARKS.md. 30 minutes unless
# SOAK_MIN says otherwise.
#
#   bash tests/side-by-side/soak.sh   # env: SOAK_MIN=30 DEVICES=2000 REPORT_S=5 SAMPLE_S=60
#                                     # HISTORY_LEN=100 SILENT_EVERY_S=600 SILENT_FOR_S=120
#                                     # KEEPALIVE_S=60 SOAK_PNG=docs/soak.png
source "$(dirname "$0")/lib.sh"

ulimit -n 1048576 2>/dev/null || ulimit -n "$(ulimit -Hn)"
# The plot's text (the bench reads the TrueType file itself).
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need /nonexistent/font fonts-dejavu-core
export SILENT_EVERY_S=${SILENT_EVERY_S:-600} SILENT_FOR_S=${SILENT_FOR_S:-120}
export SOAK_PNG=${SOAK_PNG:-$ROOT/docs/soak.png}
run_bench soak
publish soak "bash tests/side-by-side/soak.sh  # SOAK_MIN=${SOAK_MIN:-30}"
