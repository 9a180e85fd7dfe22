-- schema.sql: the sfnet-explore run database, schema version 1.
--
-- One file holds several runs (trained SFNets) over a shared set of galaxies.
-- store.c runs this script once, inside a transaction, on a new database; it
-- sets PRAGMA application_id (0x53464e58, "SFNX") and PRAGMA user_version
-- itself. Later versions add migrations in store.c, never edit this history in
-- place: a database written with version N must open with every later binary.
--
-- Size: the per-galaxy tables are WITHOUT ROWID with integer keys and REAL
-- values, so one galaxy costs a few hundred bytes per run plus its thumbnail.
-- Activations hold only the non-zero (feature, value) pairs of the top-k layer.

-- Trained models. prefix names the features of the run ("Z" -> "Z 256").
CREATE TABLE runs (
    id            INTEGER PRIMARY KEY,
    prefix        TEXT NOT NULL UNIQUE,
    target_spec   TEXT NOT NULL,           -- "metallicity", "bpt_lines", "col,col"
    n_out         INTEGER NOT NULL,
    k             INTEGER NOT NULL,        -- active features per galaxy, 0 = dense
    width         INTEGER NOT NULL,        -- ResNet base width, d = 8 * width
    d             INTEGER NOT NULL,
    seed          INTEGER NOT NULL,        -- weights init and batch order
    split_seed    INTEGER NOT NULL,        -- train/valid split
    n_galaxies    INTEGER NOT NULL,
    n_train       INTEGER NOT NULL,
    n_valid       INTEGER NOT NULL,
    train_rmse    REAL,                    -- over all outputs, target units
    valid_rmse    REAL,
    hyper         TEXT NOT NULL,           -- JSON: epochs, batch, lr, schedule, resize, crop ...
    normalisation TEXT NOT NULL,           -- JSON: {"mean":[r,g,b],"std":[r,g,b]} on the 0..1 scale
    curve         TEXT NOT NULL,           -- JSON: [{"epoch":1,"train_loss":..,"valid_rmse":..,"lr":..}]
    catalog       TEXT NOT NULL,           -- catalogue path at training time ("" = synthetic)
    images        TEXT NOT NULL,
    engine        TEXT NOT NULL,
    train_seconds REAL,
    created       TEXT NOT NULL,           -- ISO 8601 UTC
    tool_version  TEXT NOT NULL,
    CHECK (n_out >= 1 AND d >= 1 AND k >= 0 AND k <= d)
);

-- One row per output of a run: its name, the head's bias, how targets were
-- standardised for training (prediction = (b + w.a) * std + mean), its RMSEs.
CREATE TABLE run_targets (
    run_id     INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    target     INTEGER NOT NULL,
    name       TEXT NOT NULL,
    bias       REAL NOT NULL,
    mean       REAL NOT NULL,
    std        REAL NOT NULL,
    train_rmse REAL,
    valid_rmse REAL,
    PRIMARY KEY (run_id, target)
) WITHOUT ROWID;

-- The model's weights as a safetensors file (PyTorch state-dict names).
CREATE TABLE run_weights (
    run_id      INTEGER PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
    safetensors BLOB NOT NULL
);

-- Galaxies, shared by every run that saw them.
CREATE TABLE galaxies (
    id    INTEGER PRIMARY KEY,
    objid TEXT NOT NULL UNIQUE,
    ra    REAL,
    dec   REAL
);

-- Numeric catalogue columns (everything but objID, ra, dec), column-major so
-- that "every galaxy's oh_p50" is one range scan. Missing values are absent.
CREATE TABLE catalog_columns (
    id   INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);
CREATE TABLE catalog_values (
    column_id INTEGER NOT NULL REFERENCES catalog_columns(id),
    galaxy_id INTEGER NOT NULL REFERENCES galaxies(id),
    value     REAL NOT NULL,
    PRIMARY KEY (column_id, galaxy_id)
) WITHOUT ROWID;

-- A small cutout (JPEG), so the database shows galaxies without the image folder.
CREATE TABLE thumbnails (
    galaxy_id INTEGER PRIMARY KEY REFERENCES galaxies(id),
    format    TEXT NOT NULL,                -- "jpeg"
    width     INTEGER NOT NULL,
    height    INTEGER NOT NULL,
    image     BLOB NOT NULL
);

-- Per run and galaxy: its split (0 train, 1 valid).
CREATE TABLE run_galaxies (
    run_id    INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    galaxy_id INTEGER NOT NULL REFERENCES galaxies(id),
    split     INTEGER NOT NULL CHECK (split IN (0, 1)),
    PRIMARY KEY (run_id, galaxy_id)
) WITHOUT ROWID;

-- Per run, galaxy and output: the prediction and the truth (target units).
CREATE TABLE predictions (
    run_id    INTEGER NOT NULL,
    galaxy_id INTEGER NOT NULL,
    target    INTEGER NOT NULL,
    pred      REAL NOT NULL,
    truth     REAL NOT NULL,
    PRIMARY KEY (run_id, galaxy_id, target),
    FOREIGN KEY (run_id, galaxy_id) REFERENCES run_galaxies(run_id, galaxy_id) ON DELETE CASCADE
) WITHOUT ROWID;

-- The non-zero top-k activations: "features of galaxy g" is the primary key,
-- "top galaxies of feature f" the index below (covering: it holds galaxy_id).
CREATE TABLE activations (
    run_id    INTEGER NOT NULL,
    galaxy_id INTEGER NOT NULL,
    feature   INTEGER NOT NULL,
    value     REAL NOT NULL,
    PRIMARY KEY (run_id, galaxy_id, feature),
    FOREIGN KEY (run_id, galaxy_id) REFERENCES run_galaxies(run_id, galaxy_id) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX activations_by_feature ON activations (run_id, feature, value DESC);

-- Per run and feature (all d of them, dead ones included).
--   n_active: galaxies (train + valid) where the feature is non-zero
--   f_activated: fraction of validation galaxies where it is non-zero (the paper's)
--   max_valid: its maximum over the validation set, the scale of A in [0, 1]
--   max, mean: over the galaxies where it is active (all splits)
CREATE TABLE run_features (
    run_id         INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    feature        INTEGER NOT NULL,
    n_active       INTEGER NOT NULL,
    n_active_valid INTEGER NOT NULL,
    f_activated    REAL NOT NULL,
    max_valid      REAL NOT NULL,
    max            REAL NOT NULL,
    mean           REAL NOT NULL,
    label          TEXT,
    note           TEXT,
    PRIMARY KEY (run_id, feature)
) WITHOUT ROWID;

-- Per run, feature and output: the head's weight and the Pearson correlation of
-- the scaled activation (0 where inactive) with the target over the validation
-- set (NULL when undefined: a feature that never fires there).
CREATE TABLE feature_targets (
    run_id  INTEGER NOT NULL,
    feature INTEGER NOT NULL,
    target  INTEGER NOT NULL,
    weight  REAL NOT NULL,
    pearson REAL,
    PRIMARY KEY (run_id, feature, target),
    FOREIGN KEY (run_id, feature) REFERENCES run_features(run_id, feature) ON DELETE CASCADE
) WITHOUT ROWID;
