"""The followup plugin. Its features arrive with their own issue; the manifest lets the framework load it."""
