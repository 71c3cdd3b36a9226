"""The chain's results: velocity analysis of every twin, metrics tables and the HTML page with its
figures (the drawing primitives are in ``util/report``)."""
