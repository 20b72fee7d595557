"""``kafka-server-stop.sh``: see :mod:`kafkalite.cli.server`."""

from kafkalite.cli.server import kafka_server_stop as main

if __name__ == "__main__":
    main()
