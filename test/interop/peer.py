"""A plain pyzmq peer for the interop tests, driven over stdin/stdout with one JSON object a line.

Run with Debian's interpreter, which has python3-zmq:

    /usr/bin/python3 -I peer.py pub ENDPOINT [--max-seconds N]
    /usr/bin/python3 -I peer.py sub ENDPOINT --subscribe TOPIC [--subscribe TOPIC ...]

`pub` binds a PUB socket (tcp://127.0.0.1:* picks a port) and prints {"event": "bound", "endpoint"}.
`sub` connects a SUB socket, subscribes, prints {"event": "ready"}, then one
{"event": "message", "frames": [hex, ...]} per message received.

Commands on stdin (frames are hex, so any byte goes through unchanged):
    {"op": "send", "frames": [hex, ...]}      -> {"event": "sent"}
    {"op": "probe", "topic": T, "interval_ms": I, "max": M}
        sends [T, n] every I ms (n = 0, 1, ...) until "ack"; more than M probes is an error
    {"op": "ack"}                             -> {"event": "probed", "sent": n}

Problems are reported as {"event": "error", "message"} before a non-zero exit. The peer exits by
itself when stdin closes or after --max-seconds, whichever comes first.
"""

import argparse
import json
import os
import sys
import time

import zmq


def report(**event):
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def fail(message):
    report(event="error", message=message)
    return 1


class Probe:
    def __init__(self, topic, interval_ms, limit):
        self.topic = topic.encode("utf-8")
        self.interval = interval_ms / 1000.0
        self.limit = limit
        self.sent = 0
        self.next_at = time.monotonic()


def run(args, sock, stdin_fd):
    poller = zmq.Poller()
    poller.register(stdin_fd, zmq.POLLIN)
    if args.role == "sub":
        poller.register(sock, zmq.POLLIN)
    deadline = time.monotonic() + args.max_seconds
    pending = b""
    probe = None

    while True:
        now = time.monotonic()
        if now >= deadline:
            return fail("peer.py gave up after %s s (--max-seconds)" % args.max_seconds)
        wait = deadline - now
        if probe is not None:
            wait = min(wait, max(0.0, probe.next_at - now))
        ready = dict(poller.poll(wait * 1000))

        if sock in ready:
            while True:
                try:
                    frames = sock.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    break
                report(event="message", frames=[frame.hex() for frame in frames])

        if stdin_fd in ready:
            chunk = os.read(stdin_fd, 65536)
            if not chunk:
                return 0
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                if not line.strip():
                    continue
                command = json.loads(line)
                op = command.get("op")
                if op == "send":
                    sock.send_multipart([bytes.fromhex(frame) for frame in command["frames"]])
                    report(event="sent")
                elif op == "probe":
                    probe = Probe(command["topic"], command["interval_ms"], command["max"])
                elif op == "ack":
                    report(event="probed", sent=probe.sent if probe else 0)
                    probe = None
                else:
                    return fail("unknown command %r" % (line,))

        if probe is not None and time.monotonic() >= probe.next_at:
            if probe.sent >= probe.limit:
                return fail("no ack after %d probes on %r" % (probe.sent, probe.topic))
            sock.send_multipart([probe.topic, str(probe.sent).encode("ascii")])
            probe.sent += 1
            probe.next_at = time.monotonic() + probe.interval


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("role", choices=["pub", "sub"])
    parser.add_argument("endpoint")
    parser.add_argument("--subscribe", action="append", default=[], help="a topic prefix (UTF-8)")
    parser.add_argument("--max-seconds", type=float, default=60.0)
    args = parser.parse_args()

    context = zmq.Context()
    sock = context.socket(zmq.PUB if args.role == "pub" else zmq.SUB)
    # Bounded, so that exit never hangs on a peer that went away.
    sock.setsockopt(zmq.LINGER, 1000)
    try:
        if args.role == "pub":
            sock.bind(args.endpoint)
            report(event="bound", endpoint=sock.getsockopt_string(zmq.LAST_ENDPOINT))
        else:
            sock.connect(args.endpoint)
            for topic in args.subscribe:
                sock.setsockopt(zmq.SUBSCRIBE, topic.encode("utf-8"))
            report(event="ready", zmq=zmq.zmq_version(), pyzmq=zmq.pyzmq_version())
        return run(args, sock, sys.stdin.fileno())
    except Exception as error:  # reported to the test, which shows it
        return fail("%s: %s" % (type(error).__name__, error))
    finally:
        sock.close()
        context.term()


if __name__ == "__main__":
    sys.exit(main())
