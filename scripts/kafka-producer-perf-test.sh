#!/usr/bin/env bash
exec "$(dirname "$0")/kafka-run-class.sh" kafkalite.cli.producer_perf_test "$@"
