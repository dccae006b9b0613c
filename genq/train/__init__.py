"""Training of the embedded base models (``genq-train``)."""
