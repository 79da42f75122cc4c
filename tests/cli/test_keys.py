"""`sightline keys`: make, list, revoke and sign out keys on the catalog, with no server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from sightline.cli import main
from sightline.errors import Unauthorized
from sightline.keys import KeyService, Scope
from sightline.settings import Settings
from sightline.stores import open_stores


def run(*args: str) -> Result:
    return CliRunner().invoke(main, ["keys", *args])


@contextmanager
def key_service(data_dir: Path) -> Iterator[KeyService]:
    """What a server on the same data folder would see."""
    settings = Settings(data_dir=data_dir)
    stores = open_stores(settings.resolved_catalog_url())
    try:
        yield KeyService(settings, stores.keys)
    finally:
        stores.close()


def test_a_key_made_on_the_command_line_works_until_revoked(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    made = run(
        "create",
        "ci uploader",
        "--scope",
        "write",
        "--expires-in-days",
        "30",
        "--json",
        "--data-dir",
        data,
    )
    assert made.exit_code == 0, made.output
    shown = json.loads(made.stdout)
    assert shown["scope"] == "write" and shown["secret"].startswith(shown["prefix"])
    assert "not shown again" in made.stderr
    with key_service(tmp_path / "data") as keys:
        assert keys.authenticate(shown["secret"]).scope is Scope.WRITE
        session = keys.start_session(keys.authenticate(shown["secret"]))

    listed = run("list", "--jsonl", "--data-dir", data)
    assert listed.exit_code == 0
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    table = run("list", "--data-dir", data).stdout.splitlines()
    assert table[0].split("\t")[:3] == ["ID", "Name", "Scope"]
    assert table[1].split("\t")[:4] == [shown["id"], "ci uploader", "write", "every"]
    assert [row["id"] for row in rows] == [shown["id"]]
    assert "secret" not in rows[0] and rows[0]["expires_at"] and rows[0]["last_used_at"]

    signed_out = run("sign-out", shown["id"], "--data-dir", data)
    assert signed_out.exit_code == 0 and "1 sessions ended" in signed_out.stdout
    with key_service(tmp_path / "data") as keys:
        assert keys.session_principal(session) is None
        assert keys.authenticate(shown["secret"])  # the key itself still works
    revoked = run("revoke", shown["id"], "--data-dir", data)
    assert revoked.exit_code == 0
    with key_service(tmp_path / "data") as keys:
        with pytest.raises(Unauthorized):
            keys.authenticate(shown["secret"])
    rows = json.loads(run("list", "--json", "--data-dir", data).stdout)
    assert rows[0]["revoked_at"]


def test_the_catalog_url_comes_from_the_environment_too(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    made = CliRunner().invoke(
        main, ["keys", "create", "from env", "--scope", "admin"], env={"SIGHTLINE_CATALOG_URL": url}
    )
    assert made.exit_code == 0, made.output
    listed = run("list", "--jsonl", "--catalog-url", url)
    assert json.loads(listed.stdout)["name"] == "from env"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["create", "x", "--scope", "root"], "'root' is not one of"),
        (["create", "x", "--expires-in-days", "0"], "0"),
        (["create", " "], "1 to 255 characters"),
        (["revoke", "key_nope"], "No key 'key_nope'"),
        (["sign-out", "key_nope"], "No key 'key_nope'"),
    ],
)
def test_mistakes_are_reported_and_change_nothing(
    tmp_path: Path, args: list[str], message: str
) -> None:
    result = run(*args, "--data-dir", str(tmp_path / "data"))
    assert result.exit_code != 0
    assert message in result.output
    assert run("list", "--json", "--data-dir", str(tmp_path / "data")).stdout == "[]\n"
