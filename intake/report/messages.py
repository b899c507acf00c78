"""The reporter's messages for a refused field of the form
(:class:`core.schema.fields.ReportFieldError` codes) and for the form's
limits (core/uploads.py): what was kept, what to do."""

from __future__ import annotations

from collections.abc import Callable

from flask_babel import gettext as _

from core.uploads import FIELD_TOO_LONG, TOO_MANY_FIELDS


def _narrative_or_tactic() -> str:
    return str(_("Please tell us what happened, or choose at least one thing that happened."))


def _when() -> str:
    return str(_("Please write a date such as 2026-07-14 or a month such as 2026-07, or leave it empty."))


def _other_state_not_chosen() -> str:
    return str(_("Please choose “Another state”, or clear the name of the other state."))


def _contact_method_not_chosen() -> str:
    return str(
        _(
            "Please choose how a reviewer may contact you (Signal, email or phone), "
            "or clear the contact details."
        )
    )


FIELD_MESSAGES: dict[str, Callable[[], str]] = {
    "narrative_or_tactic": _narrative_or_tactic,
    "when": _when,
    "too_long": lambda: str(_("Please keep this under 200 characters.")),
    "other_state_not_chosen": _other_state_not_chosen,
    "contact_method_not_chosen": _contact_method_not_chosen,
    "recipients": lambda: str(_("Please choose at least one organization.")),
}


def field_message(code: str, field: str = "") -> str:
    """The reporter's message for a :class:`ReportFieldError` code."""
    if field == "narrative" and code == "too_long":
        return str(_("Please keep the text under 100,000 characters."))
    return FIELD_MESSAGES[code]()


#: The notices of :func:`form_limit_message`.
FORM_LIMITS = frozenset({FIELD_TOO_LONG, TOO_MANY_FIELDS})


def form_limit_message(limit: str) -> str:
    """The reporter's message for a form limit of core/uploads.py
    (``field_too_long`` or ``too_many_fields``): what was kept, what to do."""
    if limit == TOO_MANY_FIELDS:
        return str(
            _(
                "Nothing was sent. The form arrived with more fields than it accepts, so the "
                "last ones were left out. Please check what is below, then send it again."
            )
        )
    return str(
        _(
            "Nothing was sent. Your text was longer than this form accepts, so only its "
            "beginning is kept below. Please shorten it, then send it again."
        )
    )
