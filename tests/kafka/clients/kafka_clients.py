#!/usr/bin/python3
"""Real Kafka clients against a Rill broker's Kafka listener (tests/kafka/clients_test.cc).

Usage: kafka_clients.py CHECK BOOTSTRAP [TOPIC]; exits non-zero with a message on failure.
"""
import socket
import struct
import sys
import time


def fail(message):
    print(f"FAIL: {message}", file=sys.stderr)
    sys.exit(1)


def expect(condition, message):
    if not condition:
        fail(message)


def confluent_idempotent(bootstrap, topic):
    """Admin create/describe/delete; an idempotent producer (acks=all) with lz4 and zstd."""
    from confluent_kafka import Consumer, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for name, future in admin.create_topics([NewTopic(topic, 3, 1)]).items():
        future.result(30)
    described = admin.list_topics(topic, timeout=30).topics[topic]
    expect(described.error is None and len(described.partitions) == 3,
           f"described {described.partitions}")
    sent = 0
    for codec in ("lz4", "zstd"):
        errors = []
        producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True,
                             "acks": "all", "compression.type": codec, "linger.ms": 5})
        for i in range(500):
            producer.produce(topic, key=f"{codec}-{i}", value=f"value-{i}",
                             headers=[("codec", codec.encode())],
                             on_delivery=lambda err, msg: errors.append(err) if err else None)
        expect(producer.flush(30) == 0, "records left unsent")
        expect(not errors, f"{codec}: delivery errors {errors[:3]}")
        sent += 500
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "unused",
                         "enable.auto.commit": False})
    consumer.assign([TopicPartition(topic, p, 0) for p in range(3)])
    seen = {}
    deadline = time.time() + 30
    while len(seen) < sent and time.time() < deadline:
        message = consumer.poll(1.0)
        if message is None:
            continue
        expect(message.error() is None, f"consume error {message.error()}")
        key = message.key().decode()
        expect(key not in seen, f"duplicate {key}")
        seen[key] = (message.value(), dict(message.headers()))
    expect(len(seen) == sent, f"read {len(seen)} of {sent}")
    expect(seen["zstd-7"] == (b"value-7", {"codec": b"zstd"}), f"zstd-7 is {seen['zstd-7']}")
    total = sum(consumer.get_watermark_offsets(TopicPartition(topic, p), 10)[1] for p in range(3))
    expect(total == sent, f"high watermarks add up to {total}, not {sent}")
    consumer.close()
    for name, future in admin.delete_topics([topic]).items():
        future.result(30)
    deadline = time.time() + 30
    while topic in admin.list_topics(timeout=10).topics and time.time() < deadline:
        time.sleep(0.2)
    expect(topic not in admin.list_topics(timeout=10).topics, "deleted topic still listed")


def kafka_python(bootstrap, topic):
    """kafka-python: produce, consume, offsets_for_times, commit without membership and resume."""
    from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
    from kafka.admin import NewTopic
    from kafka.structs import OffsetAndMetadata
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics([NewTopic(topic, 2, 1)])
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", compression_type="lz4")
    start_ms = int(time.time() * 1000)
    for i in range(20):
        producer.send(topic, key=b"k%d" % i, value=b"v%d" % i, partition=i % 2,
                      timestamp_ms=start_ms + i, headers=[("i", str(i).encode())]).get(30)
    producer.flush()
    partitions = [TopicPartition(topic, p) for p in range(2)]
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id="kp-group",
                             enable_auto_commit=False, auto_offset_reset="earliest",
                             consumer_timeout_ms=5000)
    consumer.assign(partitions)
    records = [m for m in consumer]
    expect(len(records) == 20, f"read {len(records)} of 20")
    by_key = {m.key: m for m in records}
    expect(by_key[b"k5"].value == b"v5" and by_key[b"k5"].partition == 1 and
           by_key[b"k5"].timestamp == start_ms + 5 and by_key[b"k5"].headers == [("i", b"5")],
           f"k5 is {by_key[b'k5']}")
    found = consumer.offsets_for_times({partitions[0]: start_ms + 9})
    expect(found[partitions[0]].offset == 5 and found[partitions[0]].timestamp == start_ms + 10,
           f"offsets_for_times gave {found}")
    expect(consumer.end_offsets(partitions) == {partitions[0]: 10, partitions[1]: 10},
           "end offsets")
    consumer.commit({partitions[0]: OffsetAndMetadata(4, "meta")})
    consumer.close()
    resumed = KafkaConsumer(bootstrap_servers=bootstrap, group_id="kp-group",
                            enable_auto_commit=False, consumer_timeout_ms=5000)
    resumed.assign([partitions[0]])
    expect(resumed.committed(partitions[0]) == 4, f"committed {resumed.committed(partitions[0])}")
    rest = [m.offset for m in resumed]
    expect(rest == list(range(4, 10)), f"resumed at {rest}")
    resumed.close()


def wait_for(condition, what, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return
        time.sleep(0.1)
    fail(f"timed out waiting for {what}")


def rillctl_group(group):
    """The group as `rillctl group describe` shows it (RILLCTL names rillctl and its brokers)."""
    import json
    import os
    import subprocess
    out = subprocess.run(os.environ["RILLCTL"].split() + ["--output", "json", "group", "describe",
                                                          group],
                         capture_output=True, text=True, timeout=30)
    expect(out.returncode == 0, f"rillctl group describe: {out.stderr}")
    return json.loads(out.stdout)


def confluent_group(bootstrap, topic):
    """A librdkafka group of 3 that rebalances as members join and leave, commits and resumes."""
    import threading
    from confluent_kafka import Consumer, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for _, future in admin.create_topics([NewTopic(topic, 6, 1)]).items():
        future.result(30)
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})

    def produce(start, count):
        for i in range(start, start + count):
            producer.produce(topic, key=f"k{i}", value=f"v{i}")
        expect(producer.flush(30) == 0, "records left unsent")

    produce(0, 600)
    group = topic + "-group"

    class Member(threading.Thread):
        def __init__(self, name):
            super().__init__(daemon=True)
            self.name = name
            self.assigned = set()
            self.keys = set()
            self.errors = []
            self.stopping = threading.Event()

        def run(self):
            consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                                 "client.id": self.name, "auto.offset.reset": "earliest",
                                 "session.timeout.ms": 6000, "heartbeat.interval.ms": 500,
                                 "auto.commit.interval.ms": 200})

            def on_assign(_, partitions):
                self.assigned = {p.partition for p in partitions}

            def on_revoke(_, partitions):
                self.assigned = set()

            consumer.subscribe([topic], on_assign=on_assign, on_revoke=on_revoke)
            while not self.stopping.is_set():
                message = consumer.poll(0.2)
                if message is None:
                    continue
                if message.error():
                    self.errors.append(str(message.error()))
                    continue
                self.keys.add(message.key().decode())
            consumer.close()

    members = []

    def split_evenly(count):
        shares = [m.assigned for m in members]
        union = set().union(*shares)
        return (union == set(range(6)) and sum(len(s) for s in shares) == 6 and
                all(len(s) == 6 // count for s in shares))

    # Every member that ever read, the one that leaves among them: what it read and committed
    # is not read again.
    everyone = []
    seen = lambda: set().union(*(m.keys for m in everyone))
    for count in (1, 2, 3):
        members.append(Member(f"member-{count}"))
        everyone.append(members[-1])
        members[-1].start()
        wait_for(lambda: split_evenly(count), f"6 partitions split over {count} members")
    wait_for(lambda: len(seen()) == 600, "the group reading the first 600 records")

    described = rillctl_group(group)
    expect(described["type"] == "classic" and described["state"] == "Stable" and
           len(described["members"]) == 3, f"rillctl shows {described}")
    expect(sorted(m["client_id"] for m in described["members"]) ==
           ["member-1", "member-2", "member-3"], f"rillctl members {described['members']}")
    expect(all(len(m["assignment"].split(",")) == 2 for m in described["members"]),
           f"rillctl assignments {described['members']}")

    # One member leaves: the other two take its partitions and read what comes next.
    leaving = members.pop()
    leaving.stopping.set()
    leaving.join(30)
    wait_for(lambda: split_evenly(2), "6 partitions split over the 2 remaining members")
    produce(600, 300)
    later = {f"k{i}" for i in range(600, 900)}
    wait_for(lambda: later <= set().union(*(m.keys for m in members)),
             "the remaining members reading 300 more records")
    expect(len(seen()) == 900, f"the group read {len(seen())} distinct records of 900")
    for m in members:
        m.stopping.set()
        m.join(30)
    for m in members + [leaving]:
        expect(not m.errors, f"{m.name}: consume errors {m.errors[:3]}")

    # Everything read was committed: a member that resumes the group finds nothing left.
    check = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    committed = check.committed([TopicPartition(topic, p) for p in range(6)], timeout=30)
    ends = [check.get_watermark_offsets(TopicPartition(topic, p), 10)[1] for p in range(6)]
    expect([c.offset for c in committed] == ends, f"committed {committed}, ends {ends}")
    check.close()
    described = rillctl_group(group)
    expect(described["state"] == "Empty" and described["total_lag"] == 0,
           f"after the members left rillctl shows {described}")


def kafka_python_group(bootstrap, topic):
    """kafka-python: a subscribed consumer commits and a second one resumes; admin lists,
    describes and deletes the group."""
    from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
    from kafka.admin import NewTopic
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics([NewTopic(topic, 3, 1)])
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    for i in range(30):
        producer.send(topic, key=b"k%d" % i, value=b"v%d" % i).get(30)
    producer.flush()
    group = topic + "-group"
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group,
                             auto_offset_reset="earliest", enable_auto_commit=False,
                             consumer_timeout_ms=8000)
    records = []
    for message in consumer:
        records.append(message)
        if len(records) == 20:
            break
    consumer.commit()
    listed = dict(admin.list_consumer_groups())
    expect(listed.get(group) == "consumer", f"listed {listed}")
    described = admin.describe_consumer_groups([group])[0]
    expect(described.state == "Stable" and described.protocol_type == "consumer" and
           len(described.members) == 1, f"described {described}")
    assignment = described.members[0].member_assignment
    expect(sorted(assignment.assignment[0][1]) == [0, 1, 2],
           f"assignment {assignment}")
    consumer.close()
    # A new member of the group resumes after the 20 committed records.
    resumed = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group,
                            enable_auto_commit=False, consumer_timeout_ms=8000)
    rest = [m for m in resumed]
    expect(len(rest) == 10, f"resumed with {len(rest)} records, not 10")
    expect({m.key for m in records}.isdisjoint({m.key for m in rest}), "a committed record came back")
    resumed.close()
    results = admin.delete_consumer_groups([group])
    expect(all(error.errno == 0 for _, error in results), f"delete {results}")
    expect(group not in dict(admin.list_consumer_groups()), "deleted group still listed")


def admin_apis(bootstrap, topic):
    """confluent-kafka's admin: CreatePartitions, DescribeConfigs of a topic and a broker,
    AlterConfigs; IncrementalAlterConfigs, DeleteRecords and DescribeCluster on the wire (this
    librdkafka has no calls for them)."""
    from confluent_kafka import KafkaException, Producer
    from confluent_kafka.admin import AdminClient, ConfigResource, ConfigSource, NewPartitions
    from confluent_kafka.admin import NewTopic
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for _, future in admin.create_topics([NewTopic(topic, 2, 1,
                                                   config={"retention.ms": "7200000"})]).items():
        future.result(30)
    for _, future in admin.create_partitions([NewPartitions(topic, 5)]).items():
        future.result(30)
    partitions = admin.list_topics(topic, timeout=30).topics[topic].partitions
    expect(len(partitions) == 5, f"{len(partitions)} partitions after growing to 5")
    try:
        admin.create_partitions([NewPartitions(topic, 3)])[topic].result(30)
        fail("shrinking a topic was accepted")
    except KafkaException as e:
        expect(e.args[0].code() == 37, f"shrinking failed with {e}")

    resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
    configs = admin.describe_configs([resource])[resource].result(30)
    expect(configs["retention.ms"].value == "7200000" and
           configs["retention.ms"].source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value and
           configs["segment.bytes"].is_default, f"described {configs}")
    # AlterConfigs replaces the topic's configs: retention.ms returns to its default.
    altered = ConfigResource(ConfigResource.Type.TOPIC, topic, set_config={"segment.bytes": "1048576"})
    admin.alter_configs([altered])[altered].result(30)
    configs = admin.describe_configs([resource])[resource].result(30)
    expect(configs["segment.bytes"].value == "1048576" and configs["retention.ms"].is_default,
           f"after AlterConfigs {configs}")
    bad = ConfigResource(ConfigResource.Type.TOPIC, topic, set_config={"no.such.config": "1"})
    try:
        admin.alter_configs([bad])[bad].result(30)
        fail("an unknown config was accepted")
    except KafkaException as e:
        expect(e.args[0].code() == 40, f"an unknown config failed with {e}")
    broker = ConfigResource(ConfigResource.Type.BROKER, "1")
    broker_configs = admin.describe_configs([broker])[broker].result(30)
    expect("log.segment.bytes" in broker_configs and broker_configs["log.segment.bytes"].is_read_only,
           f"broker configs {sorted(broker_configs)}")

    producer = Producer({"bootstrap.servers": bootstrap})
    for i in range(10):
        producer.produce(topic, value=b"v%d" % i, partition=0)
    expect(producer.flush(30) == 0, "records left unsent")
    host, port = bootstrap.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        # IncrementalAlterConfigs v0: set retention.ms, delete segment.bytes.
        name = struct.pack(">h", len(topic)) + topic.encode()
        body = (struct.pack(">ib", 1, 2) + name + struct.pack(">i", 2) +
                struct.pack(">h", 12) + b"retention.ms" + struct.pack(">bh", 0, 7) + b"3600000" +
                struct.pack(">h", 13) + b"segment.bytes" + struct.pack(">bh", 1, -1) + b"\x00")
        request(sock, 44, 0, 1, body)
        answer = response(sock)[4:]
        expect(struct.unpack(">h", answer[8:10])[0] == 0, f"IncrementalAlterConfigs: {answer!r}")
        configs = admin.describe_configs([resource])[resource].result(30)
        expect(configs["retention.ms"].value == "3600000" and configs["segment.bytes"].is_default,
               f"after IncrementalAlterConfigs {configs}")
        # DeleteRecords v0: partition 0 starts at 4 afterwards.
        body = (struct.pack(">i", 1) + name + struct.pack(">iiq", 1, 0, 4) +
                struct.pack(">i", 30000))
        request(sock, 21, 0, 2, body)
        answer = response(sock)[4:]
        rest = answer[4 + 4 + 2 + len(topic) + 4:]
        partition, low, error = struct.unpack(">iqh", rest[:14])
        expect((partition, low, error) == (0, 4, 0), f"DeleteRecords answered {partition, low, error}")
        # DescribeCluster v0 (flexible: request header v2): the cluster id and this broker.
        request(sock, 60, 0, 3, b"\x00\x00", tagged=True)
        answer = response(sock)
        expect(f"{host}".encode() in answer and struct.pack(">i", int(port)) in answer,
               f"DescribeCluster answered {answer!r}")
    from confluent_kafka import Consumer, TopicPartition
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "unused"})
    low, high = consumer.get_watermark_offsets(TopicPartition(topic, 0), 10)
    expect((low, high) == (4, 10), f"watermarks after DeleteRecords {low, high}")
    consumer.close()


def librdkafka_failover(bootstrap, topic):
    """An idempotent acks=all librdkafka producer for tests/kafka/failover_test.cc: sends v0, v1,
    ... round-robin over PARTITIONS partitions until the file STOP_FILE exists, printing each
    outcome as it comes ("ack VALUE PARTITION OFFSET" or "error VALUE PARTITION CODE"); fails
    if any error reached the application."""
    import os
    from confluent_kafka import Producer
    stop_file = os.environ["STOP_FILE"]
    partitions = int(os.environ.get("PARTITIONS", "6"))
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True,
                         "acks": "all", "linger.ms": 5, "message.timeout.ms": 120000})
    errors = []

    def report(err, message):
        value = message.value().decode()
        if err:
            errors.append(err)
            print(f"error {value} {message.partition()} {err.code()}", flush=True)
        else:
            print(f"ack {value} {message.partition()} {message.offset()}", flush=True)

    sent = 0
    while not os.path.exists(stop_file):
        try:
            producer.produce(topic, value=f"v{sent}", partition=sent % partitions,
                             on_delivery=report)
            sent += 1
        except BufferError:
            producer.poll(0.1)
        producer.poll(0)
        time.sleep(0.002)
    expect(producer.flush(150) == 0, "records left undelivered")
    expect(not errors, f"{len(errors)} delivery errors reached the application: {errors[:3]}")


def stalled_reader(bootstrap, topic):
    """A client that sends fetches and never reads the answers is closed once it has not taken
    an answer for connections.max.idle.ms (the broker under test runs with 1 s), instead of
    holding the listener's bytes; other clients carry on."""
    from confluent_kafka import Producer
    producer = Producer({"bootstrap.servers": bootstrap})
    for i in range(2000):
        producer.produce(topic, value=b"x" * 1024, partition=0)
    expect(producer.flush(30) == 0, "records left unsent")
    host, port = bootstrap.rsplit(":", 1)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((host, int(port)))
    request(sock, 18, 0, 0)
    response(sock)
    name = struct.pack(">h", len(topic)) + topic.encode()
    # Fetch v4: replica -1, max wait, min bytes, max bytes, isolation, one topic, one partition.
    fetch = (struct.pack(">iiiib", -1, 100, 1, 1 << 20, 0) + struct.pack(">i", 1) + name +
             struct.pack(">iiqi", 1, 0, 0, 1 << 20))
    asked = 50
    for correlation_id in range(1, asked + 1):
        request(sock, 1, 4, correlation_id, fetch)
    time.sleep(4)
    answered = 0
    sock.settimeout(10)
    try:
        while True:
            response(sock)
            answered += 1
    except (EOFError, ConnectionResetError, socket.timeout):
        pass
    expect(answered < asked, f"all {asked} answers came: the stalled connection stayed open")
    with socket.create_connection((host, int(port)), timeout=10) as other:
        request(other, 18, 0, 7)
        expect(struct.unpack(">i", response(other)[:4])[0] == 7, "another client got no answer")


def not_serving(bootstrap, topic):
    """A broker that has not caught up with the cluster's metadata (here: its quorum never
    forms) tells a client asking for a topic to retry (LEADER_NOT_AVAILABLE), never that the
    topic does not exist, which clients take as final."""
    host, port = bootstrap.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        request(sock, 18, 0, 1)
        response(sock)
        request(sock, 3, 1, 2, struct.pack(">ih", 1, len(topic)) + topic.encode())
        answer = response(sock)[4:]
        brokers = struct.unpack(">i", answer[:4])[0]
        at = 4
        for _ in range(brokers):
            at += 4
            at += 2 + struct.unpack(">h", answer[at:at + 2])[0]
            at += 4
            rack = struct.unpack(">h", answer[at:at + 2])[0]
            at += 2 + max(rack, 0)
        at += 4  # controller id
        count, error = struct.unpack(">ih", answer[at:at + 6])
        expect(count == 1 and error == 5, f"topic error {error}, not 5 (LEADER_NOT_AVAILABLE)")


def request(sock, api_key, version, correlation_id, body=b"", client_id=b"raw", tagged=False):
    header = struct.pack(">hhih", api_key, version, correlation_id, len(client_id)) + client_id
    if tagged or (api_key == 18 and version >= 3):
        header += b"\x00"
    frame = header + body
    sock.sendall(struct.pack(">i", len(frame)) + frame)


def response(sock):
    size = struct.unpack(">i", read_exactly(sock, 4))[0]
    return read_exactly(sock, size)


def read_exactly(sock, n):
    out = b""
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        if not chunk:
            raise EOFError("closed")
        out += chunk
    return out


def closed(sock):
    sock.settimeout(10)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def framing(bootstrap, _topic):
    """The listener's own rules: versions it lacks, frames over the limits, pipelining."""
    host, port = bootstrap.rsplit(":", 1)
    address = (host, int(port))
    # ApiVersions of a version the listener lacks: error 35 and a v0 body with its ranges.
    with socket.create_connection(address, timeout=10) as sock:
        request(sock, 18, 99, 7)
        body = response(sock)
        correlation, error, count = struct.unpack(">ihi", body[:10])
        expect(correlation == 7 and error == 35 and count > 5, f"ApiVersions v99: {body[:10]}")
        keys = {struct.unpack(">hhh", body[10 + 6 * i:16 + 6 * i])[0]:
                struct.unpack(">hhh", body[10 + 6 * i:16 + 6 * i])[1:] for i in range(count)}
        expect(keys[0][0] == 0 and keys[18] == (0, 3), f"ranges {keys}")
    # Before ApiVersions, a frame over the smaller limit closes the connection unread.
    with socket.create_connection(address, timeout=10) as sock:
        sock.sendall(struct.pack(">i", 1 << 20))
        expect(closed(sock), "a 1 MiB first frame was not refused")
    # A negative size is refused too.
    with socket.create_connection(address, timeout=10) as sock:
        sock.sendall(struct.pack(">i", -5))
        expect(closed(sock), "a negative frame size was not refused")
    # Pipelined requests are answered in order; an unknown API key closes the connection, after
    # the answers to the requests before it.
    with socket.create_connection(address, timeout=10) as sock:
        for correlation in range(1, 6):
            request(sock, 18, 0, correlation)
        request(sock, 3, 1, 6, struct.pack(">i", -1))
        request(sock, 999, 0, 7)
        got = [struct.unpack(">i", response(sock)[:4])[0] for _ in range(6)]
        expect(got == [1, 2, 3, 4, 5, 6], f"answered {got}")
        expect(closed(sock), "an unknown API key did not close the connection")
    # A truncated body is malformed: the connection closes without an answer.
    with socket.create_connection(address, timeout=10) as sock:
        request(sock, 3, 1, 1, struct.pack(">i", 3) + b"\x00\x05ab")
        expect(closed(sock), "a truncated Metadata request was answered")
    # Produce with acks=0 gets no response; the next request's answer comes first.
    with socket.create_connection(address, timeout=10) as sock:
        request(sock, 18, 0, 1)
        response(sock)
        body = struct.pack(">hhi", -1, 0, 1000) + struct.pack(">i", 0)
        request(sock, 0, 3, 2, body)
        request(sock, 18, 0, 3)
        expect(struct.unpack(">i", response(sock)[:4])[0] == 3, "acks=0 produce was answered")


CHECKS = {"confluent": confluent_idempotent, "kafka-python": kafka_python, "framing": framing,
          "confluent-group": confluent_group, "kafka-python-group": kafka_python_group,
          "admin": admin_apis, "librdkafka-failover": librdkafka_failover,
          "stalled-reader": stalled_reader, "not-serving": not_serving}

if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] not in CHECKS:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    CHECKS[sys.argv[1]](sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else "checked")
    print("ok")
