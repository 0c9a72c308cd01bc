#!/usr/bin/python3
"""RecordBatch v2 reference batches from kafka-python, an encoder and decoder independent of Rill.

With no arguments, prints reference batches built by kafka-python. Each case is printed as lines
of space-separated tokens; byte strings are "-" for null or "x" followed by hex ("x" alone is
empty):

    case NAME TRANSACTIONAL PRODUCER_ID PRODUCER_EPOCH BASE_SEQUENCE COMPRESSION
    rec TIMESTAMP KEY VALUE HEADER_COUNT [HEADER_KEY HEADER_VALUE]...
    batch HEX
    end

The cases are drawn from a fixed seed so every run prints the same batches.

With --decode FILE, reads one batch per line (hex) from FILE, checks its CRC with kafka-python and
prints what kafka-python decodes, in the same format (without the batch line).
"""
import random
import sys

from kafka.record.default_records import DefaultRecordBatchBuilder, DefaultRecordBatch

CODECS = {0: "none", 1: "gzip", 2: "snappy", 3: "lz4", 4: "zstd"}


def tok(b):
    return "-" if b is None else "x" + b.hex()


def maybe_bytes(rng, max_len, null_chance=0.15):
    if rng.random() < null_chance:
        return None
    # Lengths around the varint boundaries (63/64, 8191/8192) exercise multi-byte lengths.
    length = rng.choice([0, 1, 5, 63, 64, 127, 128, 300, rng.randrange(0, max_len + 1)])
    return bytes(rng.randrange(256) for _ in range(min(length, max_len)))


def emit(name, records, transactional=False, producer_id=-1, producer_epoch=-1,
         base_sequence=-1, compression=0):
    builder = DefaultRecordBatchBuilder(
        magic=2, compression_type=compression, is_transactional=transactional,
        producer_id=producer_id, producer_epoch=producer_epoch, base_sequence=base_sequence,
        batch_size=1 << 24)
    for i, (ts, key, value, headers) in enumerate(records):
        builder.append(i, timestamp=ts, key=key, value=value, headers=headers)
    batch = bytes(builder.build())
    parsed = DefaultRecordBatch(batch)
    assert parsed.validate_crc()
    print("case", name, int(transactional), producer_id, producer_epoch, base_sequence,
          CODECS[compression])
    print_records(records)
    print("batch", batch.hex())
    print("end")


def print_records(records):
    for ts, key, value, headers in records:
        fields = ["rec", str(ts), tok(key), tok(value), str(len(headers))]
        for hk, hv in headers:
            fields += [tok(hk.encode("utf-8")), tok(hv)]
        print(" ".join(fields))


def decode(path):
    with open(path) as f:
        for number, line in enumerate(f):
            batch = DefaultRecordBatch(bytes.fromhex(line.strip()))
            assert batch.validate_crc(), "batch %d: CRC mismatch" % number
            # kafka-python exposes the producer fields only through the unpacked header.
            producer_id, producer_epoch, base_sequence = batch._header_data[9:12]
            print("case", "ours-%d" % number, int(batch.is_transactional), producer_id,
                  producer_epoch, base_sequence, CODECS[batch.compression_type])
            print_records([(r.timestamp, r.key, r.value, r.headers) for r in batch])
            print("end")


def main():
    rng = random.Random(20261122)
    emit("single", [(1700000000000, b"key", b"value", [])])
    emit("null-key-and-value", [(0, None, None, [])])
    emit("empty-key-and-value", [(1, b"", b"", [])])
    emit("headers", [(1700000000123, b"k", b"v",
                      [("trace-id", b"abc"), ("empty", b""), ("null", None)])])
    emit("idempotent", [(1700000000000 + i, b"k%d" % i, b"v" * i, []) for i in range(5)],
         producer_id=4242, producer_epoch=3, base_sequence=17)
    emit("transactional", [(1700000000000, b"a", b"b", [])], transactional=True,
         producer_id=7, producer_epoch=0, base_sequence=0)
    # Timestamps that go backwards give negative deltas; a large value needs 3-byte varints.
    emit("negative-deltas", [(1700000005000, b"a", b"1", []), (1700000000000, b"b", b"2", []),
                             (1700000009999, b"c", bytes(20000), [])])
    for n in range(12):
        count = rng.choice([1, 2, 7, 64, 200])
        base_ts = rng.randrange(0, 1 << 42)
        records = []
        for _ in range(count):
            headers = [("h%d" % j, maybe_bytes(rng, 40)) for j in range(rng.choice([0, 0, 1, 3]))]
            records.append((base_ts + rng.randrange(-1000, 100000), maybe_bytes(rng, 64),
                            maybe_bytes(rng, 1000), headers))
        emit("random-%d" % n, records)
    for codec in (1, 2, 3, 4):
        emit(CODECS[codec], [(1700000000000 + i, b"k%d" % i, b"compressible " * (20 + i),
                              [("h", b"%d" % i)]) for i in range(10)], compression=codec)
        # Large enough for several snappy blocks (32 KiB) and lz4 blocks (64 KiB), and
        # compressible: kafka-python sends a batch uncompressed when compression does not help.
        words = [b"order", b"shipped", b"alice", b"bob", b"42", bytes(rng.randrange(256)
                                                                    for _ in range(8))]
        records = [(1700000000000 + i, maybe_bytes(rng, 64),
                    b" ".join(rng.choice(words) for _ in range(rng.randrange(0, 600))), [])
                   for i in range(200)]
        emit(CODECS[codec] + "-large", records, compression=codec)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--decode":
        decode(sys.argv[2])
    else:
        main()
