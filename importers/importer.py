"""The one entry point the command and the portal share: read a vendor's account, plan it."""

from __future__ import annotations

from datetime import datetime

from importers.client import SourceError
from importers.plan import Plan
from importers.vendors import oncall, opsgenie, pagerduty

VENDOR_MODULES = {"pagerduty": pagerduty, "opsgenie": opsgenie, "oncall": oncall}


def build_plan(vendor: str, source, now: datetime) -> Plan:
    """Raises SourceError naming what is missing or malformed."""
    module = VENDOR_MODULES[vendor]
    raw = module.fetch(source, now)
    try:
        return module.to_plan(raw, now)
    except KeyError as error:
        raise SourceError(f"the export lacks a field the {vendor} API always sends: {error}") from None
    except (TypeError, ValueError, AttributeError) as error:
        raise SourceError(f"the export is not in the {vendor} API's shape: {error}") from None
