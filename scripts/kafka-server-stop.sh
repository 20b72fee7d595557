#!/usr/bin/env bash
exec "$(dirname "$0")/kafka-run-class.sh" kafkalite.cli.server_stop "$@"
