-- The stamp of a document whose table keeps versions (projections.Versions):
-- the position of the transaction that wrote it, inverted, 16 bytes
-- big-endian, so that hex-encoded it is the position as version keys hold
-- it. Null for documents written without one. Adds no data to the rows.
ALTER TABLE rm_documents ADD COLUMN IF NOT EXISTS at bytea;
