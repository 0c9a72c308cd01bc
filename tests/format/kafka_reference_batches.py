#!/usr/bin/python3
"""Prints RecordBatch v2 reference batches built by kafka-python, an encoder independent of Rill.

Each case is printed as lines of space-separated tokens; byte strings are "-" for null or "x"
followed by hex ("x" alone is empty):

    case NAME TRANSACTIONAL PRODUCER_ID PRODUCER_EPOCH BASE_SEQUENCE COMPRESSION
    rec TIMESTAMP KEY VALUE HEADER_COUNT [HEADER_KEY HEADER_VALUE]...
    batch HEX
    end

The cases are drawn from a fixed seed so every run prints the same batches.
"""
import random

from kafka.record.default_records import DefaultRecordBatchBuilder, DefaultRecordBatch

GZIP = 1


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
          "gzip" if compression == GZIP else "none")
    for ts, key, value, headers in records:
        fields = ["rec", str(ts), tok(key), tok(value), str(len(headers))]
        for hk, hv in headers:
            fields += [tok(hk.encode("utf-8")), tok(hv)]
        print(" ".join(fields))
    print("batch", batch.hex())
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
    emit("gzip", [(1700000000000 + i, b"k", b"compressible " * 20, []) for i in range(10)],
         compression=GZIP)


if __name__ == "__main__":
    main()
