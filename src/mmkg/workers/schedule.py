"""The beat schedule, from MMKG_SCHEDULE (JSON text or a path to a JSON file).

    {
      "nightly-retrain": {"task": "train", "cron": "0 2 * * *", "kwargs": {"model": "rotate"}},
      "hourly-refresh": {"task": "refresh", "every": 3600}
    }

``task`` is one of the names in :data:`TASKS`; ``cron`` is five crontab fields (minute hour
day-of-month month day-of-week, UTC) or ``every`` a period in seconds; ``kwargs`` go to the task.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from celery.schedules import crontab

from mmkg.errors import ConfigError

TASKS = {
    "train": "mmkg.train_and_publish",
    "refresh": "mmkg.refresh_embeddings",
    "ingest": "mmkg.ingest_media",
    "features": "mmkg.embed_entities",
}


def _load(text: str) -> Any:
    candidate = Path(text).expanduser()
    source = "MMKG_SCHEDULE"
    if not text.lstrip().startswith("{") and candidate.is_file():
        source, text = str(candidate), candidate.read_text(encoding="utf-8")
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(f"{source}: not valid JSON (line {e.lineno}: {e.msg})") from None


def beat_schedule(config: str | None) -> dict[str, dict[str, Any]]:
    """Celery's ``beat_schedule`` for the configured entries; ConfigError names a bad one."""
    if not config:
        return {}
    data = _load(config)
    if not isinstance(data, dict):
        raise ConfigError("MMKG_SCHEDULE must be a JSON object of named entries")
    out: dict[str, dict[str, Any]] = {}
    for name, entry in data.items():
        where = f"MMKG_SCHEDULE[{name!r}]"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: expected an object")
        task = entry.get("task")
        if task not in TASKS:
            raise ConfigError(f"{where}: task must be one of {', '.join(TASKS)}, not {task!r}")
        kwargs = entry.get("kwargs", {})
        if not isinstance(kwargs, dict):
            raise ConfigError(f"{where}: kwargs must be an object")
        if ("cron" in entry) == ("every" in entry):
            raise ConfigError(f"{where}: give exactly one of cron or every")
        schedule: Any
        if "every" in entry:
            every = entry["every"]
            if not isinstance(every, int | float) or every <= 0:
                raise ConfigError(f"{where}: every must be a positive number of seconds")
            schedule = float(every)
        else:
            fields = str(entry["cron"]).split()
            if len(fields) != 5:
                raise ConfigError(f"{where}: cron needs 5 fields, got {entry['cron']!r}")
            try:
                schedule = crontab(
                    minute=fields[0], hour=fields[1], day_of_month=fields[2],
                    month_of_year=fields[3], day_of_week=fields[4],
                )  # fmt: skip
            except ValueError as e:
                raise ConfigError(f"{where}: bad cron {entry['cron']!r} ({e})") from None
        out[name] = {"task": TASKS[task], "schedule": schedule, "kwargs": kwargs}
    return out
