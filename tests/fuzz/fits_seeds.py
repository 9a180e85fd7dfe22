"""Seed inputs for the FITS fuzz harnesses, written by astropy: small catalogues
(every numeric column type, text and 64-bit IDs, TNULL, an ASCII table, a file with
its table in the third HDU) and cutouts (a cube, three image HDUs, integer planes).

usage: fits_seeds.py CATALOG_DIR CUTOUT_DIR"""
import os
import sys

import numpy as np
from astropy.io import fits
from astropy.table import Table


def catalogues(out):
    n = 6
    rng = np.random.default_rng(1)
    t = Table()
    t["objID"] = np.array([1237648720693755918 + i for i in range(n)], dtype=np.int64)
    for name, dt in [("b", np.uint8), ("i", np.int16), ("u", np.uint16), ("j", np.int32),
                     ("v", np.uint32), ("k", np.int64), ("e", np.float32), ("d", np.float64)]:
        t[name] = (rng.integers(0, 100, n)).astype(dt)
    t["oh_p50"] = rng.normal(8.9, 0.2, n)
    t["lgm_tot_p50"] = rng.normal(10, 0.5, n)
    t["sfr_tot_p50"] = rng.normal(0, 1, n)
    t["name"] = ["g%d" % i for i in range(n)]
    t["vec"] = rng.normal(size=(n, 3))
    t.write(os.path.join(out, "types.fits"), overwrite=True)
    lines = Table()
    lines["SPECOBJID"] = ["%019d" % (299489677444933632 + i) for i in range(n)]
    for line in ["nii_6584_flux", "h_alpha_flux", "oiii_5007_flux", "h_beta_flux"]:
        lines[line.upper()] = rng.uniform(10, 100, n).astype(np.float32)
        lines[line.upper() + "_ERR"] = rng.uniform(1, 5, n).astype(np.float32)
    lines.write(os.path.join(out, "lines.fits"), overwrite=True)
    col = fits.Column(name="objID", format="K", null=-1, array=np.array([1, -1, 3]))
    col2 = fits.Column(name="z", format="J", null=-99, array=np.array([5, -99, 7]))
    fits.BinTableHDU.from_columns([col, col2]).writeto(os.path.join(out, "tnull.fits"),
                                                       overwrite=True)
    a = fits.TableHDU.from_columns([fits.Column(name="objID", format="I10", array=[1, 2]),
                                    fits.Column(name="z", format="E12.4", array=[0.1, 0.2])])
    a.writeto(os.path.join(out, "ascii.fits"), overwrite=True)
    hdus = fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(np.zeros((4, 4), np.float32)),
                         fits.BinTableHDU(t[:3])])
    hdus.writeto(os.path.join(out, "third.fits"), overwrite=True)


def cutouts(out):
    rng = np.random.default_rng(2)
    cube = rng.normal(0, 0.1, (3, 16, 16)).astype(np.float32)
    h = fits.PrimaryHDU(cube)
    for b, band in enumerate("gri"):
        h.header["BAND%d" % b] = band
    h.writeto(os.path.join(out, "cube.fits"), overwrite=True)
    hdus = [fits.PrimaryHDU()] + [fits.ImageHDU(p) for p in cube]
    fits.HDUList(hdus).writeto(os.path.join(out, "three.fits"), overwrite=True)
    fits.PrimaryHDU((cube * 1000).astype(np.int16)).writeto(os.path.join(out, "int16.fits"),
                                                            overwrite=True)


if __name__ == "__main__":
    os.makedirs(sys.argv[1], exist_ok=True)
    os.makedirs(sys.argv[2], exist_ok=True)
    catalogues(sys.argv[1])
    cutouts(sys.argv[2])
