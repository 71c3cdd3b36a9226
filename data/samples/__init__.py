"""The two stages' training and evaluation samples, cut from subject files.

``slice_dataset`` indexes the slices of a split and reads frames; ``interp_dataset`` (stage 1) and
``phase_dataset`` (stage 2) build on it. ``--dataset_mode`` names them through ``data.DATASETS``.
"""
