"""Suppression rules as data: compiling and checking their patterns (patterns.py) and the
per-process cache of compiled rules (cache.py). A leaf: it imports no models, so models,
REST, admin and the noise pipeline can all use it without a cycle."""
