"""Counterexample traces: display form, ITF files, replay on the model."""
