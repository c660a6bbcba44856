"""MATLAB ``.mat`` recordings, read on the desktop with scipy (registered into the recording readers on import).

The device reads no .mat (firmware_io and edge_agent import no scipy): convert to npz for it.
"""
from __future__ import annotations

import io

import numpy as np

from firmware_io.recordings import sources
from firmware_io.recordings.reader import RecordingError
from firmware_io.recordings.sources import Block, ReadOptions, samples_block

#: Names a MATLAB file's sample rate goes by (the scalar read as the rate when --sample-rate is not given).
_RATE_NAMES = {"sr", "fs", "sample_rate", "sample_rate_hz", "samplerate", "sampling_rate", "samplingrate"}


def _mat_arrays(value, prefix: str, out: dict[str, np.ndarray]) -> None:
    """Flatten a loadmat result: numeric arrays by dotted name, struct fields included."""
    if isinstance(value, np.ndarray) and value.dtype.names:  # a struct (array)
        if value.size == 1:
            for field_name in value.dtype.names:
                _mat_arrays(value.flat[0][field_name], f"{prefix}.{field_name}", out)
        return
    if isinstance(value, np.ndarray) and value.dtype == object and value.size == 1:
        _mat_arrays(value.flat[0], prefix, out)
        return
    if isinstance(value, np.ndarray) and (np.issubdtype(value.dtype, np.integer)
                                          or np.issubdtype(value.dtype, np.floating)):
        out[prefix] = value


def parse_mat(data: bytes, where: str, options: ReadOptions) -> Block:
    """A MATLAB ``.mat`` (v5; read with scipy, a desktop dependency): ``--variable NAME`` (dotted for a
    struct field, e.g. ``bearing.gs``) or the only array of samples; the rate from a scalar named like
    ``sr`` or ``fs`` beside it when the file has one."""
    from scipy.io import loadmat  # a desktop dependency, like this module

    try:
        raw = loadmat(io.BytesIO(data))
    except (ValueError, TypeError, OSError, NotImplementedError) as exc:
        raise RecordingError(f"{where}: not a readable MATLAB v5 file ({exc}); MATLAB v7.3 files are HDF5: "
                             "save with -v7 or convert to .npz") from None
    arrays: dict[str, np.ndarray] = {}
    for key, value in raw.items():
        if not key.startswith("__"):
            _mat_arrays(value, key, arrays)
    series = {k: v for k, v in arrays.items() if v.size > 1}
    if options.variable:
        if options.variable not in arrays:
            raise RecordingError(f"{where}: no numeric array {options.variable!r}; it has {sorted(series)}")
        name = options.variable
    elif len(series) == 1:
        name = next(iter(series))
    else:
        listing = ", ".join(f"{k} {v.shape}" for k, v in sorted(series.items())) or "none"
        raise RecordingError(f"{where}: {len(series)} numeric arrays ({listing}); pick one with --variable NAME")
    arr = arrays[name]
    if arr.ndim == 2 and arr.shape[0] < arr.shape[1]:
        arr = arr.T  # MATLAB row vectors and channels-by-samples matrices: samples run down the rows here
    parent = name.rsplit(".", 1)[0] + "." if "." in name else ""
    rates = [float(v.flat[0]) for k, v in arrays.items()
             if v.size == 1 and k.startswith(parent) and k[len(parent):].lower() in _RATE_NAMES]
    return samples_block(arr, f"{where}:{name}", options.scale, rates[0] if len(rates) == 1 else None)


sources.DESKTOP_READERS[".mat"] = parse_mat
