"""Send DICOM objects to a PACS by DICOMweb STOW-RS (PS3.18 10.5): one multipart POST to
``<root>/studies``, the PACS's answer read for what it stored and what it refused.

    DicomExport.objects -> send_stow(target, datasets) -> SendResult

The URL is the DICOMweb root the user configures (Orthanc: ``http://host:8042/dicom-web``);
HTTP basic authentication is taken from ``user``/``password``, never from the URL, and no
message quotes a password.
"""

from __future__ import annotations

import base64
import http.client
import json
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from pydicom.dataset import Dataset

from mmcrnet.errors import OncoPredictError
from mmcrnet.io.dicom import file_bytes

#: DICOM JSON tags of the STOW-RS response (PS3.18 Table 10.5.3-1).
_REFERENCED = "00081199"  # ReferencedSOPSequence: stored
_FAILED = "00081198"  # FailedSOPSequence: refused
_SOP_INSTANCE = "00081155"
_FAILURE_REASON = "00081197"
_WARNING_REASON = "00081196"


class PacsError(OncoPredictError):
    """The PACS could not be reached, or refused the request as a whole."""


@dataclass(frozen=True)
class PacsTarget:
    """Where to send: the DICOMweb root URL, optional basic-auth credentials, a timeout."""

    url: str
    user: str | None = None
    password: str | None = None
    timeout_s: float = 30.0  # connect and read, each
    allowed: tuple[str, ...] = ()  # URL prefixes a server may send to; empty: any

    @property
    def shown_url(self) -> str:
        """The URL as messages show it: scheme, host, port and path, no credentials."""
        parts = urllib.parse.urlsplit(self.url.strip())
        host = parts.hostname or ""
        port = f":{parts.port}" if _port(parts) is not None else ""
        return f"{parts.scheme}://{host}{port}{parts.path}"

    def stow_url(self) -> str:
        """``<root>/studies``, after checking the URL.

        Raises:
            PacsError: not an http(s) URL with a host, or credentials written into it.
        """
        text = self.url.strip()
        parts = urllib.parse.urlsplit(text)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise PacsError(
                f"'{self.shown_url or text[:40]}' is not a DICOMweb URL: give the root, e.g. "
                "http://pacs.example.org:8042/dicom-web"
            )
        _port(parts)  # a bad port raises here, before anything is sent
        if parts.username or parts.password:
            raise PacsError(
                f"{self.shown_url}: put the user name and password in their own fields, not "
                "in the URL"
            )
        if parts.query or parts.fragment:
            raise PacsError(f"{self.shown_url}: a DICOMweb root has no query or fragment")
        if not (text.isascii() and text.isprintable()) or " " in text:
            raise PacsError(
                f"'{self.shown_url}': a DICOMweb URL is plain ASCII; percent-encode other "
                "characters"
            )
        path = parts.path.rstrip("/")
        if self.allowed and not any(
            f"{text.rstrip('/')}/".startswith(prefix.rstrip("/") + "/") for prefix in self.allowed
        ):
            raise PacsError(
                f"{self.shown_url}: this server sends only to "
                + ", ".join(PacsTarget(a).shown_url for a in self.allowed)
                + " (ONCOPREDICT_PACS_ALLOWED)"
            )
        if not path.endswith("/studies"):
            path += "/studies"
        return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def _port(parts: urllib.parse.SplitResult) -> int | None:
    try:
        return parts.port
    except ValueError:
        raise PacsError(
            f"'{parts.scheme}://{parts.hostname}': the port is not a port number (1 to 65535)"
        ) from None


@dataclass(frozen=True)
class SendResult:
    """What the PACS stored (SOP Instance UIDs), what it refused ("uid: reason") and how long the
    send took."""

    url: str
    stored: tuple[str, ...]
    failed: tuple[str, ...]
    warnings: tuple[str, ...]
    seconds: float

    @property
    def ok(self) -> bool:
        return not self.failed


def multipart(datasets: Sequence[Dataset]) -> tuple[bytes, str]:
    """The STOW-RS request body and its Content-Type."""
    boundary = uuid.uuid4().hex
    chunks = []
    for dataset in datasets:
        chunks.append(f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode())
        chunks.append(file_bytes(dataset))
        chunks.append(b"\r\n")
    chunks.append(f"--{boundary}--\r\n".encode())
    content_type = f'multipart/related; type="application/dicom"; boundary={boundary}'
    return b"".join(chunks), content_type


def _values(item: dict[str, object], tag: str) -> list[object]:
    element = item.get(tag)
    if isinstance(element, dict):
        value = element.get("Value")
        if isinstance(value, list):
            return value
    return []


def _reason(code: object) -> str:
    """A failure reason (US) as DICOM writes it, 0xA700; whatever else a PACS sent, briefly."""
    try:
        return f"0x{int(str(code)):04X}"
    except ValueError:
        return repr(str(code)[:20])


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is refused: urllib would turn the POST into a GET and carry the
    Authorization header to wherever it points."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


def _read_response(body: bytes) -> tuple[list[str], list[str], list[str]]:
    """Stored UIDs, failures and warnings from a STOW-RS response in DICOM JSON (empty when the
    PACS sent none)."""
    if not body.strip():
        return [], [], []
    try:
        document = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return [], [], []
    if isinstance(document, list) and document:
        document = document[0]
    if not isinstance(document, dict):
        return [], [], []
    stored, failed, warned = [], [], []
    for item in _values(document, _REFERENCED):
        if isinstance(item, dict):
            uid = "".join(str(v) for v in _values(item, _SOP_INSTANCE))
            stored.append(uid)
            for code in _values(item, _WARNING_REASON):
                warned.append(f"{uid}: warning {code}")
    for item in _values(document, _FAILED):
        if isinstance(item, dict):
            uid = "".join(str(v) for v in _values(item, _SOP_INSTANCE))
            reasons = ", ".join(_reason(c) for c in _values(item, _FAILURE_REASON))
            failed.append(f"{uid}: failure reason {reasons or 'not given'}")
    return stored, failed, warned


def send_stow(target: PacsTarget, datasets: Sequence[Dataset]) -> SendResult:
    """POST ``datasets`` to the PACS in one STOW-RS request.

    Returns:
        What the PACS says it stored and refused (a partial store is a result, not an error).

    Raises:
        PacsError: a bad URL, the PACS not reachable (refused, timed out, TLS), or an HTTP error
            for the whole request (the message names the URL without credentials, the status
            and the PACS's reason).
    """
    url = target.stow_url()
    body, content_type = multipart(datasets)
    headers = {"Content-Type": content_type, "Accept": "application/dicom+json"}
    if target.user:
        token = base64.b64encode(f"{target.user}:{target.password or ''}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    start = time.perf_counter()
    shown = target.shown_url
    try:
        with _OPENER.open(request, timeout=target.timeout_s) as response:
            answer = response.read()
    except urllib.error.HTTPError as exc:
        if 300 <= exc.code < 400:
            raise PacsError(
                f"{shown}: the PACS answered HTTP {exc.code} (a redirect"
                + (f" to {_shown(exc.headers.get('Location', ''))}" if exc.headers else "")
                + "); give the URL it redirects to"
            ) from None
        try:
            answer = exc.read() if exc.fp is not None else b""
        except OSError:
            answer = b""
        stored, failed, warned = _read_response(answer)
        if exc.code == 409 and failed:  # every instance refused, each with its reason
            return SendResult(
                shown, tuple(stored), tuple(failed), tuple(warned), time.perf_counter() - start
            )
        hint = {401: " (check the user name and password)", 403: " (not allowed)"}
        raise PacsError(
            f"{shown}: the PACS answered HTTP {exc.code} {exc.reason}{hint.get(exc.code, '')}"
        ) from None
    except urllib.error.URLError as exc:
        reason = exc.reason if not isinstance(exc.reason, BaseException) else str(exc.reason)
        raise PacsError(f"{shown}: could not reach the PACS ({reason})") from None
    except TimeoutError:
        raise PacsError(f"{shown}: the PACS did not answer within {target.timeout_s:g} s") from None
    except (http.client.HTTPException, OSError) as exc:  # a reset, TLS, a broken answer
        raise PacsError(f"{shown}: the connection failed ({type(exc).__name__})") from None
    stored, failed, warned = _read_response(answer)
    listed = set(stored) | {line.split(":", 1)[0] for line in failed}
    for uid in (str(d.SOPInstanceUID) for d in datasets):
        if uid not in listed:  # the PACS did not say it stored this one
            failed.append(f"{uid}: not confirmed by the PACS's answer")
    return SendResult(
        shown, tuple(stored), tuple(failed), tuple(warned), time.perf_counter() - start
    )


def _shown(location: str) -> str:
    """A redirect target as a message may show it: scheme, host, port and path."""
    return PacsTarget(location).shown_url if location else "somewhere else"
