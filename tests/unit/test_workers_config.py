"""The worker configuration without services: the beat schedule, the app's settings, payloads."""

from __future__ import annotations

from pathlib import Path

import pytest
from celery.schedules import crontab

from mmkg.errors import ConfigError
from mmkg.settings import Settings
from mmkg.workers.app import make_app
from mmkg.workers.schedule import beat_schedule


def test_schedule_entries_become_beat_entries(tmp_path: Path) -> None:
    text = (
        '{"nightly": {"task": "train", "cron": "0 2 * * 1-5", "kwargs": {"model": "rotate"}},'
        ' "hourly": {"task": "refresh", "every": 3600}}'
    )
    entries = beat_schedule(text)
    assert entries["nightly"]["task"] == "mmkg.train_and_publish"
    cron = entries["nightly"]["schedule"]
    assert isinstance(cron, crontab) and cron.hour == {2} and cron.day_of_week == {1, 2, 3, 4, 5}
    assert entries["nightly"]["kwargs"] == {"model": "rotate"}
    assert entries["hourly"] == {
        "task": "mmkg.refresh_embeddings",
        "schedule": 3600.0,
        "kwargs": {},
    }
    path = tmp_path / "schedule.json"
    path.write_text(text)
    assert beat_schedule(str(path)).keys() == {"nightly", "hourly"}
    assert beat_schedule(None) == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[1]", "JSON object"),
        ("{bad json", "not valid JSON"),
        ('{"x": {"task": "dance", "every": 5}}', "task must be one of"),
        ('{"x": {"task": "train"}}', "exactly one of cron or every"),
        ('{"x": {"task": "train", "every": -1}}', "positive number"),
        ('{"x": {"task": "train", "cron": "0 2 * *"}}', "5 fields"),
        ('{"x": {"task": "train", "cron": "99 2 * * *"}}', "bad cron"),
        ('{"x": {"task": "train", "every": 5, "kwargs": []}}', "kwargs must be an object"),
    ],
)
def test_bad_schedules_name_the_entry(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        beat_schedule(text)


def test_app_defaults_need_no_setup(tmp_path: Path) -> None:
    app = make_app(Settings(home=tmp_path))
    assert app.conf.broker_url == "filesystem://"
    assert app.conf.result_backend == f"db+sqlite:///{tmp_path / 'celery-results.sqlite'}"
    opts = app.conf.broker_transport_options
    assert opts["data_folder_in"] == opts["data_folder_out"] == str(tmp_path / "broker" / "queue")
    assert app.conf.task_acks_late and app.conf.task_reject_on_worker_lost
    assert app.conf.worker_prefetch_multiplier == 1
    redis = make_app(Settings(home=tmp_path, broker_url="redis://127.0.0.1:1/0", task_time_limit=8))
    assert redis.conf.result_backend == "redis://127.0.0.1:1/0"
    assert redis.conf.task_soft_time_limit == 7 and redis.conf.task_time_limit == 8


def test_bad_payloads_are_poison() -> None:
    from mmkg.workers.tasks import IngestPayload, PoisonError, TrainPayload, _validate

    with pytest.raises(PoisonError, match=r"bad payload \(paths"):
        _validate(IngestPayload, {"paths": 42})
    with pytest.raises(PoisonError, match="colour"):
        _validate(TrainPayload, {"colour": "red"})
    assert _validate(TrainPayload, {"model": "transe"}).model == "transe"


def test_the_filesystem_broker_keeps_its_control_folder_under_mmkg_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    home = tmp_path / "home"
    app = make_app(Settings(home=home))
    assert app.conf.broker_transport_options["control_folder"] == str(home / "broker" / "control")
    with app.connection_for_write() as conn:
        channel = conn.default_channel
        channel.exchange_declare("probe", "direct")
        channel.queue_declare("probe_q")
        channel.queue_bind("probe_q", "probe", "probe")
    assert not (work / "control").exists()
    assert any((home / "broker" / "control").iterdir())
