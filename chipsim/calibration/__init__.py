"""Post-training range calibration (Lammie et al., ISCAS 2024, arXiv 2401.09859).

After training, two settings per crossbar decide how much of a network's accuracy survives the
chip: the input (DAC) range of each tile and the conductance range of each column. Both are
chosen here from calibration data (a slice of the training set), stored per placement in the
mapping file, and used as they are by `chipsim accuracy` and `chipsim simulate`.

`calibrate_mapping(graph, layers, mapping, chip, x)` returns the calibrated mapping and a
per-tile account; `auto.calibrate_for_run` calibrates a mapping before a command measures it
(a fixed-range chip is judged as it runs); `calibration_study` compares per-vector input
scaling (alone and with column ranges calibrated), an uncalibrated fixed range, input-only,
column-only and both.
"""

from chipsim.calibration.cache import collect_tile_inputs
from chipsim.calibration.calibrate import CalibrationResult, TileCalibration, calibrate_mapping
from chipsim.calibration.column_ranges import COLUMN_RULES, choose_column_scales
from chipsim.calibration.input_ranges import INPUT_RULES, choose_input_range
from chipsim.calibration.study import CalibrationStudy, calibrated_variants, calibration_study

__all__ = ["COLUMN_RULES", "CalibrationResult", "CalibrationStudy", "INPUT_RULES",
           "TileCalibration", "calibrate_mapping", "calibrated_variants", "calibration_study",
           "choose_column_scales", "choose_input_range", "collect_tile_inputs"]
