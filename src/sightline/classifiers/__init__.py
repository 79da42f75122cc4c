"""Custom classifiers: linear heads trained on image embeddings (`training`), exported as ONNX
(`export`), run as pipeline features (`features`), managed by the service and trained by jobs."""
