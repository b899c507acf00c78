"""The console's client of the intake's reviewer API (``/api/v1/envelopes``,
intake/api/). Every call goes through one request path
(:meth:`IntakeClient._request`): the bearer token (no redirect followed, so
it goes to the configured intake only), the timeout, the error mapping
(401/403 :class:`IntakeAuthError`, anything unusable :class:`IntakeError`,
envelope ids out of messages) and the socket tracking behind
:meth:`IntakeClient.abort`. Every reply is read within a size bound and a
deadline (a page: :data:`MAX_PAGE_BYTES`; any other answer:
:data:`MAX_ANSWER_BYTES`; an attachment: no slower than :data:`MIN_RATE`).
"""

from __future__ import annotations

import base64
import json
import re
import socket
import threading
import time
import weakref
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import requests
import urllib3

from ..errors import IntakeAuthError, IntakeError, SyncNotConfiguredError
from .sockets import TrackingAdapter, shut

#: The most a page's reply may weigh: the intake's default byte budget
#: (8 MiB of sealed bytes) in base64 and JSON, with room to spare. A larger
#: reply is refused, not parsed.
MAX_PAGE_BYTES = 64 * 1024 * 1024
#: The most any other JSON answer may weigh (a delete's, a filed
#: envelope's, an error): a few hundred bytes when the intake is honest.
MAX_ANSWER_BYTES = 64 * 1024
DOWNLOAD_PIECE = 64 * 1024
#: What a page is read in, at most, per call (as much as has arrived).
READ_PIECE = 1024 * 1024
#: The slowest an attachment may arrive on average (bytes per second), after
#: a grace period, before its download is stopped.
MIN_RATE = 4 * 1024
#: Statuses that mean "try again": a proxy or the intake is restarting.
RETRY_STATUSES = (502, 503, 504)

ENVELOPE_ID = re.compile(r"[0-9a-f]{32}")


def no_ids(path: str) -> str:
    """``path`` with envelope ids replaced by ``<id>``: error messages reach
    the status page, flashes and a timer's journal, which must not tie a
    run to an envelope."""
    return ENVELOPE_ID.sub("<id>", path)


class IntakeClient:
    """Client of the intake's reviewer API (``/api/v1/envelopes``).

    Args:
        base_url: the intake's address, e.g. ``https://intake.example``
            (a path prefix is kept).
        token: the organization's bearer token.
        timeout: seconds to connect and between bytes read.
        page_deadline: seconds a page's download may take in all, however
            its bytes trickle in (an intake sending a byte every few seconds
            would otherwise hold a sync, and the key it uses, for ever).
    """

    def __init__(
        self, base_url: str, token: str, timeout: float = 30.0, page_deadline: float = 600.0
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self.timeout = timeout
        self.page_deadline = page_deadline
        #: Sockets of this client's connections, so that :meth:`abort` can
        #: shut them down from another thread: a read waiting on a stalled
        #: intake then ends at once instead of after ``timeout``.
        self._sockets: weakref.WeakSet[socket.socket] = weakref.WeakSet()
        self._sockets_lock = threading.Lock()
        self._aborted = False
        self._http = requests.Session()
        adapter = TrackingAdapter(self._track_socket)
        self._http.mount("http://", adapter)
        self._http.mount("https://", adapter)
        #: The page download in progress (one worker at a time), so that
        #: :meth:`abort_page` can cut it short from another thread.
        self._page_response: requests.Response | None = None

    def _track_socket(self, sock: socket.socket) -> None:
        with self._sockets_lock:
            self._sockets.add(sock)
            aborted = self._aborted
        if aborted:
            shut(sock)

    def abort(self) -> None:
        """End every request of this client now, from any thread: its
        sockets are shut down (a blocked read returns at once and fails
        with :class:`IntakeError`) and new requests fail until
        :meth:`resume`. A connection still being opened ends at its
        connect timeout."""
        with self._sockets_lock:
            self._aborted = True
            sockets = list(self._sockets)
        for sock in sockets:
            shut(sock)

    def resume(self) -> None:
        """Accept requests again after :meth:`abort` (new connections)."""
        with self._sockets_lock:
            self._aborted = False
            self._sockets = weakref.WeakSet()
        self._http.close()  # the shut connections are not reused

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> IntakeClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _request(
        self,
        method: str,
        path: str,
        *,
        ok: tuple[int, ...] = (200,),
        params: Mapping[str, int] | None = None,
        json_body: Mapping[str, str] | None = None,
        form: Mapping[str, str] | None = None,
        files: Sequence[tuple[str, tuple[str, bytes, str]]] | None = None,
    ) -> requests.Response:
        """The one way this client talks to the intake: ``method`` on
        ``path`` (under :attr:`base_url`) with the bearer token, the
        timeout, no redirect followed, the body left unread (streamed) for
        a bounded reader (:meth:`_answer`, :func:`read_within`,
        :meth:`_pieces`).

        Returns:
            The response, its status one of ``ok``; the caller closes it.

        Raises:
            IntakeAuthError: 401/403.
            IntakeError: aborted (:meth:`abort`), unreachable (``status``
                None), or another status (``status`` set).
        """
        if self._aborted:
            raise IntakeError("the sync was ended")
        try:
            # No redirects: the bearer token goes to the configured intake only.
            response = self._http.request(
                method,
                self.base_url + path,
                params=params,
                json=json_body,
                data=form,
                files=files,
                headers={"Authorization": f"Bearer {self._token}"},
                timeout=self.timeout,
                stream=True,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            raise IntakeError(
                f"the intake at {self.base_url} cannot be reached ({exc.__class__.__name__})"
            ) from exc
        if response.status_code in (401, 403):
            response.close()
            raise IntakeAuthError("the intake refused the API token (check INTAKE_TOKEN)")
        if response.status_code not in ok:
            response.close()
            raise IntakeError(
                f"the intake answered HTTP {response.status_code} for {no_ids(path)}", response.status_code
            )
        return response

    def _answer(self, response: requests.Response) -> Any:
        """The JSON document of a short answer (closed after), read within
        :data:`MAX_ANSWER_BYTES` and the page deadline; None when it is
        not JSON."""
        with response:
            content = read_within(response, MAX_ANSWER_BYTES, time.monotonic() + self.page_deadline)
        try:
            return json.loads(content)
        except (ValueError, RecursionError):
            return None

    def delete_envelope(self, envelope_id: str) -> tuple[bool, int] | None:
        """Ask the intake to delete an envelope for this organization
        (``DELETE /api/v1/envelopes/<id>``).

        Returns:
            ``(deleted, remaining_recipients)`` as the intake confirmed it
            (``deleted`` False: other organizations still hold it, only our
            recipient entry went), or None when the intake does not have it
            for us (404: deleted before, or never ours).

        Raises:
            ValueError: not an envelope id. IntakeAuthError, IntakeError: as
                :meth:`envelopes`, or an answer that is not the documented JSON.
        """
        if not ENVELOPE_ID.fullmatch(envelope_id):
            raise ValueError("not an envelope id")
        response = self._request("DELETE", f"/api/v1/envelopes/{envelope_id}", ok=(200, 404))
        if response.status_code == 404:
            response.close()
            return None
        doc = self._answer(response)
        if doc is None:
            raise IntakeError("the intake's reply is not JSON")
        deleted, remaining = (
            (doc.get("deleted"), doc.get("remaining_recipients")) if isinstance(doc, dict) else (None, None)
        )
        if not isinstance(deleted, bool) or not isinstance(remaining, int) or isinstance(remaining, bool):
            raise IntakeError("the intake's reply does not have 'deleted' and 'remaining_recipients'")
        return deleted, remaining

    def envelopes(self, after: int, limit: int) -> tuple[list[dict[str, Any]], bool]:
        """One page of envelopes with ``seq`` > ``after``: :meth:`envelope_page`
        read by :func:`parse_envelope_page`.

        Returns:
            The envelope objects (as in the API) and whether there are more.

        Raises:
            IntakeAuthError: 401/403. IntakeError: unreachable, another
                status, or a reply that is not the documented JSON.
        """
        return parse_envelope_page(self.envelope_page(after, limit))

    def envelope_page(self, after: int, limit: int) -> bytes:
        """The intake's reply for one page (``GET /api/v1/envelopes?after=&limit=``),
        as bytes, not yet parsed: network only, so a worker thread can wait
        for it while the caller's thread, holding the interpreter, opens
        the previous page. Read in one call (not requests' 10 kB pieces,
        each of which would take the interpreter lock back from the opening
        thread) and at most :data:`MAX_PAGE_BYTES`.

        Raises:
            IntakeAuthError: 401/403. IntakeError: unreachable, another
                status, a reply over :data:`MAX_PAGE_BYTES`, or the download
                broke off.
        """
        response = self._request("GET", "/api/v1/envelopes", params={"after": after, "limit": limit})
        self._page_response = response
        try:
            with response:
                return read_within(response, MAX_PAGE_BYTES, time.monotonic() + self.page_deadline)
        finally:
            self._page_response = None

    def abort_page(self) -> None:
        """Cut short the page download in progress, if any (it then fails
        with :class:`IntakeError`): a sync that stops does not wait for a
        page it will not use."""
        response = self._page_response
        if response is not None:
            response.close()

    @contextmanager
    def attachment(self, envelope_id: str, index: int) -> Iterator[Iterator[bytes]]:
        """Stream attachment ``index`` of an envelope: yields an iterator of
        byte pieces. The URL is built here from the checked envelope id, not
        taken from the API's reply, so the token never goes elsewhere.

        Raises:
            IntakeAuthError, IntakeError: as :meth:`envelopes`, also while
                reading.
        """
        response = self._request("GET", f"/api/v1/envelopes/{envelope_id}/attachments/{index}")
        try:
            yield self._pieces(response)
        finally:
            response.close()

    def _pieces(self, response: requests.Response) -> Iterator[bytes]:
        # As fast as the bytes come, but never slower in all than
        # MIN_RATE after a grace of self.page_deadline / 5 (a trickle would
        # otherwise hold the sync for ever).
        try:
            # The intake's word only ("42, 42" is one to urllib3, not to int()).
            size = max(0, int(response.headers.get("Content-Length") or 0))
        except ValueError:
            size = 0
        deadline = time.monotonic() + self.page_deadline / 5 + size / MIN_RATE
        try:
            while piece := response.raw.read1(DOWNLOAD_PIECE, decode_content=True):
                if time.monotonic() > deadline:
                    raise IntakeError("the intake sends an attachment too slowly; the download was stopped")
                yield piece
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise IntakeError(f"the download from the intake broke off ({exc.__class__.__name__})") from exc

    class EnvelopeRefused(IntakeError):
        """The intake refused an envelope the console filed (a 4xx answer
        to :meth:`post_envelope`): ``code`` is the intake's JSON error code
        (``too_large``, ``recipients``, ``duplicate`` …, ``unknown`` when it
        gave none usable), ``status`` the HTTP status."""

        def __init__(self, code: str, status: int) -> None:
            super().__init__(f"the intake refused the envelope ({code}, HTTP {status})")
            self.code = code
            self.status = status

    def post_envelope(
        self, header: bytes, body: bytes, attachments: Sequence[bytes], lookup: str, *, attempts: int = 2
    ) -> tuple[str, bool]:
        """File an envelope the console sealed (interview mode) with the
        lookup value of the receipt made for it
        (:func:`core.envelope.conversation.lookup_value`, 64 hex digits):
        ``POST /api/v1/envelopes``, multipart parts ``lookup`` (text),
        ``header``, ``body`` and one ``attachment`` per slot
        (intake/api/interview.py). Never the receipt: an intake that saw it
        could read the person's replies and write follow-ups in their name
        (docs/threat-model.md, "The receipt").

        A network fault or a 502/503/504 is tried again, up to ``attempts``
        times in all, with the very same envelope: if the first answer was
        lost the intake recognises the envelope id and stores nothing twice.

        Returns:
            ``(envelope id, earlier)`` as the intake confirmed them;
            ``earlier`` is True when the envelope was stored by an earlier try.

        Raises:
            IntakeAuthError: 401/403.
            IntakeClient.EnvelopeRefused: 400, 409 or 413 (not tried again).
            IntakeError: unreachable or failing after every try, another
                status, or a reply that is not the documented JSON.
        """
        files = [
            ("header", ("header", header, "application/octet-stream")),
            ("body", ("body", body, "application/octet-stream")),
            *[
                ("attachment", (f"attachment-{i}", a, "application/octet-stream"))
                for i, a in enumerate(attachments)
            ],
        ]
        fault = IntakeError("no attempt was made")
        for _attempt in range(max(1, attempts)):
            try:
                response = self._request(
                    "POST",
                    "/api/v1/envelopes",
                    ok=(200, 201, 400, 409, 413),
                    form={"lookup": lookup},
                    files=files,
                )
            except IntakeAuthError:
                raise
            except IntakeError as exc:
                # Unreachable, or a proxy or intake restarting: the very
                # same envelope again (the intake stores nothing twice).
                if exc.status is not None and exc.status not in RETRY_STATUSES:
                    raise
                fault = exc
                continue
            status = response.status_code
            doc = self._answer(response)
            if status in (400, 409, 413):
                raise IntakeClient.EnvelopeRefused(_error_code(doc), status)
            envelope_id = doc.get("id") if isinstance(doc, dict) else None
            earlier = doc.get("earlier") if isinstance(doc, dict) else None
            if not isinstance(envelope_id, str) or not ENVELOPE_ID.fullmatch(envelope_id):
                raise IntakeError("the intake's reply does not have the envelope's 'id'")
            return envelope_id, earlier is True
        raise fault

    def post_reply(self, envelope_id: str, header: bytes, body: bytes) -> bool:
        """Hand the intake a reply sealed to the reporter's reply key
        (``POST /api/v1/envelopes/<id>/replies``, JSON ``{"header", "body"}``
        in base64; intake/api/replies.py).

        Returns:
            True when the intake stored it now (201), False when it had it
            from an earlier try (200).

        Raises:
            ValueError: not an envelope id.
            IntakeAuthError: 401/403.
            IntakeError: unreachable, or any other answer (404: the report is
                no longer at the intake for us; 409: it has no reply key or
                too many replies; 400: the intake refused the envelope).
        """
        if not ENVELOPE_ID.fullmatch(envelope_id):
            raise ValueError("not an envelope id")
        sealed = {
            "header": base64.b64encode(header).decode("ascii"),
            "body": base64.b64encode(body).decode("ascii"),
        }
        response = self._request(
            "POST", f"/api/v1/envelopes/{envelope_id}/replies", ok=(200, 201), json_body=sealed
        )
        response.close()
        return response.status_code == 201


def _error_code(doc: Any) -> str:
    """The intake's JSON error code of a refusal (``too_large``,
    ``recipients`` …), or ``unknown`` when it gave none usable."""
    error = doc.get("error") if isinstance(doc, dict) else None
    return error if isinstance(error, str) and error.isascii() and 0 < len(error) <= 32 else "unknown"


def client_from_config(config: Mapping[str, Any]) -> IntakeClient:
    """An :class:`IntakeClient` from ``INTAKE_URL``, ``INTAKE_TOKEN`` and
    ``INTAKE_TIMEOUT``.

    Raises:
        SyncNotConfiguredError: URL or token missing.
    """
    url, token = config.get("INTAKE_URL"), config.get("INTAKE_TOKEN")
    if not url or not token:
        raise SyncNotConfiguredError("set ADMIN_INTAKE_URL and ADMIN_INTAKE_TOKEN to sync")
    return IntakeClient(
        str(url),
        str(token),
        float(config.get("INTAKE_TIMEOUT", 30)),
        float(config.get("INTAKE_PAGE_DEADLINE", 600)),
    )


def read_within(response: requests.Response, cap: int, deadline: float) -> bytes:
    """The body of ``response`` (decoded), read as its bytes arrive: at most
    ``cap`` bytes, before ``time.monotonic()`` reaches ``deadline``.

    Raises:
        IntakeError: larger than ``cap``, too slow, or broken off.
    """
    parts: list[bytes] = []
    total = 0
    try:
        while part := response.raw.read1(READ_PIECE, decode_content=True):
            total += len(part)
            if total > cap:
                raise IntakeError("the intake's page is larger than a console reads")
            if time.monotonic() > deadline:
                raise IntakeError("the intake sends its page too slowly; the download was stopped")
            parts.append(part)
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
        raise IntakeError(f"the download from the intake broke off ({exc.__class__.__name__})") from exc
    return b"".join(parts)


def parse_envelope_page(content: bytes) -> tuple[list[dict[str, Any]], bool]:
    """Read a reply of ``GET /api/v1/envelopes``: ``{"envelopes": [...],
    "more": bool}`` (intake/api/views.py) in UTF-8 JSON.

    Returns:
        The envelope objects and whether there are more.

    Raises:
        IntakeError: not JSON, or not that shape.
    """
    try:
        doc = json.loads(content)
    except (ValueError, RecursionError) as exc:
        raise IntakeError("the intake's reply is not JSON") from exc
    if (
        not isinstance(doc, dict)
        or not isinstance(doc.get("envelopes"), list)
        or not isinstance(doc.get("more"), bool)
        or not all(isinstance(e, dict) for e in doc["envelopes"])
    ):
        raise IntakeError("the intake's reply does not have 'envelopes' and 'more'")
    return doc["envelopes"], doc["more"]
