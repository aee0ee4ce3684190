"""The question answerer the API shares between requests: built on the first question (it
reads the graph's facts, builds the linker and embeds the relations' paraphrases), then rebuilt
when it is older than ``MAX_AGE`` so new entities and relations are found. Lookups and
predictions are always live."""

from __future__ import annotations

import threading
import time
from typing import Any

from mmkg.web.auth import Context

MAX_AGE = 600.0
_lock = threading.Lock()


def answerer(ctx: Context) -> Any:
    from mmkg.platform.qa.answer import QuestionAnswerer

    with _lock:
        held = ctx.answerer
        if held is None or time.monotonic() - held[0] > MAX_AGE:
            held = (time.monotonic(), QuestionAnswerer.from_graph(ctx.graph, ctx.settings, False))
            ctx.answerer = held
        return held[1]
