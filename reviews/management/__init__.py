"""Operators' commands of the review side."""
