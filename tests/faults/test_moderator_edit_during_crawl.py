"""A moderator saves a room while a crawl is storing its server (real PostgreSQL, real row locks):
the moderator's decision is kept, the crawl's values are written too."""

from __future__ import annotations

import sys

import pytest

from tests.faults.conftest import crawl, waiting_on_a_lock
from tests.support.processes import Processes, django_env, wait_for
from tests.support.sogs import FakeSogs, room

pytestmark = pytest.mark.timeout(90)


def test_a_moderators_edit_during_a_crawl_is_kept(private_postgres, network, tmp_path):
    db = private_postgres
    env = django_env(db.url, tmp_path / "var")
    server = network(FakeSogs([room("lobby"), room("dev")]))
    crawl(env, server.join_link("lobby"))
    server.rooms[1]["name"] = "Development"
    moderator = db.connect()
    moderator.execute("BEGIN")  # the moderator's save is under way...
    moderator.execute("SELECT id FROM directory_room WHERE token_key = 'dev' FOR UPDATE")
    try:
        with Processes(tmp_path) as processes:
            processes.start("crawl", [sys.executable, "manage.py", "crawl"], env)
            wait_for(lambda: waiting_on_a_lock(db), 30, "the crawl to reach the room being saved")
            moderator.execute(  # ...and commits while the crawl is storing the server
                "UPDATE directory_room SET age_rating = 'nsfw', pinned = TRUE,"
                " maintainer_description = 'Checked by a moderator' WHERE token_key = 'dev'"
            )
            moderator.execute("COMMIT")
            assert processes.started["crawl"].wait(60) == 0, processes.output("crawl")[-3000:]
    finally:
        moderator.close()
    assert db.rows(
        "SELECT name, age_rating, pinned, maintainer_description FROM directory_room"
        " WHERE token_key = 'dev'"
    ) == [("Development", "nsfw", True, "Checked by a moderator")]
