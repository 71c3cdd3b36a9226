"""The chained-synthesis report: metrics table, velocity-curve plots, bull's-eyes, cine GIFs, index.html.

One module per concept:

    analysis      velocity curves and peaks of one slice (util.velocity on SliceData)
    slice_metrics image, mask, velocity and curve metrics of a synthesised slice against the acquired one
    fid           Frechet Inception Distance, only when pytorch-fid and its weights are available
    table         aggregation over slices and the CSV files
    curves_plot   real vs synthesised global velocity curves (PNG)
    bullseye      AHA 16-segment polar plot of segment peak systolic velocities (PNG)
    cine_gif      animated real vs synthesised cine (GIF)
    overview      one slice of a subject file over several frames (PNG; ``python -m data.overview``)
    html          index.html that opens from disk
    builder       drives all of the above for test.py --model hdl

Nothing here imports torchvision: FID is looked up lazily (see ``fid``).
"""
