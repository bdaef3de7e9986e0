/*-------------------------------------------------------------------------
 * scan.c
 *		The executor side of a foreign scan: qual values evaluated at each
 *		(re)scan, the request series built from them and run by the one
 *		scan engine (series.c), a fan-out's listing turned into its visits,
 *		rows converted, and what EXPLAIN shows.
 *
 * Memory: the scan's own memory context holds per-rescan (series) and
 * per-row children and the series run, whose own reset callback releases
 * what lives outside PostgreSQL's memory (the parsed page, the fetcher's
 * curl handles), so an ERROR or cancel anywhere leaks nothing.
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
	bool		children_started;	/* the listing is done: the series are
									 * the children */
	bool		warned;			/* the fan-out's WARNING was given */
	List	   *specs;			/* QuoRequestSpec * of this (re)scan */
	QuoSeriesRun *run;			/* the engine running them */
	bool		may_start_ahead;	/* no LIMIT above: every series is needed */

	MemoryContext scan_cxt;		/* lives as long as the scan */
	MemoryContext series_cxt;	/* reset per rescan: values, request series */
	MemoryContext row_cxt;		/* reset per row: the row's Datums */
} QuoFdwScanState;

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
	state->rowctx.api_key = state->opts.api_key;
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
	state->row_cxt = AllocSetContextCreate(state->scan_cxt, "quo_fdw row",
										   ALLOCSET_DEFAULT_SIZES);
	state->run = quo_series_create(&state->opts, &state->rowctx, state->limit,
								   state->may_start_ahead, RelationGetRelationName(state->rel),
								   state->scan_cxt);
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
										 state->opts.fixed_params, state->opts.api_key,
										 CurrentMemoryContext, state->listings);
		/* a listing this query has read already is not read again */
		return state->fanout && quo_fanout_needs_listing(state->fanout) ?
			quo_fanout_parent_specs(state->fanout) : NIL;
	}
	return quo_build_requests(state->opts.endpoint, state->quals, values,
							  state->opts.fixed_params, missing);
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
	return state->may_start_ahead ? quo_fetcher_query_requests(state->run->fetcher) : -1;
}

/*
 * After a fan-out's listing: its children are the series (false when the
 * scan has no fan-out, or its children were started already).
 */
static bool
start_children(QuoFdwScanState *state)
{
	MemoryContext old;

	if (state->fanout == NULL || state->children_started)
		return false;
	old = MemoryContextSwitchTo(state->series_cxt);
	state->children_started = true;
	/*
	 * Under a LIMIT (no series started ahead) not every conversation may
	 * be visited: the budget is then held while paging only.
	 */
	state->specs = quo_fanout_children(state->fanout, RelationGetRelationName(state->rel),
									   requests_to_check(state),
									   state->opts.rate_limit, &state->warned);
	MemoryContextSwitchTo(old);
	quo_series_start(state->run, state->specs, NULL);
	quo_series_count_as(state->run, "conversations");
	return true;
}

/* Error context while a row is converted: which request it came from. */
static void
row_error_context(void *arg)
{
	QuoFdwScanState *state = arg;

	errcontext("row %d of the Quo API response to GET %s for foreign table \"%s\"",
			   state->run->next_row - 1, state->run->target ? state->run->target : "?",
			   RelationGetRelationName(state->rel));
}

static TupleTableSlot *
quoIterateForeignScan(ForeignScanState *node)
{
	QuoFdwScanState *state = node->fdw_state;
	TupleTableSlot *slot = node->ss.ss_ScanTupleSlot;
	QuoSeriesRun *run = state->run;

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
			int64		made = quo_fetcher_query_requests(run->fetcher);

			quo_check_budget(made + list_length(state->specs),
							 psprintf("Foreign table \"%s\" needs %d request series (one per value of its conditions), each of at least one request, after the " INT64_FORMAT " the query has made.",
									  RelationGetRelationName(state->rel),
									  list_length(state->specs), made),
							 "Narrow the query (fewer values in its IN lists, fewer rows joined to the table), or raise quo_fdw.max_requests.");
		}
		quo_series_set_budget(run, RelationGetRelationName(state->rel));
		quo_series_start(run, state->specs, NULL);
		state->built = true;
	}

	for (;;)
	{
		ErrorContextCallback errcb;
		MemoryContext old;

		switch (quo_series_next(run))
		{
			case QUO_SERIES_ROW:
				errcb.callback = row_error_context;
				errcb.arg = state;
				errcb.previous = error_context_stack;
				error_context_stack = &errcb;
				if (run->spec->lists_parents)
				{
					/* a fan-out's listing: each row becomes child series */
					quo_fanout_add_parent(state->fanout, run->row);
					error_context_stack = errcb.previous;
					continue;
				}
				MemoryContextReset(state->row_cxt);
				old = MemoryContextSwitchTo(state->row_cxt);
				quo_json_to_row(&state->rowctx, run->row, slot->tts_values, slot->tts_isnull);
				MemoryContextSwitchTo(old);
				error_context_stack = errcb.previous;
				return ExecStoreVirtualTuple(slot);
			case QUO_SERIES_PAGE_DONE:
				/* the visits can only grow: the budget, after each page */
				if (run->spec->lists_parents)
					quo_fanout_check_budget(state->fanout, RelationGetRelationName(state->rel),
											requests_to_check(state), state->opts.rate_limit);
				continue;
			case QUO_SERIES_SERIES_DONE:
				continue;
			case QUO_SERIES_END:
				if (start_children(state))
					continue;
				return slot;
			case QUO_SERIES_STOPPED:
				/* a scan sets no stop: only quo_fdw.max_requests, an ERROR */
				ereport(ERROR,
						(errcode(ERRCODE_INTERNAL_ERROR),
						 errmsg_internal("quo_fdw: the scan of \"%s\" was stopped",
										 RelationGetRelationName(state->rel))));
		}
	}
}

static void
quoReScanForeignScan(ForeignScanState *node)
{
	QuoFdwScanState *state = node->fdw_state;

	quo_series_reset(state->run);
	state->built = false;
	state->fanout = NULL;
	state->children_started = false;
	state->specs = NIL;
	MemoryContextReset(state->series_cxt);
}

static void
quoEndForeignScan(ForeignScanState *node)
{
	QuoFdwScanState *state = node->fdw_state;

	if (state)
		quo_series_reset(state->run);
}

/* One line per request series, as "GET target". */
static List *
explain_requests(QuoFdwScanState *state, List *specs)
{
	List	   *lines = NIL;
	ListCell   *lc;

	foreach(lc, specs)
		lines = lappend(lines, psprintf("GET %s",
										quo_request_target(lfirst(lc), quo_series_page_size(state->run, lfirst(lc)), NULL)));
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
			char	   *kept = quo_fanout_kept(state->fanout);

			specs = quo_fanout_parent_specs(state->fanout);
			if (list_length(specs) == 1)
				ExplainPropertyText("Quo Fan-out", linitial(explain_requests(state, specs)), es);
			else
				ExplainPropertyList("Quo Fan-out", explain_requests(state, specs), es);
			/* the listing takes no participants: they choose what is visited */
			if (kept != NULL)
				ExplainPropertyText("Quo Conversations Kept", kept, es);
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
		ExplainPropertyInteger("Quo Requests Made", NULL, state->run->stats.requests, es);
		ExplainPropertyInteger("Quo Pages", NULL, state->run->n_pages, es);
		ExplainPropertyInteger("Quo Rows Fetched", NULL, state->run->n_rows_fetched, es);
		ExplainPropertyInteger("Quo Retries", NULL, state->run->stats.retries, es);
		ExplainPropertyInteger("Quo Bytes Received", NULL, state->run->stats.bytes, es);
		if (state->fanout != NULL)
		{
			const QuoFanoutCounts *c = quo_fanout_counts(state->fanout);

			ExplainPropertyInteger("Quo Conversations Listed", NULL, c->listed, es);
			ExplainPropertyInteger("Quo Conversations Visited", NULL, c->visited, es);
			ExplainPropertyInteger("Quo Conversations Skipped By Last Activity", NULL, c->pruned, es);
			if (c->filtered)
				ExplainPropertyInteger("Quo Conversations Skipped By Participants", NULL,
									   c->by_participants, es);
			ExplainPropertyInteger("Quo Conversations Skipped As Unlistable", NULL,
								   c->unlistable + c->odd, es);
			ExplainPropertyInteger("Quo Peak Requests In Flight", NULL, state->run->stats.peak_in_flight, es);
			ExplainPropertyInteger("Quo Rate Limit Wait", "ms", state->run->stats.throttled_usecs / 1000, es);
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
