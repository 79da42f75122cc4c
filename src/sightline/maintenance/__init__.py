"""Keeping a deployment whole: sweeping what crashes leave behind (`sweep`), checking that the
catalog, blobs and queue agree and repairing what is safe (`check`), and consistent backups of
an SQLite deployment that serves meanwhile (`backup`)."""

from sightline.maintenance.backup import BackupReport, RestoreReport, backup, restore
from sightline.maintenance.check import Checker, CheckReport, Problem
from sightline.maintenance.sweep import Sweeper, SweepSchedule, Swept

__all__ = [
    "BackupReport",
    "CheckReport",
    "Checker",
    "Problem",
    "RestoreReport",
    "SweepSchedule",
    "Sweeper",
    "Swept",
    "backup",
    "restore",
]
