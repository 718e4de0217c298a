"""Review commands (bulk resolution, reports): each parses its options, previews, calls the
review services and reports counts, like the warmup commands."""
