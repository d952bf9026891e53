"""Command-line tools for organisers and operators (`python -m bot hearings|announce|broadcast`)."""
