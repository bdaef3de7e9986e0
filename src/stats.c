/*-------------------------------------------------------------------------
 * stats.c
 *		The API usage statistics: per foreign server and database, in shared
 *		memory (quo_fdw.stats, quo_fdw.stats_reset).
 *
 * With quo_fdw in shared_preload_libraries, the server keeps a table of
 * quo_fdw.stats_max entries, one per (database oid, server oid), plus one
 * overflow entry that counts for every pair that found no entry of its
 * own.  Nothing is written to disk: a server restart starts it empty, as
 * the cumulative statistics do.  Without the preload there is no table:
 * nothing is counted and the view says why.
 *
 * Counting is what the fetcher already knows, added at the start and at
 * the end of each attempt (fetch.c), a page's rows at a time (series.c,
 * join.c), and the error that ended a query where errors.c raises it.
 * Each addition takes the entry's spinlock for a few additions; the
 * table's LWLock is taken only to find or make an entry, which a backend
 * does once per server (it keeps the entry's address and checks, under the
 * spinlock, that the entry is still that server's: a reset may have freed
 * it).
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_foreign_server.h"
#include "commands/dbcommands.h"
#include "foreign/foreign.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "quo_fdw.h"

PG_FUNCTION_INFO_V1(quo_fdw_stats);
PG_FUNCTION_INFO_V1(quo_fdw_stats_reset);

/* The longest last_error_message kept, in bytes with its terminator. */
#define QUO_STATS_MESSAGE_LEN 256

/* Entries a backend remembers the address of. */
#define QUO_STATS_CACHE 8

/* What is counted for one (database, server). */
typedef struct QuoStatsCounters
{
	int64		requests;		/* attempts started */
	int64		responses_2xx;	/* answered 200..299 */
	int64		responses_404;	/* answered 404 */
	int64		responses_429;	/* answered 429 */
	int64		responses_4xx;	/* answered another 400..499 */
	int64		responses_5xx;	/* answered 500..599 */
	int64		transport_errors;	/* no answer: connection, timeout, TLS */
	int64		retries;		/* attempts after a request's first */
	int64		rate_limit_waits;	/* attempts that waited for a slot */
	int64		rate_limit_wait_usecs;	/* the time they were given to wait */
	int64		bytes_received; /* bytes of the answers, as received */
	int64		rows;			/* rows given from the answers */
	TimestampTz first_request;	/* when the first attempt started, 0: none */
	TimestampTz last_request;	/* when the latest attempt started */
	TimestampTz last_error;		/* when the latest error was raised, 0: none */
	char		last_error_sqlstate[6]; /* its SQLSTATE, NUL-terminated */
	int			last_error_encoding;	/* the encoding of its message */
	char		last_error_message[QUO_STATS_MESSAGE_LEN];	/* its message */
} QuoStatsCounters;

/* One entry of the table. */
typedef struct QuoStatsEntry
{
	slock_t		mutex;			/* protects everything below */
	Oid			dbid;			/* the database; InvalidOid: entry free */
	Oid			serverid;		/* the foreign server (pg_foreign_server oid) */
	NameData	servername;		/* its name when last used, for the rows of
								 * other databases, whose catalogs cannot be
								 * read from this one */
	QuoStatsCounters c;			/* the counts */
} QuoStatsEntry;

/* The table in shared memory. */
typedef struct QuoStatsShared
{
	LWLock	   *lock;			/* held to find, make or free entries */
	pg_atomic_uint64 frees;		/* entries freed so far: a backend counting
								 * into the overflow entry looks for an entry
								 * of its own again when this changes */
	int			max;			/* entries, quo_fdw.stats_max at start */
	QuoStatsEntry overflow;		/* every pair that found no entry */
	QuoStatsEntry entries[FLEXIBLE_ARRAY_MEMBER];	/* max of them */
} QuoStatsShared;

/* An entry this backend has used: where it is, for which server. */
typedef struct QuoStatsCached
{
	Oid			serverid;		/* InvalidOid: slot unused */
	QuoStatsEntry *entry;		/* its entry, or the overflow entry */
	uint64		frees;			/* QuoStatsShared.frees when found */
} QuoStatsCached;

bool		quo_stats_enabled = true;
int			quo_stats_max = 100;

static QuoStatsShared *stats_shared = NULL;
static QuoStatsCached stats_cache[QUO_STATS_CACHE];
static int	stats_cache_next = 0;	/* the slot replaced next */

#ifdef QUO_HAVE_SHMEM_REQUEST_HOOK
static shmem_request_hook_type prev_shmem_request_hook = NULL;
#endif
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* The table's size for quo_fdw.stats_max entries. */
static Size
stats_shmem_size(void)
{
	return add_size(offsetof(QuoStatsShared, entries),
					mul_size(sizeof(QuoStatsEntry), quo_stats_max));
}

/* Ask for the table's shared memory and its lock (shmem_request_hook). */
static void
stats_shmem_request(void)
{
#ifdef QUO_HAVE_SHMEM_REQUEST_HOOK
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
#endif
	RequestAddinShmemSpace(MAXALIGN(stats_shmem_size()));
	RequestNamedLWLockTranche("quo_fdw_stats", 1);
}

/* Find or create the table in shared memory (shmem_startup_hook). */
static void
stats_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	stats_shared = ShmemInitStruct("quo_fdw stats", stats_shmem_size(), &found);
	if (!found)
	{
		memset(stats_shared, 0, stats_shmem_size());
		stats_shared->lock = &(GetNamedLWLockTranche("quo_fdw_stats"))->lock;
		pg_atomic_init_u64(&stats_shared->frees, 0);
		stats_shared->max = quo_stats_max;
		SpinLockInit(&stats_shared->overflow.mutex);
		for (int i = 0; i < quo_stats_max; i++)
			SpinLockInit(&stats_shared->entries[i].mutex);
	}
	LWLockRelease(AddinShmemInitLock);
}

/*
 * From _PG_init (after the GUCs): ask for the table when loaded at server
 * start; otherwise there is none and nothing is counted.
 */
void
quo_stats_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		return;
#ifdef QUO_HAVE_SHMEM_REQUEST_HOOK
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = stats_shmem_request;
#else
	stats_shmem_request();
#endif
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = stats_shmem_startup;
}

/* Whether e is this database's entry for serverid (e's mutex held). */
static inline bool
entry_is(const QuoStatsEntry *e, Oid serverid)
{
	return e->serverid == serverid && e->dbid == MyDatabaseId;
}

/* This database's entry for serverid, or NULL (the lock held, any mode). */
static QuoStatsEntry *
find_entry(Oid serverid)
{
	for (int i = 0; i < stats_shared->max; i++)
	{
		QuoStatsEntry *e = &stats_shared->entries[i];

		if (e->serverid == serverid && e->dbid == MyDatabaseId)
			return e;
	}
	return NULL;
}

/*
 * Free entry e (the lock held exclusively): its counts go, and the slot
 * may be taken by another pair.
 */
static void
free_entry(QuoStatsEntry *e)
{
	SpinLockAcquire(&e->mutex);
	e->dbid = InvalidOid;
	e->serverid = InvalidOid;
	memset(&e->c, 0, sizeof(e->c));
	SpinLockRelease(&e->mutex);
	pg_atomic_fetch_add_u64(&stats_shared->frees, 1);
}

/*
 * This database's entry for serverid, made when there is none: a free
 * slot, else the slot of a server of this database that has been dropped,
 * else the overflow entry.  NULL when there is none and create is false.
 */
static QuoStatsEntry *
lookup_entry(Oid serverid, const char *servername, bool create)
{
	QuoStatsEntry *e;
	Oid		   *gone = NULL;	/* this database's servers, where dropped */
	int			ngone = 0;
	int			nkept = 0;
	bool		have_free = false;

	/* allocated before the lock: nothing that can fail runs under it */
	if (create)
		gone = palloc(sizeof(Oid) * stats_shared->max);
	LWLockAcquire(stats_shared->lock, LW_SHARED);
	e = find_entry(serverid);
	for (int i = 0; i < stats_shared->max && e == NULL && create && !have_free; i++)
		have_free = stats_shared->entries[i].dbid == InvalidOid;
	if (e == NULL && create && !have_free)
	{
		/* the table is full: which entries are this database's */
		for (int i = 0; i < stats_shared->max; i++)
			if (stats_shared->entries[i].dbid == MyDatabaseId)
				gone[ngone++] = stats_shared->entries[i].serverid;
	}
	LWLockRelease(stats_shared->lock);
	if (e != NULL || !create)
	{
		if (gone)
			pfree(gone);
		return e;
	}

	/*
	 * which of them are of servers dropped since (without the lock), kept
	 * sorted to be searched under it
	 */
	for (int i = 0; i < ngone; i++)
		if (!SearchSysCacheExists1(FOREIGNSERVEROID, ObjectIdGetDatum(gone[i])))
			gone[nkept++] = gone[i];
	ngone = nkept;
	if (ngone > 1)
		qsort(gone, ngone, sizeof(Oid), oid_cmp);

	LWLockAcquire(stats_shared->lock, LW_EXCLUSIVE);
	e = find_entry(serverid);
	if (e == NULL)
	{
		for (int i = 0; i < stats_shared->max && e == NULL; i++)
			if (stats_shared->entries[i].dbid == InvalidOid)
				e = &stats_shared->entries[i];
		for (int i = 0; i < stats_shared->max && e == NULL && ngone > 0; i++)
		{
			QuoStatsEntry *x = &stats_shared->entries[i];

			if (x->dbid == MyDatabaseId &&
				bsearch(&x->serverid, gone, ngone, sizeof(Oid), oid_cmp) != NULL)
			{
				free_entry(x);
				e = x;
			}
		}
		if (e == NULL)
			e = &stats_shared->overflow;
		else
		{
			SpinLockAcquire(&e->mutex);
			memset(&e->c, 0, sizeof(e->c));
			e->dbid = MyDatabaseId;
			e->serverid = serverid;
			namestrcpy(&e->servername, servername);
			SpinLockRelease(&e->mutex);
		}
	}
	LWLockRelease(stats_shared->lock);
	if (gone)
		pfree(gone);
	return e;
}

/*
 * The entry counts for opts' server go to, its mutex held; NULL when
 * nothing is counted (no table, quo_fdw.stats off, or, unless create, no
 * entry yet).  Found in this backend's cache without the table's lock,
 * unless a reset has freed it since.
 */
static QuoStatsEntry *
lock_entry(const QuoFdwOptions *opts, bool create)
{
	Oid			serverid = opts->server_id;
	QuoStatsCached *slot = NULL;
	QuoStatsEntry *e;

	if (stats_shared == NULL || !quo_stats_enabled || !OidIsValid(serverid))
		return NULL;
	for (int i = 0; i < QUO_STATS_CACHE; i++)
		if (stats_cache[i].serverid == serverid)
		{
			slot = &stats_cache[i];
			break;
		}
	if (slot != NULL)
	{
		e = slot->entry;
		if (e == &stats_shared->overflow)
		{
			/* an entry of its own may have been freed since */
			if (slot->frees == pg_atomic_read_u64(&stats_shared->frees))
			{
				SpinLockAcquire(&e->mutex);
				return e;
			}
		}
		else
		{
			SpinLockAcquire(&e->mutex);
			if (entry_is(e, serverid))
			{
				/* a server renamed since it was found */
				if (strcmp(NameStr(e->servername), opts->server_name) != 0)
					namestrcpy(&e->servername, opts->server_name);
				return e;
			}
			SpinLockRelease(&e->mutex);
		}
	}
	else
	{
		slot = &stats_cache[stats_cache_next];
		stats_cache_next = (stats_cache_next + 1) % QUO_STATS_CACHE;
		slot->serverid = InvalidOid;
	}

	slot->frees = pg_atomic_read_u64(&stats_shared->frees);
	e = lookup_entry(serverid, opts->server_name, create);
	if (e == NULL)
	{
		slot->serverid = InvalidOid;
		return NULL;
	}
	slot->serverid = serverid;
	slot->entry = e;
	SpinLockAcquire(&e->mutex);
	/* freed by a reset between the lookup and now: not counted */
	if (e != &stats_shared->overflow && !entry_is(e, serverid))
	{
		SpinLockRelease(&e->mutex);
		return NULL;
	}
	return e;
}

/*
 * An attempt of a request through opts' server starts (fetch.c): retry
 * when it is not the request's first, waited_usecs the rate-limit wait it
 * was given (0: none).
 */
void
quo_stats_request_started(const QuoFdwOptions *opts, bool retry, int64 waited_usecs)
{
	QuoStatsEntry *e;
	TimestampTz now;

	if (stats_shared == NULL || !quo_stats_enabled)
		return;
	now = GetCurrentTimestamp();	/* not under the spinlock */
	if ((e = lock_entry(opts, true)) == NULL)
		return;
	e->c.requests++;
	if (retry)
		e->c.retries++;
	if (waited_usecs > 0)
	{
		e->c.rate_limit_waits++;
		e->c.rate_limit_wait_usecs += waited_usecs;
	}
	if (e->c.first_request == 0)
		e->c.first_request = now;
	e->c.last_request = Max(e->c.last_request, now);
	SpinLockRelease(&e->mutex);
}

/* An attempt through opts' server has finished with res (fetch.c). */
void
quo_stats_request_finished(const QuoFdwOptions *opts, const QuoHttpResult *res)
{
	QuoStatsEntry *e = lock_entry(opts, true);

	if (e == NULL)
		return;
	e->c.bytes_received += res->bytes;
	if (res->curl_code != 0)
		e->c.transport_errors++;
	else if (res->status >= 200 && res->status < 300)
		e->c.responses_2xx++;
	else if (res->status == 404)
		e->c.responses_404++;
	else if (res->status == 429)
		e->c.responses_429++;
	else if (res->status >= 400 && res->status < 500)
		e->c.responses_4xx++;
	else if (res->status >= 500 && res->status < 600)
		e->c.responses_5xx++;
	SpinLockRelease(&e->mutex);
}

/* n rows were given from the answers of opts' server (series.c, join.c). */
void
quo_stats_rows(const QuoFdwOptions *opts, int64 n)
{
	QuoStatsEntry *e;

	if (n <= 0 || (e = lock_entry(opts, true)) == NULL)
		return;
	e->c.rows += n;
	SpinLockRelease(&e->mutex);
}

/*
 * The error being raised (in a PG_CATCH of errors.c) ends a request of
 * opts' server: keep its SQLSTATE and message as the last error.  The
 * message is the one the ERROR shows, already cleaned of the key.  cxt:
 * a context to copy the error into (not ErrorContext).  Takes no
 * catalog access and makes no entry: the attempt made one.
 */
void
quo_stats_error(const QuoFdwOptions *opts, MemoryContext cxt)
{
	QuoStatsEntry *e;
	ErrorData  *edata;
	MemoryContext old;
	TimestampTz now;
	int			len;

	if (stats_shared == NULL || !quo_stats_enabled)
		return;
	old = MemoryContextSwitchTo(cxt);
	edata = CopyErrorData();
	MemoryContextSwitchTo(old);
	len = edata->message ? pg_mbcliplen(edata->message, strlen(edata->message),
										QUO_STATS_MESSAGE_LEN - 1) : 0;
	now = GetCurrentTimestamp();
	e = lock_entry(opts, false);
	if (e == NULL && OidIsValid(opts->server_id))
	{
		/*
		 * not in the table: the pair is counted in the overflow row (the
		 * table was full when it was looked for), or a reset removed it
		 */
		e = &stats_shared->overflow;
		SpinLockAcquire(&e->mutex);
	}
	if (e != NULL)
	{
		e->c.last_error = now;
		strlcpy(e->c.last_error_sqlstate, unpack_sql_state(edata->sqlerrcode),
				sizeof(e->c.last_error_sqlstate));
		e->c.last_error_encoding = GetDatabaseEncoding();
		if (len > 0)
			memcpy(e->c.last_error_message, edata->message, len);
		e->c.last_error_message[len] = '\0';
		SpinLockRelease(&e->mutex);
	}
	FreeErrorData(edata);
}

/* ERROR unless the table exists (quo_fdw in shared_preload_libraries). */
static void
require_table(void)
{
	if (stats_shared == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("quo_fdw statistics are not available"),
				 errdetail("quo_fdw keeps its statistics in shared memory, which it can only have when the server loads it at start."),
				 errhint("Add quo_fdw to shared_preload_libraries and restart the server.")));
}

/*
 * A message recorded in database encoding enc, as this database can show
 * it: as it is in the same encoding, else its ASCII with '?' for each
 * other character.
 */
static char *
message_here(const char *msg, int enc)
{
	StringInfoData buf;

	if (enc == GetDatabaseEncoding())
		return pstrdup(msg);
	initStringInfo(&buf);
	for (const char *p = msg; *p;)
	{
		int			l = IS_HIGHBIT_SET(*p) ? pg_encoding_mblen(enc, p) : 1;

		appendStringInfoChar(&buf, IS_HIGHBIT_SET(*p) ? '?' : *p);
		for (int i = 0; i < l && *p; i++)
			p++;
	}
	return buf.data;
}

/* A name Datum for s. */
static Datum
name_datum(const char *s)
{
	Name		n = palloc0(NAMEDATALEN);

	namestrcpy(n, s);
	return NameGetDatum(n);
}

#define STATS_COLUMNS 19

/*
 * quo_fdw.stats(): the rows of the view quo_fdw.stats.  A role sees the
 * entries of this database's servers it has USAGE on; a member of
 * pg_read_all_stats (a superuser too) sees every entry: other databases'
 * (with the server name as their last use recorded it) and the overflow
 * entry (server and database NULL).
 */
Datum
quo_fdw_stats(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	TupleDesc	tupdesc;
	Tuplestorestate *out;
	MemoryContext old;
	QuoStatsEntry *copies;
	int			n = 0;
	bool		all = has_privs_of_role(GetUserId(), ROLE_PG_READ_ALL_STATS);

	require_table();
	if (rsinfo == NULL || !IsA(rsinfo, ReturnSetInfo) ||
		(rsinfo->allowedModes & SFRM_Materialize) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("quo_fdw.stats must be called in FROM")));
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE ||
		tupdesc->natts != STATS_COLUMNS)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("quo_fdw: quo_fdw.stats() has not the row type this library returns")));
	old = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
	tupdesc = CreateTupleDescCopy(tupdesc);
	out = tuplestore_begin_heap(true, false, work_mem);
	MemoryContextSwitchTo(old);

	/* a copy of each entry in use, each consistent in itself */
	copies = palloc(sizeof(QuoStatsEntry) * (stats_shared->max + 1));
	LWLockAcquire(stats_shared->lock, LW_SHARED);
	for (int i = 0; i <= stats_shared->max; i++)
	{
		QuoStatsEntry *e = i < stats_shared->max ? &stats_shared->entries[i] : &stats_shared->overflow;

		SpinLockAcquire(&e->mutex);
		if (e->dbid != InvalidOid || (e == &stats_shared->overflow && e->c.requests + e->c.rows > 0))
			memcpy(&copies[n++], e, sizeof(QuoStatsEntry));
		SpinLockRelease(&e->mutex);
	}
	LWLockRelease(stats_shared->lock);

	for (int i = 0; i < n; i++)
	{
		QuoStatsEntry *e = &copies[i];
		QuoStatsCounters *c = &e->c;
		Datum		v[STATS_COLUMNS];
		bool		nulls[STATS_COLUMNS] = {0};
		const char *server = NULL;
		char	   *dbname = NULL;
		int			k = 0;

		if (e->dbid == MyDatabaseId)
		{
			ForeignServer *srv = GetForeignServerExtended(e->serverid, FSV_MISSING_OK);

			if (srv != NULL)
				server = srv->servername;
			if (!all && (srv == NULL || !quo_server_usage_ok(e->serverid, GetUserId())))
				continue;
		}
		else if (!all)
			continue;
		if (e->dbid != InvalidOid)
		{
			dbname = get_database_name(e->dbid);
			if (server == NULL)
				server = NameStr(e->servername);
		}

		nulls[k] = server == NULL;
		v[k++] = server ? name_datum(server) : (Datum) 0;
		nulls[k] = dbname == NULL;
		v[k++] = dbname ? name_datum(dbname) : (Datum) 0;
		v[k++] = Int64GetDatum(c->requests);
		v[k++] = Int64GetDatum(c->responses_2xx);
		v[k++] = Int64GetDatum(c->responses_404);
		v[k++] = Int64GetDatum(c->responses_429);
		v[k++] = Int64GetDatum(c->responses_4xx);
		v[k++] = Int64GetDatum(c->responses_5xx);
		v[k++] = Int64GetDatum(c->transport_errors);
		v[k++] = Int64GetDatum(c->retries);
		v[k++] = Int64GetDatum(c->rate_limit_waits);
		v[k++] = Float8GetDatum((double) c->rate_limit_wait_usecs / 1000.0);
		v[k++] = Int64GetDatum(c->bytes_received);
		v[k++] = Int64GetDatum(c->rows);
		nulls[k] = c->first_request == 0;
		v[k++] = TimestampTzGetDatum(c->first_request);
		nulls[k] = c->last_request == 0;
		v[k++] = TimestampTzGetDatum(c->last_request);
		nulls[k] = c->last_error == 0;
		v[k++] = TimestampTzGetDatum(c->last_error);
		nulls[k] = c->last_error == 0;
		v[k++] = c->last_error ? CStringGetTextDatum(c->last_error_sqlstate) : (Datum) 0;
		nulls[k] = c->last_error == 0;
		v[k++] = c->last_error ?
			CStringGetTextDatum(message_here(c->last_error_message, c->last_error_encoding)) : (Datum) 0;
		Assert(k == STATS_COLUMNS);
		tuplestore_putvalues(out, tupdesc, v, nulls);
	}
	pfree(copies);

	rsinfo->returnMode = SFRM_Materialize;
	rsinfo->setResult = out;
	rsinfo->setDesc = tupdesc;
	return (Datum) 0;
}

/*
 * quo_fdw.stats_reset(server name DEFAULT NULL): forget the counts of a
 * server of this database (its owner or a superuser), or, with NULL, of
 * every entry (a superuser: every database's, the overflow entry's too)
 * or of this database's servers the caller owns.  The entries are freed,
 * so other servers may take them.
 */
Datum
quo_fdw_stats_reset(PG_FUNCTION_ARGS)
{
	Oid			only = InvalidOid;
	bool		super = superuser();
	Oid		   *owned = NULL;
	int			nowned = 0;

	require_table();
	if (!PG_ARGISNULL(0))
	{
		const char *name = NameStr(*PG_GETARG_NAME(0));
		ForeignServer *srv = GetForeignServerByName(name, false);

		if (!quo_is_quo_server(srv->serverid))
			ereport(ERROR,
					(errcode(ERRCODE_WRONG_OBJECT_TYPE),
					 errmsg("server \"%s\" is not a quo_fdw server", name)));
		if (!quo_server_owner_ok(srv->serverid, GetUserId()))
			aclcheck_error(ACLCHECK_NOT_OWNER, OBJECT_FOREIGN_SERVER, name);
		only = srv->serverid;
	}
	else if (!super)
	{
		/* this database's servers in the table that the caller owns */
		owned = palloc(sizeof(Oid) * stats_shared->max);
		LWLockAcquire(stats_shared->lock, LW_SHARED);
		for (int i = 0; i < stats_shared->max; i++)
			if (stats_shared->entries[i].dbid == MyDatabaseId)
				owned[nowned++] = stats_shared->entries[i].serverid;
		LWLockRelease(stats_shared->lock);
		for (int i = 0; i < nowned; i++)
			if (!SearchSysCacheExists1(FOREIGNSERVEROID, ObjectIdGetDatum(owned[i])) ||
				!quo_server_owner_ok(owned[i], GetUserId()))
				owned[i] = InvalidOid;
	}

	LWLockAcquire(stats_shared->lock, LW_EXCLUSIVE);
	for (int i = 0; i < stats_shared->max; i++)
	{
		QuoStatsEntry *e = &stats_shared->entries[i];
		bool		reset = false;

		if (e->dbid == InvalidOid)
			continue;
		if (OidIsValid(only))
			reset = e->dbid == MyDatabaseId && e->serverid == only;
		else if (super)
			reset = true;
		else if (e->dbid == MyDatabaseId)
			for (int k = 0; k < nowned && !reset; k++)
				reset = OidIsValid(owned[k]) && owned[k] == e->serverid;
		if (reset)
			free_entry(e);
	}
	if (!OidIsValid(only) && super)
	{
		SpinLockAcquire(&stats_shared->overflow.mutex);
		memset(&stats_shared->overflow.c, 0, sizeof(QuoStatsCounters));
		SpinLockRelease(&stats_shared->overflow.mutex);
	}
	LWLockRelease(stats_shared->lock);
	PG_RETURN_VOID();
}
