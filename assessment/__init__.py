"""Velocity assessment (stage 3): everything that turns velocities and masks into numbers and pictures.

It sits between ``models`` and ``data``: it reads ``data``'s subject types and knows no network, so both
stages' evaluations and the chain score their outputs with it. One module per concept:

    velocity         LV-centred radial / circumferential / longitudinal velocities, AHA segments, curves, peaks
    analysis         the one reader of a slice for analysis; a subject's segments; the training normals
    regional         regional function: peak windows, hypokinesia scores, detection, dyssynchrony
    truth            a subject's regional truth: abnormal segments, patients, the file's aha_* attributes
    regional_table   regional function in a metrics table: per-subject rows, cohort summary columns
    metrics          image and curve metrics (PSNR, SSIM, Dice, velocity errors, curve agreement, skill)
    ssim_stack       SSIM of frame stacks against one reference, a row changed in a box scored in the box
    realism          texture and background-noise statistics of velocity maps
    bootstrap        95 % percentile bootstrap intervals over subjects
    metric_names     readable names, units, direction and group of the metric columns
    tables           metrics tables as CSV, HTML and markdown (``python -m assessment.tables``)
    phantom_normals  a phantom cohort's peaks beside published normals (``python -m assessment.phantom_normals``)
    report/          the figures and HTML pages of the reports, and the chain's report built from them
"""
