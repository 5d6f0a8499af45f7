"""What sources leave behind between runs: their state and a record of every run.

``source_state`` holds each source's key/value state (cursors, ETags…), written only together
with a successful run (I3), so a failed run is retried from where the last good one ended.
``source_runs`` has one row per run (papers collected and new, the error, a health warning),
from which :meth:`SourceStore.source_health` tells ``digest sources`` and ``/healthz`` how
each source is doing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

import sqlalchemy as sa

from digest.store.schema import source_runs, source_state
from digest.store.sql import StorePart, aware


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceHealth:
    """What ``digest sources`` and ``/healthz`` show for one source."""

    source: str
    last_success: dt.datetime | None
    last_collected: int
    last_error: str | None
    last_error_at: dt.datetime | None
    recent: tuple[int, ...]  # papers per successful run, newest first
    flag: str | None  # the latest run's warning
    failing: bool  # the latest run failed


class SourceStore(StorePart):
    """The sources part of :class:`~digest.store.Store`."""

    def source_state(self, source: str) -> dict[str, str]:
        with self.engine.connect() as conn:
            return {
                r.key: r.value
                for r in conn.execute(
                    sa.select(source_state.c.key, source_state.c.value).where(
                        source_state.c.source == source
                    )
                )
            }

    def record_source_run(
        self,
        source: str,
        *,
        now: dt.datetime,
        collected: int,
        new: int,
        error: str | None,
        state: Mapping[str, str] | None = None,
        flag: str | None = None,
    ) -> None:
        """Record a source's run and, only on success, its new state (I3)."""
        with self.engine.begin() as conn:
            conn.execute(
                source_runs.insert().values(
                    source=source, at=now, collected=collected, new=new, error=error, flag=flag
                )
            )
            for key, value in (state or {}).items():
                conn.execute(
                    source_state.delete().where(
                        source_state.c.source == source, source_state.c.key == key
                    )
                )
                conn.execute(source_state.insert().values(source=source, key=key, value=value))

    def recent_runs(self, source: str, *, limit: int = 10) -> list[tuple[dt.datetime, int, int]]:
        """(at, collected, new) of the source's last successful runs, newest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(source_runs.c.at, source_runs.c.collected, source_runs.c.new)
                .where(source_runs.c.source == source, source_runs.c.error.is_(None))
                .order_by(source_runs.c.id.desc())
                .limit(limit)
            ).all()
        return [(aware(r.at) or r.at, r.collected, r.new) for r in rows]

    def source_health(self) -> list[SourceHealth]:
        """Per source: last success and error, recent items per run, the latest warning."""
        out = []
        with self.engine.connect() as conn:
            names = conn.execute(sa.select(source_runs.c.source).distinct()).scalars().all()
            for name in sorted(names):
                runs = source_runs.c
                recent = conn.execute(
                    sa.select(runs.at, runs.collected, runs.new, runs.error, runs.flag)
                    .where(runs.source == name)
                    .order_by(runs.id.desc())
                    .limit(10)
                ).all()
                success = conn.execute(
                    sa.select(runs.at, runs.collected)
                    .where(runs.source == name, runs.error.is_(None))
                    .order_by(runs.id.desc())
                    .limit(1)
                ).first()
                failure = conn.execute(
                    sa.select(runs.at, runs.error)
                    .where(runs.source == name, runs.error.is_not(None))
                    .order_by(runs.id.desc())
                    .limit(1)
                ).first()
                out.append(
                    SourceHealth(
                        source=name,
                        last_success=aware(success.at) if success else None,
                        last_collected=success.collected if success else 0,
                        last_error=failure.error if failure else None,
                        last_error_at=aware(failure.at) if failure else None,
                        recent=tuple(r.collected for r in recent if r.error is None),
                        flag=recent[0].flag if recent else None,
                        failing=bool(recent and recent[0].error),
                    )
                )
        return out
