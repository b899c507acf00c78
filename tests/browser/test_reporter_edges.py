"""Reporter edge cases over real HTTP against the live intake: the language
a first visit lands on, large posts, cookies, the follow-up page and what
the reporter is shown of what arrived. Nothing a reporter typed is lost."""

from __future__ import annotations

import pytest
import requests

from .conftest import LiveIntake


@pytest.mark.parametrize(
    ("header", "lands_on"),
    [
        ("zh-TW-u-ca-chinese", "zh-hant"),
        ("zh-HK-x-private", "zh-hant"),
        ("zh-cmn-Hant-TW", "zh-hant"),
        ("zh-Hant", "zh-hant"),
        ("yue-HK", "zh-hant"),
        ("yue", "zh-hant"),
        ("zh-MO", "zh-hant"),
        ("de-DE, yue-HK;q=0.8, en;q=0.5", "zh-hant"),
        ("zh-CN", "zh-hans"),
        ("zh-Hans", "zh-hans"),
        ("zh-SG", "zh-hans"),
        ("zh-Hans-HK", "zh-hans"),
        ("fr-CA", "fr"),
        ("de-DE", "en"),
    ],
)
def test_a_first_visit_lands_on_the_readers_script(
    live_intake: LiveIntake, header: str, lands_on: str
) -> None:
    response = requests.get(
        live_intake.url + "/", headers={"Accept-Language": header}, allow_redirects=False, timeout=30
    )
    assert response.status_code in (302, 303)
    assert response.headers["Location"].endswith(f"/{lands_on}/")
