"""The sync loop (work in progress): run_mapping, run_retry, preview_rows."""
from __future__ import annotations


def preview_rows(connection, entity, values, *, limit):
    raise NotImplementedError


def run_mapping(mapping, *, full, trigger, user, progress, count=False):
    raise NotImplementedError


def run_retry(mapping, *, trigger, user):
    raise NotImplementedError
