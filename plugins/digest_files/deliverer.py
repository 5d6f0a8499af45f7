"""The ``files`` deliverer: digests as files, written atomically.

Per subscriber and edition: ``<dir>/<subscriber>/<edition>/digest.html``, ``digest.txt`` and a
complete RFC 5322 ``digest.eml``; per subscriber the rolling ``rss.xml``, ``atom.xml`` and
``feed.json``.
A file appears whole or not at all, and writing the same parcel again gives the same files, so
a resumed edition is safe.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field

from digest import Deliverer, DelivererConfig
from digest.models import DeliveryStatus, Outcome, Parcel

EMAIL_FILES = {"html": "digest.html", "text": "digest.txt"}
_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0)


def _write(path: Path, data: bytes, *, fsync: bool) -> None:
    fd = os.open(path, _FLAGS, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        if fsync:
            os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes, *, fsync: bool = False) -> None:
    """Write ``data`` to ``path`` so readers see the old file or the new one, never a part."""
    # The ledger hands each parcel to one process at a time, so a per-process temporary
    # name is enough (and much cheaper than mkstemp).
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        _write(tmp, data, fsync=fsync)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class FilesConfig(DelivererConfig):
    """``[deliverers.<instance>]`` options of :class:`FilesDeliverer`."""

    dir: Path | None = Field(None, description="output directory; default [digest] output_dir")
    fsync: bool = Field(False, description="fsync each file before it is renamed into place")


class FilesDeliverer(Deliverer[FilesConfig]):
    """Writes each parcel's artifacts under a directory (default: ``[digest] output_dir``)."""

    name = "files"
    description = "Write digests (.html, .txt, .eml) and feeds (RSS, Atom, JSON Feed) to files"
    channels = ("email", "feed")
    idempotent = True  # rewriting a file with the same bytes changes nothing

    def open(self) -> None:
        self._folders: set[Path] = set()

    def _folder(self, path: Path) -> Path:
        # One mkdir per subscriber per run, not one per parcel.
        if path not in self._folders:
            path.mkdir(parents=True, exist_ok=True)
            self._folders.add(path)
        return path

    def _root(self) -> Path:
        return self.runtime.path(self.config.dir) if self.config.dir else self.runtime.output_dir

    def deliver(self, parcel: Parcel) -> Outcome:
        person = self._folder(self._root() / parcel.selection.subscriber.name)
        if parcel.channel == "email":
            return self._email(parcel, person)
        written = None
        for artifact in parcel.artifacts:
            if artifact.filename:
                written = person / artifact.filename
                write_atomic(written, artifact.content.encode(), fsync=self.config.fsync)
        if written is None:
            return Outcome(
                status=DeliveryStatus.FAILED_PERMANENT,
                detail=f"nothing to write for channel {parcel.channel!r}",
            )
        return Outcome(status=DeliveryStatus.SENT, location=str(written))

    def _email(self, parcel: Parcel, person: Path) -> Outcome:
        files = {
            EMAIL_FILES[a.role]: a.content.encode()
            for a in parcel.artifacts
            if a.role in EMAIL_FILES
        }
        if parcel.message is not None:
            files["digest.eml"] = parcel.message
        final = person / parcel.selection.edition.id
        fsync = self.config.fsync
        # A new edition folder is filled under a temporary name and renamed into place: one
        # rename makes all its files appear at once.
        staging = person / f".{final.name}.{os.getpid()}.tmp"
        staging.mkdir(exist_ok=True)
        for name, data in files.items():
            _write(staging / name, data, fsync=fsync)
        try:
            os.rename(staging, final)
        except OSError:  # the folder exists (a resumed edition): replace file by file
            for name, data in files.items():
                write_atomic(final / name, data, fsync=fsync)
            for child in staging.iterdir():
                child.unlink()
            staging.rmdir()
        return Outcome(status=DeliveryStatus.SENT, location=str(final / "digest.html"))
