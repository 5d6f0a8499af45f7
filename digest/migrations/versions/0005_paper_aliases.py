"""Paper aliases: every canonical id a paper is known by (arXiv id, DOIs, fingerprint) maps
to one stored paper, so an arXiv paper and its journal version are one paper; ``merged_into``
marks a paper found later to be another's version.

Existing papers get their own id and their DOI as aliases (a DOI already taken by another
paper's id stays with that paper; the two are linked the next time either is collected).

Revision ID: 0005
Revises: 0004
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("papers") as batch:
        batch.add_column(sa.Column("merged_into", sa.Integer))
    aliases = op.create_table(
        "paper_aliases",
        sa.Column("alias", sa.String(300), primary_key=True),
        sa.Column("paper_seq", sa.Integer, sa.ForeignKey("papers.seq"), nullable=False),
    )
    op.create_index("ix_paper_aliases_paper_seq", "paper_aliases", ["paper_seq"])
    conn = op.get_bind()
    papers = sa.table(
        "papers", sa.column("seq", sa.Integer), sa.column("paper_id"), sa.column("data")
    )
    rows = conn.execute(sa.select(papers.c.seq, papers.c.paper_id, papers.c.data)).all()
    taken: dict[str, int] = {r.paper_id: r.seq for r in rows}
    for row in rows:
        doi = (json.loads(row.data).get("doi") or "").strip().lower()
        if doi and f"doi:{doi}" not in taken:
            taken[f"doi:{doi}"] = row.seq
    if taken:
        op.bulk_insert(aliases, [{"alias": a, "paper_seq": s} for a, s in taken.items()])


def downgrade() -> None:
    op.drop_index("ix_paper_aliases_paper_seq", "paper_aliases")
    op.drop_table("paper_aliases")
    with op.batch_alter_table("papers") as batch:
        batch.drop_column("merged_into")
