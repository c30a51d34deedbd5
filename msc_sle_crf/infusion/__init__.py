"""Infusion day at the bedside: the timer (from stored events, robust to sleep, clock changes and crashes), the
vital-sign schedule with its alerts, the product dose check. Pure domain: no Qt, no database."""
