"""Validation issues the engine holds open, most severe first, each with how often it fired."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

from balance_tui.core.validator import ValidationIssue

SEVERITY_STYLES = {"critical": "$error", "error": "$error", "warning": "$warning", "info": "$text-muted"}


class IssuesPanel(Static):
    can_focus = True  # tab reaches it, and `z` zooms it

    def __init__(self, **kwargs: object) -> None:
        super().__init__("", **kwargs)  # type: ignore[arg-type]
        self.border_title = "validation"
        self._shown: tuple[ValidationIssue, ...] | None = None

    def show(self, issues: tuple[ValidationIssue, ...]) -> None:
        if issues == self._shown:
            return
        self._shown = issues
        self.border_subtitle = f"{len(issues)} open" if issues else ""
        if not issues:
            self.update(Content.from_markup("[$success]no issues[/]"))
            return
        # $-variables are substituted as plain text: messages carry exchange data, never markup.
        lines = [
            Content.from_markup(
                f"[{SEVERITY_STYLES[issue.severity]}]$severity[/] $message  x$count",
                severity=issue.severity.upper(),
                message=issue.message,
                count=str(issue.count),
            )
            for issue in issues
        ]
        self.update(Content("\n").join(lines))
