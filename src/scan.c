/*-------------------------------------------------------------------------
 * scan.c
 *		The executor side of a foreign scan: qual values evaluated at each
 *		(re)scan, the request series built from them, pages fetched through
 *		the fetcher (fetch.c) and streamed one at a time, rows converted,
 *		and what EXPLAIN shows.
 *
 * Memory: the scan's own memory context holds per-rescan (series), per-page
 * and per-row children; what lives outside PostgreSQL's memory (the parsed
 * page, the fetcher's curl handles) is released by a reset callback on the
 * scan's context, so an ERROR or cancel anywhere leaks nothing.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "foreign/fdwapi.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/ruleutils.h"

#include "quo_fdw.h"

/* Executor state of a foreign scan. */
typedef struct QuoFdwScanState
{
	Relation	rel;
	QuoFdwOptions opts;			/* server, key, endpoint */
	List	   *quals;			/* QuoQual * (values unused) */
	List	   *value_exprs;	/* ExprState *, one per qual */
	int			limit;			/* pushed LIMIT, 0 when none */
	QuoRowContext rowctx;		/* what the row converter needs */

	/* the request series, built at the first fetch after begin/rescan */
	bool		built;
	bool		fanout_planned; /* list through the parent endpoint */
	QuoFanoutState *fanout;		/* this (re)scan's fan-out, or NULL */
	QuoFanoutCache *listings;	/* the fan-out's listings, kept for the
								 * rescans of the query */
	bool		children_started;	/* the listing is done: specs are the
									 * children */
	bool		warned;			/* the fan-out's WARNING was given */
	int64		started_at;		/* when the scan started (monotonic) */
	int64		progress_at;	/* when progress was last reported */
	List	   *specs;			/* QuoRequestSpec * */
	int			next_spec;		/* index of the next series to start */
	QuoRequestSpec *spec;		/* the current series */
	char	   *page_token;		/* token for the current series' next page */
	QuoTokenSet *seen_tokens;	/* the current series' page tokens so far */
	char	   *target;			/* the request of the current page (page_cxt) */

	/* the current page */
	struct json_object *page;	/* parsed response (json-c memory) */
	struct json_object *rows;	/* its rows */
	int			nrows;
	int			next_row;

	/* requests: every one is the fetcher's from submission to release */
	QuoFetcher *fetcher;
	QuoFetch   *current;		/* the page being fetched, until parsed */
	/* first pages submitted ahead: ahead[i] is for specs[next_spec + i] */
	QuoFetch   *ahead[QUO_MAX_CONCURRENT];
	int			nahead;
	bool		may_start_ahead;	/* no LIMIT above: every series is needed */

	MemoryContext scan_cxt;		/* lives as long as the scan */
	MemoryContext series_cxt;	/* reset per rescan: values, request series */
	MemoryContext spec_cxt;		/* reset per series: its participants */
	MemoryContext page_cxt;		/* reset per page: the request target */
	MemoryContext row_cxt;		/* reset per row: the row's Datums */

	/* counters for EXPLAIN ANALYZE */
	QuoFetchStats stats;		/* requests, retries, bytes, throttling */
	int64		n_pages;
	int64		n_rows_fetched;
	int64		rows_returned;	/* since begin or rescan */
} QuoFdwScanState;

/* Free the parsed page (json-c memory). */
static void
release_page(QuoFdwScanState *state)
{
	quo_json_free(state->page);
	state->page = NULL;
	state->rows = NULL;
	state->nrows = state->next_row = 0;
}

/* Release every request of the scan and the page. */
static void
release_external(QuoFdwScanState *state)
{
	if (state->fetcher)
		quo_fetcher_reset(state->fetcher);
	state->current = NULL;
	state->nahead = 0;
	release_page(state);
}

/* Memory context callback: runs when the scan's memory goes, error or not. */
static void
scan_memory_gone(void *arg)
{
	release_external((QuoFdwScanState *) arg);
}

static void
quoBeginForeignScan(ForeignScanState *node, int eflags)
{
	ForeignScan *fsplan = (ForeignScan *) node->ss.ps.plan;
	EState	   *estate = node->ss.ps.state;
	QuoFdwScanState *state = palloc0(sizeof(QuoFdwScanState));
	Oid			relid = RelationGetRelid(node->ss.ss_currentRelation);
	Oid			userid = QUO_SCAN_USERID(fsplan, estate, fsplan->scan.scanrelid);
	List	   *qual_ints = list_nth(fsplan->fdw_private, FdwPrivQuals);
	List	   *colmap = list_nth(fsplan->fdw_private, FdwPrivColmap);
	TupleDesc	tupdesc = RelationGetDescr(node->ss.ss_currentRelation);
	MemoryContextCallback *cb;
	ListCell   *lc;
	int			i;

	node->fdw_state = state;
	state->rel = node->ss.ss_currentRelation;
	quo_get_options(relid, userid, (eflags & EXEC_FLAG_EXPLAIN_ONLY) == 0, &state->opts);
	state->limit = intVal(list_nth(fsplan->fdw_private, FdwPrivLimit));
	state->may_start_ahead = boolVal(list_nth(fsplan->fdw_private, FdwPrivAhead));
	state->fanout_planned = boolVal(list_nth(fsplan->fdw_private, FdwPrivFanout));

	for (i = 0; i + 1 < list_length(qual_ints); i += 2)
	{
		QuoQual    *q = palloc0(sizeof(QuoQual));

		q->filter = list_nth_int(qual_ints, i);
		q->op = (QuoQualOp) list_nth_int(qual_ints, i + 1);
		q->value = list_nth(fsplan->fdw_exprs, i / 2);
		state->quals = lappend(state->quals, q);
	}
	state->value_exprs = ExecInitExprList(fsplan->fdw_exprs, (PlanState *) node);

	state->rowctx.endpoint = state->opts.endpoint;
	state->rowctx.relname = RelationGetRelationName(state->rel);
	state->rowctx.natts = tupdesc->natts;
	state->rowctx.colmap = palloc(sizeof(int) * Max(tupdesc->natts, 1));
	state->rowctx.attnames = palloc(sizeof(char *) * Max(tupdesc->natts, 1));
	i = 0;
	foreach(lc, colmap)
	{
		state->rowctx.colmap[i] = lfirst_int(lc);
		state->rowctx.attnames[i] = NameStr(TupleDescAttr(tupdesc, i)->attname);
		i++;
	}
	state->rowctx.ctx_participants_null = true;

	state->scan_cxt = AllocSetContextCreate(estate->es_query_cxt, "quo_fdw scan",
											ALLOCSET_SMALL_SIZES);
	state->series_cxt = AllocSetContextCreate(state->scan_cxt, "quo_fdw series",
											  ALLOCSET_DEFAULT_SIZES);
	state->spec_cxt = AllocSetContextCreate(state->scan_cxt, "quo_fdw series values",
											ALLOCSET_SMALL_SIZES);
	state->page_cxt = AllocSetContextCreate(state->scan_cxt, "quo_fdw page",
											ALLOCSET_DEFAULT_SIZES);
	state->row_cxt = AllocSetContextCreate(state->scan_cxt, "quo_fdw row",
										   ALLOCSET_DEFAULT_SIZES);
	state->fetcher = quo_fetcher_create(&state->opts, state->opts.max_concurrent,
										&state->stats, state->scan_cxt, estate);
	state->seen_tokens = quo_token_set_create(state->scan_cxt);
	cb = MemoryContextAlloc(state->scan_cxt, sizeof(MemoryContextCallback));
	cb->func = scan_memory_gone;
	cb->arg = state;
	MemoryContextRegisterResetCallback(state->scan_cxt, cb);
}

/*
 * Whether e needs a value the scan does not have yet: a join's parameter
 * (set by the nested loop only when it runs), or a $n of a plan explained
 * without values (EXPLAIN (GENERIC_PLAN)).
 */
static bool
value_unknown_walker(Node *node, void *context)
{
	EState	   *estate = context;

	if (node == NULL)
		return false;
	if (IsA(node, Param))
	{
		Param	   *p = (Param *) node;
		ParamListInfo params = estate->es_param_list_info;

		if (p->paramkind == PARAM_EXEC)
			return true;
		if (p->paramkind == PARAM_EXTERN &&
			(params == NULL || p->paramid <= 0 || p->paramid > params->numParams))
			return true;
	}
	return expression_tree_walker(node, value_unknown_walker, context);
}

/*
 * For EXPLAIN's placeholders: a PARAM_EXEC that no initplan of this scan
 * sets (a nested loop's parameter, an initplan of a node above, a SubPlan's
 * argument) becomes a PARAM_EXTERN of the same number.  Without the plan's
 * ancestors ruleutils cannot name such a Param (from PG17 it asserts that
 * it can); as PARAM_EXTERN it prints as $n, as it does up to PG16.
 */
static Node *
explain_param_mutator(Node *node, void *context)
{
	Plan	   *plan = context;

	if (node == NULL)
		return NULL;
	if (IsA(node, Param) && ((Param *) node)->paramkind == PARAM_EXEC)
	{
		Param	   *p = (Param *) node;
		ListCell   *lc;

		foreach(lc, plan->initPlan)
		{
			SubPlan    *sp = lfirst(lc);

			if (IsA(sp, SubPlan) && list_member_int(sp->setParam, p->paramid))
				return (Node *) copyObject(p);
		}
		p = copyObject(p);
		p->paramkind = PARAM_EXTERN;
		return (Node *) p;
	}
	return expression_tree_mutator(node, explain_param_mutator, context);
}

/*
 * Evaluate the qual values and build the request series.  For EXPLAIN of
 * a scan that has not run (es set: no ANALYZE, or an ANALYZE whose outer
 * side gave no row), values the scan does not have are shown as
 * placeholders, deparsed as EXPLAIN shows them (in the plan's context, so
 * an initplan's output reads as EXPLAIN names it): they are never
 * evaluated.
 */
static List *
build_specs(ForeignScanState *node, QuoFdwScanState *state, ExplainState *es,
			List **missing)
{
	ExprContext *econtext = node->ss.ps.ps_ExprContext;
	int			n = list_length(state->quals);
	QuoQualValue *values = palloc0(sizeof(QuoQualValue) * Max(n, 1));
	ListCell   *lc,
			   *lc2;
	int			i = 0;
	List	   *deparse_ctx = NIL;

	forboth(lc, state->quals, lc2, state->value_exprs)
	{
		QuoQual    *q = lfirst(lc);
		QuoQualValue *v = &values[i++];

		v->type = exprType((Node *) q->value);
		if (es != NULL && value_unknown_walker((Node *) q->value, node->ss.ps.state))
		{
			if (es->deparse_cxt == NIL)
			{
				/* not inside ExplainPrintPlan: nothing to name it with */
				v->placeholder = pstrdup("?");
				continue;
			}
			/*
			 * EXPLAIN's own context, set to this plan without ancestors (the
			 * core's show_* functions set both before each use).
			 */
			if (deparse_ctx == NIL)
				deparse_ctx = set_deparse_context_plan(es->deparse_cxt,
													   node->ss.ps.plan, NIL);
			v->placeholder =
				deparse_expression(explain_param_mutator((Node *) q->value,
														 node->ss.ps.plan),
								   deparse_ctx, false, false);
			continue;
		}
		v->value = ExecEvalExpr(lfirst(lc2), econtext, &v->isnull);
		v->known = true;
	}
	if (state->fanout_planned)
	{
		/* the scan starts with the parent listing */
		*missing = NIL;
		if (state->listings == NULL)
			state->listings = quo_fanout_cache_create(state->scan_cxt);
		state->fanout = quo_fanout_begin(state->opts.endpoint, state->quals, values,
										 state->opts.fixed_params, CurrentMemoryContext,
										 state->listings);
		/* a listing this query has read already is not read again */
		return state->fanout && quo_fanout_needs_listing(state->fanout) ?
			quo_fanout_parent_specs(state->fanout) : NIL;
	}
	return quo_build_requests(state->opts.endpoint, state->quals, values,
							  state->opts.fixed_params, missing);
}

/* Page size for a series: its endpoint's largest, or the pushed LIMIT when smaller. */
static int
page_size(QuoFdwScanState *state, const QuoRequestSpec *spec)
{
	if (state->limit > 0 && state->limit < spec->ep->max_page && !spec->lists_parents)
		return state->limit;
	return spec->ep->max_page;
}

/*
 * Submit the first requests of the series after the current one (an id
 * lookup, or a list's first page), so up to the server's
 * max_concurrent_requests are in flight.  They are submitted after the
 * request the scan needs now, so they never take its rate-limit slot; the
 * fetcher runs them while earlier answers are awaited.  Not under a LIMIT,
 * where a series may not be needed at all.
 */
static void
submit_ahead(QuoFdwScanState *state)
{
	while (state->may_start_ahead && state->nahead < state->opts.max_concurrent &&
		   state->next_spec + state->nahead < list_length(state->specs))
	{
		QuoRequestSpec *spec = list_nth(state->specs, state->next_spec + state->nahead);
		char	   *target;

		target = quo_request_target(spec, page_size(state, spec), NULL);
		state->ahead[state->nahead++] = quo_fetch_submit(state->fetcher, target,
														 spec->ep->api_version);
		pfree(target);
	}
}

/*
 * The fetch submitted ahead for the series just started
 * (specs[next_spec - 1]), or NULL; the others move up.
 */
static QuoFetch *
take_ahead(QuoFdwScanState *state)
{
	QuoFetch   *fetch;

	if (state->nahead == 0)
		return NULL;
	fetch = state->ahead[0];
	memmove(&state->ahead[0], &state->ahead[1], sizeof(QuoFetch *) * (state->nahead - 1));
	state->nahead--;
	return fetch;
}

/*
 * The requests the query has made (every node and rescan of it), for a
 * budget check before more are needed; -1 under a LIMIT (no series started
 * ahead), where not every series may be needed and the budget is held
 * while paging only.
 */
static int64
requests_to_check(QuoFdwScanState *state)
{
	return state->may_start_ahead ? quo_fetcher_query_requests(state->fetcher) : -1;
}

/*
 * Move on to the next request series; false when there is none.  After a
 * fan-out's listing, its children are the series.
 */
static bool
start_next_series(QuoFdwScanState *state)
{
	if (state->next_spec >= list_length(state->specs) &&
		state->fanout != NULL && !state->children_started)
	{
		MemoryContext old = MemoryContextSwitchTo(state->series_cxt);

		state->children_started = true;
		/*
		 * Under a LIMIT (no series started ahead) not every conversation may
		 * be visited: the budget is then held while paging only.
		 */
		state->specs = quo_fanout_children(state->fanout, RelationGetRelationName(state->rel),
										   requests_to_check(state),
										   state->opts.rate_limit, &state->warned);
		MemoryContextSwitchTo(old);
		state->next_spec = 0;
		Assert(state->nahead == 0);
	}
	if (state->next_spec >= list_length(state->specs))
		return false;
	state->spec = list_nth(state->specs, state->next_spec++);
	if (state->page_token)
		pfree(state->page_token);
	state->page_token = NULL;
	quo_token_set_clear(state->seen_tokens);
	MemoryContextReset(state->spec_cxt);
	memcpy(state->rowctx.ctx, state->spec->ctx, sizeof(state->rowctx.ctx));
	state->rowctx.ctx_participants_null = (state->spec->ctx_participants == NIL);
	if (state->spec->ctx_participants != NIL)
	{
		int			np = list_length(state->spec->ctx_participants);
		Datum	   *d;
		ListCell   *lc;
		int			i = 0;
		MemoryContext old = MemoryContextSwitchTo(state->spec_cxt);

		d = palloc(sizeof(Datum) * np);
		foreach(lc, state->spec->ctx_participants)
			d[i++] = CStringGetTextDatum(lfirst(lc));
		state->rowctx.ctx_participants =
			PointerGetDatum(construct_array(d, np, TEXTOID, -1, false, TYPALIGN_INT));
		MemoryContextSwitchTo(old);
	}
	return true;
}

/* Check a finished request's outcome and parse its body into the page. */
static void
take_response(QuoFdwScanState *state, const QuoHttpResult *res, bool is_item)
{
	const char *error = NULL;
	const char *token = NULL;

	state->page = quo_parse_response(&state->opts, state->target, res);
	quo_fetch_release(state->fetcher, state->current);
	state->current = NULL;

	if (!quo_json_page(state->page, state->spec->ep, is_item, &state->rows, &state->nrows, &token, &error))
		quo_report_bad_response(&state->opts, state->target, error);
	state->n_pages++;
	state->next_row = 0;

	if (token && !quo_token_set_add(state->seen_tokens, token))
		quo_report_bad_response(&state->opts, state->target,
								"the API returned a page token it had returned before, so paging would never end");
	if (state->page_token)
		pfree(state->page_token);
	state->page_token = token ? MemoryContextStrdup(state->scan_cxt, token) : NULL;
}

/*
 * With quo_fdw.progress on, a NOTICE at most every 5 seconds: how far the
 * scan is, and, for a fan-out, the time left at the current pace.
 */
static void
report_progress(QuoFdwScanState *state)
{
	int64		now;
	double		secs;

	if (!quo_progress)
		return;
	now = quo_monotonic_usecs();
	if (state->progress_at == 0)
		state->progress_at = state->started_at = now;
	if (now - state->progress_at < 5 * USECS_PER_SEC)
		return;
	state->progress_at = now;
	secs = (double) (now - state->started_at) / USECS_PER_SEC;
	if (state->fanout != NULL && state->children_started && state->next_spec > 1)
	{
		int			done = state->next_spec - 1;
		int			total = list_length(state->specs);

		ereport(NOTICE,
				(errmsg("quo_fdw: \"%s\": %d of %d conversations, " INT64_FORMAT " rows, " INT64_FORMAT " requests, about %.0f s left",
						RelationGetRelationName(state->rel), done, total,
						state->rows_returned, state->stats.requests,
						secs / done * (total - done))));
	}
	else
		ereport(NOTICE,
				(errmsg("quo_fdw: \"%s\": " INT64_FORMAT " rows, " INT64_FORMAT " requests in %.0f s",
						RelationGetRelationName(state->rel), state->rows_returned,
						state->stats.requests, secs)));
}

/*
 * Fetch the next page of the current series, or start the next series.
 * False when every series is done.
 */
static bool
fetch_next_page(QuoFdwScanState *state)
{
	release_page(state);
	MemoryContextReset(state->page_cxt);
	state->target = NULL;

	for (;;)
	{
		const QuoHttpResult *res;
		bool		is_item;
		QuoFetch   *fetch = NULL;

		if (state->spec == NULL || state->page_token == NULL)
		{
			/* the current series is done: start the next one */
			if (!start_next_series(state))
				return false;
			fetch = take_ahead(state);
		}
		is_item = (state->spec->query == NULL);
		if (fetch == NULL)
		{
			char	   *target = quo_request_target(state->spec, page_size(state, state->spec),
													state->page_token);

			fetch = quo_fetch_submit(state->fetcher, target, state->spec->ep->api_version);
			pfree(target);
		}
		state->current = fetch;
		state->target = MemoryContextStrdup(state->page_cxt, quo_fetch_target(fetch));
		submit_ahead(state);
		report_progress(state);

		res = quo_fetch_await(state->fetcher, fetch);

		/* an id the API says does not exist is no row */
		if (is_item && quo_is_missing_object(state->spec->ep, res))
		{
			quo_fetch_release(state->fetcher, fetch);
			state->current = NULL;
			MemoryContextReset(state->page_cxt);	/* many may be missing */
			state->target = NULL;
			continue;
		}
		take_response(state, res, is_item);

		/* with a pushed LIMIT, no page past the one that reaches it */
		if (state->limit > 0 && !state->spec->lists_parents &&
			state->rows_returned + state->nrows >= state->limit)
		{
			if (state->page_token)
				pfree(state->page_token);
			state->page_token = NULL;
			state->next_spec = list_length(state->specs);
		}
		return true;
	}
}

/* Error context while a row is converted: which request it came from. */
static void
row_error_context(void *arg)
{
	QuoFdwScanState *state = arg;

	errcontext("row %d of the Quo API response to GET %s for foreign table \"%s\"",
			   state->next_row, state->target ? state->target : "?",
			   RelationGetRelationName(state->rel));
}

static TupleTableSlot *
quoIterateForeignScan(ForeignScanState *node)
{
	QuoFdwScanState *state = node->fdw_state;
	TupleTableSlot *slot = node->ss.ss_ScanTupleSlot;

	ExecClearTuple(slot);
	if (!state->built)
	{
		MemoryContext old = MemoryContextSwitchTo(state->series_cxt);
		List	   *missing = NIL;

		elog(DEBUG1, "quo_fdw: scan of \"%s\" starts with %d HTTP requests held by this backend",
			 RelationGetRelationName(state->rel), quo_http_live_requests());
		state->specs = build_specs(node, state, NULL, &missing);
		MemoryContextSwitchTo(old);
		if (missing != NIL)
			quo_report_missing_required(state->opts.endpoint,
										RelationGetRelationName(state->rel), missing);
		/* every series costs a request at least: check before the first */
		if (quo_max_requests > 0 && state->may_start_ahead)
		{
			int64		made = quo_fetcher_query_requests(state->fetcher);

			quo_check_budget(made + list_length(state->specs),
							 psprintf("Foreign table \"%s\" needs %d request series (one per value of its conditions), each of at least one request, after the " INT64_FORMAT " the query has made.",
									  RelationGetRelationName(state->rel),
									  list_length(state->specs), made),
							 "Narrow the query (fewer values in its IN lists, fewer rows joined to the table), or raise quo_fdw.max_requests.");
		}
		quo_fetcher_set_budget(state->fetcher, RelationGetRelationName(state->rel));
		state->built = true;
	}

	for (;;)
	{
		if (state->limit > 0 && state->rows_returned >= state->limit)
			return slot;
		if (state->page != NULL && state->next_row < state->nrows &&
			state->spec->lists_parents)
		{
			ErrorContextCallback errcb;

			/* a fan-out's listing: each row becomes child series */
			errcb.callback = row_error_context;
			errcb.arg = state;
			errcb.previous = error_context_stack;
			error_context_stack = &errcb;
			for (; state->next_row < state->nrows; state->next_row++)
			{
				CHECK_FOR_INTERRUPTS();
				quo_fanout_add_parent(state->fanout, quo_json_row(state->rows, state->next_row));
			}
			error_context_stack = errcb.previous;
			quo_fanout_check_budget(state->fanout, RelationGetRelationName(state->rel),
									requests_to_check(state), state->opts.rate_limit);
			continue;
		}
		if (state->page != NULL && state->next_row < state->nrows)
		{
			ErrorContextCallback errcb;
			MemoryContext old;
			struct json_object *obj = quo_json_row(state->rows, state->next_row);

			errcb.callback = row_error_context;
			errcb.arg = state;
			errcb.previous = error_context_stack;
			error_context_stack = &errcb;

			MemoryContextReset(state->row_cxt);
			old = MemoryContextSwitchTo(state->row_cxt);
			quo_json_to_row(&state->rowctx, obj, slot->tts_values, slot->tts_isnull);
			MemoryContextSwitchTo(old);

			error_context_stack = errcb.previous;
			state->next_row++;
			state->n_rows_fetched++;
			state->rows_returned++;
			return ExecStoreVirtualTuple(slot);
		}
		if (!fetch_next_page(state))
			return slot;
	}
}

static void
quoReScanForeignScan(ForeignScanState *node)
{
	QuoFdwScanState *state = node->fdw_state;

	release_external(state);
	state->built = false;
	state->fanout = NULL;
	state->children_started = false;
	state->specs = NIL;
	state->next_spec = 0;
	state->spec = NULL;
	if (state->page_token)
		pfree(state->page_token);
	state->page_token = NULL;
	quo_token_set_clear(state->seen_tokens);
	state->rows_returned = 0;
	MemoryContextReset(state->page_cxt);
	state->target = NULL;
	MemoryContextReset(state->series_cxt);
}

static void
quoEndForeignScan(ForeignScanState *node)
{
	QuoFdwScanState *state = node->fdw_state;

	if (state)
		release_external(state);
}

/* One line per request series, as "GET target". */
static List *
explain_requests(QuoFdwScanState *state, List *specs)
{
	List	   *lines = NIL;
	ListCell   *lc;

	foreach(lc, specs)
		lines = lappend(lines, psprintf("GET %s",
										quo_request_target(lfirst(lc), page_size(state, lfirst(lc)), NULL)));
	return lines;
}

/*
 * EXPLAIN VERBOSE shows the requests: those the scan made last when it has
 * run, else those it would make, with placeholders for values it does not
 * have.  ANALYZE adds what the scan did.
 */
static void
quoExplainForeignScan(ForeignScanState *node, ExplainState *es)
{
	QuoFdwScanState *state = node->fdw_state;

	if (es->verbose)
	{
		List	   *specs = state->specs;
		List	   *missing = NIL;

		if (!state->built)
			specs = build_specs(node, state, es, &missing);
		if (state->fanout != NULL)
		{
			/* the listing, then the shape of each conversation's series */
			List	   *shape = quo_fanout_shape(state->fanout);

			specs = quo_fanout_parent_specs(state->fanout);
			if (list_length(specs) == 1)
				ExplainPropertyText("Quo Fan-out", linitial(explain_requests(state, specs)), es);
			else
				ExplainPropertyList("Quo Fan-out", explain_requests(state, specs), es);
			specs = shape;
		}
		if (missing != NIL)
			ExplainPropertyText("Quo Request", "none: a required filter has no value", es);
		else if (specs == NIL)
			ExplainPropertyText("Quo Request", "none: no row can match", es);
		else if (list_length(specs) == 1)
			ExplainPropertyText("Quo Request", linitial(explain_requests(state, specs)), es);
		else
			ExplainPropertyList("Quo Requests", explain_requests(state, specs), es);
	}
	if (es->analyze)
	{
		ExplainPropertyInteger("Quo Requests Made", NULL, state->stats.requests, es);
		ExplainPropertyInteger("Quo Pages", NULL, state->n_pages, es);
		ExplainPropertyInteger("Quo Rows Fetched", NULL, state->n_rows_fetched, es);
		ExplainPropertyInteger("Quo Retries", NULL, state->stats.retries, es);
		ExplainPropertyInteger("Quo Bytes Received", NULL, state->stats.bytes, es);
		if (state->fanout != NULL)
		{
			const QuoFanoutCounts *c = quo_fanout_counts(state->fanout);

			ExplainPropertyInteger("Quo Conversations Listed", NULL, c->listed, es);
			ExplainPropertyInteger("Quo Conversations Visited", NULL, c->visited, es);
			ExplainPropertyInteger("Quo Conversations Skipped By Last Activity", NULL, c->pruned, es);
			ExplainPropertyInteger("Quo Conversations Skipped As Unlistable", NULL,
								   c->unlistable + c->odd, es);
			ExplainPropertyInteger("Quo Peak Requests In Flight", NULL, state->stats.peak_in_flight, es);
			ExplainPropertyInteger("Quo Rate Limit Wait", "ms", state->stats.throttled_usecs / 1000, es);
		}
	}
}

/*
 * The text EXPLAIN shows for expr, a value that plan ps computes only while
 * it runs (join.c's key), deparsed in the plan's context as build_specs
 * shows a placeholder, with column names qualified.
 */
char *
quo_explain_expr(PlanState *ps, ExplainState *es, Node *expr)
{
	if (es->deparse_cxt == NIL)
		return pstrdup("?");
	return deparse_expression(explain_param_mutator(expr, ps->plan),
							  set_deparse_context_plan(es->deparse_cxt, ps->plan, NIL),
							  true, false);
}

/*
 * Every callback serves a foreign scan of one table and, for a plan with
 * no scan relation, join.c's id-lookup join.
 */
#define QUO_IS_JOIN(node) (((ForeignScan *) (node)->ss.ps.plan)->scan.scanrelid == 0)

static void
quoBegin(ForeignScanState *node, int eflags)
{
	if (QUO_IS_JOIN(node))
		quo_join_begin(node, eflags);
	else
		quoBeginForeignScan(node, eflags);
}

static TupleTableSlot *
quoIterate(ForeignScanState *node)
{
	return QUO_IS_JOIN(node) ? quo_join_iterate(node) : quoIterateForeignScan(node);
}

static void
quoReScan(ForeignScanState *node)
{
	if (QUO_IS_JOIN(node))
		quo_join_rescan(node);
	else
		quoReScanForeignScan(node);
}

static void
quoEnd(ForeignScanState *node)
{
	if (QUO_IS_JOIN(node))
		quo_join_end(node);
	else
		quoEndForeignScan(node);
}

static void
quoExplain(ForeignScanState *node, ExplainState *es)
{
	if (QUO_IS_JOIN(node))
		quo_join_explain(node, es);
	else
		quoExplainForeignScan(node, es);
}

/* The executor callbacks of the handler. */
void
quo_scan_routines(FdwRoutine *routine)
{
	routine->BeginForeignScan = quoBegin;
	routine->IterateForeignScan = quoIterate;
	routine->ReScanForeignScan = quoReScan;
	routine->EndForeignScan = quoEnd;
	routine->ExplainForeignScan = quoExplain;
}
