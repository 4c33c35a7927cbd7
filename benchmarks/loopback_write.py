"""What one `send` of an order-sized request costs on loopback TCP, by where the receiver sleeps.

    .venv/bin/python benchmarks/loopback_write.py [samples]

On loopback the sender's `send` runs the receiver's side of TCP too and wakes the receiving
process. A receiver asleep on another CPU must be woken there (an inter-processor interrupt;
in a virtual machine, waking an idle virtual CPU), and that wake-up is paid inside the `send`.
This measures it: a receiver process waits in `epoll` and answers each 500-byte request with
300 bytes; the sender times only its `send` call, one request per millisecond so the receiver is
asleep each time. Three placements, each in its own receiver: on the sender's CPU (both
pinned), on the other CPU (both pinned), and wherever the scheduler puts it. A venue across a
network never costs the sender a wake-up; `order_path.py` pins its simulator to its own CPU
because of what this prints.

Last line: `loopback_write shared_p99_us=N other_p99_us=N samples=N`.
"""

from __future__ import annotations

import argparse
import os
import select
import socket
import time

REQUEST = b"p" * 500
ANSWER = b"a" * 300


def _receiver(listener: socket.socket, cpu: int | None) -> None:
    """The child: answer each request until the sender closes."""
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    conn, _ = listener.accept()
    poller = select.epoll()
    poller.register(conn.fileno(), select.EPOLLIN)
    while True:
        poller.poll()
        if not conn.recv(65536):
            break
        conn.sendall(ANSWER)
    os._exit(0)


def measure(samples: int, sender_cpu: int | None, receiver_cpu: int | None) -> list[int]:
    """Nanoseconds of each `send`, the first 100 (warm-up) left out."""
    allowed = os.sched_getaffinity(0)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    child = os.fork()
    if child == 0:
        _receiver(listener, receiver_cpu)
    if sender_cpu is not None:
        os.sched_setaffinity(0, {sender_cpu})
    sock = socket.create_connection(listener.getsockname())
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    took = []
    try:
        for _ in range(samples + 100):
            t0 = time.perf_counter_ns()
            sock.send(REQUEST)
            took.append(time.perf_counter_ns() - t0)
            got = 0
            while got < len(ANSWER):
                got += len(sock.recv(65536))
            time.sleep(0.001)
    finally:
        sock.close()
        listener.close()
        os.waitpid(child, 0)
        os.sched_setaffinity(0, allowed)
    return took[100:]


def pct(samples: list[int], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] / 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("samples", nargs="?", type=int, default=2000)
    args = parser.parse_args()
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        raise SystemExit("expected at least two CPUs to compare placements")
    first, second = cpus[0], cpus[1]
    found = {}
    for label, sender, receiver in (
        ("shared", first, first),
        ("other", first, second),
        ("any", None, None),
    ):
        took = measure(args.samples, sender, receiver)
        found[label] = took
        print(
            f"receiver on {label:<6} CPU: send p50 {pct(took, 0.5):7.1f} us   "
            f"p99 {pct(took, 0.99):7.1f} us   max {max(took) / 1000:8.1f} us"
        )
    print(
        f"loopback_write shared_p99_us={pct(found['shared'], 0.99):.1f} "
        f"other_p99_us={pct(found['other'], 0.99):.1f} samples={args.samples}"
    )


if __name__ == "__main__":
    main()
