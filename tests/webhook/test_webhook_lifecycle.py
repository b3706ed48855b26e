"""Certificate rotation while requests flow, and SIGTERM with requests in flight."""

from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import threading
import time
from pathlib import Path

from tests.webhook.helpers import (
    Certificates,
    Server,
    admitted,
    chat_agent,
    review,
    running_server,
    serial_of,
)


def served_serial(server: Server) -> str:
    """Serial of the certificate a new connection is shown."""
    with (
        socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw,
        server.certificates.context().wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return serial_of(ssl.DER_cert_to_PEM_cert(der).encode())


def body() -> bytes:
    return json.dumps(review("CREATE", admitted(chat_agent()))).encode()


def test_certificate_rotation_while_requests_flow(certificates: Certificates) -> None:
    first = serial_of(certificates.cert.read_bytes())
    with running_server(
        certificates, "--no-watch-cluster", "--cert-reload-interval", "0.1"
    ) as server:
        assert served_serial(server) == first
        errors: list[str] = []
        answered = [0]
        stop = threading.Event()
        payload = body()

        def client(fresh_connections: bool) -> None:
            connection = server.connect()
            while not stop.is_set():
                try:
                    if fresh_connections:  # a new TLS handshake each time
                        connection.close()
                        connection = server.connect()
                    status, answer, _ = server.request(
                        "POST", "/validate", payload, {"Content-Type": "application/json"},
                        connection,
                    )  # fmt: skip
                    if status != 200 or json.loads(answer)["response"]["allowed"] is not True:
                        errors.append(f"{status} {answer[:200]!r}")
                    answered[0] += 1
                except Exception as exc:
                    errors.append(repr(exc))
                    connection.close()
                    connection = server.connect()
            connection.close()

        clients = [
            threading.Thread(target=client, args=(fresh,)) for fresh in (False, False, True, True)
        ]
        for thread in clients:
            thread.start()
        try:
            time.sleep(0.5)
            # A half-done rotation (new certificate, old key) is never served ...
            old_key = certificates.key.read_bytes()
            second = certificates.issue("rotated-1")
            os.replace(_write(certificates.key.with_suffix(".old"), old_key), certificates.key)
            time.sleep(0.5)
            assert served_serial(server) == first
            # ... the completed one is, on the next handshake.
            second = certificates.issue("rotated-2")
            deadline = time.monotonic() + 10
            while served_serial(server) != second:
                assert time.monotonic() < deadline, "the new certificate was not picked up"
                time.sleep(0.1)
            third = certificates.issue("rotated-3")
            deadline = time.monotonic() + 10
            while served_serial(server) != third:
                assert time.monotonic() < deadline, "the second rotation was not picked up"
                time.sleep(0.1)
            time.sleep(0.3)
        finally:
            stop.set()
            for thread in clients:
                thread.join(30)
        assert not errors, errors[:5]
        assert answered[0] > 20
        metrics = server.request("GET", "/metrics")[1].decode()
        assert 'autobot_guard_tls_certificate_reloads_total{result="ok"}' in metrics
        assert 'autobot_guard_tls_certificate_reloads_total{result="error"}' in metrics


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_sigterm_drains_requests_in_flight(certificates: Certificates) -> None:
    with running_server(certificates, "--no-watch-cluster") as server:
        payload = body()
        head = (
            b"POST /validate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % len(payload)
        )
        # Requests in flight: headers and half of the body sent, the rest still to come.
        in_flight = []
        for _ in range(4):
            raw = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            tls = server.certificates.context().wrap_socket(raw, server_hostname="127.0.0.1")
            tls.sendall(head + payload[: len(payload) // 2])
            in_flight.append(tls)
        # An idle keep-alive connection that has finished its request.
        idle = server.connect()
        assert server.review(json.loads(payload), idle)["allowed"] is True
        time.sleep(0.3)
        server.process.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        # Not accepting any more ...
        try:
            socket.create_connection(("127.0.0.1", server.port), timeout=2).close()
            refused = False
        except OSError:
            refused = True
        assert refused, "still accepting connections after SIGTERM"
        # ... but every request in flight is answered in full.
        for tls in in_flight:
            tls.sendall(payload[len(payload) // 2 :])
            response = _read_response(tls)
            tls.close()
            assert response.startswith(b"HTTP/1.1 200"), response[:200]
            answer = json.loads(response.split(b"\r\n\r\n", 1)[1])
            assert answer["response"]["allowed"] is True
        idle.close()
        assert server.process.wait(20) == 0
        assert any('"msg":"stopped"' in line for line in server.stderr)


def test_sigterm_with_a_drain_delay_keeps_serving_but_turns_unready(
    certificates: Certificates,
) -> None:
    with running_server(certificates, "--no-watch-cluster", "--drain-delay", "1.5") as server:
        server.process.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        status, answer, _ = server.request("GET", "/readyz")
        assert status == 503 and json.loads(answer)["draining"] == "shutting down"
        assert server.review(json.loads(body()))["allowed"] is True
        assert server.process.wait(20) == 0


def _read_response(tls: ssl.SSLSocket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = tls.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(rest) < length:
        chunk = tls.recv(65536)
        if not chunk:
            break
        rest += chunk
    return head + b"\r\n\r\n" + rest


def test_every_line_on_stderr_is_json_even_uvicorns(certificates: Certificates) -> None:
    # uvicorn's own messages (here: the port is taken) used to be plain text.
    import socket
    import subprocess
    import sys

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "autobot_guard", "serve", "--host", "127.0.0.1",
             "--port", str(port), "--tls-cert", str(certificates.cert),
             "--tls-key", str(certificates.key), "--no-watch-cluster"],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines, "a failed start says why"
    entries = [json.loads(line) for line in lines]  # each line is one JSON object
    assert any("address already in use" in entry["msg"] for entry in entries), entries
