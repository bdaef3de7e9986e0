/* quo_fdw--0.2.0.sql */

\echo Use "CREATE EXTENSION quo_fdw" to load this file. \quit

CREATE FUNCTION quo_fdw_handler()
RETURNS fdw_handler
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT;

CREATE FUNCTION quo_fdw_validator(text[], oid)
RETURNS void
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT;

CREATE FOREIGN DATA WRAPPER quo_fdw
  HANDLER quo_fdw_handler
  VALIDATOR quo_fdw_validator;

COMMENT ON FOREIGN DATA WRAPPER quo_fdw IS 'the Quo (formerly OpenPhone) REST API as foreign tables';
