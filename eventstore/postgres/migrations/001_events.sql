-- The event log. position is the global order; (stream, revision) the
-- order within a stream; id makes appends idempotent.
CREATE TABLE IF NOT EXISTS es_events (
    position   bigint PRIMARY KEY,
    stream     text COLLATE "C" NOT NULL,
    revision   bigint NOT NULL,
    id         text NOT NULL UNIQUE,
    type       text NOT NULL,
    version    integer NOT NULL,
    data       jsonb NOT NULL,
    meta       jsonb NOT NULL,
    UNIQUE (stream, revision)
);

CREATE TABLE IF NOT EXISTS es_streams (
    stream        text COLLATE "C" PRIMARY KEY,
    last_revision bigint NOT NULL
);
