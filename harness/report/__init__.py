"""`harness report`: one self-contained HTML page for a finished run or ensemble folder
(`page.py`), from the files the folder holds (`folder.py`); the numbers (`scores.py`), the plots
(`figures.py`) and the gallery of confident mistakes (`gallery.py`) each live in their own module."""

from harness.report.page import PAGE, SECTIONS, report_after_run, write_report

__all__ = ["PAGE", "SECTIONS", "report_after_run", "write_report"]
