"""The Predict page's part 5: the result as DICOM objects for the hospital's viewer (Parametric
Map, Segmentation, TID 1500 Structured Report), downloaded as a zip or sent to a PACS by
DICOMweb STOW-RS.

    PageResult -> export_dicom -> download / send_stow
"""

from __future__ import annotations

import os

import streamlit as st

from mmcrnet.interop.dicom_export import DicomExport, ExportUnavailable, export_dicom
from mmcrnet.interop.pacs import PacsError, PacsTarget, SendResult, send_stow
from ui.names import plain
from ui.result import RESULT, PageResult

EXPORT = "predict.dicom_export"  # (result token, maps asked for, DicomExport, zip): the export
SENT = "predict.dicom_sent"  # (result token, SendResult): the last send
URL = "predict.pacs_url"
USER = "predict.pacs_user"
PASSWORD = "predict.pacs_password"
#: The PACS's DICOMweb root the form starts with (a department sets it for its server).
URL_VARIABLE = "ONCOPREDICT_PACS_URL"
#: Comma-separated URL prefixes the server may send to; unset: any URL the user gives.
ALLOWED_VARIABLE = "ONCOPREDICT_PACS_ALLOWED"


def _made(result: PageResult, maps: bool) -> tuple[DicomExport, bytes] | None:
    """The export of this result when it has been made."""
    made = st.session_state.get(EXPORT)
    if made is not None and made[:2] == (result.token, maps):
        return made[2], made[3]
    return None


def _export(result: PageResult, maps: bool) -> tuple[DicomExport, bytes]:
    """The export of this result (made once, then kept with its zip)."""
    made = _made(result, maps)
    if made is not None:
        return made
    export = export_dicom(
        result.explanation,
        result.study,
        result.guard,
        left_out=result.left_out,
        include_unreliable_maps=maps,
    )
    archive = export.zip_bytes()
    st.session_state[EXPORT] = (result.token, maps, export, archive)
    return export, archive


def allowed_urls() -> tuple[str, ...]:
    """The URL prefixes this server may send to (empty: any)."""
    text = os.environ.get(ALLOWED_VARIABLE, "")
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _sent_line(sent: SendResult) -> None:
    stored = len(sent.stored)
    objects = f"{stored} object{'s' if stored != 1 else ''}"
    url = sent.url.replace("`", "'")  # in a code span: not a link, nothing interpreted
    line = f"`{url}` stored {objects} in {sent.seconds:.2f} s"
    if sent.failed:
        st.error(
            f"{line}; {len(sent.failed)} not stored: " + "; ".join(plain(f) for f in sent.failed),
            icon=":material/error:",
        )
    else:
        st.success(line + ".", icon=":material/check_circle:")
    for warning in sent.warnings:
        st.warning(f"The PACS says: {plain(warning)}.", icon=":material/warning:")


def exchange_ui() -> None:
    """Part 5: the DICOM objects made on request (like the PDF report: a prediction does not
    wait for them), what was not made, the download and the send."""
    st.subheader("5. Send to the hospital's viewer (DICOM)")
    _dicom_ui()


@st.fragment
def _dicom_ui() -> None:
    """Make the objects, then list, download and send them: a fragment, so making or sending
    reruns only this part, not the page's result."""
    result: PageResult = st.session_state[RESULT]
    maps = bool(st.session_state.get("predict.mg_map"))  # the unreliable mammogram map, asked for
    if _made(result, maps) is None:
        st.markdown(
            "The result as DICOM objects that reference the images it was made from (a "
            "Parametric Map, a Segmentation and a TID 1500 Structured Report), for a PACS "
            "viewer (OHIF, 3D Slicer, the PACS's own) to show with the study."
        )
        if not st.button("Make the DICOM objects", key="predict.dicom_make"):
            return
    try:
        with st.spinner("Making the DICOM objects ..."):
            export, archive = _export(result, maps)
    except ExportUnavailable as exc:
        st.info(f"No DICOM result for this prediction: {plain(str(exc))}.", icon=":material/info:")
        return
    st.markdown(
        "The result as DICOM objects that reference the images it was made from, so a PACS "
        "viewer (OHIF, 3D Slicer, the PACS's own) shows them with the study:"
    )
    st.markdown(
        "\n".join(f"- **{o.kind}**: {o.description}" for o in export.objects)
        + "".join(f"\n- *Not made*: {plain(line)}" for line in export.not_made)
    )
    st.caption(
        f"Made in {export.seconds:.2f} s. Every object says research use only; the "
        "probabilities' code is DCM 122157 \"Probability\", the outcomes' codes are private "
        "(99ONCOPRED, see the README)."
    )
    left, right = st.columns([1, 2], vertical_alignment="top")
    left.download_button(
        "Download the DICOM objects (zip)",
        archive,
        file_name="oncopredict-dicom.zip",
        mime="application/zip",
        key="predict.dicom_zip",
        on_click="ignore",
    )
    with right.expander("Send to a PACS (DICOMweb STOW-RS)", expanded=SENT in st.session_state):
        _send_ui(result.token, export)


def _send_ui(token: str, export: DicomExport) -> None:
    """The PACS's URL and credentials, and the send (in part 5's fragment)."""
    if URL not in st.session_state:
        st.session_state[URL] = os.environ.get(URL_VARIABLE, "")
    url = st.text_input(
        "DICOMweb root URL",
        key=URL,
        placeholder="http://pacs.example.org:8042/dicom-web",
        help="The objects are POSTed to <root>/studies. Orthanc: http://host:8042/dicom-web.",
    )
    user_box, password_box = st.columns(2)
    user = user_box.text_input("User (optional)", key=USER)
    password = password_box.text_input("Password", key=PASSWORD, type="password")
    if st.button("Send to the PACS", key="predict.send", disabled=not url.strip()):
        target = PacsTarget(url, user or None, password or None, allowed=allowed_urls())
        try:
            with st.spinner(f"Sending {len(export.objects)} objects ..."):
                sent = send_stow(target, [o.dataset for o in export.objects])
        except PacsError as exc:
            st.session_state.pop(SENT, None)
            st.error(f"Not sent: {plain(str(exc))}", icon=":material/error:")
        else:
            st.session_state[SENT] = (token, sent)
    sent_before = st.session_state.get(SENT)
    if sent_before is not None and sent_before[0] == token:
        _sent_line(sent_before[1])
