-- fetch.sql: the mirror's reads of the API as SQL functions (src/fetch_sql.c)
-- and the columns of each endpoint (src/endpoints.c)
-- (the build assembles quo_fdw--<version>.sql and the update scripts from
-- the files of src/sql; see the Makefile)

-- Each runs the one scan engine as the current user, through a quo_fdw
-- server it has USAGE on, with its user mapping; the caller names the
-- columns (the endpoint's, plus item, item_done, next_page_token,
-- endpoint).  See src/fetch_sql.c.
CREATE OR REPLACE FUNCTION quo_fdw.fetch_list(server name, endpoint text, page_token text DEFAULT NULL,
                                              stop_after bigint DEFAULT 0)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'quo_fdw_fetch_list'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION quo_fdw.fetch_list(name, text, text, bigint) IS 'an endpoint''s whole list (from page_token), at most stop_after requests: rows, then a marker row (item_done, next_page_token)';

CREATE OR REPLACE FUNCTION quo_fdw.fetch_ids(server name, endpoint text, ids text[], stop_after bigint DEFAULT 0)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'quo_fdw_fetch_ids'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION quo_fdw.fetch_ids(name, text, text[], bigint) IS 'items by id (the documented 404: no row), at most stop_after requests: each complete item''s rows, then its marker row';

CREATE OR REPLACE FUNCTION quo_fdw.fetch_visits(server name, endpoints text[], conversation_ids text[],
                                                phone_number_ids text[], participants text[],
                                                created_after timestamptz[], stop_after bigint DEFAULT 0)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'quo_fdw_fetch_visits'
LANGUAGE C VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION quo_fdw.fetch_visits(name, text[], text[], text[], text[], timestamptz[], bigint) IS 'the calls and messages of given conversations (participants joined by commas), at most stop_after requests: each complete conversation''s rows, then its marker row';

CREATE OR REPLACE FUNCTION quo_fdw.endpoint_columns(endpoint text, OUT name text, OUT type text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'quo_fdw_endpoint_columns'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION quo_fdw.endpoint_columns(text) IS 'the columns of an endpoint''s foreign table and their types, in order';

