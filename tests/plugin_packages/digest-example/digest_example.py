from digest import ComponentConfig, Source, canonical_id, hookimpl
from digest.models import Author, Paper


class StaticSource(Source):
    """Papers listed in the config file, e.g. from a reading group."""

    name = "static"

    class Config(ComponentConfig):
        titles: list[str]

    def collect(self, context):
        for title in self.config.titles:
            paper_id, _ = canonical_id(title=title, first_author="Reading Group")
            yield Paper(id=paper_id, title=title, authors=(Author(name="Reading Group"),))


@hookimpl
def register_sources():
    return [StaticSource]
