"""Reading the dashboard page as a user sees it: each card's number and the link it opens."""
import html
import re

MAIN = re.compile(r'<a class="stretched-link[^"]*" href="([^"]+)">([^<]+)</a>.*?'
                  r'<p class="fs-2 fw-semibold lh-1 mb-1">([^<]*)</p>', re.S)
ITEM = re.compile(r'<a class="position-relative z-2 text-truncate" href="([^"]+)">([^<]+)</a>\s*'
                  r'<span class="fw-semibold text-nowrap">([^<]*)</span>')


def card_links(page: str) -> list[tuple[str, str, int]]:
    """(label, url, number) of every linked number on the dashboard: cards and their rows."""
    found = []
    for url, label, value in MAIN.findall(page) + ITEM.findall(page):
        if value.strip().isdigit():
            found.append((html.unescape(label.strip()), html.unescape(url), int(value)))
    return found
