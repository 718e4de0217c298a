"""The lifecycle: the status machine (state: the only writer of a status) and the review
log (log: the only writer of its rows, chain: how a row is hashed)."""
