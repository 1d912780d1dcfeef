"""Renderers of results and counterexample traces, for people and for CI."""
