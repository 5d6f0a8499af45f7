"""The ``sample`` source: ~150 invented demo papers written for papers-digest.

Offline demo data for ``digest run`` on a fresh machine: three announcement days of invented
papers (robot learning, large language models, security and privacy of machine learning, and
filler from other fields) with ids in a reserved demo namespace,
``doi:10.5555/papers-digest-demo.nnnn``. See :class:`digest_sample.source.SampleSource`; the
data is ``papers.jsonl`` in this package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from digest import hookimpl

if TYPE_CHECKING:
    from digest import Source


@hookimpl
def register_sources() -> list[type[Source]]:
    # Imported here: every `digest` command (--help too) loads this module, the source pydantic.
    from digest_sample.source import SampleSource

    return [SampleSource]
