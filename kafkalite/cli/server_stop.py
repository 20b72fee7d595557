"""``kafka-server-stop.sh``: see :mod:`kafkalite.cli.server`."""

from kafkalite.cli.server import kafka_server_stop as main

if __name__ == "__main__":
    from kafkalite.cli.tools import run_module

    run_module("kafkalite.cli.server_stop")
