"""The documents page: collection stats, upload + ingest with progress, list and delete."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import streamlit as st

from rag_app.errors import RagError, one_line
from rag_app.pipeline import Pipeline
from rag_app.types import IngestReport
from rag_app.ui import state
from rag_app.ui.safe_markdown import inline
from rag_app.ui.uploads import UploadPolicy, describe_sources, policy_for, save_uploads, stored_upload

logger = logging.getLogger(__name__)

_UPLOADER = "rag_uploader_generation"
_NOTICE = "rag_documents_notice"


def documents_page() -> None:
    st.title("Documents")
    pipeline = state.current_pipeline()
    if pipeline is None:
        return
    _show_notice()
    _stats(pipeline)
    _upload(pipeline)
    _listing(pipeline)


def _notify(kind: str, lines: list[str], notes: list[str] | None = None) -> None:
    """Keep a message for the next run (results are shown after the page refreshes its stats).

    ``lines``: the headline, then one error per line; ``notes``: informational lines (renamed uploads).
    """
    st.session_state[_NOTICE] = (kind, lines, notes or [])


def _show_notice() -> None:
    notice = st.session_state.pop(_NOTICE, None)
    if not notice:
        return
    kind, lines, notes = notice
    head, *rest = lines
    # file names and error lines come from uploads and documents: shown as text, nothing loads
    if kind == "success":
        st.success(inline(head), icon=":material/check_circle:")
    else:
        st.warning(inline(head), icon=":material/warning:")
    for line in notes:
        st.info(inline(line), icon=":material/info:")
    for line in rest:
        st.error(inline(line), icon=":material/error:")


def _stats(pipeline: Pipeline) -> None:
    try:
        stats = pipeline.stats()
    except RagError as exc:
        st.error(f"Cannot read the collection: {one_line(exc)}", icon=":material/error:")
        return
    cols = st.columns(3)
    cols[0].metric("Documents", stats.documents)
    cols[1].metric("Chunks", stats.chunks)
    cols[2].metric("Store", stats.store)
    with st.expander("Fingerprint", icon=":material/fingerprint:"):
        if stats.fingerprint:
            st.json(stats.fingerprint)
        else:
            st.caption("Nothing ingested yet: the collection has no fingerprint.")
        if stats.manifest:
            st.caption(f"Sync manifest: `{stats.manifest}`")


def _upload(pipeline: Pipeline) -> None:
    settings = state.settings()
    policy = policy_for(pipeline.config, settings.max_upload_mb)
    st.subheader("Add documents")
    generation = st.session_state.setdefault(_UPLOADER, 0)
    files = st.file_uploader(
        "Files to ingest",
        type=policy.accept_types(),
        accept_multiple_files=True,
        max_upload_size=max(1, policy.max_bytes // 2**20),
        key=f"uploader-{generation}",
        help=(
            f"Stored in {settings.uploads_dir}; a file with the same name replaces the earlier upload "
            "(names changed to be stored safely get a short suffix, so they never replace another upload)."
        ),
    )
    if not files:
        return
    if st.button(f"Ingest {len(files)} file(s)", type="primary", icon=":material/upload:"):
        uploads = [(f.name, f.getvalue()) for f in files]
        _ingest(pipeline, settings.uploads_dir, uploads, policy)
        st.session_state[_UPLOADER] = generation + 1
        st.rerun()


def _ingest(pipeline: Pipeline, uploads_dir: Path, uploads: list[tuple[str, bytes]], policy: UploadPolicy) -> None:
    """Store the valid uploads, ingest them with a progress bar, and leave a notice with the outcome.

    The headline counts distinct documents that landed: uploads refused, failed, or
    identical to another upload of the batch (stored once) are not counted.
    """
    batch = save_uploads(uploads_dir, uploads, policy)
    report = IngestReport()
    if batch.saved:
        bar = st.progress(0.0, text="Ingesting…")

        def progress(done: int, total: int, current: str) -> None:
            bar.progress(done / total if total else 1.0, text=f"{done}/{total} {Path(current).name}")

        try:
            report = pipeline.ingest(batch.saved, prune=False, progress=progress)
        except RagError as exc:
            _notify("warning", ["Ingestion stopped.", one_line(exc), *batch.refused], batch.notes)
            return
        except Exception as exc:
            logger.exception("ingesting uploads failed")
            _notify("warning", ["Ingestion stopped.", one_line(exc), *batch.refused], batch.notes)
            return
    prefix = f"{uploads_dir.resolve().as_posix()}/"  # loaders name files by full path; the name is enough here
    failures = batch.refused + [err["error"].replace(prefix, "") for err in report.errors]
    ok = len(batch.saved) - report.files_failed
    head = (
        f"Ingested {ok} of {batch.received} file(s): +{report.chunks_added} chunks, "
        f"{report.embeddings_computed} embeddings, {report.seconds:.1f} s."
    )
    _notify("warning" if failures or ok < batch.received else "success", [head, *failures], batch.notes)


def _listing(pipeline: Pipeline) -> None:
    st.subheader("Ingested documents")
    try:
        docs = pipeline.documents()
    except RagError as exc:
        st.error(one_line(exc), icon=":material/error:")
        return
    if not docs:
        st.info("No documents yet: upload some above, or run `rag ingest`.", icon=":material/inbox:")
        return
    labels = describe_sources([d["source"] for d in docs], Path.cwd())
    rows: list[dict[str, Any]] = [
        {"document": labels[d["source"]], "title": d["title"], "chunks": d["chunks"]} for d in docs
    ]
    st.dataframe(rows, hide_index=True, width="stretch")
    with st.popover("Delete a document", icon=":material/delete:"):
        source = st.selectbox(
            "Document", [d["source"] for d in docs], format_func=lambda s: labels.get(s, s), key="delete_choice"
        )
        st.caption("Removes its chunks from the collection (and the stored file, if it was uploaded here).")
        if st.button("Delete", type="primary", key="delete-document") and source:
            _delete(pipeline, source, labels.get(source, source))
            st.rerun()


def _delete(pipeline: Pipeline, source: str, label: str) -> None:
    try:
        removed = pipeline.delete_document(source)
    except RagError as exc:
        _notify("warning", [f"{label} was not deleted.", one_line(exc)])
        return
    upload = stored_upload(state.settings().uploads_dir, source)
    if upload is not None:
        upload.unlink(missing_ok=True)
    _notify("success", [f"Deleted {label} ({removed} chunks)."])
