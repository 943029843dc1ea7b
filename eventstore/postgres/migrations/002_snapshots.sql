-- The latest folded state of each stream's aggregate, for commands to
-- start from instead of the stream's first event. Derived: it may be
-- deleted at any time.
CREATE TABLE IF NOT EXISTS es_snapshots (
    stream   text COLLATE "C" PRIMARY KEY,
    revision bigint NOT NULL,
    version  text NOT NULL,
    data     bytea NOT NULL
);
