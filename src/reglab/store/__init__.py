"""The result store: studies, members, curves and diagnostics (SQLite by default).

>>> from reglab.store import MemberRecord, Store, StudyInfo
"""

from reglab.store.records import (
    CURVE_NAMES,
    MEMBER_STATUSES,
    RECORD_STATUSES,
    STUDY_STATUSES,
    MemberRecord,
    StudyInfo,
)
from reglab.store.schema import SCHEMA_VERSION
from reglab.store.store import ON_CONFIG_CHANGE, Store

__all__ = [
    "CURVE_NAMES",
    "MEMBER_STATUSES",
    "ON_CONFIG_CHANGE",
    "RECORD_STATUSES",
    "SCHEMA_VERSION",
    "STUDY_STATUSES",
    "MemberRecord",
    "Store",
    "StudyInfo",
]
