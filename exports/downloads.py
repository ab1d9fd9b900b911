"""Serving a finished export: the data file itself, or a zip of the split files."""

import os
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.http import FileResponse, HttpResponseBase, StreamingHttpResponse

from annotations.errors import Conflict, NotFound
from exports.cards import CARD_NAME
from exports.manifests import MANIFEST_NAME
from exports.models import ExportJob

CHUNK_BYTES = 1 << 20
CONTENT_TYPES = {
    "jsonl": "application/jsonl; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
    "parquet": "application/vnd.apache.parquet",
}


class _Sink:
    """A write-only file for ZipFile that hands the written bytes to a generator."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.chunks.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def drain(self) -> Iterator[bytes]:
        chunks, self.chunks = self.chunks, []
        yield from chunks


def zip_stream(files: list[tuple[str, BinaryIO]]) -> Iterator[bytes]:
    """A zip archive of the open files, produced while it is sent (nothing held whole)."""
    sink = _Sink()
    with zipfile.ZipFile(sink, "w") as archive:
        for name, source in files:
            # Dated when the file was written (UTC; zip keeps no time zone).
            written = time.gmtime(os.fstat(source.fileno()).st_mtime)
            info = zipfile.ZipInfo(name, date_time=written[:6])
            # Parquet pages are compressed already.
            info.compress_type = (
                zipfile.ZIP_STORED if name.endswith(".parquet") else zipfile.ZIP_DEFLATED
            )
            with archive.open(info, "w", force_zip64=True) as entry:
                while chunk := source.read(CHUNK_BYTES):
                    entry.write(chunk)
                    yield from sink.drain()
            yield from sink.drain()
    yield from sink.drain()


class ZipDownload:
    """The streaming content of a zip download: its files, opened beforehand, are closed
    when the response is (Django calls close() however far the client read)."""

    def __init__(self, files: list[tuple[str, BinaryIO]]) -> None:
        self.files = files

    def __iter__(self) -> Iterator[bytes]:
        return zip_stream(self.files)

    def close(self) -> None:
        for _, source in self.files:
            source.close()


def _open_all(job: ExportJob, paths: list[tuple[str, Path]]) -> list[tuple[str, BinaryIO]]:
    """Every file opened before anything is sent: an export deleted or expired while it
    downloads still sends whole (an open file outlives its removal)."""
    opened: list[tuple[str, BinaryIO]] = []
    try:
        for name, path in paths:
            opened.append((name, path.open("rb")))
    except FileNotFoundError:
        for _, source in opened:
            source.close()
        raise NotFound(f"The files of export {job.pk} are no longer there.") from None
    return opened


def export_job_download(job: ExportJob) -> HttpResponseBase:
    """The response for downloading a job's export; Conflict until it has succeeded."""
    if job.status != ExportJob.Status.SUCCEEDED:
        raise Conflict(f"Export {job.pk} has not finished successfully (it is {job.status}).")
    if job.expired_at is not None:
        kept = (job.expired_at - job.finished_at).days if job.finished_at else None
        after = f", {kept} days after it finished" if kept is not None else ""
        raise NotFound(
            f"The files of export {job.pk} were removed on {job.expired_at:%Y-%m-%d}{after} "
            "(EXPORT_RETENTION_DAYS); export again."
        )
    media_root = Path(settings.MEDIA_ROOT)
    paths = [media_root / name for name in job.files]
    if not paths:
        raise NotFound(f"The files of export {job.pk} are no longer there.")
    stem = f"{job.project.slug}-export-{job.pk}-{job.kind}"
    if len(paths) == 1 and not (job.manifest or {}).get("split"):
        ((_, source),) = _open_all(job, [(paths[0].name, paths[0])])
        return FileResponse(
            source,
            as_attachment=True,
            filename=f"{stem}.{job.file_format}",
            content_type=CONTENT_TYPES[job.file_format],
        )
    members = [(path.name, path) for path in paths]
    for name in (MANIFEST_NAME, CARD_NAME):
        extra = media_root / job.directory / name
        if extra.is_file():
            members.append((name, extra))
    response = StreamingHttpResponse(
        ZipDownload(_open_all(job, members)), content_type="application/zip"
    )
    response["Content-Disposition"] = f'attachment; filename="{stem}.zip"'
    return response
