-- Hand-written: a document's full-text vector covers its title and the first
-- 1 MiB (1,048,576 characters) of its content. A tsvector holds at most
-- 1 MiB, so indexing all of a 10 MiB document failed its upload ("string is
-- too long for tsvector"); and a search that ranks or rechecks a match reads
-- the whole vector, so its size bounds that work. Text whose vector would
-- still be too large (very many distinct words) is indexed over a prefix
-- halved until the vector fits. Silo schemas use the same function
-- (internal/workspace/sql/postgres_silo.sql); older silo schemas are brought
-- to it by the application when it first opens them.
-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION tenantd_document_search(title text, content text) RETURNS tsvector
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog AS $$
DECLARE
  n integer := 1048576;
BEGIN
  LOOP
    BEGIN
      RETURN setweight(to_tsvector('pg_catalog.english'::regconfig, title), 'A')
        || setweight(to_tsvector('pg_catalog.english'::regconfig, left(content, n)), 'B');
    EXCEPTION WHEN program_limit_exceeded THEN
      n := n / 2;
    END;
  END LOOP;
END
$$;
-- +goose StatementEnd
ALTER TABLE documents DROP COLUMN search;
ALTER TABLE documents ADD COLUMN search tsvector GENERATED ALWAYS AS (public.tenantd_document_search(title, content)) STORED;
CREATE INDEX documents_search ON documents USING gin (search);

-- +goose Down
ALTER TABLE documents DROP COLUMN search;
ALTER TABLE documents ADD COLUMN search tsvector GENERATED ALWAYS AS (
  setweight(to_tsvector('english', title), 'A') || setweight(to_tsvector('english', content), 'B')
) STORED;
CREATE INDEX documents_search ON documents USING gin (search);
DROP FUNCTION tenantd_document_search(text, text);
