#!/usr/bin/env bash
# Ingest throughput, side by side: the hub (broker + verification + engine + redb commit, acks)
# against Mosquitto merely forwarding the same signed reports to one subscriber; writes the
# table to BENCHMARKS.md. Installs Mosquitto from Debian if missing. A few minutes.
#
#   bash tests/side-by-side/ingest.sh        # env: DEVICES=64 REPORTS=1000 ROUNDS=3
source "$(dirname "$0")/lib.sh"

need mosquitto mosquitto
export MOSQUITTO=$(command -v mosquitto)
run_bench ingest_vs_mosquitto
publish ingest "bash tests/side-by-side/ingest.sh"
