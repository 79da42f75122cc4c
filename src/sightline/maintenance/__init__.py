"""Keeping a deployment whole: sweeping what crashes leave behind (`sweep`), checking that the
catalog, blobs and queue agree and repairing what is safe (`check`), consistent backups of an
SQLite deployment that serves meanwhile (`backup`), and running such work periodically in the
background (`schedule`)."""

from sightline.maintenance.backup import BackupReport, RestoreReport, backup, restore
from sightline.maintenance.check import Checker, CheckReport, Problem
from sightline.maintenance.schedule import Schedule
from sightline.maintenance.sweep import Sweeper, Swept

__all__ = [
    "BackupReport",
    "CheckReport",
    "Checker",
    "Problem",
    "RestoreReport",
    "Schedule",
    "Sweeper",
    "Swept",
    "backup",
    "restore",
]
