"""Several laptops, one study (issue 18): workstations, packets, conflicts. Design: docs/workstations.md."""
