"""Formatting only: dicts and DataFrames → Markdown, HTML, CSV, JSONL, plots. Reports compute nothing."""
