"""The reports: drawing and page primitives, and the chain's report (metrics, curves, tables, pages)
built from them. One module per concept:

    style              the reference's label and each method's line style
    bland_altman       bias and 95% limits of agreement, and their plot
    bullseye           AHA 16-segment bull's-eye of segment peak velocities, acquired and synthesised (PNG)
    regional_bullseye  bull's-eye of the segments' systolic radial peaks, abnormal segments outlined
    cine_gif           animated cine, magnitude and the three velocity maps (GIF)
    curves_plot        a subject's global velocity-time curves, acquired and synthesised
    fid                Frechet Inception Distance, only when pytorch-fid and its weights are available
    html               self-contained HTML pages that open from disk, with every link checked
    slice_metrics      metrics of one synthesised slice against the acquired one
    table              the chain's tables: per-slice metrics, their summary per method, curves and peaks
    peak_agreement     Bland-Altman agreement of the global peaks over the cohort, its rows and figures
    cohort             one summary row per subject and method; the regional columns of the cohort tables
    pages              index.html for the cohort and a page per subject
    subject_figures    a subject's figures on its page (curves, bull's-eyes, cine), each drawn once
    report_files       the tables, agreement and pages written from what the subjects left
    builder            ReportBuilder: the chain's report, one subject at a time

Nothing here imports torchvision: FID is looked up lazily (see ``fid``).
"""
