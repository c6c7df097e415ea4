"""Plain-Python baselines for the dask side of the benchmark.

multiprocessing.Pool stands beside dask's map and round trip (the same function in worker
processes, without a scheduler), and a raw TCP copy over loopback between two processes stands
beside the worker-to-worker transfer. Functions given to multiprocessing live here, in an
importable module, so that spawned processes can find them.
"""

import multiprocessing
import socket
import struct
import time

import numpy as np


def inc(x):
    """The trivial task of every workload."""
    return x + 1


def pool_map_throughputs(tasks, processes, runs):
    """Tasks per second of each of `runs` multiprocessing.Pool(processes).map(inc, ..., chunksize=1), after a warm-up."""
    context = multiprocessing.get_context("spawn")
    rates = []
    with context.Pool(processes) as pool:
        pool.map(inc, range(1000), chunksize=1)
        for _ in range(runs):
            start = time.perf_counter()
            results = pool.map(inc, range(tasks), chunksize=1)
            rates.append(tasks / (time.perf_counter() - start))
            if results[-1] != tasks:
                raise RuntimeError("multiprocessing.Pool computed wrong values")
    return rates


def pool_apply_round_trips(count, warm_up, processes, runs):
    """Microseconds of each multiprocessing.Pool.apply(inc, (i,)), in `runs` runs of `count`, after a warm-up."""
    context = multiprocessing.get_context("spawn")
    micros = []
    with context.Pool(processes) as pool:
        for i in range(-warm_up, count * runs):
            start = time.perf_counter()
            value = pool.apply(inc, (i,))
            elapsed = time.perf_counter() - start
            if value != i + 1:
                raise RuntimeError("multiprocessing.Pool.apply computed a wrong value")
            if i >= 0:
                micros.append(elapsed * 1e6)
    return [micros[run * count:(run + 1) * count] for run in range(runs)]


def _sink(port_queue):
    """The far end of the TCP copy: an 8-byte length, that many bytes into a fresh buffer, one byte of answer."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port_queue.put(listener.getsockname()[1])
        connection, _ = listener.accept()
        with connection:
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            while True:
                header = _receive_exactly(connection, memoryview(bytearray(8)))
                if header is None:
                    return
                (length,) = struct.unpack("<q", header)
                if length == 0:
                    return
                buffer = np.empty(length, dtype=np.uint8)
                if _receive_exactly(connection, memoryview(buffer).cast("B")) is None:
                    return
                connection.sendall(b"\x01")


def _receive_exactly(connection, view):
    received = 0
    while received < len(view):
        n = connection.recv_into(view[received:])
        if n == 0:
            return None
        received += n
    return view


def loopback_copy_seconds(array, repeats):
    """Seconds to send the bytes of `array` to another process over loopback TCP, per run, after a warm-up."""
    context = multiprocessing.get_context("spawn")
    ports = context.Queue()
    sink = context.Process(target=_sink, args=(ports,), daemon=True)
    sink.start()
    try:
        payload = memoryview(array).cast("B")
        seconds = []
        with socket.create_connection(("127.0.0.1", ports.get(timeout=60))) as connection:
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            ack = memoryview(bytearray(1))

            def send(view):
                start = time.perf_counter()
                connection.sendall(struct.pack("<q", len(view)))
                connection.sendall(view)
                if _receive_exactly(connection, ack) is None:
                    raise RuntimeError("the TCP sink closed the connection")
                return time.perf_counter() - start

            send(payload[: min(len(payload), 16 << 20)])
            for _ in range(repeats):
                seconds.append(send(payload))
            connection.sendall(struct.pack("<q", 0))
        return seconds
    finally:
        sink.join(timeout=10)
        if sink.is_alive():
            sink.kill()
