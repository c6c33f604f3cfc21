#!/usr/bin/env bash
# Time to detect a dead device, side by side: the hub's ticket against Prometheus + Alertmanager's
# notification, for the same 1,000 virtual devices and the same deaths; writes the table to
# BENCHMARKS.md. Installs Prometheus and Alertmanager from Debian if missing. About 6 minutes.
#
#   bash tests/side-by-side/detect.sh   # env: DEVICES=1000 KILLS=50 KILL_SPAN_S=120 CHECKIN_S=15
#                                       # GRACE_S=30 SCRAPE_S=15 FOR_S=30 GROUP_WAIT_S=10
source "$(dirname "$0")/lib.sh"

need prometheus prometheus
need prometheus-alertmanager prometheus-alertmanager
export PROMETHEUS=$(command -v prometheus) ALERTMANAGER=$(command -v prometheus-alertmanager)
run_bench detect_vs_prometheus
publish detect "bash tests/side-by-side/detect.sh"
