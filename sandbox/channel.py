"""JSON-line channels between the host and a runner: a Docker attach socket or local pipes.

The runner reads one JSON object per line on stdin and writes one per line on stdout. Over
Docker the container is attached without a TTY, so the engine multiplexes stdout and stderr
into frames (an 8-byte header: stream id, three zero bytes, big-endian length); the
DockerChannel demultiplexes them and keeps the runner's stderr tail for error messages.
"""

from __future__ import annotations

import json
import os
import select
import socket
import struct
import subprocess
import time
from abc import ABC, abstractmethod
from typing import Any

STDERR_TAIL = 4096
MAX_LINE = 64 << 20


class SandboxError(RuntimeError):
    """The sandbox itself failed (engine gone, container died, no reply): the verdict is `error`."""


class ChannelClosed(SandboxError):
    """The runner's output ended: it exited or its container was removed."""


class ChannelTimeout(SandboxError):
    """The runner did not answer in time."""


class LineChannel(ABC):
    """Line framing over some byte stream; subclasses supply raw reads and writes."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.stderr_tail = b""

    @abstractmethod
    def _write(self, data: bytes) -> None: ...

    @abstractmethod
    def _read(self, timeout: float) -> bytes:
        """Some stdout bytes (b"" at end of stream); raise ChannelTimeout when none came in time."""

    @abstractmethod
    def close(self) -> None: ...

    def send(self, message: dict[str, Any]) -> None:
        try:
            self._write((json.dumps(message) + "\n").encode("utf-8"))
        except OSError as exc:
            raise ChannelClosed(f"cannot write to the runner: {exc}") from exc

    def receive(self, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            newline = self._buffer.find(b"\n")
            if newline >= 0:
                line = bytes(self._buffer[:newline])
                del self._buffer[: newline + 1]
                if line.strip():
                    return self._decode(line)
                continue
            if len(self._buffer) > MAX_LINE:
                raise SandboxError("the runner sent a line longer than 64 MiB")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ChannelTimeout(f"no reply from the runner within {timeout:.1f} s")
            data = self._read(remaining)
            if not data:
                raise ChannelClosed("the runner's output ended" + self._stderr_hint())
            self._buffer += data

    def _decode(self, line: bytes) -> dict[str, Any]:
        try:
            message = json.loads(line)
        except ValueError as exc:
            raise SandboxError(f"the runner sent a line that is not JSON: {line[:200]!r}") from exc
        if not isinstance(message, dict):
            raise SandboxError(f"the runner sent {type(message).__name__}, expected an object")
        return message

    def _keep_stderr(self, data: bytes) -> None:
        self.stderr_tail = (self.stderr_tail + data)[-STDERR_TAIL:]

    def _stderr_hint(self) -> str:
        text = self.stderr_tail.decode("utf-8", "replace").strip()
        return f"; its stderr ends with: {text[-500:]}" if text else ""


class DockerChannel(LineChannel):
    """A container's stdin/stdout/stderr through the engine's attach socket."""

    def __init__(self, attached: Any) -> None:
        super().__init__()
        self._attached = attached  # keep the SDK's wrapper alive: it owns the connection
        self._socket: socket.socket = attached._sock
        self._raw = bytearray()

    def _write(self, data: bytes) -> None:
        self._socket.settimeout(30)
        self._socket.sendall(data)

    def _read(self, timeout: float) -> bytes:
        deadline = time.monotonic() + timeout
        while True:
            payload = self._next_stdout_payload()
            if payload is not None:
                return payload
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ChannelTimeout(f"no reply from the runner within {timeout:.1f} s")
            self._socket.settimeout(remaining)
            try:
                chunk = self._socket.recv(1 << 16)
            except TimeoutError as exc:
                raise ChannelTimeout(f"no reply from the runner within {timeout:.1f} s") from exc
            except OSError as exc:
                raise ChannelClosed(f"the container's stream broke: {exc}") from exc
            if not chunk:
                return b""
            self._raw += chunk

    def _next_stdout_payload(self) -> bytes | None:
        """Pop complete frames; return the first stdout payload (stderr goes to the tail)."""
        while len(self._raw) >= 8:
            stream, length = struct.unpack(">BxxxL", self._raw[:8])
            if len(self._raw) < 8 + length:
                return None
            payload = bytes(self._raw[8 : 8 + length])
            del self._raw[: 8 + length]
            if stream == 2:
                self._keep_stderr(payload)
            elif payload:
                return payload
        return None

    def close(self) -> None:
        for action in (lambda: self._socket.shutdown(socket.SHUT_RDWR), self._socket.close, self._attached.close):
            try:
                action()
            except OSError:
                pass


class PipeChannel(LineChannel):
    """A local runner process's pipes (backend local-unsafe)."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        super().__init__()
        assert process.stdin is not None and process.stdout is not None
        self._process = process
        self._stdin = process.stdin
        self._stdout_fd = process.stdout.fileno()

    def _write(self, data: bytes) -> None:
        self._stdin.write(data)
        self._stdin.flush()

    def _read(self, timeout: float) -> bytes:
        ready, _, _ = select.select([self._stdout_fd], [], [], timeout)
        if not ready:
            raise ChannelTimeout(f"no reply from the runner within {timeout:.1f} s")
        return os.read(self._stdout_fd, 1 << 16)

    def close(self) -> None:
        for stream in (self._process.stdin, self._process.stdout):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass
