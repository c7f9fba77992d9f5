package store

// Migration is one ordered schema change. Its version is its position in [migrations] plus one.
type Migration struct {
	// Name says what the migration does; it is recorded in schema_migrations.
	Name string
	// SQL holds one or more statements, run in a single transaction.
	SQL string
}

// migrations is the ordered list of schema changes applied at Open. Adding a table for a later package
// (embeddings, models, evaluations) is one append at the end; never edit or reorder an applied entry.
var migrations = []Migration{
	{Name: "core: inputs, concepts, annotations, datasets", SQL: schemaCore},
	{Name: "embeddings cache", SQL: schemaEmbeddings},
	{Name: "models, evaluations, selections", SQL: schemaModels},
	{Name: "models: deleted models that were tested keep their test evaluations", SQL: schemaModelsDeleted},
	{Name: "test runs: who evaluated which model on which test inputs, when", SQL: schemaTestRuns},
	{Name: "perceptual hashes of the inputs' thumbnails, for the near-duplicate check", SQL: schemaPerceptualHashes},
	{Name: "evaluations: test results made despite near-duplicate leaks, and why", SQL: schemaLeakAcknowledged},
	{Name: "search selections saved by name", SQL: schemaSearchSelections},
}

// SchemaVersion returns the schema version a freshly opened store has: the number of known migrations.
func SchemaVersion() int { return len(migrations) }

const schemaCore = `
CREATE TABLE inputs (
	id          INTEGER PRIMARY KEY,
	sha256      TEXT    NOT NULL UNIQUE CHECK (length(sha256) = 64),
	file_name   TEXT    NOT NULL,
	source      TEXT    NOT NULL,
	width       INTEGER NOT NULL CHECK (width > 0),
	height      INTEGER NOT NULL CHECK (height > 0),
	format      TEXT    NOT NULL,
	bytes       INTEGER NOT NULL CHECK (bytes > 0),
	orientation INTEGER NOT NULL DEFAULT 1 CHECK (orientation BETWEEN 1 AND 8),
	added_at    TEXT    NOT NULL,
	removed_at  TEXT
);
CREATE INDEX inputs_active ON inputs(removed_at, id);

CREATE TABLE concepts (
	id         INTEGER PRIMARY KEY,
	name       TEXT NOT NULL UNIQUE CHECK (length(trim(name)) > 0),
	created_at TEXT NOT NULL
);

CREATE TABLE annotations (
	id         INTEGER PRIMARY KEY,
	input_id   INTEGER NOT NULL REFERENCES inputs(id) ON DELETE CASCADE,
	concept_id INTEGER NOT NULL REFERENCES concepts(id) ON DELETE CASCADE,
	source     TEXT    NOT NULL CHECK (source IN ('manual', 'search', 'model', 'folder')),
	detail     TEXT    NOT NULL DEFAULT '',
	created_at TEXT    NOT NULL,
	removed_at TEXT,
	removed_by TEXT    NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX annotations_active ON annotations(input_id, concept_id) WHERE removed_at IS NULL;
CREATE INDEX annotations_concept ON annotations(concept_id, removed_at);

CREATE TABLE datasets (
	id         INTEGER PRIMARY KEY,
	name       TEXT NOT NULL UNIQUE CHECK (length(trim(name)) > 0),
	created_at TEXT NOT NULL
);

CREATE TABLE dataset_versions (
	id         INTEGER PRIMARY KEY,
	dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
	version    INTEGER NOT NULL CHECK (version > 0),
	seed       INTEGER NOT NULL,
	spec       TEXT    NOT NULL,
	created_at TEXT    NOT NULL,
	frozen     INTEGER NOT NULL DEFAULT 0 CHECK (frozen IN (0, 1)),
	UNIQUE (dataset_id, version)
);

CREATE TABLE version_members (
	version_id INTEGER NOT NULL REFERENCES dataset_versions(id) ON DELETE CASCADE,
	input_id   INTEGER NOT NULL REFERENCES inputs(id) ON DELETE CASCADE,
	split      TEXT    NOT NULL CHECK (split IN ('train', 'validation', 'test')),
	concept_id INTEGER REFERENCES concepts(id) ON DELETE SET NULL,
	PRIMARY KEY (version_id, input_id)
) WITHOUT ROWID;
CREATE INDEX version_members_input ON version_members(input_id);

-- A frozen version's membership cannot change (deleting the input itself still cascades).
CREATE TRIGGER version_members_frozen_insert BEFORE INSERT ON version_members
WHEN (SELECT frozen FROM dataset_versions WHERE id = NEW.version_id) = 1
BEGIN SELECT RAISE(ABORT, 'dataset version is frozen'); END;
CREATE TRIGGER version_members_frozen_update BEFORE UPDATE OF split, version_id, input_id ON version_members
WHEN (SELECT frozen FROM dataset_versions WHERE id = OLD.version_id) = 1
BEGIN SELECT RAISE(ABORT, 'dataset version is frozen'); END;
`

const schemaEmbeddings = `
CREATE TABLE embeddings (
	input_id   INTEGER NOT NULL REFERENCES inputs(id) ON DELETE CASCADE,
	model      TEXT    NOT NULL,
	dim        INTEGER NOT NULL CHECK (dim > 0),
	vector     BLOB    NOT NULL CHECK (length(vector) = 4 * dim),
	created_at TEXT    NOT NULL,
	PRIMARY KEY (input_id, model)
) WITHOUT ROWID;
CREATE INDEX embeddings_model ON embeddings(model);
`

const schemaModels = `
CREATE TABLE models (
	id         INTEGER PRIMARY KEY,
	name       TEXT NOT NULL UNIQUE CHECK (length(trim(name)) > 0),
	kind       TEXT NOT NULL,             -- "head" (on embeddings) or "deep" (trained from images)
	family     TEXT NOT NULL,             -- e.g. "linear", "resnet50", "efficientnet_b0"
	embedder   TEXT NOT NULL DEFAULT '',  -- for heads: the embedder whose vectors they read
	dataset    TEXT NOT NULL,
	version    INTEGER NOT NULL,
	dir        TEXT NOT NULL,             -- relative to the app folder
	classes    TEXT NOT NULL,             -- JSON array of class names, in output order
	config     TEXT NOT NULL DEFAULT '{}',
	summary    TEXT NOT NULL DEFAULT '{}',-- JSON: wall time, img/s, best validation accuracy, backend
	status     TEXT NOT NULL CHECK (status IN ('training', 'done', 'failed')),
	created_at TEXT NOT NULL,
	updated_at TEXT NOT NULL
);

CREATE TABLE evaluations (
	id          INTEGER PRIMARY KEY,
	model_id    INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
	dataset     TEXT NOT NULL,
	version     INTEGER NOT NULL,
	split       TEXT NOT NULL,
	report      TEXT NOT NULL,              -- JSON of eval.Report
	predictions BLOB NOT NULL,              -- JSON: ids, labels, probabilities
	created_at  TEXT NOT NULL,
	test_override TEXT NOT NULL DEFAULT '' -- for test-split evaluations beyond the first of the selected model: why
);
CREATE INDEX evaluations_lookup ON evaluations(model_id, dataset, version, split);

CREATE TABLE selections (
	id         INTEGER PRIMARY KEY,
	dataset    TEXT NOT NULL,
	version    INTEGER NOT NULL,
	split      TEXT NOT NULL,
	metric     TEXT NOT NULL,
	model_id   INTEGER NOT NULL REFERENCES models(id) ON DELETE CASCADE,
	value      REAL,
	ranking    TEXT NOT NULL,  -- JSON: model names with their metric values
	created_at TEXT NOT NULL
);
`

// schemaModelsDeleted lets a deleted model's record stay (renamed, marked deleted) while test-split
// evaluations refer to it, so that the one-time test rule still sees that the test split was looked at.
const schemaModelsDeleted = `
ALTER TABLE models ADD COLUMN deleted_at TEXT;
`

// schemaPerceptualHashes caches each input's perceptual hash (package phash), computed from its thumbnail
// when a near-duplicate check first needs it.
const schemaPerceptualHashes = `
CREATE TABLE perceptual_hashes (
	input_id INTEGER PRIMARY KEY REFERENCES inputs(id) ON DELETE CASCADE,
	hash     INTEGER NOT NULL, -- the 64 bits of phash.Hash, as SQLite's signed integer
	mirror   INTEGER NOT NULL  -- the hash of the mirror image
);
`

// schemaLeakAcknowledged records on a test-split evaluation how many test images had near duplicates in
// train or validation when it ran, and the reason the user gave for evaluating anyway.
const schemaLeakAcknowledged = `
ALTER TABLE evaluations ADD COLUMN leaked INTEGER NOT NULL DEFAULT 0;
ALTER TABLE evaluations ADD COLUMN leak_ack TEXT NOT NULL DEFAULT '';
`

// schemaSearchSelections keeps search selections under a name, so that one notebook cell can look at a
// selection and the next one label it (GoNB runs each cell as a new program).
const schemaSearchSelections = `
CREATE TABLE search_selections (
	name       TEXT PRIMARY KEY,
	query      TEXT NOT NULL,
	model      TEXT NOT NULL,
	hits       TEXT NOT NULL, -- JSON: [{"id":..,"score":..}], the selected inputs, best first
	unselected TEXT NOT NULL, -- JSON: the same for the inputs unselected from it
	created_at TEXT NOT NULL,
	updated_at TEXT NOT NULL
);
`
