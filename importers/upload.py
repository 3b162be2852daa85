"""An uploaded export zip -> a directory of JSON, with the guards an upload needs: a size cap
on the zip, caps on the number of files and their total *uncompressed* size (read as it is
inflated, so a zip bomb that lies in its header stops at the cap), and only relative `.json`
paths (no `..`, no absolute names)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path, PurePosixPath

MAX_ZIP_BYTES = 400 * 1024  # under the site's request-body cap (INBOUND_MAX_BODY_BYTES)
MAX_FILES = 2000
MAX_UNCOMPRESSED_BYTES = 20 * 1024 * 1024
CHUNK = 64 * 1024


class UploadError(Exception):
    pass


def extract(data: bytes, into: Path) -> Path:
    """Unpack `data` under `into`; return the export's root (a single top folder is stepped into)."""
    if len(data) > MAX_ZIP_BYTES:
        raise UploadError(f"the zip is larger than {MAX_ZIP_BYTES // 1024} KB")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise UploadError("the file is not a zip archive") from None
    entries = [e for e in archive.infolist() if not e.is_dir()]
    if len(entries) > MAX_FILES:
        raise UploadError(f"the zip has more than {MAX_FILES} files")
    total = 0
    for entry in entries:
        name = PurePosixPath(entry.filename)
        if name.is_absolute() or ".." in name.parts or "\\" in entry.filename:
            raise UploadError(f"{entry.filename!r}: paths must stay inside the export")
        if name.suffix != ".json":
            raise UploadError(f"{entry.filename!r}: only the API's .json files belong in the export")
        target = into / name
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            with archive.open(entry) as source, target.open("wb") as sink:
                while chunk := source.read(CHUNK):
                    total += len(chunk)
                    if total > MAX_UNCOMPRESSED_BYTES:
                        raise UploadError(f"the export unpacks to more than {MAX_UNCOMPRESSED_BYTES // 2**20} MB")
                    sink.write(chunk)
        except (zipfile.BadZipFile, EOFError, NotImplementedError) as error:
            raise UploadError(f"{entry.filename!r} cannot be read: {error}") from None
    if not entries:
        raise UploadError("the zip is empty")
    children = list(into.iterdir())
    return children[0] if len(children) == 1 and children[0].is_dir() else into
