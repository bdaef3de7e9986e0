/*-------------------------------------------------------------------------
 * fetch_sql.c
 *		The reads of the mirror as SQL functions: an endpoint's whole list
 *		(resumable at a page token), items by id, and the calls or messages
 *		of given conversations, each a list of request series run by the
 *		one scan engine (series.c) as the current user, through a server.
 *
 *	quo_fdw.fetch_list(server, endpoint, page_token, stop_after)
 *	quo_fdw.fetch_ids(server, endpoint, ids, stop_after)
 *	quo_fdw.fetch_visits(server, endpoints, conversation_ids,
 *						 phone_number_ids, participants, created_after,
 *						 stop_after)
 *
 * Each returns SETOF record: the caller names the columns it wants, by the
 * endpoint's column names and with their types (those of the foreign
 * tables), plus any of five of its own:
 *	item integer		which input item (1-based) the row is of: an id, a
 *						conversation; 1 for a list
 *	item_done boolean	NULL on a row; on a marker row, true: the item is
 *						complete (its rows, if any, came before), or
 *						false: a list stopped before its end
 *	endpoint text		which endpoint a row is of (visits read two); on
 *						a marker, NULL when the item was done without a
 *						request (it cannot be one of the endpoint's)
 *	next_page_token text	on a list's marker: where to resume it
 *	forbidden boolean	on a marker of an item asked for: whether the API
 *						refused it (403: a plan without the feature).
 *						Naming this column makes such a 403 an answer,
 *						the item done with no row, instead of an ERROR
 *						(only for items read by id)
 *
 * An item's rows are given only once all of its pages are read, so a
 * caller that stops (stop_after: no request past that many, a clean stop)
 * never sees half an item.  A list's rows are given as its pages come: a
 * stopped list is resumed at next_page_token.  quo_fdw.max_requests holds
 * as for any query (an ERROR, 53400); the requests count in
 * quo_fdw.requests_sent().  Values are built by the one request builder,
 * rows converted by the one JSON converter, so a row is what a scan of the
 * foreign table gives.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_foreign_server.h"
#include "catalog/pg_type.h"
#include "foreign/foreign.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/tuplestore.h"
#include "executor/tuptable.h"

#include "quo_fdw.h"

PG_FUNCTION_INFO_V1(quo_fdw_fetch_list);
PG_FUNCTION_INFO_V1(quo_fdw_fetch_ids);
PG_FUNCTION_INFO_V1(quo_fdw_fetch_visits);
PG_FUNCTION_INFO_V1(quo_fdw_endpoint_columns);

/* What one call of a fetch function works with. */
typedef struct FetchCall
{
	const char *fname;			/* the SQL function, for messages */
	QuoFdwOptions opts;			/* server, key, (first) endpoint */
	int			neps;			/* endpoints read: 1, or 2 for visits */
	const QuoEndpoint *eps[2];
	QuoRowContext rowctx[2];	/* per endpoint: the columns asked for */
	TupleDesc	tupdesc;		/* the caller's columns */
	int			att_item;		/* attribute of item, or -1 */
	int			att_done;		/* attribute of item_done, or -1 */
	int			att_token;		/* attribute of next_page_token, or -1 */
	int			att_endpoint;	/* attribute of endpoint, or -1 */
	int			att_forbidden;	/* attribute of forbidden, or -1 */
	Tuplestorestate *out;		/* the result */
	Datum	   *values;			/* one row being made */
	bool	   *nulls;
	MemoryContext row_cxt;		/* reset per row */
	Tuplestorestate *item_rows; /* the current item's rows, until complete
								 * (spilled to disk past work_mem) */
	TupleTableSlot *item_slot;	/* to move them into the result */
	QuoSeriesRun *run;
} FetchCall;

/*
 * Set up a call: the result in materialize mode, the server (quo_fdw's,
 * with USAGE), the endpoints (ep_names, one or two) and the options for
 * the current user, and the columns asked for: each a special one or a
 * column of some endpoint read, of the same type in each that has it.
 */
static void
fetch_begin(FunctionCallInfo fcinfo, FetchCall *fc, const char *fname,
			char **ep_names, int neps)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	const char *server_name = NameStr(*PG_GETARG_NAME(0));
	ForeignServer *server;
	MemoryContext old;

	memset(fc, 0, sizeof(*fc));
	fc->fname = fname;
	if (rsinfo == NULL || !IsA(rsinfo, ReturnSetInfo) ||
		(rsinfo->allowedModes & SFRM_Materialize) == 0 || rsinfo->expectedDesc == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("%s must be called in FROM with a column definition list", fname),
				 errhint("SELECT * FROM %s(...) AS t(item integer, item_done boolean, id text, ...)", fname)));
	if (neps < 1 || neps > 2)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s reads one or two endpoints", fname)));

	server = GetForeignServerByName(server_name, false);
	if (!quo_is_quo_server(server->serverid))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("server \"%s\" is not a quo_fdw server", server_name)));
	if (!quo_server_usage_ok(server->serverid, GetUserId()))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for foreign server %s", server_name)));
	fc->neps = neps;
	for (int e = 0; e < neps; e++)
	{
		fc->eps[e] = quo_endpoint_by_name(ep_names[e]);
		if (fc->eps[e] == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("\"%s\" is not a Quo endpoint", ep_names[e])));
	}
	quo_get_server_options(server->serverid, GetUserId(), fc->eps[0], true, &fc->opts);

	old = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
	fc->tupdesc = CreateTupleDescCopy(rsinfo->expectedDesc);
	fc->out = tuplestore_begin_heap(true, false, work_mem);
	rsinfo->returnMode = SFRM_Materialize;
	rsinfo->setResult = fc->out;
	rsinfo->setDesc = fc->tupdesc;
	MemoryContextSwitchTo(old);

	fc->att_item = fc->att_done = fc->att_token = fc->att_endpoint = fc->att_forbidden = -1;
	for (int e = 0; e < neps; e++)
	{
		QuoRowContext *rc = &fc->rowctx[e];

		rc->endpoint = fc->eps[e];
		rc->relname = fc->eps[e]->name;
		rc->natts = fc->tupdesc->natts;
		rc->colmap = palloc(sizeof(int) * Max(fc->tupdesc->natts, 1));
		rc->attnames = palloc(sizeof(char *) * Max(fc->tupdesc->natts, 1));
		rc->ctx_participants_null = true;
		rc->api_key = fc->opts.api_key;
	}
	for (int i = 0; i < fc->tupdesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(fc->tupdesc, i);
		const char *name = NameStr(att->attname);
		Oid			want = InvalidOid;
		bool		found = false;
		bool		special;

		if (strcmp(name, "item") == 0)
			fc->att_item = i, want = INT4OID, found = true;
		else if (strcmp(name, "item_done") == 0)
			fc->att_done = i, want = BOOLOID, found = true;
		else if (strcmp(name, "next_page_token") == 0)
			fc->att_token = i, want = TEXTOID, found = true;
		else if (strcmp(name, "endpoint") == 0)
			fc->att_endpoint = i, want = TEXTOID, found = true;
		else if (strcmp(name, "forbidden") == 0)
			fc->att_forbidden = i, want = BOOLOID, found = true;
		special = found;
		for (int e = 0; e < neps; e++)
		{
			QuoRowContext *rc = &fc->rowctx[e];
			int			col = special ? -1 : quo_endpoint_column(fc->eps[e], name);

			rc->colmap[i] = col;
			rc->attnames[i] = pstrdup(name);
			if (col < 0)
				continue;
			if (att->atttypid != quo_coltype_oid(fc->eps[e]->columns[col].type))
				ereport(ERROR,
						(errcode(ERRCODE_DATATYPE_MISMATCH),
						 errmsg("column \"%s\" of %s's result must be %s, the type of %s.%s",
								name, fname,
								format_type_be(quo_coltype_oid(fc->eps[e]->columns[col].type)),
								fc->eps[e]->name, name)));
			found = true;
		}
		if (!found)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("no endpoint %s reads has a column \"%s\"", fname, name)));
		if (want != InvalidOid && att->atttypid != want)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("column \"%s\" of %s's result must be %s", name, fname,
							format_type_be(want))));
	}
	fc->values = palloc(sizeof(Datum) * Max(fc->tupdesc->natts, 1));
	fc->nulls = palloc(sizeof(bool) * Max(fc->tupdesc->natts, 1));
	fc->row_cxt = AllocSetContextCreate(CurrentMemoryContext, "quo_fdw fetch row",
										ALLOCSET_DEFAULT_SIZES);
	fc->item_rows = tuplestore_begin_heap(true, false, work_mem);
	fc->item_slot = MakeSingleTupleTableSlot(fc->tupdesc, &TTSOpsMinimalTuple);
}

/* Error context while a row is converted: which request it came from. */
static void
fetch_row_context(void *arg)
{
	FetchCall  *fc = arg;

	errcontext("row %d of the Quo API response to GET %s for %s",
			   fc->run->next_row - 1, fc->run->target ? fc->run->target : "?", fc->fname);
}

/*
 * The row of the run's last QUO_SERIES_ROW, of item, as a tuple (in the
 * current context), converted with its endpoint's columns and the ctx
 * slots of its series.
 */
static HeapTuple
make_row(FetchCall *fc, int item)
{
	ErrorContextCallback errcb;
	MemoryContext old;
	HeapTuple	tup;
	QuoRowContext *rc = &fc->rowctx[0];

	for (int e = 1; e < fc->neps; e++)
		if (fc->run->spec->ep == fc->eps[e])
		{
			/* the run keeps the series' slots in the first converter */
			rc = &fc->rowctx[e];
			memcpy(rc->ctx, fc->rowctx[0].ctx, sizeof(rc->ctx));
			rc->ctx_participants = fc->rowctx[0].ctx_participants;
			rc->ctx_participants_null = fc->rowctx[0].ctx_participants_null;
		}
	errcb.callback = fetch_row_context;
	errcb.arg = fc;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;
	old = MemoryContextSwitchTo(fc->row_cxt);
	MemoryContextReset(fc->row_cxt);
	quo_json_to_row(rc, fc->run->row, fc->values, fc->nulls);
	if (fc->att_item >= 0)
		fc->values[fc->att_item] = Int32GetDatum(item), fc->nulls[fc->att_item] = false;
	/* item_done is NULL on a row, true or false only on a marker */
	if (fc->att_endpoint >= 0)
		fc->values[fc->att_endpoint] = CStringGetTextDatum(fc->run->spec->ep->name),
			fc->nulls[fc->att_endpoint] = false;
	MemoryContextSwitchTo(old);
	tup = heap_form_tuple(fc->tupdesc, fc->values, fc->nulls);
	error_context_stack = errcb.previous;
	return tup;
}

/*
 * Add a marker row: item is done (or, for a list, stopped at token).  Its
 * endpoint column names the endpoint when the item was asked for, and is
 * NULL for an item done without a request (an id or number that cannot be
 * one of the endpoint's: nothing was learnt of it).
 */
static void
put_marker(FetchCall *fc, int item, bool done, const char *token, bool asked,
		   bool forbidden)
{
	for (int i = 0; i < fc->tupdesc->natts; i++)
		fc->nulls[i] = true;
	if (fc->att_item >= 0)
		fc->values[fc->att_item] = Int32GetDatum(item), fc->nulls[fc->att_item] = false;
	if (fc->att_done >= 0)
		fc->values[fc->att_done] = BoolGetDatum(done), fc->nulls[fc->att_done] = false;
	if (fc->att_token >= 0 && token != NULL)
		fc->values[fc->att_token] = CStringGetTextDatum(token), fc->nulls[fc->att_token] = false;
	if (fc->att_endpoint >= 0 && asked)
		fc->values[fc->att_endpoint] = CStringGetTextDatum(fc->eps[0]->name),
			fc->nulls[fc->att_endpoint] = false;
	if (fc->att_forbidden >= 0 && asked)
		fc->values[fc->att_forbidden] = BoolGetDatum(forbidden),
			fc->nulls[fc->att_forbidden] = false;
	tuplestore_putvalues(fc->out, fc->tupdesc, fc->values, fc->nulls);
}

/*
 * Run specs (spec_item[k]: the item of specs[k]) to the end or to the stop
 * after stop_after requests.  whole_items: an item's rows are given only
 * when it is complete, with its marker, and an item the stop cuts short
 * is left out while those after it whose answers are in still complete
 * (ids, visits); else rows are given as they come and the run ends at the
 * stop (a list, resumed at *stop_token).  Returns whether every series
 * ran to its end.
 */
static bool
fetch_run(FetchCall *fc, List *specs, const int *spec_item, int64 stop_after,
		  const char *first_token, bool whole_items, char **stop_token)
{
	bool		all = true;
	int			cut = 0;		/* an item the stop cut short: the rest of
								 * its series are left out too */
	bool		forbidden = false;	/* a series of the item was refused */

	*stop_token = NULL;
	fc->run = quo_series_create(&fc->opts, &fc->rowctx[0], 0, true, fc->fname,
								CurrentMemoryContext);
	quo_series_set_budget(fc->run, fc->fname);
	/* a caller that asks which items were refused gets their 403s so */
	fc->run->forbidden_is_answer = (fc->att_forbidden >= 0);
	if (stop_after > 0)
		quo_series_stop_after(fc->run, stop_after);
	quo_series_start(fc->run, specs, first_token);
	for (;;)
	{
		QuoSeriesEvent ev = quo_series_next(fc->run);
		int			k = fc->run->next_spec - 1;

		if (ev == QUO_SERIES_ROW && !whole_items)
		{
			HeapTuple	tup = make_row(fc, spec_item[k]);

			tuplestore_puttuple(fc->out, tup);
			heap_freetuple(tup);
		}
		else if (ev == QUO_SERIES_ROW && spec_item[k] != cut)
		{
			HeapTuple	tup = make_row(fc, spec_item[k]);

			tuplestore_puttuple(fc->item_rows, tup);
			heap_freetuple(tup);
		}
		else if (ev == QUO_SERIES_SERIES_DONE && whole_items && spec_item[k] != cut &&
				 (k + 1 >= list_length(specs) || spec_item[k + 1] != spec_item[k]))
		{
			/* the item's last series: its rows, then its marker */
			tuplestore_rescan(fc->item_rows);
			while (tuplestore_gettupleslot(fc->item_rows, true, false, fc->item_slot))
				tuplestore_puttupleslot(fc->out, fc->item_slot);
			tuplestore_clear(fc->item_rows);
			put_marker(fc, spec_item[k], true, NULL, true,
					   forbidden || fc->run->series_forbidden);
			forbidden = false;
		}
		else if (ev == QUO_SERIES_SERIES_DONE && whole_items)
			forbidden = forbidden || fc->run->series_forbidden;
		else if (ev == QUO_SERIES_STOPPED && whole_items)
		{
			/* the item under way is not given: a later step does it whole */
			all = false;
			cut = spec_item[k];
			forbidden = false;
			tuplestore_clear(fc->item_rows);
			quo_series_skip(fc->run);
		}
		else if (ev == QUO_SERIES_STOPPED)
		{
			all = false;
			if (fc->run->page_token)
				*stop_token = pstrdup(fc->run->page_token);
			break;
		}
		else if (ev == QUO_SERIES_END)
			break;
	}
	/* the run's requests and page go now, not when the call's memory does */
	tuplestore_end(fc->item_rows);
	ExecDropSingleTupleTableSlot(fc->item_slot);
	MemoryContextDelete(fc->run->cxt);
	fc->run = NULL;
	return all;
}

/* The request builder's series for one item: quals with their known values. */
static List *
item_specs(const QuoEndpoint *ep, List *quals, QuoQualValue *values)
{
	List	   *missing = NIL;
	List	   *specs = quo_build_requests(ep, quals, values, NIL, &missing);

	if (missing != NIL)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("quo_fdw: a fetch of \"%s\" lacks a required filter", ep->name)));
	return specs;
}

/* A qual on ep's filter for column, with op. */
static QuoQual *
make_qual(const QuoEndpoint *ep, const char *column, QuoQualOp op)
{
	QuoQual    *q = palloc0(sizeof(QuoQual));

	q->filter = quo_endpoint_filter(ep, column);
	if (q->filter < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("quo_fdw: endpoint \"%s\" has no filter on \"%s\"", ep->name, column)));
	q->op = op;
	return q;
}

/* The stop argument: NULL or 0 for none, never negative. */
static int64
stop_arg(FunctionCallInfo fcinfo, int argno)
{
	int64		n = PG_ARGISNULL(argno) ? 0 : PG_GETARG_INT64(argno);

	if (n < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("stop_after must not be negative")));
	return n;
}

/* The elements of a text[] argument (NULL for a NULL element); *n their count. */
static Datum *
text_elements(FunctionCallInfo fcinfo, int argno, bool **nulls, int *n)
{
	Datum	   *elems;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("argument %d must not be NULL", argno + 1)));
	deconstruct_array(PG_GETARG_ARRAYTYPE_P(argno), TEXTOID, -1, false, TYPALIGN_INT,
					  &elems, nulls, n);
	return elems;
}

/*
 * quo_fdw.fetch_list(server name, endpoint text, page_token text,
 * stop_after bigint): the endpoint's whole list, from its first page or
 * from page_token; a marker row at the end says whether it was read to its
 * end, and if not, where to resume.
 */
Datum
quo_fdw_fetch_list(PG_FUNCTION_ARGS)
{
	FetchCall	fc;
	List	   *specs;
	int			one = 1;
	char	   *ep_name;
	char	   *stop_token;
	char	   *token = PG_ARGISNULL(2) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(2));
	int64		stop = stop_arg(fcinfo, 3);

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("quo_fdw.fetch_list needs a server and an endpoint")));
	ep_name = text_to_cstring(PG_GETARG_TEXT_PP(1));
	fetch_begin(fcinfo, &fc, "quo_fdw.fetch_list", &ep_name, 1);
	if (fc.opts.endpoint->list_path == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("endpoint \"%s\" has no list", fc.opts.endpoint->name)));
	specs = item_specs(fc.opts.endpoint, NIL, NULL);
	if (list_length(specs) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("quo_fdw: the list of \"%s\" is not one series",
								 fc.opts.endpoint->name)));
	if (fetch_run(&fc, specs, &one, stop, token && *token ? token : NULL, false,
				  &stop_token))
		put_marker(&fc, 1, true, NULL, true, false);
	else
		put_marker(&fc, 1, false, stop_token ? stop_token : token, true, false);
	return (Datum) 0;
}

/*
 * quo_fdw.fetch_ids(server name, endpoint text, ids text[], stop_after
 * bigint): each id's GET (the document's 404: no row), items in order
 * until the stop; a marker row for each item done.  An id that cannot be
 * one of the endpoint's (its documented prefix) is done with no request.
 */
Datum
quo_fdw_fetch_ids(PG_FUNCTION_ARGS)
{
	FetchCall	fc;
	bool	   *nulls;
	int			n;
	Datum	   *ids;
	int64		stop = stop_arg(fcinfo, 3);
	const QuoEndpoint *ep;
	const char *id_column = NULL;
	List	   *specs = NIL;
	int		   *spec_item;
	char	   *stop_token;
	char	   *ep_name;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("quo_fdw.fetch_ids needs a server and an endpoint")));
	ids = text_elements(fcinfo, 2, &nulls, &n);
	ep_name = text_to_cstring(PG_GETARG_TEXT_PP(1));
	fetch_begin(fcinfo, &fc, "quo_fdw.fetch_ids", &ep_name, 1);
	ep = fc.opts.endpoint;
	for (int f = 0; f < ep->nfilters; f++)
		if (ep->filters[f].kind == QUO_FILTER_ID)
			id_column = ep->filters[f].column;
	if (id_column == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("endpoint \"%s\" has no get by id", ep->name)));
	spec_item = palloc(sizeof(int) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		QuoQualValue v = {0};
		List	   *s;

		CHECK_FOR_INTERRUPTS();
		if (nulls[i])
		{
			put_marker(&fc, i + 1, true, NULL, false, false);
			continue;
		}
		v.known = true;
		v.value = ids[i];
		v.type = TEXTOID;
		s = item_specs(ep, list_make1(make_qual(ep, id_column, QUO_OP_EQ)), &v);
		if (s == NIL)
			put_marker(&fc, i + 1, true, NULL, false, false); /* can be no such item */
		else
		{
			spec_item[list_length(specs)] = i + 1;
			specs = lappend(specs, linitial(s));
		}
	}
	fetch_run(&fc, specs, spec_item, stop, NULL, true, &stop_token);
	return (Datum) 0;
}

/*
 * The series of one visit of endpoint ep (calls or messages) to a
 * conversation of number pn and participants plist (text Datums), of rows
 * created from after (NULL: all): what a workspace-wide scan sends for it.
 * NIL when the number cannot be a Quo one (no row).
 */
static List *
visit_specs(const QuoEndpoint *ep, Datum pn, List *plist, Datum after, bool no_after)
{
	const QuoFanout *desc = ep->fanout;
	QuoQualValue v[3] = {{0}};
	List	   *quals;

	v[0].known = true;
	v[0].value = pn;
	v[0].type = TEXTOID;
	quals = list_make1(make_qual(ep, desc->phone_column, QUO_OP_EQ));
	v[1].known = true;
	if (desc->max_participants == 1)
	{
		/* v = ANY (participants): exactly what the list filters on */
		v[1].value = PointerGetDatum(linitial(plist));
		v[1].type = TEXTOID;
		quals = lappend(quals, make_qual(ep, desc->participants_column, QUO_OP_HAS));
	}
	else
	{
		Datum	   *d = palloc(sizeof(Datum) * list_length(plist));
		int			j = 0;
		ListCell   *lc;

		foreach(lc, plist)
			d[j++] = PointerGetDatum(lfirst(lc));
		v[1].value = PointerGetDatum(construct_array(d, j, TEXTOID, -1, false, TYPALIGN_INT));
		v[1].type = TEXTARRAYOID;
		quals = lappend(quals, make_qual(ep, desc->participants_column, QUO_OP_ARRAY_EQ));
	}
	if (!no_after)
	{
		v[2].known = true;
		v[2].value = after;
		v[2].type = TIMESTAMPTZOID;
		quals = lappend(quals, make_qual(ep, desc->prune_column, QUO_OP_GE));
	}
	return item_specs(ep, quals, v);
}

/*
 * quo_fdw.fetch_visits(server name, endpoints text[], conversation_ids
 * text[], phone_number_ids text[], participants text[], created_after
 * timestamptz[], stop_after bigint): the rows of each endpoint (calls,
 * messages) in each conversation, as a workspace-wide scan visits it
 * (participants: the conversation's, joined by commas; created_after:
 * NULL for all; calls only for a conversation of one participant, as calls
 * are 1:1), conversations in order until the stop.  A conversation is an
 * item: its rows of every endpoint come once all are read, then its
 * marker row.
 */
Datum
quo_fdw_fetch_visits(PG_FUNCTION_ARGS)
{
	FetchCall	fc;
	bool	   *ep_nulls,
			   *id_nulls,
			   *pn_nulls,
			   *part_nulls,
			   *after_nulls;
	int			neps,
				n,
				n2,
				n3,
				n4;
	Datum	   *ep_datums,
			   *conv_ids,
			   *pns,
			   *parts,
			   *afters;
	char	   *ep_names[2];
	int64		stop = stop_arg(fcinfo, 6);
	List	   *specs = NIL;
	int		   *spec_item;
	char	   *stop_token;

	for (int a = 0; a < 6; a++)
		if (PG_ARGISNULL(a))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("quo_fdw.fetch_visits needs a server, its endpoints and its arrays")));
	ep_datums = text_elements(fcinfo, 1, &ep_nulls, &neps);
	conv_ids = text_elements(fcinfo, 2, &id_nulls, &n);
	pns = text_elements(fcinfo, 3, &pn_nulls, &n2);
	parts = text_elements(fcinfo, 4, &part_nulls, &n3);
	deconstruct_array(PG_GETARG_ARRAYTYPE_P(5), TIMESTAMPTZOID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE,
					  &afters, &after_nulls, &n4);
	if (n2 != n || n3 != n || n4 != n)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("the arrays of quo_fdw.fetch_visits must be of one length")));
	if (neps < 1 || neps > 2)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("quo_fdw.fetch_visits reads one or two endpoints")));
	for (int e = 0; e < neps; e++)
	{
		if (ep_nulls[e])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("quo_fdw.fetch_visits needs a server, its endpoints and its arrays")));
		ep_names[e] = TextDatumGetCString(ep_datums[e]);
	}
	fetch_begin(fcinfo, &fc, "quo_fdw.fetch_visits", ep_names, neps);
	for (int e = 0; e < neps; e++)
		if (fc.eps[e]->fanout == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("endpoint \"%s\" is not listed per conversation", fc.eps[e]->name)));
	spec_item = palloc(sizeof(int) * Max(n * neps, 1));
	for (int i = 0; i < n; i++)
	{
		List	   *plist = NIL;
		char	   *p;
		char	   *tok;
		char	   *save = NULL;
		int			before = list_length(specs);

		CHECK_FOR_INTERRUPTS();
		if (id_nulls[i] || pn_nulls[i] || part_nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("conversation %d of quo_fdw.fetch_visits has a NULL id, number or participants",
							i + 1)));
		p = TextDatumGetCString(parts[i]);
		for (tok = strtok_r(p, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
			plist = lappend(plist, DatumGetPointer(CStringGetTextDatum(tok)));
		for (int e = 0; e < neps; e++)
		{
			const QuoEndpoint *ep = fc.eps[e];
			List	   *s;

			if (plist == NIL || list_length(plist) > 10)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("conversation %s has %d participants: the API lists conversations of 1 to 10",
								TextDatumGetCString(conv_ids[i]), list_length(plist))));
			if (list_length(plist) > ep->fanout->max_participants)
				continue;		/* a group conversation holds no call */
			s = visit_specs(ep, pns[i], plist, afters[i], after_nulls[i]);
			if (list_length(s) > 1)
				ereport(ERROR,
						(errcode(ERRCODE_INTERNAL_ERROR),
						 errmsg_internal("quo_fdw: a visit of \"%s\" is not one series", ep->name)));
			if (s == NIL)
				continue;		/* a number that cannot be a Quo one holds no row */
			((QuoRequestSpec *) linitial(s))->ctx[QUO_CTX_CONVERSATION] =
				TextDatumGetCString(conv_ids[i]);
			spec_item[list_length(specs)] = i + 1;
			specs = lappend(specs, linitial(s));
		}
		if (list_length(specs) == before)
			put_marker(&fc, i + 1, true, NULL, false, false);
	}
	fetch_run(&fc, specs, spec_item, stop, NULL, true, &stop_token);
	return (Datum) 0;
}

/*
 * quo_fdw.endpoint_columns(endpoint text): the columns of the endpoint's
 * foreign table (as IMPORT FOREIGN SCHEMA makes it) and their types, in
 * order: the one definition the mirror's tables are made from.
 */
Datum
quo_fdw_endpoint_columns(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	const QuoEndpoint *ep = quo_endpoint_by_name(name);
	TupleDesc	tupdesc;
	Tuplestorestate *out;
	MemoryContext old;

	if (ep == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"%s\" is not a Quo endpoint", name)));
	if (rsinfo == NULL || !IsA(rsinfo, ReturnSetInfo) ||
		(rsinfo->allowedModes & SFRM_Materialize) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("quo_fdw.endpoint_columns must be called in FROM")));
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("quo_fdw: endpoint_columns has no row type")));
	old = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
	tupdesc = CreateTupleDescCopy(tupdesc);
	out = tuplestore_begin_heap(true, false, work_mem);
	MemoryContextSwitchTo(old);
	for (int i = 0; i < ep->ncolumns; i++)
	{
		Datum		v[2];
		bool		nulls[2] = {false, false};

		v[0] = CStringGetTextDatum(ep->columns[i].name);
		v[1] = CStringGetTextDatum(quo_coltype_name(ep->columns[i].type));
		tuplestore_putvalues(out, tupdesc, v, nulls);
	}
	rsinfo->returnMode = SFRM_Materialize;
	rsinfo->setResult = out;
	rsinfo->setDesc = tupdesc;
	return (Datum) 0;
}
