"""Secured listeners with real clients: TLS, mutual TLS, SASL (PLAIN, SCRAM-SHA-256/512) over
plaintext and over TLS, with Kafka's ``server.properties`` keys and JAAS lines.

One broker serves six listeners side by side (PLAINTEXT for set-up, SSL, MTLS = SSL with
``ssl.client.auth=required``, SASL_PLAINTEXT, SASL_SSL), so the client matrix shares it:
kcat, confluent-kafka, kafka-python and kafkajs each produce and consume over every security
setting. Certificates are made by the test with ``openssl`` (``kafkalite.cli.dev_pki``);
SCRAM users are created with ``kafka-configs.sh --zookeeper`` as a Kafka operator would, one of
them while the broker runs, and deleted again.
"""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import subprocess
import time
import uuid

import pytest

from kafkalite.cli.cluster import BrokerProcess, free_port
from kafkalite.cli.dev_pki import make_pki
from kafkalite.testing.clients import create_topic
from kafkalite.testing.processes import run_script, wait_for

USERS = {"alice": "alice-secret", "bob": "bob-secret"}
JAAS_PLAIN = ('org.apache.kafka.common.security.plain.PlainLoginModule required '
              'username="admin" password="admin-secret" user_admin="admin-secret" '
              + " ".join(f'user_{u}="{p}"' for u, p in USERS.items()) + ";")
JAAS_SCRAM = ('org.apache.kafka.common.security.scram.ScramLoginModule required '
              'username="admin" password="admin-secret";')
LISTENERS = ("PLAINTEXT", "SSL", "MTLS", "SASL_PLAINTEXT", "SASL_SSL")


@pytest.fixture(scope="module")
def secured(zookeeper, tmp_path_factory):
    """One broker with every kind of listener; yields (broker, ports, pki, zk_connect)."""
    workdir = tmp_path_factory.mktemp("secured")
    pki = make_pki(workdir / "pki")
    zk_connect = f"{zookeeper.hosts}/sec-{uuid.uuid4().hex[:8]}"
    ports = {name: free_port() for name in LISTENERS}
    for user, password in USERS.items():
        add_scram_user(zk_connect, user, password)
    props = {
        "listeners": ",".join(f"{n}://127.0.0.1:{p}" for n, p in ports.items()),
        "listener.security.protocol.map":
            "PLAINTEXT:PLAINTEXT,SSL:SSL,MTLS:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,"
            "SASL_SSL:SASL_SSL",
        "inter.broker.listener.name": "PLAINTEXT",
        "ssl.keystore.type": "PEM", "ssl.keystore.location": str(pki.broker_keystore),
        "ssl.key.password": pki.broker_key_password,
        "ssl.truststore.type": "PEM", "ssl.truststore.location": str(pki.ca),
        "listener.name.mtls.ssl.client.auth": "required",
        "sasl.enabled.mechanisms": "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512",
        "offsets.topic.replication.factor": 1, "offsets.topic.num.partitions": 3,
        "group.initial.rebalance.delay.ms": 0,
    }
    for listener in ("sasl_plaintext", "sasl_ssl"):
        props[f"listener.name.{listener}.plain.sasl.jaas.config"] = JAAS_PLAIN
        for mech in ("scram-sha-256", "scram-sha-512"):
            props[f"listener.name.{listener}.{mech}.sasl.jaas.config"] = JAAS_SCRAM
    broker = BrokerProcess(broker_id=0, zk_connect=zk_connect, workdir=workdir / "broker",
                           port=ports["PLAINTEXT"], overrides=props)
    broker.start()
    try:
        yield broker, ports, pki, zk_connect
    finally:
        broker.stop()


def add_scram_user(zk_connect: str, user: str, password: str) -> None:
    rc, out, err = run_script(
        "kafka-configs.sh", "--zookeeper", zk_connect, "--alter", "--add-config",
        f"SCRAM-SHA-256=[iterations=8192,password={password}],"
        f"SCRAM-SHA-512=[password={password}]", "--entity-type", "users", "--entity-name", user)
    assert rc == 0, out + err


# -- client settings per security setting ------------------------------------------------------

SETTINGS = {
    "SSL": ("SSL", None, None),
    "MTLS": ("MTLS", None, None),
    "SASL_PLAINTEXT-PLAIN": ("SASL_PLAINTEXT", "PLAIN", "alice"),
    "SASL_PLAINTEXT-SCRAM-SHA-256": ("SASL_PLAINTEXT", "SCRAM-SHA-256", "alice"),
    "SASL_PLAINTEXT-SCRAM-SHA-512": ("SASL_PLAINTEXT", "SCRAM-SHA-512", "bob"),
    "SASL_SSL-SCRAM-SHA-512": ("SASL_SSL", "SCRAM-SHA-512", "alice"),
    "SASL_SSL-PLAIN": ("SASL_SSL", "PLAIN", "bob"),
}


def librdkafka_config(secured, setting: str, password: str | None = None) -> dict:
    _, ports, pki, _ = secured
    listener, mechanism, user = SETTINGS[setting]
    protocol = {"MTLS": "SSL"}.get(listener, listener)
    conf = {"bootstrap.servers": f"127.0.0.1:{ports[listener]}", "security.protocol": protocol}
    if "SSL" in protocol:
        conf["ssl.ca.location"] = str(pki.ca)
    if listener == "MTLS":
        cert, key = pki.clients["client"]
        conf.update({"ssl.certificate.location": str(cert), "ssl.key.location": str(key)})
    if mechanism:
        conf.update({"sasl.mechanism": mechanism, "sasl.username": user,
                     "sasl.password": password or USERS[user]})
    return conf


def roundtrip_confluent(secured, setting: str, topic: str) -> list[bytes]:
    from confluent_kafka import Consumer, Producer, TopicPartition

    conf = librdkafka_config(secured, setting)
    p = Producer(conf)
    for i in range(3):
        p.produce(topic, b"ck-%d" % i, partition=0)
    assert p.flush(30) == 0
    c = Consumer(dict(conf, **{"group.id": f"g-{topic}", "enable.auto.commit": False}))
    c.assign([TopicPartition(topic, 0, 0)])
    got, deadline = [], time.monotonic() + 30
    while len(got) < 3 and time.monotonic() < deadline:
        m = c.poll(0.5)
        if m is not None:
            assert m.error() is None, m.error()
            got.append(m.value())
    c.close()
    return got


def roundtrip_kcat(secured, setting: str, topic: str) -> list[bytes]:
    conf = librdkafka_config(secured, setting)
    args = ["kcat", "-b", conf.pop("bootstrap.servers")]
    for k, v in conf.items():
        args += ["-X", f"{k}={v}"]
    r = subprocess.run(args + ["-P", "-t", topic, "-p", "0"], input=b"kc-0\nkc-1\nkc-2\n",
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    r = subprocess.run(args + ["-C", "-t", topic, "-p", "0", "-o", "beginning", "-e", "-q"],
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout.split()


def roundtrip_kafka_python(secured, setting: str, topic: str) -> list[bytes]:
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition

    _, ports, pki, _ = secured
    listener, mechanism, user = SETTINGS[setting]
    kw = {"bootstrap_servers": f"127.0.0.1:{ports[listener]}",
          "security_protocol": {"MTLS": "SSL"}.get(listener, listener)}
    if "SSL" in kw["security_protocol"]:
        kw["ssl_cafile"] = str(pki.ca)
    if listener == "MTLS":
        cert, key = pki.clients["client"]
        kw.update(ssl_certfile=str(cert), ssl_keyfile=str(key))
    if mechanism:
        kw.update(sasl_mechanism=mechanism, sasl_plain_username=user,
                  sasl_plain_password=USERS[user])
    p = KafkaProducer(**kw)
    for i in range(3):
        p.send(topic, b"kp-%d" % i, partition=0)
    p.flush(30)
    p.close()
    c = KafkaConsumer(**kw, enable_auto_commit=False)
    c.assign([TopicPartition(topic, 0)])
    c.seek_to_beginning()
    got, deadline = [], time.monotonic() + 30
    while len(got) < 3 and time.monotonic() < deadline:
        for records in c.poll(500).values():
            got += [r.value for r in records]
    c.close()
    return got


KAFKAJS = r"""
const fs = require('fs');
const { Kafka, logLevel } = require('kafkajs');
const [broker, topic, settingJson] = process.argv.slice(2);
const s = JSON.parse(settingJson);
(async () => {
  const config = { brokers: [broker], logLevel: logLevel.NOTHING };
  if (s.ssl) {
    config.ssl = { ca: [fs.readFileSync(s.ca, 'utf-8')] };
    if (s.cert) { config.ssl.cert = fs.readFileSync(s.cert, 'utf-8');
                  config.ssl.key = fs.readFileSync(s.key, 'utf-8'); }
  }
  if (s.mechanism) config.sasl = { mechanism: s.mechanism, username: s.user, password: s.password };
  const kafka = new Kafka(config);
  const p = kafka.producer();
  await p.connect();
  await p.send({ topic, messages: [0, 1, 2].map(i => ({ value: `js-${i}`, partition: 0 })) });
  await p.disconnect();
  const c = kafka.consumer({ groupId: `js-${topic}` });
  await c.connect();
  await c.subscribe({ topic, fromBeginning: true });
  const got = [];
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timeout')), 30000);
    c.run({ eachMessage: async ({ message }) => {
      got.push(message.value.toString());
      if (got.length >= 3) { clearTimeout(timer); resolve(); }
    } });
  });
  await c.disconnect();
  console.log(got.join('\n'));
})().catch(e => { console.error(e); process.exit(1); });
"""


def roundtrip_kafkajs(secured, setting: str, topic: str, kafkajs_dir) -> list[bytes]:
    _, ports, pki, _ = secured
    listener, mechanism, user = SETTINGS[setting]
    s = {"ssl": "SSL" in listener or listener == "MTLS", "ca": str(pki.ca)}
    if listener == "MTLS":
        cert, key = pki.clients["client"]
        s.update(cert=str(cert), key=str(key))
    if mechanism:
        s.update(mechanism=mechanism.lower(), user=user, password=USERS[user])
    script = kafkajs_dir / "secured_roundtrip.js"
    script.write_text(KAFKAJS)
    r = subprocess.run([shutil.which("node"), str(script), f"localhost:{ports[listener]}",
                        topic, json.dumps(s)], cwd=kafkajs_dir, capture_output=True,
                       text=True, timeout=90)
    assert r.returncode == 0, r.stderr
    return [v.encode() for v in r.stdout.split()]


@pytest.mark.parametrize("setting", list(SETTINGS))
@pytest.mark.parametrize("client", ["kcat", "confluent-kafka", "kafka-python", "kafkajs"])
def test_clients_produce_and_consume_over_every_security_setting(secured, client, setting,
                                                                   request):
    broker, ports, _, _ = secured
    topic = f"sec-{client}-{setting}".lower().replace("_", "-")
    create_topic(broker.bootstrap, topic, 1)
    if client == "kcat":
        got, prefix = roundtrip_kcat(secured, setting, topic), b"kc"
    elif client == "confluent-kafka":
        got, prefix = roundtrip_confluent(secured, setting, topic), b"ck"
    elif client == "kafka-python":
        got, prefix = roundtrip_kafka_python(secured, setting, topic), b"kp"
    else:
        got = roundtrip_kafkajs(secured, setting, topic, request.getfixturevalue("kafkajs_dir"))
        prefix = b"js"
    assert got == [prefix + b"-%d" % i for i in range(3)]


def sasl_error(secured, setting: str, password: str):
    """The error a librdkafka producer reports when authentication fails."""
    from confluent_kafka import KafkaError, Producer

    errors: list = []
    conf = dict(librdkafka_config(secured, setting, password),
                error_cb=lambda e: errors.append(e))
    p = Producer(conf)
    p.produce("never", b"x")
    deadline = time.monotonic() + 20
    while not errors and time.monotonic() < deadline:
        p.poll(0.2)
    p.purge()
    assert errors, "no error reported"
    assert errors[0].code() == KafkaError._AUTHENTICATION, errors[0]
    return errors[0]


@pytest.mark.parametrize("setting", ["SASL_PLAINTEXT-PLAIN", "SASL_PLAINTEXT-SCRAM-SHA-256",
                                     "SASL_SSL-SCRAM-SHA-512"])
def test_wrong_password_is_refused(secured, setting):
    error = sasl_error(secured, setting, "wrong-password")
    assert "Authentication failed" in error.str(), error.str()


def test_failed_authentication_answers_58_and_serves_nothing_more(secured):
    """On the wire: SASL_AUTHENTICATION_FAILED (58), then the broker closes the connection,
    so a request sent after the failure gets no answer."""
    from kafkalite.protocol.framing import ClientConnection
    from kafkalite.protocol.messages.metadata import MetadataRequest
    from kafkalite.protocol.messages.sasl_authenticate import SaslAuthenticateRequest
    from kafkalite.protocol.messages.sasl_handshake import SaslHandshakeRequest

    _, ports, _, _ = secured
    conn = ClientConnection(client_id="raw")
    with socket.create_connection(("127.0.0.1", ports["SASL_PLAINTEXT"]), timeout=10) as sock:
        def call(msg, version):
            sock.sendall(conn.send_request(msg, version)[1])
            while not (data := sock.recv(65536)) == b"":
                answers = conn.receive_data(data)
                if answers:
                    return answers[0][1]
            return None

        assert call(SaslHandshakeRequest(mechanism="PLAIN"), 1).error_code == 0
        r = call(SaslAuthenticateRequest(auth_bytes=b"\0alice\0nope"), 1)
        assert r.error_code == 58 and "Authentication failed" in r.error_message, r
        try:
            assert call(MetadataRequest(topics=None), 1) is None
        except OSError:
            pass  # reset by the broker: closed as well


def test_scram_user_added_while_running_logs_in_at_once_and_a_deleted_one_cannot(secured):
    _, _, _, zk_connect = secured
    add_scram_user(zk_connect, "carol", "carol-secret")
    USERS["carol"] = "carol-secret"
    SETTINGS["carol"] = ("SASL_PLAINTEXT", "SCRAM-SHA-256", "carol")
    try:
        broker = secured[0]
        create_topic(broker.bootstrap, "carol-topic", 1)
        assert wait_for(lambda: _try(roundtrip_confluent, secured, "carol", "carol-topic"), 30,
                        "carol to log in") == [b"ck-%d" % i for i in range(3)]
        rc, out, err = run_script("kafka-configs.sh", "--zookeeper", zk_connect, "--alter",
                                  "--delete-config", "SCRAM-SHA-256,SCRAM-SHA-512",
                                  "--entity-type", "users", "--entity-name", "carol")
        assert rc == 0, out + err
        wait_for(lambda: _refused(secured, "carol"), 30, "carol to be refused")
    finally:
        USERS.pop("carol")
        SETTINGS.pop("carol")


def _try(fn, *args):
    try:
        return fn(*args)
    except AssertionError:
        return None


def _refused(secured, setting: str) -> bool:
    try:
        sasl_error(secured, setting, USERS["carol"])
        return True
    except AssertionError:
        return False


@pytest.mark.parametrize("junk", ["kafka-frame", "http"])
def test_junk_on_a_tls_port_closes_that_connection_only(secured, junk):
    broker, ports, pki, _ = secured
    data = (b"\x00\x00\x00\x0e\x00\x12\x00\x00\x00\x00\x00\x01\x00\x04test" if junk == "kafka-frame"
            else b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    with socket.create_connection(("127.0.0.1", ports["SSL"]), timeout=15) as s:
        s.sendall(data)
        assert _closed(s)
    assert roundtrip_confluent(secured, "SSL", _fresh_topic(broker)) == \
        [b"ck-%d" % i for i in range(3)]


def test_tls_client_hello_on_a_plaintext_port_closes_that_connection_only(secured):
    broker, ports, pki, _ = secured
    ctx = ssl.create_default_context(cafile=str(pki.ca))
    with socket.create_connection(("127.0.0.1", ports["PLAINTEXT"]), timeout=15) as raw:
        with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
            ctx.wrap_socket(raw, server_hostname="localhost")
    assert roundtrip_confluent(secured, "SSL", _fresh_topic(broker)) == \
        [b"ck-%d" % i for i in range(3)]


def _closed(s: socket.socket) -> bool:
    """True once the peer closed the connection (EOF or reset, after at most a TLS alert);
    False if it kept it open for 15 s."""
    s.settimeout(15)
    try:
        while s.recv(4096):
            pass
        return True
    except TimeoutError:
        return False
    except (ConnectionError, OSError):
        return True


def _fresh_topic(broker) -> str:
    name = f"after-junk-{uuid.uuid4().hex[:6]}"
    create_topic(broker.bootstrap, name, 1)
    return name
