"""Who may do what: the one place the console's roles are enforced.

Every endpoint of the app is listed in :data:`ENDPOINTS` (or its blueprint in
:data:`BLUEPRINTS`) with the permission it needs; :func:`check_request`
runs before every request and refuses (403) what the logged-in account's
role lacks. An endpoint listed nowhere is refused to everyone: a new view
is closed until someone writes down who may use it here, and a test walks
the URL map to prove the table is complete.

The table is written out for people in ``docs/console.md`` (Roles).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

from .models import Role


class Permission(enum.StrEnum):
    """An action on the console."""

    #: Pages reachable before login (login form, second factor, static JS).
    PUBLIC = "public"
    #: Log out, see one's own account, add a security key.
    ACCOUNT = "account"
    READ_CASES = "read_cases"
    DOWNLOAD_ATTACHMENT = "download_attachment"
    SYNC = "sync"
    TRIAGE = "triage"
    ASSIGN_OTHERS = "assign_others"
    LOCK_KEY = "lock_key"
    UNLOCK_KEY = "unlock_key"
    #: Retire a key, fetch its public key file (rotation).
    MANAGE_KEYS = "manage_keys"
    VIEW_AUDIT = "view_audit"
    BRIEFING = "briefing"
    #: Record a briefing in the release ledger (its numbers leave the console).
    PUBLISH_BRIEFING = "publish_briefing"
    #: Confirm a vignette for release (the text that may leave the console).
    RELEASE_VIGNETTE = "release_vignette"
    MANAGE_ACCOUNTS = "manage_accounts"
    #: Send a reply to a reporter (admin/cases/replies.py).
    REPLY = "reply"
    #: File a report taken by interview (admin/interview/views.py).
    INTERVIEW = "interview"
    #: See the alarms page (everyone logged in sees the banner).
    VIEW_ALARMS = "view_alarms"
    #: Acknowledge an alarm (admin/alarms/service.py): ends its banner.
    ACKNOWLEDGE_ALARM = "acknowledge_alarm"
    #: List, add, edit, retire and restore reply templates
    #: (admin/replytemplates/service.py); using one on a case page is REPLY.
    MANAGE_REPLY_TEMPLATES = "manage_reply_templates"


_REVIEWER = frozenset(
    {
        Permission.ACCOUNT,
        Permission.READ_CASES,
        Permission.DOWNLOAD_ATTACHMENT,
        Permission.SYNC,
        Permission.TRIAGE,
        Permission.REPLY,
        Permission.LOCK_KEY,
        Permission.INTERVIEW,
        Permission.VIEW_ALARMS,
    }
)
_COORDINATOR = _REVIEWER | {
    Permission.ASSIGN_OTHERS,
    Permission.UNLOCK_KEY,
    Permission.MANAGE_KEYS,
    Permission.VIEW_AUDIT,
    Permission.BRIEFING,
    Permission.PUBLISH_BRIEFING,
    Permission.RELEASE_VIGNETTE,
    Permission.ACKNOWLEDGE_ALARM,
    Permission.MANAGE_REPLY_TEMPLATES,
}
_ADMIN = _COORDINATOR | {Permission.MANAGE_ACCOUNTS}

#: Role -> what it may do.
ROLE_PERMISSIONS: Mapping[str, frozenset[Permission]] = {
    Role.REVIEWER.value: _REVIEWER,
    Role.COORDINATOR.value: _COORDINATOR,
    Role.ADMIN.value: _ADMIN,
}

#: Endpoint -> the permission it needs.
ENDPOINTS: Mapping[str, Permission] = {
    "auth.login": Permission.PUBLIC,
    "auth.static": Permission.PUBLIC,
    "auth.second_factor": Permission.PUBLIC,
    "auth.totp_verify": Permission.PUBLIC,
    "auth.enrol": Permission.PUBLIC,
    "auth.enrol_totp": Permission.PUBLIC,
    "auth.webauthn_login_options": Permission.PUBLIC,
    "auth.webauthn_login_verify": Permission.PUBLIC,
    "auth.webauthn_register_options": Permission.PUBLIC,
    "auth.webauthn_register_verify": Permission.PUBLIC,
    "auth.cancel": Permission.PUBLIC,
    "auth.logout": Permission.ACCOUNT,
    "auth.account": Permission.ACCOUNT,
    "auth.account_language": Permission.ACCOUNT,
    "auth.users": Permission.MANAGE_ACCOUNTS,
    "inbox.index": Permission.READ_CASES,
    "inbox.search_reports": Permission.READ_CASES,
    # A bulk action needs more when it assigns to others (admin/cases/bulk.py).
    "inbox.bulk_action": Permission.TRIAGE,
    "inbox.run_sync": Permission.SYNC,
    "inbox.sync_status": Permission.SYNC,
    "inbox.stop_sync": Permission.SYNC,
    "inbox.quarantine": Permission.READ_CASES,
    "case.show": Permission.READ_CASES,
    "case.attachment": Permission.DOWNLOAD_ATTACHMENT,
    "case.preview": Permission.DOWNLOAD_ATTACHMENT,
    "case.inspect": Permission.DOWNLOAD_ATTACHMENT,
    "case.redacted": Permission.DOWNLOAD_ATTACHMENT,
    "case.set_triage": Permission.TRIAGE,
    "case.set_coding": Permission.TRIAGE,
    "case.add_note": Permission.TRIAGE,
    "case.reply": Permission.REPLY,
    "case.take": Permission.TRIAGE,
    "case.assign": Permission.ASSIGN_OTHERS,
    "case.link": Permission.TRIAGE,
    "case.unlink": Permission.TRIAGE,
    "case.save_vignette": Permission.TRIAGE,
    "case.release_vignette": Permission.RELEASE_VIGNETTE,
    "case.withdraw_vignette": Permission.RELEASE_VIGNETTE,
    "keys.index": Permission.LOCK_KEY,
    "keys.lock_key": Permission.LOCK_KEY,
    "keys.unlock_key": Permission.UNLOCK_KEY,
    "keys.retire": Permission.MANAGE_KEYS,
    "keys.public_file": Permission.MANAGE_KEYS,
    "audit.index": Permission.VIEW_AUDIT,
    "interview.form": Permission.INTERVIEW,
    "alarms.index": Permission.VIEW_ALARMS,
    "alarms.acknowledge": Permission.ACKNOWLEDGE_ALARM,
    "briefing.publish_briefing": Permission.PUBLISH_BRIEFING,
    "replytemplates.index": Permission.MANAGE_REPLY_TEMPLATES,
    "replytemplates.new": Permission.MANAGE_REPLY_TEMPLATES,
    "replytemplates.edit": Permission.MANAGE_REPLY_TEMPLATES,
    "replytemplates.retire": Permission.MANAGE_REPLY_TEMPLATES,
    "replytemplates.restore": Permission.MANAGE_REPLY_TEMPLATES,
    "replytemplates.use": Permission.REPLY,
}

#: Blueprint -> the permission all its endpoints need, for blueprints whose
#: endpoints share one rule (an entry in ENDPOINTS wins).
BLUEPRINTS: Mapping[str, Permission] = {
    "briefing": Permission.BRIEFING,
}


def required(endpoint: str | None) -> Permission | None:
    """The permission ``endpoint`` needs, or None when it is in no table
    (then nobody may use it)."""
    if endpoint is None:
        return None
    if endpoint in ENDPOINTS:
        return ENDPOINTS[endpoint]
    blueprint, dot, _name = endpoint.rpartition(".")
    return BLUEPRINTS.get(blueprint) if dot else None


def allows(role: str, permission: Permission) -> bool:
    """Whether ``role`` has ``permission`` (PUBLIC: everyone)."""
    return permission is Permission.PUBLIC or permission in ROLE_PERMISSIONS.get(role, frozenset())
