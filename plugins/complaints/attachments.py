"""Attachments (images, PDF): checked by their content (not the name or the browser's type),
limited in size, stored under the instance folder — outside the web root — with a random name,
and served only through a view that checks the permission and the complaint's visibility."""
from __future__ import annotations

import os
import secrets
from pathlib import Path

from flask import current_app

from core.extensions import db
from core.i18n import gettext as _
from core.models import utcnow

from .errors import ComplaintInvalid
from .models import ComplaintAttachment

MAX_BYTES = 10 * 1024 * 1024
MAX_PER_COMPLAINT = 20
#: magic bytes → content type: what the file really is, whatever its name says.
SIGNATURES = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"), (b"GIF87a", "image/gif"),
              (b"GIF89a", "image/gif"), (b"%PDF-", "application/pdf"))


def storage_root() -> Path:
    configured = current_app.config.get("HCRM_COMPLAINTS_ATTACHMENTS")
    return Path(configured) if configured else Path(current_app.instance_path) / "complaints_attachments"


def sniff(head: bytes) -> str | None:
    for magic, content_type in SIGNATURES:
        if head.startswith(magic):
            return content_type
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def _clean_name(name: str) -> str:
    name = os.path.basename((name or "").replace("\\", "/")).strip().replace("\x00", "")
    return (name or "attachment")[:200]


def add_attachment(complaint, stream, filename: str, *, user_id=None) -> ComplaintAttachment:
    """Store an upload for ``complaint``; ComplaintInvalid (nothing written) when it is empty, too
    large, or not an image/PDF by its content."""
    if len(complaint.attachments) >= MAX_PER_COMPLAINT:
        raise ComplaintInvalid({"file": _("At most %(n)d attachments per complaint.", n=MAX_PER_COMPLAINT)})
    data = stream.read(MAX_BYTES + 1)
    if not data:
        raise ComplaintInvalid({"file": _("The file is empty.")})
    if len(data) > MAX_BYTES:
        raise ComplaintInvalid({"file": _("The file is larger than %(mb)d MB.", mb=MAX_BYTES // (1024 * 1024))})
    content_type = sniff(data[:16])
    if content_type is None:
        raise ComplaintInvalid({"file": _("Only images (PNG, JPEG, GIF, WebP) and PDF files are accepted.")})
    stored = secrets.token_hex(16)
    folder = storage_root() / str(complaint.hospital_id)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / stored
    path.write_bytes(data)
    row = ComplaintAttachment(filename=_clean_name(filename), stored_name=stored, content_type=content_type,
                              size=len(data), user_id=user_id, at=utcnow())
    complaint.attachments.append(row)
    try:
        db.session.flush()
    except Exception:
        path.unlink(missing_ok=True)
        raise
    return row


def path_of(attachment: ComplaintAttachment) -> Path:
    return storage_root() / str(attachment.hospital_id) / attachment.stored_name
