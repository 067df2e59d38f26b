"""``MetricsTable``: methods x metrics, shown as HTML in Jupyter and as Markdown in reports."""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from typing import Any

LABELS: dict[str, str] = {
    "psnr": "PSNR (dB)",
    "ssim": "SSIM",
    "nrmse": "NRMSE",
    "mae": "MAE",
    "care_psnr": "CARE PSNR (dB)",
    "care_ssim": "CARE SSIM",
    "care_nrmse": "CARE NRMSE",
    "frc_resolution": "FRC res. (px)",
    "consistency_rms_sigma": "resid. RMS (σ)",
    "chi2_per_pixel": "χ²/pixel",
    "flux_ratio": "flux ratio",
}
"""Column headings of the known metrics; others are shown under their own names."""

HIGHER_IS_BETTER = {"psnr", "ssim", "care_psnr", "care_ssim"}
LOWER_IS_BETTER = {"nrmse", "mae", "care_nrmse", "frc_resolution"}


def format_value(value: Any) -> str:
    """A metric value as short text (4 significant decimals, dashes for missing)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float):
        if math.isinf(value):
            return "∞" if value > 0 else "-∞"
        return f"{value:.2f}" if abs(value) >= 10 else f"{value:.4f}"
    return str(value)


@dataclass
class MetricsTable:
    """Metrics of several methods (rows) against one truth.

    Parameters
    ----------
    rows : dict
        ``{method: {metric: value}}``; methods in display order.
    columns : list of str, optional
        Metrics to show, in order (default: every metric of the first row).
    """

    rows: dict[str, dict[str, Any]]
    columns: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.columns:
            seen: dict[str, None] = {}
            for values in self.rows.values():
                seen |= dict.fromkeys(values)
            self.columns = list(seen)

    def __getitem__(self, method: str) -> dict[str, Any]:
        """The metrics of one method."""
        return self.rows[method]

    def best(self, metric: str) -> str | None:
        """The method with the best value of ``metric`` (None if the direction is unknown)."""
        values = {
            name: row[metric]
            for name, row in self.rows.items()
            if isinstance(row.get(metric), (int, float)) and not math.isnan(row[metric])
        }
        if not values or metric not in HIGHER_IS_BETTER | LOWER_IS_BETTER:
            return None
        pick = max if metric in HIGHER_IS_BETTER else min
        return pick(values, key=values.__getitem__)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """Plain dictionary, as written to ``report.json``."""
        return {name: dict(row) for name, row in self.rows.items()}

    def to_markdown(self) -> str:
        """GitHub-flavoured Markdown; the best value of each column in bold."""
        head = ["method"] + [LABELS.get(c, c) for c in self.columns]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for name, row in self.rows.items():
            cells = [name]
            for column in self.columns:
                text = format_value(row.get(column))
                cells.append(f"**{text}**" if self.best(column) == name else text)
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def to_html(self) -> str:
        """An HTML table; the best value of each column in bold."""
        head = "".join(f"<th>{html.escape(LABELS.get(c, c))}</th>" for c in self.columns)
        body = []
        for name, row in self.rows.items():
            cells = []
            for column in self.columns:
                text = html.escape(format_value(row.get(column)))
                cells.append(
                    f"<td><b>{text}</b></td>" if self.best(column) == name else f"<td>{text}</td>"
                )
            body.append(f"<tr><th>{html.escape(name)}</th>{''.join(cells)}</tr>")
        return (
            '<table class="srsci-metrics"><thead><tr><th>method</th>'
            f"{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
        )

    def _repr_html_(self) -> str:
        return self.to_html()

    def __str__(self) -> str:
        return self.to_markdown()
