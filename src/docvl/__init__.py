"""docvl: turn a general vision-language model into a document OCR model, and run it."""

__version__ = "0.1.0"
