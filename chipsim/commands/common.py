"""Options and output helpers shared by every subcommand, so they read the same everywhere."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from chipsim.errors import ChipsimError

if TYPE_CHECKING:
    from chipsim.arch import Chip
    from chipsim.graph import Graph, MatrixLayer
    from chipsim.mapping import Mapping


def add_chip_option(parser: argparse.ArgumentParser, faults: bool = True) -> None:
    parser.add_argument(
        "--chip", default="hermes64", metavar="NAME|FILE",
        help="built-in chip name or path to a chip description YAML (default: hermes64)",
    )
    if faults:
        add_faults_option(parser)


def add_faults_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--faults", metavar="FILE",
        help="faults YAML laid over the chip (stuck_set, stuck_reset, stuck_devices, "
        "dead_cores, broken_links, seed; see docs/chip-description.md): replaces the "
        "description's own faults section",
    )


def add_system_options(parser: argparse.ArgumentParser) -> None:
    """--chips N or --system FILE: run on several chips joined by chip-to-chip links."""
    from chipsim.commands.arguments import COUNT

    where = parser.add_mutually_exclusive_group()
    where.add_argument("--chips", type=COUNT, default=None, metavar="N",
                       help="a system of N copies of --chip, in a line on the built-in "
                       "chip-to-chip link (docs/systems.md); layers are split between chips")
    where.add_argument("--system", default=None, metavar="FILE",
                       help="a system description YAML: its chip, how many, topology and "
                       "chip-to-chip link (docs/systems.md); replaces --chip")


def chip_from_args(args: argparse.Namespace) -> "Chip":
    """The chip of --chip, with the faults of --faults laid over it where given; with --chips N
    or --system FILE, the system of several such chips as one pool of cores."""
    from chipsim.arch.system import system_of

    return system_of(args.chip, getattr(args, "chips", None), getattr(args, "system", None),
                     getattr(args, "faults", None))


def add_mapping_options(parser: argparse.ArgumentParser, default_strategy: str) -> None:
    """--mapping FILE or --strategy NAME: where the network's placement comes from."""
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--mapping", metavar="FILE", help="mapping file (from `chipsim map`)")
    where.add_argument("--strategy", metavar="NAME", default=None,
                       help="place the network with this strategy instead of reading a mapping "
                       f"file (default when neither is given: {default_strategy})")
    parser.set_defaults(default_strategy=default_strategy)


def mapping_from_args(args: argparse.Namespace, chip: Any, layers: Any, graph: str) -> Any:
    """The mapping of --mapping, or of --strategy (an error lists the strategies)."""
    from chipsim.errors import MappingError
    from chipsim.mapping import STRATEGIES, Mapping

    if args.mapping:
        return Mapping.from_yaml(args.mapping, chip, layers)
    strategy = args.strategy or args.default_strategy
    if strategy not in STRATEGIES:
        raise MappingError(f"unknown strategy {strategy!r}; strategies: {', '.join(STRATEGIES)}")
    return STRATEGIES[strategy].place(layers, chip, graph=graph)


def add_cluster_options(parser: argparse.ArgumentParser, needs: str) -> None:
    """--workers N or --scheduler ADDR: where the Dask tasks of `sweep` and `nas` run;
    `needs` says what the scheduler's workers must be able to see."""
    from chipsim.commands.arguments import COUNT

    where = parser.add_mutually_exclusive_group()
    where.add_argument("--workers", type=COUNT, default=None, metavar="N",
                       help="single-threaded worker processes of the local Dask cluster started "
                       "for the run (default: one per core)")
    where.add_argument("--scheduler", default=None, metavar="ADDR",
                       help="run on the Dask cluster of this scheduler (tcp://host:8786) "
                       f"instead; {needs}")


def add_json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--json", action="store_true",
        help="print the figures as one JSON document on stdout and nothing else there",
    )


def print_json(obj: Any) -> None:
    """The only thing a command prints on stdout in --json mode."""
    json.dump(obj, sys.stdout, indent=2, sort_keys=False, default=_jsonable)
    sys.stdout.write("\n")


def _jsonable(value: Any) -> Any:
    # numpy scalars and arrays, tuples of them
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def add_calibrate_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--no-calibrate", action="store_true",
        help="measure an uncalibrated mapping as it is: on a chip whose DACs convert a fixed "
        "input range, every tile without a range then converts |x| <= 1 (the published "
        "uncalibrated baseline); by default such a mapping is calibrated first, on the "
        "calibration split of --data (synthetic calibration inputs without --data)",
    )


def progress(args: argparse.Namespace) -> Callable[[str], None]:
    """Progress lines on stderr (stdout stays for results; silent in --json mode)."""
    if args.json:
        return lambda message: None
    return lambda message: print(message, file=sys.stderr, flush=True)


def calibrate_unless_told(args: argparse.Namespace, graph: "Graph", layers: list["MatrixLayer"],
                          mapping: "Mapping", chip: "Chip", log: Callable[[str], None]
                          ) -> tuple["Mapping", str | None]:
    """The mapping a measuring command runs, and the line that says how its ranges were set
    (None on a chip that scales each vector, or when the mapping carries every range)."""
    from chipsim.calibration.auto import calibrate_for_run, uncalibrated_tiles

    if not args.no_calibrate:
        mapping, note = calibrate_for_run(graph, layers, mapping, chip, data=args.data,
                                          seed=args.seed, log=log)
    elif missing := uncalibrated_tiles(mapping, chip):
        note = (f"uncalibrated (--no-calibrate): {missing} of {len(mapping.placements)} tiles "
                f"convert |x| <= 1 on {chip.name}'s fixed-range DACs")
    else:
        note = None
    if note:
        log(note)
    return mapping, note


# -- output paths ------------------------------------------------------------------------------
# Every command checks where it will write before it does any work, the same way: a run of
# minutes must not end in a traceback because its folder cannot be made. The checks try what
# the write will do (make a folder or a file there, then remove it), since permission bits
# alone do not tell (root, read-only and virtual file systems).

def output_folder(path: str | Path, option: str) -> Path:
    """`path` as a folder a command can write into (made later, by the command), or an error
    naming `option` and what is wrong: a file of that name, a file above it, no permission."""
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise ChipsimError(f"{option} {out}: exists and is not a folder")
    if out.is_dir():
        _probe(out, option, out, folder=False)
    else:
        _probe(_existing_ancestor(out, option), option, out, folder=True)
    return out


def output_file(path: str | Path, option: str) -> Path:
    """`path` as a file a command can write (its folders made later, by the command), or an
    error naming `option`: a folder of that name, a file above it, no permission."""
    out = Path(path)
    if out.is_dir():
        raise ChipsimError(f"{option} {out}: is a folder; give a file name")
    if out.exists():
        try:
            with open(out, "ab"):  # opened for appending: nothing in it changes
                pass
        except OSError as err:
            raise ChipsimError(f"{option} {out}: cannot write it ({err.strerror})") from None
        return out
    where = _existing_ancestor(out.parent, option, out)
    _probe(where, option, out, folder=where != out.parent)
    return out


def _existing_ancestor(path: Path, option: str, target: Path | None = None) -> Path:
    """The nearest folder above (or at) `path` that exists; an error if a file stands there."""
    target = target or path
    for above in (path, *path.parents):
        if above.exists():
            if not above.is_dir():
                raise ChipsimError(f"{option} {target}: {above} is a file, not a folder")
            return above
    return Path(".")


def _probe(where: Path, option: str, target: Path, folder: bool) -> None:
    """Make (and remove) a folder or a file in `where`: an error naming `target` if it fails."""
    try:
        if folder:
            os.rmdir(tempfile.mkdtemp(prefix=".chipsim-", dir=where))
        else:
            handle, name = tempfile.mkstemp(prefix=".chipsim-", dir=where)
            os.close(handle)
            os.unlink(name)
    except OSError as err:
        raise ChipsimError(f"{option} {target}: cannot write in {where} "
                           f"({err.strerror or type(err).__name__})") from None


# -- times after programming ---------------------------------------------------------------------

#: the drift times of `accuracy` and `report` when --times is not given
DRIFT_TIMES = "1s,1h,1d,1y"


def note_early_times(times: list[float], chip: "Chip", option: str, default: str) -> None:
    """One line on stderr, in --json mode too, when the user asked for times before the PCM
    model's t0: they run the model as written (README, "Times after programming"). Called
    once the run starts, so a mistake found later is still the only line; the defaults
    (`default`) are documented and pass without it."""
    from chipsim.functional.times import format_time, parse_times

    t0 = getattr(chip.cores.device, "t0_s", None)
    early = [format_time(t) for t in times if t0 is not None and t < t0]
    if early and list(times) != parse_times(default):
        print(f"note: {option} {', '.join(early)}: before t0 = {t0:g} s of {chip.name}'s PCM "
              "model, whose statistics start there; run as written: drift factor "
              "((t + t0) / t0)^-nu, not yet the 2^-nu of t0 (README: Times after programming)",
              file=sys.stderr)
