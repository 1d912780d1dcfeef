"""Lowerings of the expression language: NumPy arrays, single-state Python, Z3 terms and
unrollings, Promela."""
