-- fdw.sql: the wrapper: handler, validator, FOREIGN DATA WRAPPER quo_fdw
-- (the build assembles quo_fdw--<version>.sql and the update scripts from
-- the files of src/sql; see the Makefile)

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
