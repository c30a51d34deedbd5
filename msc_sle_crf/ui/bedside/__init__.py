"""The bedside screen of the infusion day, as a package (one module per part of the screen)."""

from msc_sle_crf.ui.bedside.window import BedsideWindow, TrendPlot, open_bedside

__all__ = ["BedsideWindow", "TrendPlot", "open_bedside"]
