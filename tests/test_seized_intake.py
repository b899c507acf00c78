"""A seized intake, tried as its attacker would (write access to the data
folder and keys/, no console secret, no private key), against the real
intake and console over HTTP: what it does is quarantined, alarmed, and
named by `intake check` (docs/threat-model.md, "Seized intake")."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from admin.extensions import DB_EXTENSION
from admin.models import Alarm, Case, Quarantine

from .seized import PASSPHRASE, Coalition, make_coalition


@pytest.fixture
def coalition(tmp_path: Path) -> Iterator[Coalition]:
    made = make_coalition(tmp_path)
    yield made
    made.close()


def test_a_key_planted_in_keys_alarms_and_the_report_is_not_filed(coalition: Coalition) -> None:
    coalition.start_intake()
    # Before: the genuine intake passes the check and a report syncs.
    clean = coalition.cli("intake", "check")
    assert clean.exit_code == 0, clean.output
    coalition.submit("en", "a report before the seizure")
    before = coalition.cli("sync", stdin=PASSPHRASE + "\n")
    assert before.exit_code == 0, before.output
    assert "added 1, quarantined 0" in before.output

    # The attacker drops one public key file under our id and restarts.
    planted = coalition.plant_key()
    coalition.start_intake()
    form = coalition.submit("zh-hant", "他們威脅我在國內的家人")
    fingerprint = planted.public_key.fingerprint
    assert fingerprint in form  # the form shows it as a second key of ours

    synced = coalition.cli("sync", stdin=PASSPHRASE + "\n")
    assert synced.exit_code != 0
    assert "added 0, quarantined 1" in synced.output
    assert (
        f"ALARM: sync quarantined an envelope: the envelope is sealed to key {fingerprint}" in synced.output
    )
    with coalition.console.extensions[DB_EXTENSION].session() as session:
        assert len(session.scalars(select(Case)).all()) == 1  # only the report from before
        (quarantined,) = session.scalars(select(Quarantine)).all()
        assert quarantined.error_class == "UnpinnedKeyError"
        kinds = {a.kind for a in session.scalars(select(Alarm))}
    assert "roster.unpinned_key" in kinds

    checked = coalition.cli("intake", "check")
    assert checked.exit_code != 0
    assert (
        f"/keys.json offers key {fingerprint} of test-org, which is not in the pinned roster"
        in checked.output
    )
    assert f"/en/: shows key {fingerprint}, which is not in the pinned roster" in checked.output
    with coalition.console.extensions[DB_EXTENSION].session() as session:
        assert any(
            a.kind == "intake.check" and fingerprint in a.detail for a in session.scalars(select(Alarm))
        )


def test_the_sync_button_runs_the_check_too(coalition: Coalition) -> None:
    """The web console's sync (admin/sync/job.py) quarantines and alarms the
    same way, and runs the intake check after it."""
    from admin.extensions import KEYRING_EXTENSION
    from admin.keys import custody
    from admin.sync.job import EXTENSION as SYNCJOB_EXTENSION

    planted = coalition.plant_key()
    coalition.start_intake()
    coalition.submit("fr", "un signalement")
    console = coalition.console
    with console.app_context(), console.extensions[DB_EXTENSION].session() as session:
        custody.unlock(console.extensions[KEYRING_EXTENSION], session, coalition.root / "console", PASSPHRASE)
    jobs = console.extensions[SYNCJOB_EXTENSION]
    job = jobs.start("coordinator@example.org")
    assert job.done.wait(120)
    outcome = jobs.outcome(job)
    assert outcome is not None and outcome.result is not None
    assert (outcome.result.added, outcome.result.quarantined) == (0, 1)
    fingerprint = planted.public_key.fingerprint
    assert any(line.startswith("intake check:") and fingerprint in line for line in outcome.result.alarms)
    with console.extensions[DB_EXTENSION].session() as session:
        kinds = {a.kind for a in session.scalars(select(Alarm))}
    assert kinds == {"roster.unpinned_key", "intake.check"}
