"""The ``llm`` enricher: a one-sentence TL;DR per paper from an OpenAI-compatible
chat-completions endpoint (llama.cpp's server, vLLM, Ollama, a hosted API).

Configure it after the extractive ``tldr`` enricher, so that papers the model did not answer
for this run (a budget reached, the server down) keep the extractive TL;DR::

    [enrichers.tldr]
    component = "tldr"

    [enrichers.llm]
    component = "llm"
    model = "qwen2.5-1.5b-instruct"
    base_url = "http://127.0.0.1:8080/v1"

See :class:`digest_llm.enricher.LlmEnricher`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from digest import hookimpl

if TYPE_CHECKING:
    from digest import Enricher


@hookimpl
def register_enrichers() -> list[type[Enricher]]:
    from digest_llm.enricher import LlmEnricher

    return [LlmEnricher]
