-- Read-model documents, one row per key, and each consumer's checkpoint.
CREATE TABLE IF NOT EXISTS rm_documents (
    tbl  text NOT NULL,
    key  text COLLATE "C" NOT NULL,
    doc  jsonb NOT NULL,
    PRIMARY KEY (tbl, key)
);

CREATE TABLE IF NOT EXISTS rm_checkpoints (
    consumer    text PRIMARY KEY,
    commit_pos  bigint NOT NULL,
    prepare_pos bigint NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
