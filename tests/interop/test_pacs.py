"""STOW-RS to a real Orthanc that the tests start: what is sent is stored and reads back the
same; a PACS that cannot be reached or refuses is one line, without credentials."""

from __future__ import annotations

import io
import json
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer

import numpy as np
import pydicom
import pytest

from mmcrnet.interop.dicom_export import export_dicom
from mmcrnet.interop.pacs import PacsError, PacsTarget, send_stow


def _orthanc_file(base: str, sop_uid: str) -> pydicom.Dataset:
    request = urllib.request.Request(f"{base}/tools/lookup", data=sop_uid.encode(), method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        found = json.loads(response.read())
    (instance,) = [f["ID"] for f in found if f["Type"] == "Instance"]
    with urllib.request.urlopen(f"{base}/instances/{instance}/file", timeout=10) as response:
        return pydicom.dcmread(io.BytesIO(response.read()))


def test_orthanc_stores_the_export_and_gives_it_back(mri_answer, orthanc_url: str) -> None:
    export = export_dicom(mri_answer.explanation, mri_answer.study, mri_answer.guard)
    result = send_stow(PacsTarget(f"{orthanc_url}/dicom-web/"), [o.dataset for o in export.objects])
    sent = [str(o.dataset.SOPInstanceUID) for o in export.objects]
    assert result.ok and sorted(result.stored) == sorted(sent)
    assert result.url == f"{orthanc_url}/dicom-web/"
    for exported in export.objects:
        back = _orthanc_file(orthanc_url, str(exported.dataset.SOPInstanceUID))
        assert back.SOPClassUID == exported.dataset.SOPClassUID
        assert back.StudyInstanceUID == mri_answer.study.study_uid  # filed with its study
        if exported.kind == "Parametric Map":
            np.testing.assert_array_equal(back.pixel_array, exported.dataset.pixel_array)
        if exported.kind == "Structured Report":
            assert back.ContentSequence == exported.dataset.ContentSequence


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://pacs.example.org/dicom-web", "is not a DICOMweb URL"),
        ("http://user:secret@127.0.0.1:1/dicom-web", "in their own fields"),
        ("http://127.0.0.1:notaport/dicom-web", "the port is not a port number"),
    ],
)
def test_a_bad_url_is_one_line_before_anything_is_sent(url: str, message: str) -> None:
    with pytest.raises(PacsError, match=message) as caught:
        send_stow(PacsTarget(url), [])
    assert "secret" not in str(caught.value) and "\n" not in str(caught.value)


def test_a_pacs_that_is_not_there_or_refuses_is_one_line(mri_answer, orthanc_url: str) -> None:
    export = export_dicom(mri_answer.explanation, mri_answer.study, mri_answer.guard)
    datasets = [export.objects[-1].dataset]
    with pytest.raises(PacsError, match="could not reach the PACS"):
        send_stow(PacsTarget("http://127.0.0.1:1/dicom-web", timeout_s=5), datasets)
    with pytest.raises(PacsError, match="HTTP 404") as caught:
        send_stow(PacsTarget(f"{orthanc_url}/no-such-root", user="u", password="secret"), datasets)
    assert "secret" not in str(caught.value)


class _Pacs(BaseHTTPRequestHandler):
    """A server that answers STOW-RS the way a misconfigured PACS or a proxy might."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        if self.path.startswith("/moved"):
            self.send_response(301)
            self.send_header("Location", "https://elsewhere.example/dicom-web")
            self.end_headers()
            return
        body = b"<html>Please log in</html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_a_redirect_or_an_answer_without_a_list_is_not_a_success(mri_answer) -> None:
    server = HTTPServer(("127.0.0.1", 0), _Pacs)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    datasets = [
        export_dicom(mri_answer.explanation, mri_answer.study, mri_answer.guard).objects[-1].dataset
    ]
    try:
        with pytest.raises(PacsError, match="HTTP 301 .*elsewhere.example"):
            send_stow(PacsTarget(f"{base}/moved", user="u", password="secret"), datasets)
        result = send_stow(PacsTarget(f"{base}/login"), datasets)
        assert not result.ok and result.stored == ()
        assert result.failed[0].endswith("not confirmed by the PACS's answer")
        with pytest.raises(PacsError, match="sends only to"):
            send_stow(
                PacsTarget(f"{base}/login", allowed=("http://pacs.example/dicom-web",)), datasets
            )
    finally:
        server.shutdown()
        server.server_close()
