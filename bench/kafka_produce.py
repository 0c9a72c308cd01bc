#!/usr/bin/python3
# A confluent-kafka (librdkafka) idempotent acks=all producer against a Kafka listener, for
# comparing with `rill-bench produce` on the gRPC port of the same broker (docs/kafka.md).
# Usage: bench/kafka_produce.py [BOOTSTRAP] (default 127.0.0.1:9092)
import time, sys
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
b = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:9092"
admin = AdminClient({"bootstrap.servers": b})
admin.create_topics([NewTopic("kafka-bench", 6, 1)])["kafka-bench"].result(30)
p = Producer({"bootstrap.servers": b, "enable.idempotence": True, "acks": "all", "linger.ms": 5,
              "batch.size": 65536, "partitioner": "murmur2_random", "queue.buffering.max.messages": 1000000})
value = b"x" * 1024
n = 200000
errors = [0]
def cb(err, msg):
    if err: errors[0] += 1
start = time.time()
for i in range(n):
    while True:
        try:
            p.produce("kafka-bench", key=str(i).encode(), value=value, on_delivery=cb); break
        except BufferError:
            p.poll(0.01)
    if i % 1000 == 0: p.poll(0)
p.flush(60)
s = time.time() - start
print(f"kafka listener (confluent-kafka/librdkafka 2.0.2): {n/s:.0f} rec/s {n*1024/s/1e6:.1f} MB/s errors {errors[0]}")
