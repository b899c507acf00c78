"""A minimal SMTP server on 127.0.0.1 for tests (RFC 5321 subset: EHLO,
AUTH PLAIN, MAIL, RCPT, DATA, RSET, NOOP, QUIT; STARTTLS never offered).
It keeps every message and every line it was sent, so a test can check
what went over the wire."""

from __future__ import annotations

import base64
import socketserver
import threading
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message


@dataclass
class Received:
    """One message as the sink got it."""

    sender: str
    recipients: list[str]
    data: bytes

    @property
    def message(self) -> Message:
        return message_from_bytes(self.data)


@dataclass
class SinkState:
    messages: list[Received] = field(default_factory=list)
    #: Every command line received (DATA content excluded), for wire checks.
    lines: list[str] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)
    #: Recipients answered with 550.
    refuse: set[str] = field(default_factory=set)
    offer_auth: bool = True


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def _send(self, line: str) -> None:
        self.wfile.write(line.encode("ascii") + b"\r\n")
        self.wfile.flush()

    def handle(self) -> None:
        state = self.server.state
        self._send("220 sink ready")
        sender, recipients = "", []
        while True:
            raw = self.rfile.readline()
            if not raw:
                return
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            state.lines.append(line)
            verb = line.split(" ", 1)[0].upper()
            arg = line[len(verb) :].strip()
            if verb in ("EHLO", "HELO"):
                if state.offer_auth:
                    self._send("250-sink")
                    self._send("250 AUTH PLAIN")
                else:
                    self._send("250 sink")
            elif verb == "AUTH" and arg.upper().startswith("PLAIN "):
                _, user, password = base64.b64decode(arg[6:]).decode().split("\0")
                state.logins.append((user, password))
                self._send("235 ok")
            elif verb == "MAIL":
                sender, recipients = arg.split(":", 1)[1].strip().strip("<>"), []
                self._send("250 ok")
            elif verb == "RCPT":
                to = arg.split(":", 1)[1].strip().strip("<>")
                if to in state.refuse:
                    self._send("550 no such user")
                else:
                    recipients.append(to)
                    self._send("250 ok")
            elif verb == "DATA":
                self._send("354 go ahead")
                chunks = []
                while True:
                    data_line = self.rfile.readline()
                    if data_line in (b".\r\n", b".\n", b""):
                        break
                    chunks.append(data_line[1:] if data_line.startswith(b"..") else data_line)
                state.messages.append(Received(sender, recipients, b"".join(chunks)))
                self._send("250 queued")
            elif verb in ("RSET", "NOOP"):
                self._send("250 ok")
            elif verb == "QUIT":
                self._send("221 bye")
                return
            else:
                self._send("502 not implemented")


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, state: SinkState) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = state


class SmtpSink:
    """Start with :meth:`start`, read :attr:`state`, stop with :meth:`stop`."""

    def __init__(self) -> None:
        self.state = SinkState()
        self._server = _Server(self.state)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
