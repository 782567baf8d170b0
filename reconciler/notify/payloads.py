"""What a sink receives: the generic webhook's JSON event, and a Slack-compatible incoming-webhook message."""

from __future__ import annotations

from typing import Any

from reconciler.notify.notification import REPORTING_CONTROLLER, Notification

# Slack's attachment colours: green for in sync, red for the rest.
IN_SYNC_COLOUR, OUT_OF_SYNC_COLOUR = "good", "danger"


def webhook_event(note: Notification) -> dict[str, Any]:
    """The generic webhook's body: every fact of the run, by name."""
    return {
        "stack": note.stack,
        "commit": note.commit,
        "result": note.result.value,
        "reason": note.reason,
        "kind": note.kind,
        "trigger": note.trigger,
        "severity": "info" if note.in_sync else "error",
        "recovered": note.recovered_from is not None,
        "recovered_from": note.recovered_from,
        "changes": note.changes,
        "duration_s": note.duration_s,
        "error": note.error,
        "link": note.link,
        "message": note.summary(),
        "timestamp": note.timestamp(),
        "reportingController": REPORTING_CONTROLLER,
    }


def slack_message(note: Notification) -> dict[str, Any]:
    """An incoming-webhook message (Slack, Mattermost, Rocket.Chat): a text fallback and one attachment."""
    fields = [
        {"title": "commit", "value": _escaped((note.commit or "-")[:12]), "short": True},
        {"title": "changes", "value": note.counts_text(), "short": True},
        {"title": "duration", "value": f"{note.duration_s:.1f}s", "short": True},
    ]
    if note.reason:
        fields.append({"title": "reason", "value": _escaped(note.reason), "short": True})
    attachment: dict[str, Any] = {
        "color": IN_SYNC_COLOUR if note.in_sync else OUT_OF_SYNC_COLOUR,
        "author_name": REPORTING_CONTROLLER,
        "title": _escaped(note.headline()),
        "fields": fields,
        "ts": int(note.finished_at),
    }
    if note.link:
        attachment["title_link"] = note.link
    if note.error:
        attachment["text"] = _escaped(note.error)
    return {"text": _escaped(note.summary()), "attachments": [attachment]}


def _escaped(text: str) -> str:
    # Slack reads &, < and > as markup (links, mentions); these three are all it asks to escape.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
