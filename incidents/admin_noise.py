"""Admin for suppression rules and maintenance windows."""
