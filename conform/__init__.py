"""``numacheck conform``: the model's predictions checked against a real kernel under qemu."""
