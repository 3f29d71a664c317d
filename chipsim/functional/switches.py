"""The non-idealities of a tile that a study can switch off one by one: the names of the switches
of `AnalogOptions` and `chipsim.tile.TileConfig`. Kept apart from `analog.py` so that the command
line can list them without loading numpy and Numba."""

NON_IDEALITIES = ("programming_noise", "drift", "read_noise", "dac_quantization",
                  "adc_quantization", "output_noise", "adc_saturation")
