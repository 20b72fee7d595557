# kafkalite: `make cluster` runs ZooKeeper + 3 brokers in the foreground (BROKERS=1 for one);
# `make test` runs the suite.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
BROKERS ?= 3

.PHONY: cluster cluster-stop test unit integration bench bench-cluster bench-txn bench-security bench-metrics bench-startup bench-scale bench-requests chaos deps-zookeeper venv clean fuzz

$(STAMP): setup.cfg pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	@touch $(STAMP)

venv: $(STAMP)

# A real ZooKeeper: use KAFKALITE_ZK_CONNECT or ZOOKEEPER_HOME if set, else the Debian package
# (installed with apt-get when running as root).
deps-zookeeper:
	@if [ -n "$$KAFKALITE_ZK_CONNECT" ] || [ -n "$$ZOOKEEPER_HOME" ] || \
	    [ -f /usr/share/java/zookeeper.jar ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing ZooKeeper: apt-get install zookeeper"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	      apt-get install -y -qq --no-install-recommends zookeeper default-jre-headless; \
	else \
	    echo "No ZooKeeper found. Either install the Debian package (sudo apt-get install zookeeper)," >&2; \
	    echo "set ZOOKEEPER_HOME to an Apache ZooKeeper 3.8 binary release, or set" >&2; \
	    echo "KAFKALITE_ZK_CONNECT=host:port to use a running ZooKeeper." >&2; \
	    exit 1; \
	fi

cluster: $(STAMP) deps-zookeeper
	$(PY) -m kafkalite.cli.cluster --brokers $(BROKERS)

cluster-stop: $(STAMP)
	$(PY) -m kafkalite.cli.cluster --stop

test: $(STAMP) deps-zookeeper
	$(PY) -m pytest tests integration

unit: $(STAMP)
	$(PY) -m pytest tests

integration: $(STAMP) deps-zookeeper
	$(PY) -m pytest integration

bench: $(STAMP) deps-zookeeper
	$(PY) -m kafkalite.cli.bench

# acks=all on 3 brokers (RF=3) vs acks=1 on one, and leader failover time; REPEATS, FAILOVERS,
# SESSION_TIMEOUT_MS, PEER, LATENCY, PREWARM_MB, SINGLE_SCENARIOS, CLUSTER_SCENARIOS, BENCH_DIR,
# BENCH_ARGS and OUTDIR as environment variables.
bench-cluster: $(STAMP) deps-zookeeper
	$(PY) -m kafkalite.cli.bench_cluster

# transactional produce (500 records per transaction) and read_committed consume on 3 brokers,
# beside acks=all and read_uncommitted; REPEATS, RECORDS, TXN_SIZE, OUTDIR.
bench-txn: $(STAMP) deps-zookeeper
	$(PY) -m kafkalite.cli.bench_txn

# produce and consume over a SASL_SSL (SCRAM-SHA-512) listener beside PLAINTEXT on the same
# broker, with the shared harness; REPEATS, BENCH_DIR, BENCH_ARGS, OUTDIR.
bench-security: $(STAMP) deps-zookeeper
	$(PY) -m kafkalite.cli.bench_security

# the metrics endpoint on (scraped every SCRAPE_S, default 1 s) vs off, interleaved; REPEATS,
# SCRAPE_S, BENCH_DIR, BENCH_ARGS, OUTDIR.
bench-metrics: $(STAMP) deps-zookeeper
	$(PY) -m kafkalite.cli.bench_metrics

bench-startup: $(STAMP) deps-zookeeper
	$(PY) -m kafkalite.cli.bench_startup

# broker CPU µs per small request (one-record produce, small fetch, metadata, heartbeat, offset
# commit), one at a time over a raw socket; REQUESTS, ROUNDS; BENCH_ARGS e.g. --rdkafka,
# --py-spy FILE for where the time goes.
bench-requests: $(STAMP) deps-zookeeper
	$(PY) -m kafkalite.cli.bench_requests $(BENCH_ARGS)

# one broker with PARTITIONS partitions (start-up after SIGTERM and SIGKILL, RSS, open files,
# Metadata for all topics) and 3 brokers with PARTITIONS partitions at RF=3 (start + elect,
# controller failover after SIGKILL); writes $(OUTDIR)/scale.json (OUTDIR default: a new
# temporary directory) and prints a table.
PARTITIONS ?= 10000
bench-scale: $(STAMP) deps-zookeeper
	$(PY) -m kafkalite.cli.bench_scale --partitions $(PARTITIONS) $(if $(OUTDIR),--outdir $(OUTDIR))

# Jepsen-style run: 3 brokers + ZooKeeper behind fault proxies, idempotent and transactional
# producers and read_committed consumers, a nemesis (kills, SIGTERM, SIGSTOP, partitions,
# ZooKeeper restarts, slow follower, disk full, clock jumps) for DURATION seconds; then heal,
# read everything and check (lost, duplicates, aborted reads, ...). Writes OUTDIR/history.jsonl
# and OUTDIR/chaos.json, fails if an anomaly row is not 0. FAULTS=kind,... and SEED optional.
# CI runs a 3-minute version (integration/test_chaos.py); before a release run
# `make chaos DURATION=1800`. Disk full needs root (a tmpfs per broker).
DURATION ?= 240
chaos: $(STAMP) deps-zookeeper
	$(PY) -m kafkalite.cli.chaos --duration $(DURATION) $(if $(OUTDIR),--outdir $(OUTDIR))

# structure-aware protocol fuzzing of one broker beside a healthy producer (frames of every API
# and version, mutated, truncated, oversized, compression bombs); writes $(OUTDIR)/fuzz.json.
# FRAMES, OUTDIR, SEED, WORKERS, MAX_RSS_GROWTH_MB as variables or in the environment.
FRAMES ?= 20000
fuzz: $(STAMP) deps-zookeeper
	FRAMES=$(FRAMES) $(PY) -m kafkalite.cli.fuzz $(if $(OUTDIR),--outdir $(OUTDIR))

clean:
	rm -rf .cluster build *.egg-info .pytest_cache
