"""Finding images: full-text search over their results, and nearest neighbours by vector."""
