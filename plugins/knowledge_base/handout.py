"""The handout's QR code: an SVG drawn by qrcode, served by a view (the CSP allows images from
the site itself, not inline scripts or styles)."""
from __future__ import annotations

import io


def qr_svg(text: str) -> bytes:
    import qrcode
    import qrcode.image.svg
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    out = io.BytesIO()
    image.save(out)
    return out.getvalue()
