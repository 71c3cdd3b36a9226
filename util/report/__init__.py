"""Stage-free drawing and page primitives of the reports; ``models.hdl.report`` builds the chain's
report (metrics, curves, tables, index.html) from them.

One module per concept:

    style         shared look of the figures: headless matplotlib backend, method colours, display ranges
    bland_altman  bias and 95% limits of agreement, and their plot
    bullseye      AHA 16-segment bull's-eye of segment peak velocities, acquired and synthesised (PNG)
    cine_gif      animated cine, magnitude and the three velocity maps (GIF)
    fid           Frechet Inception Distance, only when pytorch-fid and its weights are available
    html          self-contained HTML pages that open from disk, with every link checked

Nothing here imports torchvision: FID is looked up lazily (see ``fid``).
"""
