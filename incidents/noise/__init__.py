"""Noise reduction inside the one pipeline: suppression rules, grouping windows, flapping
detection and maintenance windows. Each module has one job; `incidents.pipeline` calls them.
Suppression patterns and the rule cache are data helpers that models also need; they live
in `incidents.rules`, a leaf, so models never import this package."""
