"""Data: the MVM subject file format, datasets for the two stages, the digital-twin phantom, importers."""
