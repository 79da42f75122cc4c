"""`sightline queue dead | requeue`: dead jobs as a table or JSON, given new attempts."""

from __future__ import annotations

import json

from click.testing import CliRunner

from sightline.app import Sightline
from sightline.cli import main
from sightline.images.service import Upload
from sightline.queue import JobState
from sightline.settings import Settings
from support.imagegen import noise


def test_dead_jobs_are_listed_and_requeued(settings: Settings) -> None:
    app = Sightline(settings.model_copy(update={"workers": 0, "job_max_attempts": 1}))
    try:
        app.service.ingest([Upload(noise(3))], collection="default")
        app.pool.relay.relay_all()
        job = app.queue.claim("w")
        assert job is not None
        assert app.queue.retry(job, "boom") is JobState.DEAD
        data = ["--data-dir", str(settings.data_dir)]

        table = CliRunner().invoke(main, ["queue", "dead", *data])
        assert table.exit_code == 0, table.output
        header, row = table.stdout.splitlines()
        assert header.split("\t") == ["ID", "Attempts", "Job", "Last error"]
        assert row.split("\t")[0] == job.id and row.split("\t")[-1] == "boom"
        assert "1 dead jobs" in table.stderr
        [dead] = json.loads(CliRunner().invoke(main, ["queue", "dead", "--json", *data]).stdout)
        assert dead["id"] == job.id and dead["last_error"] == "boom"

        requeued = CliRunner().invoke(main, ["queue", "requeue", job.id, *data])
        assert requeued.exit_code == 0, requeued.output
        assert app.queue.states([job.id]) == {job.id: JobState.QUEUED}
        assert CliRunner().invoke(main, ["queue", "dead", "--jsonl", *data]).stdout == ""
    finally:
        app.close()
