"""`pgaudit-kit doctor`: a hardening report. Reads the catalog, settings and the kit's metadata once
(:mod:`.facts`), then judges each item with a small pure function (``check_*`` in the ``checks_*``
modules) that returns an :class:`Item` with a severity and advice. The anchor directory and the signing
key are checked on the machine doctor runs on.

Severities: ``ok`` (as it should be), ``info`` (worth knowing, nothing to fix), ``warning``
(protection is weaker than it should be, or an operation is overdue), ``critical`` (capture or the
kit's guards are broken now, someone can forge or silently stop the record, or tampering shows).
The report fails (exit 1) when any item is a warning or critical.

Doctor reads review and verify history (metadata of the log), so it records a review event (command
``doctor``) first, like every other read through the kit; it needs the reader or admin role.

Dependencies point one way: ``facts`` (the only module that reads the database), ``items``,
``thresholds`` and ``wording`` → ``checks_*`` (pure: fed facts, return items) → ``diagnose`` (runs it all).
"""

from importlib import import_module
from typing import Any

# Public name -> module; loaded on first use, so that the CLI declares doctor's options (from .items and
# .thresholds, which need no database driver) without loading the rest.
_LAZY = {
    "ITEM_IDS": ".items", "FAILING": ".items", "SEVERITIES": ".items", "Item": ".items", "Report": ".items",
    "judge": ".diagnose", "run": ".diagnose", "Facts": ".facts", "Role": ".facts", "read_facts": ".facts",
    "Thresholds": ".thresholds", "parse_duration": ".thresholds", "format_age": ".wording",
}

__all__ = [
    "FAILING", "ITEM_IDS", "SEVERITIES", "Facts", "Item", "Report", "Role", "Thresholds", "format_age", "judge",
    "read_facts", "run", "parse_duration",
]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(_LAZY[name], __name__), name)
    globals()[name] = value
    return value
