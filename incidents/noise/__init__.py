"""Noise reduction inside the one pipeline: suppression rules, grouping windows, flapping
detection and maintenance windows. Each module has one job; `incidents.pipeline` calls them.

Kept import-free: `incidents.models` imports `incidents.noise.patterns` (rule validation at
save), so this package must not import models when it is loaded."""
