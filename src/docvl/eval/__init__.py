"""`docvl eval`: held-out page sets and olmOCR-bench suites scored with `docvl.scoring`."""
