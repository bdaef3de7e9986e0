/*-------------------------------------------------------------------------
 * mirror.c
 *		quo_fdw.refresh_mirror: who may refresh a mirror, and the refresh
 *		run as the mirror's owner, whoever calls it.
 *
 * The work is quo_fdw.mirror_step (PL/pgSQL, src/sql/mirror_refresh.sql).
 * A refresh is for the mirror's owner (a member of the role) or a
 * superuser; anyone else gets 42501.  It runs as the owner, with the
 * owner's user mapping, inside a security-restricted operation, as
 * REFRESH MATERIALIZED VIEW runs a view's query as its owner: whatever the
 * owner put in the mirror's schema (a trigger, a function a column default
 * calls) runs as the owner, never as the superuser or pg_cron job that
 * called, and cannot change the role back.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "quo_fdw.h"

PG_FUNCTION_INFO_V1(quo_fdw_refresh_mirror);
PG_FUNCTION_INFO_V1(quo_fdw_mirror_owner_of);

/*
 * The owner of mirror_schema's mirror, InvalidOid when there is none.  The
 * catalog's rows are visible to their owners only (its policies): it is
 * read as the catalog's owner, restricted, so that a role that may not see
 * the row still learns whose it is (for a clear 42501) and nothing else.
 * The caller is connected to SPI.
 */
static Oid
mirror_owner(Name mirror_schema)
{
	Oid			argtypes[1] = {NAMEOID};
	Datum		args[1];
	bool		isnull;
	Oid			owner = InvalidOid;
	Oid			nsp = get_namespace_oid("quo_fdw", false);
	Oid			catalog = get_relname_relid("mirror", nsp);
	HeapTuple	tup;
	Oid			catalog_owner;
	Oid			save_uid;
	int			save_sec;
	int			rc;

	if (!OidIsValid(catalog))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("the mirror catalog quo_fdw.mirror does not exist")));
	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(catalog));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", catalog);
	catalog_owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);

	args[0] = NameGetDatum(mirror_schema);
	GetUserIdAndSecContext(&save_uid, &save_sec);
	SetUserIdAndSecContext(catalog_owner, save_sec | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	/* every name qualified, the operator too: the caller's search_path is theirs */
	rc = SPI_execute_with_args("SELECT m.owner::pg_catalog.oid FROM quo_fdw.mirror m "
							   "WHERE m.mirror_schema OPERATOR(pg_catalog.=) $1",
							   1, argtypes, args, NULL, true, 1);
	SetUserIdAndSecContext(save_uid, save_sec);
	if (rc != SPI_OK_SELECT)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("quo_fdw: could not read the mirror catalog")));
	if (SPI_processed > 0)
	{
		owner = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		if (isnull)
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg_internal("quo_fdw: mirror \"%s\" has no owner", NameStr(*mirror_schema))));
	}
	return owner;
}

/*
 * quo_fdw.mirror_owner_of(mirror_schema name) RETURNS oid: the owner of
 * that mirror, NULL when there is none (for the mirror functions' checks:
 * whose a mirror is is no secret, quo_fdw.mirrors shows it).
 */
Datum
quo_fdw_mirror_owner_of(PG_FUNCTION_ARGS)
{
	Oid			owner;

	if (SPI_connect() != SPI_OK_CONNECT)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("quo_fdw: SPI_connect failed")));
	owner = mirror_owner(PG_GETARG_NAME(0));
	SPI_finish();
	if (!OidIsValid(owner))
		PG_RETURN_NULL();
	PG_RETURN_OID(owner);
}

/*
 * quo_fdw.refresh_mirror(mirror_schema name, max_requests bigint DEFAULT
 * NULL) RETURNS quo_fdw.refresh_result: one refresh, or one step of at
 * most max_requests requests, as the mirror's owner.
 */
Datum
quo_fdw_refresh_mirror(PG_FUNCTION_ARGS)
{
	Name		mirror_schema;
	Oid			owner;
	Oid			save_uid;
	int			save_sec;
	Oid			argtypes[2] = {NAMEOID, INT8OID};
	Datum		args[2];
	char		nulls[2] = {' ', ' '};
	bool		isnull;
	Datum		result;
	int			save_nestlevel;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("quo_fdw.refresh_mirror needs a mirror's schema")));
	mirror_schema = PG_GETARG_NAME(0);
	args[0] = NameGetDatum(mirror_schema);
	if (PG_ARGISNULL(1))
		nulls[1] = 'n';
	else
		args[1] = PG_GETARG_DATUM(1);

	if (SPI_connect() != SPI_OK_CONNECT)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("quo_fdw: SPI_connect failed")));
	owner = mirror_owner(mirror_schema);
	if (!OidIsValid(owner))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("mirror \"%s\" does not exist", NameStr(*mirror_schema)),
				 errhint("quo_fdw.mirrors lists the mirrors; quo_fdw.create_mirror creates one.")));
	if (!SearchSysCacheExists1(AUTHOID, ObjectIdGetDatum(owner)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("the owner of mirror \"%s\" no longer exists", NameStr(*mirror_schema)),
				 errhint("A superuser can give the mirror to a role: UPDATE quo_fdw.mirror SET owner = ... WHERE mirror_schema = ..., or drop it.")));
	if (!has_privs_of_role(GetUserId(), owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("must be owner of mirror \"%s\"", NameStr(*mirror_schema)),
				 errdetail("Mirror \"%s\" belongs to role \"%s\".", NameStr(*mirror_schema),
						   GetUserNameFromId(owner, false)),
				 errhint("Its owner, a member of that role, or a superuser may refresh it.")));

	/*
	 * As the owner, restricted: the user id goes back on an ERROR with the
	 * (sub)transaction, and here when the step returns.
	 */
	GetUserIdAndSecContext(&save_uid, &save_sec);
	SetUserIdAndSecContext(owner, save_sec | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	/*
	 * Settings are the refresh's own: whatever the owner's code sets (a
	 * trigger's set_config) is undone when it returns, and the search path
	 * is pg_catalog's, as REFRESH MATERIALIZED VIEW does it.
	 */
	save_nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	if (SPI_execute_with_args("SELECT quo_fdw.mirror_step($1, $2)", 2, argtypes, args, nulls,
							  false, 1) != SPI_OK_SELECT || SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("quo_fdw: the refresh step returned no row")));
	result = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("quo_fdw: the refresh step returned NULL")));
	result = SPI_datumTransfer(result, false, -1);
	AtEOXact_GUC(false, save_nestlevel);
	SetUserIdAndSecContext(save_uid, save_sec);
	SPI_finish();
	PG_RETURN_DATUM(result);
}
