"""Test helpers of the follow-up plugin that dependants' tests share: rows looked up by code or
username across hospitals (outside any hospital's scope)."""
from __future__ import annotations

from plugins.followup.tests.outreach_fixtures import hospital, user

__all__ = ["hospital", "user"]
