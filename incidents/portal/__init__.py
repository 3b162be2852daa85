"""The responder portal's incident pages: list, detail and actions (views.py), the
dashboard, maintenance windows, and the display helpers they share."""
