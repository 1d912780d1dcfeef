"""Engines that check the model, the run that ties variants to properties, and the CLI."""
