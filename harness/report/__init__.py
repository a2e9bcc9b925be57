"""Run results and the conformance matrix (JUnit is pytest's own; matrix.md/html and summary.json are ours)."""
