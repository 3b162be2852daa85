"""The admin's date drill-down (`date_hierarchy`) with sane numbers only.

Django turns `?first_seen_at__year=...` into a date and catches ValueError, but a year of
99999999999999999999 overflows first (OverflowError, a 500 with a traceback, T48). A value
that is not a year, month or day of at most four digits is refused the way the admin
refuses any bad filter: back to the list with `?e=1`."""

from __future__ import annotations

from django.contrib.admin.options import IncorrectLookupParameters


class SaneDateHierarchyMixin:
    def get_changelist_instance(self, request):
        field = self.date_hierarchy
        if field:
            for part in ("year", "month", "day"):
                value = request.GET.get(f"{field}__{part}")
                if value is not None and not (value.isdecimal() and len(value) <= 4):
                    raise IncorrectLookupParameters(f"{field}__{part} must be a number of at most 4 digits")
        return super().get_changelist_instance(request)
