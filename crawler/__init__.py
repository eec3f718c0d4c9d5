"""Newswatch: monitoring crawler for news outlets."""
