"""A pyzmq peer for the CURVE tests, run by /usr/bin/python3 (Debian's python3-zmq).

    curve-peer.py sub ENDPOINT   SUB subscribed to "news"; prints each message it receives
    curve-peer.py pub ENDPOINT   PUB publishing ["news", "pyzmq"] every 20 ms

CURVE keys come from the environment, Z85: PEER_PUBLIC_KEY, PEER_SECRET_KEY and PEER_SERVER_KEY
for a CURVE client (sub), PEER_SECRET_KEY alone for a CURVE server (pub), none for plain text.
Prints one JSON object per line: {"ready": ...}, {"event": NAME} for the socket's handshake and
disconnect events, {"message": [frames]}. Exits when stdin closes, or after 60 s in any case.
"""

import json
import os
import sys
import time

import zmq
from zmq.utils.monitor import recv_monitor_message

DEADLINE_S = 60
PUBLISH_EVERY_S = 0.02
REPORTED = {"HANDSHAKE_SUCCEEDED", "HANDSHAKE_FAILED_NO_DETAIL", "HANDSHAKE_FAILED_PROTOCOL",
            "HANDSHAKE_FAILED_AUTH", "DISCONNECTED"}


def say(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def main():
    role, endpoint = sys.argv[1], sys.argv[2]
    context = zmq.Context()
    socket = context.socket(zmq.SUB if role == "sub" else zmq.PUB)
    socket.linger = 0
    secret = os.environ.get("PEER_SECRET_KEY")
    if secret and role == "sub":
        socket.curve_publickey = os.environ["PEER_PUBLIC_KEY"].encode()
        socket.curve_secretkey = secret.encode()
        socket.curve_serverkey = os.environ["PEER_SERVER_KEY"].encode()
    elif secret:
        socket.curve_server = True
        socket.curve_secretkey = secret.encode()
    monitor = socket.get_monitor_socket()
    if role == "sub":
        socket.setsockopt(zmq.SUBSCRIBE, b"news")
        socket.connect(endpoint)
    else:
        socket.bind(endpoint)
    say({"ready": role, "curve": zmq.has("curve"), "zmq": zmq.zmq_version()})

    poller = zmq.Poller()
    poller.register(monitor, zmq.POLLIN)
    poller.register(sys.stdin.fileno(), zmq.POLLIN)
    if role == "sub":
        poller.register(socket, zmq.POLLIN)
    deadline = time.monotonic() + DEADLINE_S
    next_publish = time.monotonic()
    while time.monotonic() < deadline:
        ready = dict(poller.poll(timeout=int(PUBLISH_EVERY_S * 1000)))
        if sys.stdin.fileno() in ready and not sys.stdin.buffer.read1(4096):
            break
        if monitor in ready:
            event = recv_monitor_message(monitor)
            name = zmq.Event(event["event"]).name
            if name in REPORTED:
                say({"event": name})
        if socket in ready:
            say({"message": [frame.decode("utf-8", "replace") for frame in socket.recv_multipart()]})
        if role == "pub" and time.monotonic() >= next_publish:
            socket.send_multipart([b"news", b"pyzmq"])
            next_publish = time.monotonic() + PUBLISH_EVERY_S
    socket.disable_monitor()
    monitor.close()
    socket.close()
    context.term()


if __name__ == "__main__":
    main()
