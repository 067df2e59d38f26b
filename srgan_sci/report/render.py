"""``Report``: the result of an evaluation, written as JSON, Markdown, HTML and PNG figures."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from srgan_sci import __version__
from srgan_sci.report.table import MetricsTable, format_value

REPORT_FILES = ("report.json", "report.md", "report.html")

_HTML = jinja2.Template(
    """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>srsci evaluation: {{ title }}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 14px; }
th, td { border: 1px solid #bbb; padding: 4px 10px; text-align: right; }
thead th { background: #eee; } tbody th { text-align: left; }
img { max-width: 100%; border: 1px solid #ddd; margin: 0.5em 0; }
.note { color: #555; font-size: 13px; } code { background: #f4f4f4; padding: 0 3px; }
</style></head><body>
<h1>Evaluation: {{ title }}</h1>
<p class="note">srgan_sci {{ version }} ·
{% if inputs.truth %}truth <code>{{ inputs.truth }}</code>{% else %}no truth{% endif %} ·
prediction <code>{{ inputs.pred }}</code>
{% if inputs.lr %} · LR <code>{{ inputs.lr }}</code>{% endif %}</p>
<h2>Metrics</h2>
{{ table_html }}
<ul class="note">{% for line in notes %}<li>{{ line }}</li>{% endfor %}</ul>
{% for section in sections %}
<h2>{{ section.title }}</h2>
{% if section.text %}<p class="note">{{ section.text }}</p>{% endif %}
{% if section.table %}{{ section.table }}{% endif %}
{% if section.figure %}<img src="{{ section.figure }}" alt="{{ section.title }}">{% endif %}
{% endfor %}
</body></html>
"""
)


@dataclass
class Section:
    """One titled part of a report: explanatory text, an optional table and figure."""

    title: str
    text: str = ""
    table: MetricsTable | None = None
    figure: str | None = None


@dataclass
class Report:
    """Everything one evaluation measured.

    Parameters
    ----------
    title : str
        Short name of the evaluation (usually the prediction's file name).
    table : MetricsTable
        Main metrics of the prediction and of each baseline.
    inputs : dict
        Paths (or descriptions) of ``truth``, ``pred`` and ``lr``.
    details : dict
        Everything else written to ``report.json`` (data range, region, FRC curves,
        consistency, photometry...).
    notes : list of str
        One-line statements of how the numbers were computed.
    sections : list of Section
        Further parts (figures and their explanations), in display order.
    figures : dict
        ``{name: Path}`` of PNG figures written into the report folder.
    """

    title: str
    table: MetricsTable
    inputs: dict[str, Any]
    details: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)
    figures: dict[str, Path] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The content of ``report.json``."""
        return _jsonable(
            {
                "kind": "srgan_sci-evaluation",
                "version": __version__,
                "title": self.title,
                "inputs": self.inputs,
                "metrics": self.table.to_dict(),
                "details": self.details,
                "notes": self.notes,
                "figures": {name: path.name for name, path in self.figures.items()},
            }
        )

    def to_markdown(self) -> str:
        """The content of ``report.md``."""
        lines = [f"# Evaluation: {self.title}", ""]
        lines += [f"- {key}: `{value}`" for key, value in self.inputs.items() if value]
        lines += ["", "## Metrics", "", self.table.to_markdown(), ""]
        lines += [f"- {note}" for note in self.notes]
        for section in self.sections:
            lines += ["", f"## {section.title}", ""]
            if section.text:
                lines += [section.text, ""]
            if section.table is not None:
                lines += [section.table.to_markdown(), ""]
            if section.figure:
                lines += [f"![{section.title}]({section.figure})", ""]
        return "\n".join(lines).rstrip() + "\n"

    def to_html(self) -> str:
        """The content of ``report.html`` (figures referenced by relative path)."""
        sections = [
            {
                "title": s.title,
                "text": s.text,
                "table": s.table.to_html() if s.table is not None else "",
                "figure": s.figure,
            }
            for s in self.sections
        ]
        return _HTML.render(
            title=self.title,
            version=__version__,
            inputs=self.inputs,
            table_html=self.table.to_html(),
            notes=self.notes,
            sections=sections,
        )

    def write(self, folder: str | Path) -> Path:
        """Write ``report.json``, ``report.md`` and ``report.html`` into ``folder``."""
        folder = Path(folder)
        (folder / "report.json").write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        (folder / "report.md").write_text(self.to_markdown())
        (folder / "report.html").write_text(self.to_html())
        return folder

    def _repr_html_(self) -> str:
        notes = "".join(f"<li>{note}</li>" for note in self.notes)
        return f"<h4>{self.title}</h4>{self.table.to_html()}<ul>{notes}</ul>"

    def __str__(self) -> str:
        return f"{self.title}\n{self.table.to_markdown()}"


def _jsonable(value: Any) -> Any:
    """Replace NaN/inf by None and numpy scalars/arrays by Python values, recursively."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "tolist"):
        return _jsonable(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


__all__ = ["REPORT_FILES", "Report", "Section", "format_value"]
