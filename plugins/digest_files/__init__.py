"""The ``files`` deliverer: digests as files, written atomically.

Per subscriber and edition: ``<dir>/<subscriber>/<edition>/digest.html``, ``digest.txt`` and a
complete RFC 5322 ``digest.eml``; per subscriber the rolling ``feed.xml`` and ``atom.xml``.
A file appears whole or not at all (written to a temporary name, then renamed), and writing the
same parcel again gives the same files, so a resumed edition is safe.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field

from digest import Deliverer, DelivererConfig, hookimpl
from digest.models import DeliveryStatus, Outcome, Parcel

EMAIL_FILES = {"html": "digest.html", "text": "digest.txt"}


def write_atomic(path: Path, data: bytes, *, fsync: bool = False) -> None:
    """Write ``data`` to ``path`` so readers see the old file or the new one, never a part."""
    # One writer per subscriber folder at a time (the ledger claims each parcel once), so a
    # per-process temporary name is enough and much cheaper than mkstemp.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            if fsync:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class FilesDeliverer(Deliverer):
    """Writes each parcel's artifacts under a directory (default: ``[digest] output_dir``)."""

    name = "files"
    description = "Write digests (.html, .txt, .eml) and feeds (feed.xml, atom.xml) to files"
    channels = ("email", "feed")
    idempotent = True  # rewriting a file with the same bytes changes nothing

    class Config(DelivererConfig):
        dir: Path | None = Field(None, description="output directory; default [digest] output_dir")
        fsync: bool = Field(False, description="fsync each file before renaming it into place")

    config: Config

    def open(self) -> None:
        self._made: set[Path] = set()

    def _root(self) -> Path:
        return self.runtime.path(self.config.dir) if self.config.dir else self.runtime.output_dir

    def _dir(self, path: Path) -> Path:
        made = getattr(self, "_made", None)
        if made is None:
            made = self._made = set()
        if path not in made:
            path.mkdir(parents=True, exist_ok=True)
            made.add(path)
        return path

    def deliver(self, parcel: Parcel) -> Outcome:
        selection = parcel.selection
        person = self._dir(self._root() / selection.subscriber.name)
        if parcel.channel == "email":
            folder = self._dir(person / selection.edition.id)
            for artifact in parcel.artifacts:
                filename = EMAIL_FILES.get(artifact.role)
                if filename:
                    write_atomic(
                        folder / filename, artifact.content.encode(), fsync=self.config.fsync
                    )
            if parcel.message is not None:
                write_atomic(folder / "digest.eml", parcel.message, fsync=self.config.fsync)
            return Outcome(status=DeliveryStatus.SENT, location=str(folder / "digest.html"))
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


@hookimpl
def register_deliverers() -> list[type[Deliverer]]:
    return [FilesDeliverer]
