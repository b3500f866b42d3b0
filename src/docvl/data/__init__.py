"""Data: page-set sources (prepare), checks (validate), text rules and the training sample pipeline."""
