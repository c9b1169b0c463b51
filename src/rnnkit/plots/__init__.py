"""Plots written by the task pipelines (matplotlib, imported lazily, Agg backend): one module
per kind of figure. Loss curves come from ``rnnkit.training.plots``."""
