"""Prompt templates (Jinja2 files) and their manifest; loaded by agents.prompting."""
