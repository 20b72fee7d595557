#!/usr/bin/env bash
exec "$(dirname "$0")/kafka-run-class.sh" kafkalite.cli.zookeeper_tools zookeeper-server-start "$@"
