"""What tests share besides fixtures: generated test data (pictures, documents, ONNX nets),
real servers (`services`), browser helpers and common assertions. Imported as
`from support.imagegen import solid`; pytest's `pythonpath` puts `tests/` on the path."""
