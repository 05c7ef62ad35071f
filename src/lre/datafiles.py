"""Reading arrays from data files that cannot lie.

A lab's files (precomputed features, responses) are data, and lre reads only what is really
in them: an HDF5 dataset behind an external link, a virtual dataset or external raw storage
(whose missing source reads as zeros, and whose changed target no hash of the file notices),
a group where an array belongs, an NPZ object array (which only unpickling, that is running
code, could read) are refused with what they are and how to store the array instead.
Values are checked after the cast to float32, where lre computes: complex values (whose
imaginary part a cast would drop), numbers beyond float32's range (finite before the cast,
infinite after) and rows that are extreme outliers of their array (a sentinel such as 3e38
or -9999 standing for a missing value) are refused, naming the row.
"""

from __future__ import annotations

import numpy as np

from .errors import InputError

#: a row whose largest absolute value exceeds this many times the median row's is refused
OUTLIER_FACTOR = 1000.0

STORE_H5 = "store the array itself in the file (h5py: f[name] = array)"


def h5_array(f, key: str, path) -> np.ndarray:
    """The array ``key`` of an open h5py file, refusing what is not stored in the file itself:
    an external link, a group, a virtual dataset, a dataset whose data lie in external files."""
    import h5py

    link = f.get(key, getlink=True)
    if isinstance(link, h5py.ExternalLink):
        raise InputError(
            path,
            f"{key!r} is an external link to {link.filename}:{link.path}: its data are not in this file (a missing "
            "target reads as nothing, a changed one goes unnoticed).",
            fix=f"{STORE_H5}, not a link.",
        )
    obj = f[key]
    if not isinstance(obj, h5py.Dataset):
        members = list(obj)[:5] if isinstance(obj, h5py.Group) else []
        raise InputError(
            path,
            f"{key!r} is a group (holding {members}), not an array.",
            fix=f"{STORE_H5} under {key!r}.",
        )
    if obj.is_virtual:
        sources = sorted({s.file_name for s in obj.virtual_sources()})[:3]
        raise InputError(
            path,
            f"{key!r} is a virtual dataset mapping other files ({sources}): a missing source reads as zeros, a "
            "changed one goes unnoticed.",
            fix=f"{STORE_H5}: h5py's f.create_dataset(name, data=virtual[()]) copies it in.",
        )
    if obj.external:
        raise InputError(
            path,
            f"{key!r} keeps its data in external raw files ({[e[0] for e in obj.external][:3]}).",
            fix=f"{STORE_H5}.",
        )
    return obj[()]


def npz_array(z, key: str, path) -> np.ndarray:
    """The array ``key`` of an open NPZ file (``numpy.load(..., allow_pickle=False)``), refusing
    an object array (strings of mixed length, ragged lists), which only unpickling could read."""
    try:
        return np.asarray(z[key])
    except ValueError as e:
        if "allow_pickle" not in str(e):
            raise
        raise InputError(
            path,
            f"array {key!r} is an object array, which lre does not unpickle (a data file must not run code).",
            fix=f"save numbers: numpy.savez(path, {key}=numpy.asarray(x, dtype=numpy.float32)) (words as "
            "numpy.asarray(words, dtype=str)).",
        ) from None


def real_float32(a: np.ndarray, path, where: str, row_name=None, nonfinite_ok: bool = False) -> np.ndarray:
    """``a`` as float32, refusing non-numbers, complex values and values that are not finite
    after the cast (NaN or infinity in the file, or beyond float32's range), naming the first
    such row (``row_name(row)`` describes it). With ``nonfinite_ok``, NaN and infinity that
    are in the file pass (the caller drops them); a finite value beyond float32 never does."""
    a = np.asarray(a)
    if np.iscomplexobj(a):
        raise InputError(
            path,
            f"{where} holds complex numbers ({a.dtype}); a cast to real would drop their imaginary part.",
            fix="store real values (e.g. the magnitude, or the real and imaginary parts as columns).",
        )
    if not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
        raise InputError(path, f"{where} holds {a.dtype}, not numbers.", fix="store numbers.")
    with np.errstate(over="ignore", invalid="ignore"):
        out = a.astype(np.float32, copy=False)
    bad = ~np.isfinite(out)
    if nonfinite_ok and bad.any():
        with np.errstate(invalid="ignore"):
            bad &= np.isfinite(a.astype(np.float64))  # only values made infinite by the cast
    if bad.any():
        rows = bad.reshape(len(out), -1).any(1) if out.ndim > 1 else bad
        row = int(np.flatnonzero(rows)[0])
        name = f" ({row_name(row)})" if row_name else ""
        source = np.asarray(a).reshape(len(a), -1)[row] if a.ndim > 1 else a[row : row + 1]
        if np.isfinite(source.astype(np.float64)).all():
            big = float(np.max(np.abs(source.astype(np.float64))))
            raise InputError(
                path,
                f"{where} has values beyond float32's range (up to {big:.3g} in row {row}{name}), which are infinite "
                "in float32, where lre computes.",
                fix="rescale the values (or store what they stand for: a missing value is not a huge number).",
            )
        raise InputError(
            path,
            f"{where} has {int(bad.sum())} NaN or infinite values, the first in row {row}{name}.",
            fix="fill or drop them where the data are made.",
        )
    return out


def check_outlier_rows(a: np.ndarray, path, where: str, row_name=None, factor: float = OUTLIER_FACTOR) -> None:
    """Refuse an extreme outlier row: its largest absolute value above ``factor`` times the
    median row's (a sentinel such as 3e38 or -9999 for a missing value). Arrays with one row,
    or whose median row is all zeros, are not judged."""
    if a.ndim != 2 or len(a) < 2:
        return
    peak = np.abs(a).max(1).astype(np.float64)
    typical = float(np.median(peak))
    if typical <= 0:
        return
    out = np.flatnonzero(peak > factor * typical)
    if out.size:
        row = int(out[0])
        name = f" ({row_name(row)})" if row_name else ""
        raise InputError(
            path,
            f"{where}: row {row}{name} reaches {peak[row]:.3g}, {peak[row] / typical:.3g} times the typical row's "
            f"largest value ({typical:.3g}); {out.size} such row(s), most likely a stand-in for a missing value.",
            fix="store real values for those rows (or drop those words where the features are made).",
        )
