"""Shared utilities: errors, metrics, velocity analysis, visualisation, checkpoints, distributed helpers."""
