-- Documents are opaque to the store: it keeps the bytes of the JSON it was
-- given, so that a write does not parse them into jsonb and a read does not
-- print them back (docs/benchmarks.md). A document may now hold an escaped
-- NUL, which jsonb refused. Rewrites the table once.
ALTER TABLE rm_documents ALTER COLUMN doc TYPE bytea USING convert_to(doc::text, 'UTF8');
