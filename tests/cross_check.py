"""Recomputes with numpy and scipy what sfnet-explore says between runs, from the dense
activations `export-activations` writes, and compares to 1e-6:
  - counterparts (`features DB F --similar --in RUN2 --json`): Pearson r, n_both, n_this,
    f_cond, n_active, f_cond_rev, n_shared, and that they are the largest r;
  - the compare view (`compare --json DB A B`): the live features, every r and n_both,
    and the ridge R^2 of each of B's features from all of A's (fitted on the shared
    galaxies of B's training split, scored on its validation split);
  - similar galaxies (`galaxy --similar --json`): cosine of the codes.
The splits are read from the run database with Python's sqlite3.

Usage: cross_check.py SFNET_BIN RUN.db TMPDIR   (prints "cross_check: ok" or fails)
"""
import json
import sqlite3
import subprocess
import sys

import numpy as np
import scipy.linalg
import scipy.stats

TOL = 1e-6


def run(bin_path, *args):
    out = subprocess.run([bin_path, *args], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"{' '.join(args)} failed ({out.returncode}): {out.stderr}")
    return out.stdout


def activations(bin_path, db, prefix, tmp):
    path = f"{tmp}/{prefix}.npy"
    run(bin_path, "export-activations", db, prefix, path)
    acts = np.load(path).astype(np.float64)
    objids = np.loadtxt(f"{tmp}/{prefix}.objids.txt", dtype=str, ndmin=1)
    return acts, list(objids)


def splits(db, prefix):
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    rows = con.execute(
        "SELECT g.objid, rg.split FROM run_galaxies rg JOIN galaxies g ON g.id = rg.galaxy_id "
        "JOIN runs r ON r.id = rg.run_id WHERE r.prefix = ?", (prefix,)).fetchall()
    con.close()
    return dict(rows)


def aligned(runs, a, b):
    """Rows of a and b over the objIDs both hold, in a's order."""
    (xa, ida), (xb, idb) = runs[a], runs[b]
    where_b = {o: i for i, o in enumerate(idb)}
    ra = [i for i, o in enumerate(ida) if o in where_b]
    rb = [where_b[ida[i]] for i in ra]
    return xa[ra], xb[rb], [ida[i] for i in ra]


def close(what, got, want):
    if got is None or want is None or not np.isfinite(want):
        if not (got is None and (want is None or not np.isfinite(want))):
            sys.exit(f"{what}: got {got}, numpy says {want}")
        return
    if abs(got - want) > TOL:
        sys.exit(f"{what}: got {got!r}, numpy says {want!r} (difference {abs(got - want):.3g})")


def pearson(x, y):
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return None
    return scipy.stats.pearsonr(x, y)[0]


def check_counterparts(bin_path, db, runs, a, b, features):
    x, y, _ = aligned(runs, a, b)
    for f in features:
        listed = json.loads(run(bin_path, "features", db, f"{a} {f}", "--similar", "--in", b, "-n", "1000",
                                "--json"))
        r_all = {j: pearson(x[:, f], y[:, j]) for j in range(y.shape[1])}
        defined = sorted((j for j in r_all if r_all[j] is not None), key=lambda j: (-r_all[j], j))
        if len(listed) != len(defined):
            sys.exit(f"{a} {f} in {b}: {len(listed)} counterparts listed, numpy defines r for {len(defined)}")
        n_this = int((x[:, f] > 0).sum())
        for rank, item in enumerate(listed):
            j = int(item["counterpart"].split()[-1])
            what = f"{a} {f} -> {item['counterpart']}"
            close(what + " r", item["r"], r_all[j])
            close(what + " rank", r_all[j], r_all[defined[rank]])
            both = int(((x[:, f] > 0) & (y[:, j] > 0)).sum())
            n_active = int((y[:, j] > 0).sum())
            close(what + " n_both", item["n_both"], both)
            close(what + " n_this", item["n_this"], n_this)
            close(what + " n_active", item["n_active"], n_active)
            close(what + " n_shared", item["n_shared"], x.shape[0])
            close(what + " f_cond", item["f_cond"], both / n_this if n_this else None)
            close(what + " f_cond_rev", item["f_cond_rev"], both / n_active if n_active else None)


def ridge_r2(xt, yt, xv, yv, alpha):
    mx, my = xt.mean(axis=0), yt.mean()
    xc = xt - mx
    w = scipy.linalg.solve(xc.T @ xc + alpha * np.eye(xt.shape[1]), xc.T @ (yt - my), assume_a="pos")
    pred = my + (xv - mx) @ w
    sst = ((yv - yv.mean()) ** 2).sum()
    return 1 - ((yv - pred) ** 2).sum() / sst if sst > 0 else None


def check_compare(bin_path, db, runs, split_of, a, b, alpha):
    got = json.loads(run(bin_path, "compare", "--json", "--alpha", str(alpha), db, a, b))
    x, y, objids = aligned(runs, a, b)
    close(f"{a}/{b} n_shared", got["n_shared"], len(objids))
    live_a = sorted(np.nonzero((x > 0).any(axis=0))[0].tolist())
    live_b = sorted(np.nonzero((y > 0).any(axis=0))[0].tolist())
    rows = [r["index"] for r in got["rows"]]
    cols = [c["index"] for c in got["columns"]]
    if sorted(rows) != live_a or sorted(cols) != live_b:
        sys.exit(f"{a}/{b}: live features differ from numpy's")
    for i, fa in enumerate(rows):
        close(f"{a} {fa} n_active", got["rows"][i]["n_active"], int((x[:, fa] > 0).sum()))
        for j, fb in enumerate(cols):
            close(f"r({a} {fa}, {b} {fb})", got["r"][i][j], pearson(x[:, fa], y[:, fb]))
            close(f"n_both({a} {fa}, {b} {fb})", got["n_both"][i][j], int(((x[:, fa] > 0) & (y[:, fb] > 0)).sum()))
    valid = np.array([split_of[b][o] for o in objids]) == 1
    close(f"{a}/{b} n_train", got["n_train"], int((~valid).sum()))
    close(f"{a}/{b} n_valid", got["n_valid"], int(valid.sum()))
    for j, fb in enumerate(cols):
        want = ridge_r2(x[~valid], y[~valid, fb], x[valid], y[valid, fb], alpha)
        close(f"R^2 of {b} {fb} from {a} (alpha {alpha})", got["columns"][j]["r2"], want)


def check_similar(bin_path, db, runs, prefix, objid):
    x, ids = runs[prefix]
    got = json.loads(run(bin_path, "galaxy", "--similar", "-n", "6", "--run", prefix, "--json", db, objid))
    g = ids.index(objid)
    norms = np.linalg.norm(x, axis=1)
    cos = (x @ x[g]) / np.where(norms > 0, norms * norms[g], 1)
    cos[g] = -np.inf
    cos[norms == 0] = -np.inf
    cos[cos <= 0] = -np.inf
    order = sorted(range(len(ids)), key=lambda i: (-cos[i], i))[:6]
    order = [i for i in order if np.isfinite(cos[i])]
    if len(got) != len(order):
        sys.exit(f"similar to {objid} in {prefix}: {len(got)} listed, numpy finds {len(order)}")
    for rank, item in enumerate(got):
        h = ids.index(item["objid"])
        close(f"cosine({objid}, {item['objid']})", item["cosine"], cos[h])
        close(f"similar to {objid}: rank {rank}", cos[h], cos[order[rank]])
        close(f"n_common({objid}, {item['objid']})", item["n_common"], int(((x[g] > 0) & (x[h] > 0)).sum()))


def main():
    bin_path, db, tmp = sys.argv[1:4]
    prefixes = ["A", "B", "C"]
    runs = {p: activations(bin_path, db, p, tmp) for p in prefixes}
    split_of = {p: splits(db, p) for p in prefixes}
    check_counterparts(bin_path, db, runs, "A", "B", [0, 1, 3, 9])
    check_counterparts(bin_path, db, runs, "B", "C", [0, 2, 7])
    check_counterparts(bin_path, db, runs, "C", "A", [0, 5, 50])
    for a, b, alpha in [("A", "B", 1.0), ("C", "A", 1.0), ("B", "C", 0.5), ("A", "C", 3.0)]:
        check_compare(bin_path, db, runs, split_of, a, b, alpha)
    for prefix, objid in [("A", "5007"), ("B", "5300"), ("C", "5123")]:
        check_similar(bin_path, db, runs, prefix, objid)
    print("cross_check: ok")


if __name__ == "__main__":
    main()
