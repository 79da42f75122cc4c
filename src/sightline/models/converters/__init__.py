"""Standalone conversion scripts run by `sightline models prepare` in a separate Python."""
