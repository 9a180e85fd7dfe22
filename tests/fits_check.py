"""The astropy and numpy side of the FITS tests (tests/test_fits_e2e.c).

  fits_check.py table CSV OUT.fits        the catalogue CSV as a FITS table (astropy)
  fits_check.py mpajhu DIR                MPA-JHU-shaped info + line tables and the
                                          equivalent single CSV, in DIR
  fits_check.py stretch DIR               a cutout cube and its RGB by numpy
  fits_check.py cutouts DIR N             N galaxies as FITS cubes in DIR/images and
                                          their catalogue DIR/galaxies.csv
  fits_check.py export RUN.fits NPY IDS   the dense export read by astropy equals
                                          the .npy export
  fits_check.py pairs RUN.fits NPY IDS K  the --pairs export equals the top k of the .npy
  fits_check.py predict OUT.fits OUT.csv  predict's FITS table equals its CSV

Exit status 0 when the check holds; a message on stderr otherwise."""
import csv
import os
import sys

import numpy as np
from astropy.io import fits
from astropy.table import Table


def fail(msg):
    sys.stderr.write("fits_check: %s\n" % msg)
    sys.exit(1)


def table(csv_path, out):
    t = Table.read(csv_path, format="ascii.csv")
    if t["objID"].dtype.kind != "i":
        fail("objID not read as integers")
    t["objID"] = t["objID"].astype(np.int64)
    # upper case, as the MPA-JHU files spell their columns
    for name in t.colnames:
        if name != "objID":
            t.rename_column(name, name.upper())
    t.write(out, overwrite=True)


def mpajhu(out):
    """gal_info-like and gal_line-like tables sharing their row order, with the
    catalogue's missing-value conventions, and the CSV a user would have made."""
    rng = np.random.default_rng(18)
    n = 240
    ids = np.array([1237648720693755918 + 7919 * i for i in range(n)], dtype=np.int64)
    plate = rng.integers(266, 3000, n).astype(np.int32)
    info = {
        "OBJID": ids,
        "PLATEID": plate,
        "RA": rng.uniform(0, 360, n),
        "DEC": rng.uniform(-10, 70, n),
        "Z": rng.uniform(0.02, 0.3, n).astype(np.float32),
        "OH_P50": rng.normal(8.9, 0.3, n).astype(np.float32),
        "LGM_TOT_P50": rng.normal(10.2, 0.6, n).astype(np.float32),
        "SFR_TOT_P50": rng.normal(0.0, 1.0, n).astype(np.float32),
    }
    info["OH_P50"][rng.random(n) < 0.15] = -9999.0
    info["OH_P50"][rng.random(n) < 0.05] = np.nan
    info["OH_P50"][rng.random(n) < 0.05] = -1.0
    info["LGM_TOT_P50"][rng.random(n) < 0.05] = -9999.0
    info["SFR_TOT_P50"][rng.random(n) < 0.08] = -99.0
    line = {"PLATEID": plate}
    for name in ["NII_6584_FLUX", "H_ALPHA_FLUX", "OIII_5007_FLUX", "H_BETA_FLUX"]:
        flux = rng.lognormal(3.5, 1.2, n).astype(np.float32)
        err = rng.lognormal(1.5, 0.8, n).astype(np.float32)
        flux[rng.random(n) < 0.03] = 2e5
        flux[rng.random(n) < 0.04] = -9999.0
        err[rng.random(n) < 0.03] = 0.0
        line[name] = flux
        line[name + "_ERR"] = err
    # an integer column with TNULL in the line table: BPTCLASS-like
    bpt = rng.integers(-1, 5, n).astype(np.int16)
    bpt_null = rng.random(n) < 0.1
    cols = [fits.Column(name=k, format={"i": "J", "f": "E"}[v.dtype.kind] if k != "PLATEID" else "J",
                        array=v) for k, v in line.items()]
    bpt_written = bpt.copy()
    bpt_written[bpt_null] = -32768
    cols.append(fits.Column(name="BPTCLASS", format="I", null=-32768, array=bpt_written))
    fits.BinTableHDU.from_columns(cols, name="GALLINE").writeto(
        os.path.join(out, "gal_line.fits"), overwrite=True)
    icols = []
    for k, v in info.items():
        fmt = {"i": "K" if v.dtype == np.int64 else "J", "f": "D" if v.dtype == np.float64 else "E"}[v.dtype.kind]
        icols.append(fits.Column(name=k, format=fmt, array=v))
    fits.BinTableHDU.from_columns(icols, name="GALINFO").writeto(
        os.path.join(out, "gal_info.fits"), overwrite=True)
    with open(os.path.join(out, "galaxies.csv"), "w", newline="") as f:
        w = csv.writer(f)
        names = [k for k in info] + [k for k in line if k != "PLATEID"] + ["BPTCLASS"]
        w.writerow(["objID" if k == "OBJID" else k.lower() for k in names])
        for i in range(n):
            row = []
            for k in names:
                if k == "BPTCLASS":
                    row.append("" if bpt_null[i] else str(bpt[i]))
                    continue
                v = info[k][i] if k in info else line[k][i]
                if v.dtype.kind == "f":
                    row.append("nan" if np.isnan(v) else repr(float(v)))
                else:
                    row.append(str(int(v)))
            w.writerow(row)


def stretch(out):
    """A (3, H, W) cube of fluxes and its RGB by the Legacy Survey viewer's SDSS
    settings, computed here in float64 from the formula (not from our C code)."""
    rng = np.random.default_rng(2004)
    h, w = 41, 37
    y, x = np.mgrid[0:h, 0:w]
    galaxy = 3.0 * np.exp(-((x - 18.0) ** 2 + (y - 20.0) ** 2) / 40.0)
    cube = np.stack([galaxy * s for s in (0.6, 1.0, 1.3)]) + rng.normal(0, 0.05, (3, h, w))
    cube = cube.astype(np.float32)
    cube[1, 3, 4] = np.nan
    hdu = fits.PrimaryHDU(cube)
    for b, band in enumerate("gri"):
        hdu.header["BAND%d" % b] = band
    hdu.writeto(os.path.join(out, "cube.fits"), overwrite=True)
    img = np.nan_to_num(cube.astype(np.float64), nan=0.0)
    scales = {"g": (2, 2.5), "r": (1, 1.5), "i": (0, 1.0)}
    m, q = 0.02, 20.0
    scaled = [img[b] * scales[band][1] + m for b, band in enumerate("gri")]
    intensity = sum(np.maximum(0, s) for s in scaled) / 3.0
    f = np.arcsinh(q * intensity) / np.sqrt(q)
    intensity = np.where(intensity == 0, 1e-6, intensity)
    rgb = np.zeros((h, w, 3))
    for b, band in enumerate("gri"):
        rgb[:, :, scales[band][0]] = scaled[b] * f / intensity
    rgb = np.clip(rgb, 0, 1)
    # FITS row 0 is the bottom edge; images are drawn top row first
    rgb = (rgb[::-1] * 255).astype(np.uint8)
    rgb.tofile(os.path.join(out, "expected.rgb"))


def cutouts(out, n):
    rng = np.random.default_rng(7)
    os.makedirs(os.path.join(out, "images"), exist_ok=True)
    y, x = np.mgrid[0:48, 0:48]
    with open(os.path.join(out, "galaxies.csv"), "w") as f:
        f.write("objID,oh_p50\n")
        for i in range(int(n)):
            oid = 1237648720693755918 + i
            size = rng.uniform(10, 60)
            colour = rng.uniform(0.4, 1.6)
            g = 2.0 * np.exp(-((x - 24) ** 2 + (y - 24) ** 2) / size)
            cube = np.stack([g * colour, g, g / colour]) + rng.normal(0, 0.03, (3, 48, 48))
            hdu = fits.PrimaryHDU(cube.astype(np.float32))
            hdu.header["BANDS"] = "gri"
            hdu.writeto(os.path.join(out, "images", "%d.fits" % oid), overwrite=True)
            f.write("%d,%.6f\n" % (oid, 8.6 + 0.2 * colour))


def read_ids(path):
    with open(path) as f:
        return [line.strip() for line in f if line.strip()]


def export(run_fits, npy, ids_path):
    t = Table.read(run_fits, hdu=1)
    dense = np.load(npy)
    ids = read_ids(ids_path)
    if len(t) != dense.shape[0]:
        fail("%d rows, the .npy has %d" % (len(t), dense.shape[0]))
    if [str(v) for v in t["OBJID"]] != ids:
        fail("objIDs differ")
    if t["OBJID"].dtype.kind != "i" or t["OBJID"].dtype.itemsize != 8:
        fail("OBJID is %s, not a 64-bit integer" % t["OBJID"].dtype)
    act = np.asarray(t["ACTIVATIONS"], dtype=np.float32)
    if act.shape != dense.shape or not np.array_equal(act, dense):
        fail("activations differ from the .npy")
    if not any(c.startswith("PRED_") for c in t.colnames):
        fail("no prediction column")
    for c in t.colnames:
        if c.startswith("PRED_") and not np.all(np.isfinite(t[c])):
            fail("%s has non-finite values" % c)
    hdr = fits.getheader(run_fits, 1)
    if hdr["NFEAT"] != dense.shape[1]:
        fail("NFEAT %s" % hdr["NFEAT"])
    print("export: %d rows x %d features equal" % dense.shape)


def pairs(run_fits, npy, ids_path, k):
    t = Table.read(run_fits, hdu=1)
    dense = np.load(npy)
    k = int(k)
    for i in range(len(t)):
        row = dense[i]
        order = sorted([f for f in range(row.size) if row[f] > 0], key=lambda f: (-row[f], f))[:k]
        for j in range(k):
            feat, val = int(t["FEATURE_%d" % (j + 1)][i]), float(t["VALUE_%d" % (j + 1)][i])
            if j < len(order):
                if feat != order[j] or np.float32(val) != row[order[j]]:
                    fail("row %d pair %d: (%d, %g) but the .npy says (%d, %g)"
                         % (i, j + 1, feat, val, order[j], row[order[j]]))
            elif feat != -1:
                fail("row %d pair %d: feature %d where none is active" % (i, j + 1, feat))
    print("pairs: %d rows equal" % len(t))


def predict(out_fits, out_csv):
    t = Table.read(out_fits, hdu=1)
    with open(out_csv) as f:
        rows = list(csv.reader(f))
    header, rows = rows[0], rows[1:]
    if len(rows) != len(t):
        fail("%d rows, the CSV has %d" % (len(t), len(rows)))
    for i, r in enumerate(rows):
        if str(t["OBJID"][i]) != r[0]:
            fail("row %d: objID %s, CSV %s" % (i, t["OBJID"][i], r[0]))
        for j, name in enumerate(header[1:], start=1):
            col = name.upper() if name.upper() in t.colnames else name
            got = float(t[col][i])
            # the CSV has 7 significant digits (%.7g)
            if abs(got - float(r[j])) > 1e-6 * max(1.0, abs(got)):
                fail("row %d %s: %r, CSV %s" % (i, name, got, r[j]))
    print("predict: %d rows equal" % len(t))


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"table": table, "mpajhu": mpajhu, "stretch": stretch, "cutouts": cutouts,
     "export": export, "pairs": pairs, "predict": predict}[cmd](*args)
