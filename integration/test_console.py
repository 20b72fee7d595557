"""The web console in a real headless Chromium against real brokers.

Two brokers serve a console each: broker 0's is read-only (the default), broker 1's has
``console.read.only=false``. confluent-kafka writes known records and a group's offsets; the
browser then checks what every page shows against what was written (partition count, message
count, size on disk, a record at an offset, a group's lag) and that no page logs a browser
console error. Screenshots of each page go to ``test-output/console/``. A third test signs in
to a SASL broker's console as different users.
"""

from __future__ import annotations

import base64
import contextlib
import json
import signal
import threading
import time
import urllib.error
import urllib.request
import uuid

import pytest

from kafkalite.cli.cluster import REPO_ROOT, BrokerProcess, free_port
from kafkalite.testing.webdriver import Browser, find_chromium

SHOTS = REPO_ROOT / "test-output" / "console"
TOPIC = "orders"
GROUP = "billing"
RESET_GROUP = "billing-replay"
COMMITTED = {0: 4, 1: 2}          # partition -> committed offset of GROUP
PER_PARTITION = 10               # records written to each of the 3 partitions


@pytest.fixture(scope="module")
def browser():
    if find_chromium() is None:
        pytest.fail("chromium and chromedriver are needed: apt-get install chromium "
                    "chromium-driver")
    with Browser() as b:
        yield b


def http(method: str, url: str, body: object = None, *, auth: tuple[str, str] | None = None,
         headers: dict | None = None) -> tuple[int, object]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if auth is not None:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        req.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw)
        except ValueError:
            return e.code, raw.decode(errors="replace")


@pytest.fixture(scope="module")
def cluster(zookeeper, tmp_path_factory):
    """Brokers 0 and 1 with metrics and a console each; the topic and two groups' offsets
    written (the write test resets the second group, so the first keeps its lag)."""
    from confluent_kafka import Consumer, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic

    workdir = tmp_path_factory.mktemp("console")
    zk_connect = f"{zookeeper.hosts}/console-{uuid.uuid4().hex[:8]}"
    brokers = []
    try:
        for i in range(2):
            brokers.append(BrokerProcess(broker_id=i, zk_connect=zk_connect,
                                         workdir=workdir / f"broker-{i}", overrides={
                "console.listener": f"http://127.0.0.1:{free_port()}",
                "metrics.listener": f"http://127.0.0.1:{free_port()}",
                "console.read.only": "true" if i == 0 else "false",
                "zookeeper.session.timeout.ms": 6000, "num.partitions": 1,
                "group.initial.rebalance.delay.ms": 0, "offsets.topic.replication.factor": 1,
                "offsets.topic.num.partitions": 5,
                # stopped together at the end: no leadership hand-over to wait for
                "controlled.shutdown.enable": "false"}))
            brokers[-1].start(wait=False)
        for b in brokers:
            b.wait_ready(60)
        bootstrap = ",".join(b.bootstrap for b in brokers)
        admin = AdminClient({"bootstrap.servers": bootstrap})
        admin.create_topics([NewTopic(TOPIC, 3, 2)])[TOPIC].result(30)
        producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
        for i in range(3 * PER_PARTITION):
            producer.produce(TOPIC, key=f"k{i}".encode(),
                             value=json.dumps({"id": i, "item": "widget"}).encode(),
                             partition=i % 3, headers=[("source", b"integration")])
        assert producer.flush(30) == 0
        for group in (GROUP, RESET_GROUP):
            consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                                 "enable.auto.commit": False})
            consumer.commit(offsets=[TopicPartition(TOPIC, p, o) for p, o in COMMITTED.items()],
                            asynchronous=False)
            consumer.close()
        yield brokers, admin
    finally:
        for b in brokers:          # stop both at once: each waits for its own shutdown only
            b.signal(signal.SIGTERM)
        for b in brokers:
            b.stop()


def console_url(b: BrokerProcess) -> str:
    return b.properties["console.listener"].rstrip("/") + "/"


def leader_log_bytes(brokers: list[BrokerProcess], admin) -> int:
    """Bytes of the leaders' segment files of TOPIC, read from the brokers' log dirs."""
    by_id = {b.broker_id: b for b in brokers}
    total = 0
    for p, meta in admin.list_topics(TOPIC, timeout=10).topics[TOPIC].partitions.items():
        total += sum(f.stat().st_size
                     for f in (by_id[meta.leader].log_dir / f"{TOPIC}-{p}").glob("*.log"))
    return total


@contextlib.contextmanager
def traffic(bootstrap: str):
    """A producer writing small records to topic ``traffic`` until the block ends."""
    from confluent_kafka import Producer

    stop = threading.Event()

    def pump() -> None:
        producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5})
        while not stop.is_set():
            for _ in range(20):
                producer.produce("traffic", value=b"x" * 100)
            producer.poll(0)
            time.sleep(0.1)
        producer.flush(10)

    thread = threading.Thread(target=pump, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(15)


def show(browser: Browser, url: str, ready_js: str, name: str, *args) -> object:
    """Open a page, wait until ``ready_js`` is truthy, screenshot it, and fail on any
    SEVERE browser console entry (script errors, failed loads, CSP violations)."""
    browser.get(url)
    value = browser.wait_for(ready_js, *args, timeout=20)
    browser.full_page_screenshot(SHOTS / f"{name}.png")
    severe = [e for e in browser.console_log() if e.get("level") == "SEVERE"]
    assert not severe, f"{name}: browser console errors: {severe}"
    return value


def test_pages_show_the_cluster(cluster, browser):
    brokers, admin = cluster
    base = console_url(brokers[0])
    browser.console_log()  # start from an empty log

    rows = show(browser, base + "#/",
                "const r = document.querySelectorAll('#brokers-table tbody tr[data-broker]');"
                "return r.length === 2 ? r.length : null;", "overview")
    assert rows == 2
    assert "broker" in browser.text(".cards")  # the controller card names one

    cells = show(browser, base + "#/topics",
                 "const r = document.querySelector('#topics-table tr[data-topic=\"orders\"]');"
                 "return r && [r.querySelector('.partitions').innerText,"
                 " r.querySelector('.messages').innerText,"
                 " r.querySelector('.size').dataset.bytes];", "topics")
    assert cells[0] == "3"
    assert cells[1] == str(3 * PER_PARTITION)
    assert int(cells[2]) == leader_log_bytes(brokers, admin)

    partitions = show(browser, base + f"#/topics/{TOPIC}",
                      "const r = document.querySelectorAll('#partitions-table tr[data-partition]');"
                      "return r.length || null;", "topic")
    assert partitions == 3

    # Partition 0 holds records 0, 3, 6, ...: offset 2 is record 6.
    record = show(browser, base + f"#/topics/{TOPIC}/messages?partition=0&offset=2&limit=5",
                  "const r = document.querySelector('#messages-table tr[data-offset=\"2\"]');"
                  "return r && [r.querySelector('.key').innerText, r.querySelector('.value').innerText,"
                  " r.querySelector('.headers').innerText,"
                  " document.querySelectorAll('#messages-table tr[data-offset]').length];",
                  "messages")
    assert record[0].strip() == "k6"
    assert json.loads(record[1]) == {"id": 6, "item": "widget"}
    assert "source" in record[2] and "integration" in record[2]
    assert record[3] == 5

    expected_lag = sum(PER_PARTITION - o for o in COMMITTED.values())
    lag = show(browser, base + "#/groups",
               "const r = document.querySelector('#groups-table tr[data-group=\"billing\"]');"
               "return r && r.querySelector('.lag').innerText;", "groups")
    assert lag.strip() == str(expected_lag)

    lags = show(browser, base + f"#/groups/{GROUP}",
                "const r = [...document.querySelectorAll('#offsets-table tr[data-partition]')];"
                "return r.length === 2 && r.map(x => [x.dataset.partition,"
                " x.querySelector('.committed').innerText, x.querySelector('.log-end').innerText,"
                " x.querySelector('.lag').innerText.trim()]);", "group")
    assert sorted(lags) == [[str(p), str(o), str(PER_PARTITION), str(PER_PARTITION - o)]
                            for p, o in sorted(COMMITTED.items())]

    # Live charts: produce in the background until a broker's messages-in rate shows it (the
    # console samples every 5 s, and a rate needs two samples).
    with traffic(",".join(b.bootstrap for b in brokers)):
        deadline = time.monotonic() + 30
        while not any(max((v for _, v in b["series"].get("messages_in", [])), default=0) > 0
                      for b in http("GET", base + "api/metrics")[1]["brokers"]):
            assert time.monotonic() < deadline, "no messages-in rate after 30 s"
            time.sleep(0.5)
        drawn = show(browser, base + "#/brokers",
                     "const s = document.querySelectorAll('section.broker');"
                     "const lines = document.querySelectorAll('section.broker polyline.series');"
                     "return s.length === 2 && lines.length > 0 && s.length;", "brokers")
    assert drawn == 2


def test_writes_only_where_allowed(cluster, browser):
    brokers, admin = cluster
    read_only, writable = console_url(brokers[0]), console_url(brokers[1])

    status, body = http("POST", read_only + "api/topics", {"name": "refused"})
    assert status == 403 and "read-only" in body["error"]
    status, _ = http("POST", read_only + f"api/groups/{GROUP}/reset", {"to": "earliest"})
    assert status == 403
    status, _ = http("PUT", read_only + "api/topics", {"name": "refused"})
    assert status == 405
    assert "refused" not in admin.list_topics(timeout=10).topics

    # Create a topic with the form, as a person would.
    browser.console_log()
    browser.get(writable + "#/topics")
    browser.wait_for("return document.querySelector('#create-topic')")
    browser.execute("const f = document.querySelector('#create-topic');"
                    "f.querySelector('[name=name]').value = 'made-in-browser';"
                    "f.querySelector('[name=partitions]').value = '2';"
                    "f.querySelector('[name=replication_factor]').value = '2';"
                    "f.querySelector('[name=configs]').value = 'retention.ms=3600000';"
                    "f.requestSubmit();")
    browser.wait_for("const n = document.querySelector('#create-topic .notice.ok');"
                     "return n && n.innerText;")
    browser.wait_for("return document.querySelector('#topics-table tr[data-topic=\"made-in-browser\"]')")
    browser.full_page_screenshot(SHOTS / "topics-writable.png")
    assert not [e for e in browser.console_log() if e.get("level") == "SEVERE"]
    made = admin.list_topics(timeout=10).topics["made-in-browser"]
    assert len(made.partitions) == 2
    status, topic = http("GET", writable + "api/topics/made-in-browser")
    assert {"name": "retention.ms", "value": "3600000", "source": "topic",
            "read_only": False} in topic["configs"]

    status, body = http("POST", writable + f"api/groups/{RESET_GROUP}/reset", {"to": "earliest"})
    assert status == 200, body
    assert body["offsets"] == [{"topic": TOPIC, "partition": p, "offset": 0} for p in COMMITTED]
    status, group = http("GET", writable + f"api/groups/{RESET_GROUP}")
    assert {(o["partition"], o["committed"], o["lag"]) for o in group["offsets"]} == \
        {(p, 0, PER_PARTITION) for p in COMMITTED}

    # Delete records with the topic page's form.
    from confluent_kafka import Producer
    from confluent_kafka.admin import NewTopic

    admin.create_topics([NewTopic("trimmed", 1, 1)])["trimmed"].result(30)
    producer = Producer({"bootstrap.servers": ",".join(b.bootstrap for b in brokers)})
    for i in range(5):
        producer.produce("trimmed", value=f"r{i}".encode())
    assert producer.flush(30) == 0
    browser.get(writable + "#/topics/trimmed")
    browser.wait_for("const r = document.querySelector('#partitions-table tr[data-partition=\"0\"]');"
                     "return r && r.innerText.includes('5');")
    browser.execute("document.querySelector('#partitions-table button.danger').click();")
    browser.wait_for("return document.querySelector('#delete-records')")
    browser.execute("const f = document.querySelector('#delete-records');"
                    "f.querySelector('[name=offset]').value = '3'; f.requestSubmit();")
    note = browser.wait_for("const n = document.querySelector('#delete-records .notice.ok');"
                            "return n && n.innerText;")
    assert "starts at offset 3" in note
    browser.full_page_screenshot(SHOTS / "topic-delete-records.png")
    assert not [e for e in browser.console_log() if e.get("level") == "SEVERE"]
    status, topic = http("GET", writable + "api/topics/trimmed")
    assert (topic["partitions"][0]["log_start"], topic["partitions"][0]["messages"]) == (3, 2)

    status, body = http("POST", writable + "api/topics", {"name": "made-in-browser"})
    assert status == 409 and body["kafka_error"] == "TOPIC_ALREADY_EXISTS"
    status, body = http("POST", writable + "api/topics/nope/delete-records",
                        {"partition": 0, "offset": 1})
    assert status == 404


JAAS_PLAIN = ('org.apache.kafka.common.security.plain.PlainLoginModule required '
              'username="admin" password="admin-secret" user_admin="admin-secret" '
              'user_alice="alice-secret";')


def test_secured_console_signs_in_as_the_user(broker_factory):
    from confluent_kafka.admin import AdminClient, NewTopic

    plain_port, sasl_port = free_port(), free_port()
    broker = broker_factory(0, port=plain_port, props={
        "listeners": f"PLAINTEXT://127.0.0.1:{plain_port},SASL_PLAINTEXT://127.0.0.1:{sasl_port}",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT",
        "inter.broker.listener.name": "PLAINTEXT",
        "sasl.enabled.mechanisms": "PLAIN",
        "listener.name.sasl_plaintext.plain.sasl.jaas.config": JAAS_PLAIN,
        "authorizer.class.name": "kafka.security.authorizer.AclAuthorizer",
        "allow.everyone.if.no.acl.found": "false",
        "super.users": "User:admin;User:ANONYMOUS",
        "console.listener": f"http://127.0.0.1:{free_port()}",
        "console.read.only": "false"})
    secret = f"secret-{uuid.uuid4().hex[:6]}"
    admin = AdminClient({"bootstrap.servers": f"127.0.0.1:{sasl_port}",
                         "security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN",
                         "sasl.username": "admin", "sasl.password": "admin-secret"})
    admin.create_topics([NewTopic(secret, 1, 1)])[secret].result(30)
    base = console_url(broker)

    status, _ = http("GET", base + "api/overview")
    assert status == 401
    status, _ = http("GET", base, headers={"Accept": "text/html"})
    assert status == 401
    status, body = http("GET", base + "api/overview", auth=("alice", "wrong"))
    assert status == 401 and "wrong user name or password" in body["error"]

    status, body = http("GET", base + "api/topics", auth=("admin", "admin-secret"))
    assert status == 200 and secret in [t["name"] for t in body["topics"]]
    assert body["session"] == {"broker_id": 0, "read_only": False, "secured": True,
                               "user": "admin"}
    # alice has no ACLs: the broker hides the topic and refuses her changes.
    status, body = http("GET", base + "api/topics", auth=("alice", "alice-secret"))
    assert status == 200 and secret not in [t["name"] for t in body["topics"]]
    status, body = http("POST", base + "api/topics", {"name": "alice-was-here"},
                        auth=("alice", "alice-secret"))
    assert status == 403, body
    status, body = http("POST", base + "api/topics", {"name": "admin-was-here"},
                        auth=("admin", "admin-secret"))
    assert status == 201, body
