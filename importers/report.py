"""What an import did (or, in a dry run, would do): counts per kind, the keys' shown-once
secrets, and every vendor setting that has no Vigil equivalent."""

from __future__ import annotations

from dataclasses import dataclass, field

from importers.plan import VENDOR_NAMES

KINDS = ("user", "team", "schedule", "override", "policy", "key")


@dataclass
class NewKey:
    name: str
    raw_key: str
    source: str


@dataclass
class Report:
    vendor: str
    dry_run: bool
    created: dict[str, list[str]] = field(default_factory=lambda: {k: [] for k in KINDS})
    existing: dict[str, list[str]] = field(default_factory=lambda: {k: [] for k in KINDS})
    linked: list[str] = field(default_factory=list)  # existing Vigil rows adopted (same email / team name)
    keys: list[NewKey] = field(default_factory=list)
    unmapped: list[str] = field(default_factory=list)

    @property
    def created_count(self) -> int:
        return sum(len(names) for names in self.created.values())

    def lines(self) -> list[str]:
        verb = "Would create" if self.dry_run else "Created"
        out = [f"{'Dry run: ' if self.dry_run else ''}import from {VENDOR_NAMES[self.vendor]}"]
        for kind in KINDS:
            out.append(f"{verb} {len(self.created[kind])} {kind}(s), {len(self.existing[kind])} already imported")
            out += [f"  + {name}" for name in self.created[kind]]
        out += [f"Linked to an existing row: {what}" for what in self.linked]
        if self.keys:
            out.append("New integration keys (shown once, store them now):")
            out += [f"  {k.name}: {k.raw_key}  ({k.source})" for k in self.keys]
        out.append(f"Not mapped ({len(self.unmapped)}):")
        out += [f"  - {what}" for what in self.unmapped] or ["  (nothing)"]
        return out
