"""Evaluation reports: metrics tables, figures, and JSON / Markdown / HTML output.

In a notebook, a :class:`Report` or :class:`MetricsTable` displays as an HTML table::

    from srgan_sci.compare import evaluate_arrays
    report = evaluate_arrays(truth, {"SR": sr}, lr=lr, spec=spec)
    report.table          # rich table in Jupyter
"""

from srgan_sci.report.render import REPORT_FILES, Report, Section
from srgan_sci.report.table import MetricsTable

__all__ = ["REPORT_FILES", "MetricsTable", "Report", "Section"]
