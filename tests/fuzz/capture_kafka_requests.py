#!/usr/bin/python3
"""Records the Kafka requests real clients send, as fuzz corpus inputs (tests/fuzz/corpus/).

Usage: capture_kafka_requests.py LISTEN_PORT BROKER_PORT OUT_DIR
Listens on 127.0.0.1:LISTEN_PORT and forwards every connection to 127.0.0.1:BROKER_PORT,
writing each request frame (without its size) to OUT_DIR under its SHA-1. Run the broker with
its Kafka listener advertised at LISTEN_PORT so that clients come back through it, drive the
clients, then stop this with Ctrl-C.
"""
import hashlib
import os
import socket
import struct
import sys
import threading


def pipe(source, sink, frames=None):
    buffer = b""
    try:
        while True:
            chunk = source.recv(65536)
            if not chunk:
                break
            sink.sendall(chunk)
            if frames is None:
                continue
            buffer += chunk
            while len(buffer) >= 4:
                size = struct.unpack(">i", buffer[:4])[0]
                if len(buffer) < 4 + size:
                    break
                frames(buffer[4:4 + size])
                buffer = buffer[4 + size:]
    except OSError:
        pass
    finally:
        for s in (source, sink):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def main():
    listen_port, broker_port, out_dir = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    os.makedirs(out_dir, exist_ok=True)

    def save(frame):
        with open(os.path.join(out_dir, hashlib.sha1(frame).hexdigest()), "wb") as f:
            f.write(frame)

    server = socket.create_server(("127.0.0.1", listen_port))
    while True:
        client, _ = server.accept()
        broker = socket.create_connection(("127.0.0.1", broker_port))
        threading.Thread(target=pipe, args=(client, broker, save), daemon=True).start()
        threading.Thread(target=pipe, args=(broker, client), daemon=True).start()


if __name__ == "__main__":
    main()
