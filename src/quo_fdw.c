/*-------------------------------------------------------------------------
 * quo_fdw.c
 *		The foreign data wrapper handler: planner callbacks (which quals go to
 *		the API, LIMIT), executor callbacks (request series, pages streamed
 *		one at a time), EXPLAIN, and IMPORT FOREIGN SCHEMA.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "commands/defrem.h"
#include "commands/explain.h"
#include "executor/executor.h"
#include "foreign/fdwapi.h"
#include "foreign/foreign.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/cost.h"
#include "optimizer/paths.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/planmain.h"
#include "optimizer/restrictinfo.h"
#include "parser/parsetree.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/ruleutils.h"

#include "quo_fdw.h"

PG_FUNCTION_INFO_V1(quo_fdw_handler);

/* The slots of ForeignScan.fdw_private. */
enum QuoFdwScanPrivate
{
	FdwPrivEndpoint,			/* String: endpoint name */
	FdwPrivQuals,				/* IntList: filter, op, filter, op, ... (the
								 * values are fdw_exprs, in the same order) */
	FdwPrivColmap,				/* IntList: endpoint column per attribute, -1
								 * when not fetched */
	FdwPrivLimit,				/* Integer: pushed LIMIT, 0 when none */
	FdwPrivAhead				/* Boolean: requests may be started ahead */
};

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
	List	   *specs;			/* QuoRequestSpec * */
	int			next_spec;		/* index of the next series to start */
	QuoRequestSpec *spec;		/* the current series */
	char	   *page_token;		/* token for the current series' next page */
	uint64	   *seen_tokens;	/* hashes of the series' tokens so far */
	int			nseen;
	int			seen_cap;
	char	   *target;			/* the request in progress or last made (page_cxt) */

	/* the current page */
	struct json_object *page;	/* parsed response (json-c memory) */
	struct json_object *rows;	/* its rows */
	int			nrows;
	int			next_row;

	/* the request in flight, released on every path */
	QuoHttpRequest *inflight;
	/* id lookups started ahead: ahead[i] is for specs[next_spec + i] */
	QuoHttpRequest *ahead[QUO_MAX_IN_FLIGHT];
	int			nahead;
	bool		may_start_ahead;	/* no LIMIT above: every series is needed */

	MemoryContext scan_cxt;		/* lives as long as the scan */
	MemoryContext series_cxt;	/* reset per rescan: values, request series */
	MemoryContext page_cxt;		/* reset per page: the request target */
	MemoryContext row_cxt;		/* reset per row: the row's Datums */

	/* counters for EXPLAIN ANALYZE */
	QuoFetchStats stats;		/* requests, retries, bytes, throttling */
	int64		n_pages;
	int64		n_rows_fetched;
	int64		rows_returned;	/* since begin or rescan */
} QuoFdwScanState;

static void quoGetForeignRelSize(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid);
static void quoGetForeignPaths(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid);
static ForeignScan *quoGetForeignPlan(PlannerInfo *root, RelOptInfo *baserel,
									  Oid foreigntableid, ForeignPath *best_path,
									  List *tlist, List *scan_clauses, Plan *outer_plan);
static void quoBeginForeignScan(ForeignScanState *node, int eflags);
static TupleTableSlot *quoIterateForeignScan(ForeignScanState *node);
static void quoReScanForeignScan(ForeignScanState *node);
static void quoEndForeignScan(ForeignScanState *node);
static void quoExplainForeignScan(ForeignScanState *node, ExplainState *es);
static List *quoImportForeignSchema(ImportForeignSchemaStmt *stmt, Oid serverOid);

Datum
quo_fdw_handler(PG_FUNCTION_ARGS)
{
	FdwRoutine *routine = makeNode(FdwRoutine);

	routine->GetForeignRelSize = quoGetForeignRelSize;
	routine->GetForeignPaths = quoGetForeignPaths;
	routine->GetForeignPlan = quoGetForeignPlan;
	routine->BeginForeignScan = quoBeginForeignScan;
	routine->IterateForeignScan = quoIterateForeignScan;
	routine->ReScanForeignScan = quoReScanForeignScan;
	routine->EndForeignScan = quoEndForeignScan;
	routine->ExplainForeignScan = quoExplainForeignScan;
	routine->ImportForeignSchema = quoImportForeignSchema;
	PG_RETURN_POINTER(routine);
}

/* ------------------------------------------------------------------------
 * Planning
 * ------------------------------------------------------------------------
 */

/*
 * Map each column of the table to its endpoint column, checking names and
 * types: a hand-written table may hold any subset of the endpoint's columns.
 */
static int *
map_columns(Oid relid, const QuoEndpoint *ep, int *natts_out)
{
	Relation	rel = table_open(relid, NoLock);
	TupleDesc	tupdesc = RelationGetDescr(rel);
	int		   *colmap = palloc(sizeof(int) * Max(tupdesc->natts, 1));

	for (int i = 0; i < tupdesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i);
		char	   *remote;
		int			col;

		colmap[i] = -1;
		if (att->attisdropped)
			continue;
		remote = quo_column_remote_name(relid, att->attnum);
		col = quo_endpoint_column(ep, remote);
		if (col < 0)
		{
			StringInfoData names;

			initStringInfo(&names);
			for (int c = 0; c < ep->ncolumns; c++)
				appendStringInfo(&names, "%s%s", c ? ", " : "", ep->columns[c].name);
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_COLUMN_NAME),
					 errmsg("column \"%s\" of foreign table \"%s\" is not a column of Quo endpoint \"%s\"",
							NameStr(att->attname), RelationGetRelationName(rel), ep->name),
					 errhint("Valid columns are: %s.", names.data)));
		}
		if (att->atttypid != quo_coltype_oid(ep->columns[col].type))
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
					 errmsg("column \"%s\" of foreign table \"%s\" has type %s, but Quo column \"%s\" is %s",
							NameStr(att->attname), RelationGetRelationName(rel),
							format_type_be(att->atttypid), ep->columns[col].name,
							quo_coltype_name(ep->columns[col].type))));
		colmap[i] = col;
	}
	*natts_out = tupdesc->natts;
	table_close(rel, NoLock);
	return colmap;
}

/* ERROR: the list operation needs filters the query does not give. */
static void
report_missing_required(const QuoEndpoint *ep, const char *relname, List *missing)
{
	StringInfoData cols;
	ListCell   *lc;

	initStringInfo(&cols);
	foreach(lc, missing)
		appendStringInfo(&cols, "%s%s", cols.len ? " and " : "", (char *) lfirst(lc));
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("foreign table \"%s\" needs a WHERE condition on %s", relname, cols.data),
			 errdetail("The Quo API lists %s only for one phone_number_id and its participants (or by id).",
					   ep->name),
			 errhint("Add a condition such as: %s", ep->required_hint)));
}

static void
quoGetForeignRelSize(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	QuoFdwRelationInfo *fpinfo = palloc0(sizeof(QuoFdwRelationInfo));
	double		rows;

	fpinfo->endpoint = quo_table_endpoint(foreigntableid);
	fpinfo->colmap = map_columns(foreigntableid, fpinfo->endpoint, &fpinfo->natts);
	baserel->fdw_private = fpinfo;

	quo_classify_conds(root, baserel, fpinfo, baserel->baserestrictinfo);

	/* An id lookup returns a row per id; a list, we cannot know. */
	rows = fpinfo->has_id ? 1 : 1000;
	if (fpinfo->has_id)
	{
		ListCell   *lc;

		foreach(lc, fpinfo->remote_quals)
		{
			QuoQual    *q = lfirst(lc);

			if (fpinfo->endpoint->filters[q->filter].kind == QUO_FILTER_ID &&
				q->op == QUO_OP_IN && IsA(q->value, Const) &&
				!((Const *) q->value)->constisnull)
				rows = Max(1, ArrayGetNItems(ARR_NDIM(DatumGetArrayTypeP(((Const *) q->value)->constvalue)),
											 ARR_DIMS(DatumGetArrayTypeP(((Const *) q->value)->constvalue))));
		}
	}
	baserel->rows = clamp_row_est(rows * clauselist_selectivity(root, fpinfo->local_conds,
																baserel->relid, JOIN_INNER, NULL));
	baserel->tuples = rows;
}

/*
 * The LIMIT that may be sent as maxResults: only when this scan is the whole
 * query, nothing sorts or aggregates its rows, and nothing is left to
 * filter locally.
 */
static double
pushable_limit(PlannerInfo *root, RelOptInfo *baserel, QuoFdwRelationInfo *fpinfo)
{
	if (root->limit_tuples <= 0 || root->parse->sortClause != NIL ||
		fpinfo->local_conds != NIL || fpinfo->has_id)
		return 0;
	if (baserel->reloptkind != RELOPT_BASEREL ||
		bms_membership(root->all_baserels) != BMS_SINGLETON)
		return 0;
	return root->limit_tuples;
}

/* Remote cost of a path expected to return rows rows. */
static Cost
path_cost(double rows, bool has_required)
{
	Cost		total = 100.0 + ceil(rows / QUO_MAX_PAGE_SIZE) * 100.0 + rows * cpu_tuple_cost;

	/* a path the API cannot serve is planned only if nothing else is */
	return has_required ? total : total + disable_cost;
}

/* State for ec_member_matches: one equivalence class member at a time. */
typedef struct EcMemberArg
{
	Expr	   *current;		/* the member being generated for */
	List	   *already_used;	/* members done */
} EcMemberArg;

/* generate_implied_equalities_for_column callback (as in postgres_fdw). */
static bool
ec_member_matches(PlannerInfo *root, RelOptInfo *rel, EquivalenceClass *ec,
				  EquivalenceMember *em, void *arg)
{
	EcMemberArg *state = arg;

	(void) root;
	(void) rel;
	(void) ec;
	if (state->current != NULL)
		return equal(em->em_expr, state->current);
	if (list_member(state->already_used, em->em_expr))
		return false;
	state->current = em->em_expr;
	return true;
}

/*
 * Join clauses that could become request parameters in a nested loop with
 * this table on the inner side: movable join clauses, and equalities implied
 * by equivalence classes ("calls.id = wanted.call_id").
 */
static List *
join_clause_candidates(PlannerInfo *root, RelOptInfo *baserel)
{
	List	   *out = NIL;
	ListCell   *lc;

	foreach(lc, baserel->joininfo)
	{
		RestrictInfo *rinfo = lfirst(lc);

		if (join_clause_is_movable_to(rinfo, baserel))
			out = lappend(out, rinfo);
	}
	if (baserel->has_eclass_joins)
	{
		EcMemberArg arg;

		arg.already_used = NIL;
		for (;;)
		{
			List	   *clauses;

			arg.current = NULL;
			clauses = generate_implied_equalities_for_column(root, baserel, ec_member_matches,
															 &arg, baserel->lateral_referencers);
			if (arg.current == NULL)
				break;
			foreach(lc, clauses)
			{
				RestrictInfo *rinfo = lfirst(lc);

				if (join_clause_is_movable_to(rinfo, baserel))
					out = lappend(out, rinfo);
			}
			arg.already_used = lappend(arg.already_used, arg.current);
		}
	}
	return out;
}

/*
 * One unparameterized path (parameterized only by LATERAL references), and
 * one path per set of outer relations whose join clauses become request
 * parameters: with a local table of phone numbers or call ids on the outer
 * side of a nested loop, each outer row makes one precise request.
 */
static void
quoGetForeignPaths(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	QuoFdwRelationInfo *fpinfo = baserel->fdw_private;
	List	   *outer_sets = NIL;
	ListCell   *lc;

	(void) foreigntableid;
	fpinfo->limit = pushable_limit(root, baserel, fpinfo);
	add_path(baserel, (Path *)
			 quo_create_foreignscan_path(root, baserel, NULL, baserel->rows, 100.0,
										 path_cost(baserel->tuples, fpinfo->has_required),
										 NIL, baserel->lateral_relids, NULL, NIL));

	foreach(lc, join_clause_candidates(root, baserel))
	{
		RestrictInfo *rinfo = lfirst(lc);
		QuoFdwRelationInfo probe = *fpinfo;
		Relids		outer;
		ListCell   *lc2;
		bool		seen = false;

		quo_classify_conds(root, baserel, &probe, list_make1(rinfo));
		if (probe.remote_quals == NIL)
			continue;
		outer = bms_union(bms_difference(rinfo->clause_relids, baserel->relids),
						  baserel->lateral_relids);
		if (bms_is_empty(outer))
			continue;
		foreach(lc2, outer_sets)
			if (bms_equal(lfirst(lc2), outer))
				seen = true;
		if (!seen)
			outer_sets = lappend(outer_sets, outer);
	}

	foreach(lc, outer_sets)
	{
		Relids		outer = lfirst(lc);
		ParamPathInfo *ppi = get_baserel_parampathinfo(root, baserel, outer);
		QuoFdwRelationInfo probe = *fpinfo;
		double		rows = ppi->ppi_rows;

		quo_classify_conds(root, baserel, &probe,
						   list_concat(list_copy(baserel->baserestrictinfo), ppi->ppi_clauses));
		if (probe.has_id)
			rows = Min(rows, 1);
		add_path(baserel, (Path *)
				 quo_create_foreignscan_path(root, baserel, NULL, rows, 100.0,
											 path_cost(rows, probe.has_required),
											 NIL, outer, NULL, NIL));
	}
}

/* Mark in colmap_out the columns the plan reads; others are not converted. */
static List *
fetched_columns(RelOptInfo *baserel, QuoFdwRelationInfo *fpinfo, List *local_exprs)
{
	Bitmapset  *attrs = NULL;
	List	   *out = NIL;
	bool		whole_row;

	pull_varattnos((Node *) baserel->reltarget->exprs, baserel->relid, &attrs);
	pull_varattnos((Node *) local_exprs, baserel->relid, &attrs);
	whole_row = bms_is_member(0 - FirstLowInvalidHeapAttributeNumber, attrs);
	for (int i = 0; i < fpinfo->natts; i++)
	{
		bool		used = whole_row ||
			bms_is_member(i + 1 - FirstLowInvalidHeapAttributeNumber, attrs);

		out = lappend_int(out, used ? fpinfo->colmap[i] : -1);
	}
	return out;
}

static ForeignScan *
quoGetForeignPlan(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid,
				  ForeignPath *best_path, List *tlist, List *scan_clauses,
				  Plan *outer_plan)
{
	QuoFdwRelationInfo *fpinfo = baserel->fdw_private;
	QuoFdwRelationInfo plan = *fpinfo;
	List	   *rinfos = NIL;
	List	   *local_exprs = NIL;
	List	   *fdw_exprs = NIL;
	List	   *qual_ints = NIL;
	List	   *fdw_private;
	ListCell   *lc;
	double		limit = fpinfo->limit;

	/*
	 * The clauses this path checks: the table's own and, for a
	 * parameterized path, the join clauses it was given.  Their values are
	 * evaluated at execution (outer columns arrive as Params).
	 */
	foreach(lc, scan_clauses)
	{
		RestrictInfo *rinfo = lfirst_node(RestrictInfo, lc);

		if (!rinfo->pseudoconstant)
			rinfos = lappend(rinfos, rinfo);
	}
	quo_classify_conds(root, baserel, &plan, rinfos);
	if (!plan.has_required)
		report_missing_required(plan.endpoint, get_rel_name(foreigntableid),
								quo_missing_required(plan.endpoint, plan.remote_quals));
	if (best_path->path.param_info != NULL)
		limit = 0;

	/* Everything not exactly done by the API is checked here. */
	foreach(lc, plan.local_conds)
		local_exprs = lappend(local_exprs, ((RestrictInfo *) lfirst(lc))->clause);

	foreach(lc, plan.remote_quals)
	{
		QuoQual    *q = lfirst(lc);

		qual_ints = lappend_int(qual_ints, q->filter);
		qual_ints = lappend_int(qual_ints, (int) q->op);
		fdw_exprs = lappend(fdw_exprs, q->value);
	}

	fdw_private = list_make5(makeString(pstrdup(plan.endpoint->name)),
							 qual_ints,
							 fetched_columns(baserel, &plan, local_exprs),
							 makeInteger((int) Min(limit, (double) PG_INT32_MAX)),
	/* under a LIMIT, a request started ahead may be one nobody needs */
							 makeBoolean(root->limit_tuples <= 0 && root->parse->limitCount == NULL));

	return make_foreignscan(tlist, local_exprs, baserel->relid, fdw_exprs,
							fdw_private, NIL, NIL, outer_plan);
}

/* ------------------------------------------------------------------------
 * Execution
 * ------------------------------------------------------------------------
 */

/* Free what is outside PostgreSQL's memory: the page and the requests. */
static void
release_ahead(QuoFdwScanState *state)
{
	for (int i = 0; i < state->nahead; i++)
		quo_http_release(state->ahead[i]);
	state->nahead = 0;
}

static void
release_external(QuoFdwScanState *state)
{
	quo_http_release(state->inflight);
	state->inflight = NULL;
	quo_json_free(state->page);
	state->page = NULL;
	state->rows = NULL;
	state->nrows = state->next_row = 0;
}

/* Memory context callback: runs when the scan's memory goes, error or not. */
static void
scan_memory_gone(void *arg)
{
	release_external((QuoFdwScanState *) arg);
	release_ahead((QuoFdwScanState *) arg);
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
	state->page_cxt = AllocSetContextCreate(state->scan_cxt, "quo_fdw page",
											ALLOCSET_DEFAULT_SIZES);
	state->row_cxt = AllocSetContextCreate(state->scan_cxt, "quo_fdw row",
										   ALLOCSET_DEFAULT_SIZES);
	cb = MemoryContextAlloc(state->scan_cxt, sizeof(MemoryContextCallback));
	cb->func = scan_memory_gone;
	cb->arg = state;
	MemoryContextRegisterResetCallback(state->scan_cxt, cb);
}

/* Whether e refers to a value only known while the plan runs (a join's). */
static bool
has_exec_param_walker(Node *node, void *context)
{
	if (node == NULL)
		return false;
	if (IsA(node, Param) && ((Param *) node)->paramkind == PARAM_EXEC)
		return true;
	return expression_tree_walker(node, has_exec_param_walker, context);
}

/*
 * Evaluate the qual values and build the request series.  In EXPLAIN
 * without ANALYZE, values that depend on the running plan are shown as
 * placeholders instead.
 */
static List *
build_specs(ForeignScanState *node, QuoFdwScanState *state, bool explain_only,
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
		if (explain_only && has_exec_param_walker((Node *) q->value, NULL))
		{
			if (deparse_ctx == NIL)
				deparse_ctx = deparse_context_for(RelationGetRelationName(state->rel),
												  RelationGetRelid(state->rel));
			v->placeholder = deparse_expression((Node *) q->value, deparse_ctx, false, false);
			continue;
		}
		v->value = ExecEvalExpr(lfirst(lc2), econtext, &v->isnull);
		v->known = true;
	}
	return quo_build_requests(state->opts.endpoint, state->quals, values,
							  state->opts.fixed_params, missing);
}

/* Page size for a series: 100, or the pushed LIMIT when smaller. */
static int
page_size(QuoFdwScanState *state)
{
	if (state->limit > 0 && state->limit < QUO_MAX_PAGE_SIZE)
		return state->limit;
	return QUO_MAX_PAGE_SIZE;
}

/*
 * Remember a page token of the current series; false if it was seen
 * before, which means the API's paging has looped.
 */
static bool
token_is_new(QuoFdwScanState *state, const char *token)
{
	uint64		h = hash_bytes_extended((const unsigned char *) token, (int) strlen(token), 0);

	for (int i = 0; i < state->nseen; i++)
		if (state->seen_tokens[i] == h)
			return false;
	if (state->nseen == state->seen_cap)
	{
		state->seen_cap = Max(64, state->seen_cap * 2);
		state->seen_tokens = state->seen_tokens ?
			repalloc(state->seen_tokens, sizeof(uint64) * state->seen_cap) :
			MemoryContextAlloc(state->scan_cxt, sizeof(uint64) * state->seen_cap);
	}
	state->seen_tokens[state->nseen++] = h;
	return true;
}

/*
 * Keep id lookups in flight ahead of the one being read: each series
 * after the current one that is a single GET by id is started (rate limit
 * permitting) while earlier answers are processed, up to QUO_MAX_IN_FLIGHT.
 * Their first attempts are waited for, and retried, by quo_http_fetch.
 */
static void
start_ahead(QuoFdwScanState *state)
{
	while (state->may_start_ahead && state->nahead < QUO_MAX_IN_FLIGHT &&
		   state->next_spec + state->nahead < list_length(state->specs))
	{
		QuoRequestSpec *spec = list_nth(state->specs, state->next_spec + state->nahead);
		char	   *target;

		if (spec->query != NULL)
			break;				/* a list series: its pages come one by one */
		target = quo_request_target(spec, QUO_MAX_PAGE_SIZE, NULL);
		quo_rate_acquire(state->opts.api_key, state->opts.rate_limit,
						 &state->stats.throttled_usecs);
		state->ahead[state->nahead++] = quo_http_start(&state->opts, target);
		pfree(target);
	}
}

/*
 * The request started ahead for the series just taken (specs[next_spec - 1]),
 * if any; the others move up and more are started.
 */
static QuoHttpRequest *
take_ahead(QuoFdwScanState *state, bool is_item)
{
	QuoHttpRequest *req = NULL;

	if (is_item && state->nahead > 0)
	{
		req = state->ahead[0];
		memmove(&state->ahead[0], &state->ahead[1], sizeof(QuoHttpRequest *) * (state->nahead - 1));
		state->nahead--;
	}
	if (is_item)
		start_ahead(state);
	return req;
}

/*
 * Fetch the next page of the current series, or start the next series.
 * False when every series is done.
 */
static bool
fetch_next_page(QuoFdwScanState *state)
{
	const QuoHttpResult *res;
	const char *error = NULL;
	const char *token = NULL;
	bool		is_item;
	MemoryContext old;

	release_external(state);
	MemoryContextReset(state->page_cxt);
	state->target = NULL;

	for (;;)
	{
		if (state->spec == NULL || state->page_token == NULL)
		{
			/* the current series is done: start the next one */
			if (state->next_spec >= list_length(state->specs))
				return false;
			state->spec = list_nth(state->specs, state->next_spec++);
			if (state->page_token)
				pfree(state->page_token);
			state->page_token = NULL;
			state->nseen = 0;
			state->rowctx.ctx_phone = state->spec->ctx_phone;
			state->rowctx.ctx_participants_null = (state->spec->ctx_participants == NIL);
			if (state->spec->ctx_participants != NIL)
			{
				int			np = list_length(state->spec->ctx_participants);
				Datum	   *d;
				ListCell   *lc;
				int			i = 0;

				old = MemoryContextSwitchTo(state->series_cxt);
				d = palloc(sizeof(Datum) * np);
				foreach(lc, state->spec->ctx_participants)
					d[i++] = CStringGetTextDatum(lfirst(lc));
				state->rowctx.ctx_participants =
					PointerGetDatum(construct_array(d, np, TEXTOID, -1, false, TYPALIGN_INT));
				MemoryContextSwitchTo(old);
			}
		}
		is_item = (state->spec->query == NULL);

		old = MemoryContextSwitchTo(state->page_cxt);
		state->target = quo_request_target(state->spec, page_size(state), state->page_token);
		MemoryContextSwitchTo(old);

		quo_http_fetch(&state->opts, state->target, take_ahead(state, is_item),
					   &state->inflight, &state->stats);
		res = quo_http_result(state->inflight);

		/* a 404 on an id is no row */
		if (is_item && quo_is_missing_object(res))
		{
			quo_http_release(state->inflight);
			state->inflight = NULL;
			continue;
		}
		if (res->curl_code != 0 || res->status != 200)
			quo_report_http_failure(&state->opts, state->target, res);
		if (res->content_type == NULL || strstr(res->content_type, "json") == NULL)
			quo_report_bad_response(&state->opts, state->target,
									psprintf("the content type is %s, not JSON",
											 res->content_type ? res->content_type : "missing"));

		state->page = quo_json_parse(res->body, res->body_len, &error);
		if (state->page == NULL)
			quo_report_bad_response(&state->opts, state->target,
									psprintf("the body is not valid JSON: %s", error));
		quo_http_release(state->inflight);
		state->inflight = NULL;

		if (!quo_json_page(state->page, is_item, &state->rows, &state->nrows, &token, &error))
			quo_report_bad_response(&state->opts, state->target, error);
		state->n_pages++;
		state->next_row = 0;

		if (token && !token_is_new(state, token))
			quo_report_bad_response(&state->opts, state->target,
									"the API returned a page token it had returned before, so paging would never end");
		if (state->page_token)
			pfree(state->page_token);
		state->page_token = token ? MemoryContextStrdup(state->scan_cxt, token) : NULL;

		/* with a pushed LIMIT, no page past the one that reaches it */
		if (state->limit > 0 && state->rows_returned + state->nrows >= state->limit)
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

		state->specs = build_specs(node, state, false, &missing);
		MemoryContextSwitchTo(old);
		if (missing != NIL)
			report_missing_required(state->opts.endpoint,
									RelationGetRelationName(state->rel), missing);
		state->built = true;
	}

	for (;;)
	{
		if (state->limit > 0 && state->rows_returned >= state->limit)
			return slot;
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
	release_ahead(state);
	state->built = false;
	state->specs = NIL;
	state->next_spec = 0;
	state->spec = NULL;
	if (state->page_token)
		pfree(state->page_token);
	state->page_token = NULL;
	state->nseen = 0;
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
	{
		release_external(state);
		release_ahead(state);
	}
}

/* One line per request series, as "GET target". */
static List *
explain_requests(QuoFdwScanState *state, List *specs)
{
	List	   *lines = NIL;
	ListCell   *lc;

	foreach(lc, specs)
		lines = lappend(lines, psprintf("GET %s",
										quo_request_target(lfirst(lc), page_size(state), NULL)));
	return lines;
}

static void
quoExplainForeignScan(ForeignScanState *node, ExplainState *es)
{
	QuoFdwScanState *state = node->fdw_state;

	if (es->verbose)
	{
		List	   *specs = state->specs;
		List	   *missing = NIL;

		if (!state->built)
			specs = build_specs(node, state, !es->analyze, &missing);
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
	}
}

/* ------------------------------------------------------------------------
 * IMPORT FOREIGN SCHEMA quo
 * ------------------------------------------------------------------------
 */
static List *
quoImportForeignSchema(ImportForeignSchemaStmt *stmt, Oid serverOid)
{
	ForeignServer *server = GetForeignServer(serverOid);
	List	   *commands = NIL;

	if (strcmp(stmt->remote_schema, "quo") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_SCHEMA_NOT_FOUND),
				 errmsg("Quo API has no schema \"%s\"", stmt->remote_schema),
				 errhint("Use IMPORT FOREIGN SCHEMA quo FROM SERVER %s INTO ...",
						 quote_identifier(server->servername))));
	if (stmt->options != NIL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("IMPORT FOREIGN SCHEMA for quo_fdw takes no options")));

	for (int i = 0; i < quo_endpoint_count(); i++)
	{
		const QuoEndpoint *ep = quo_endpoint_at(i);
		StringInfoData cmd;

		initStringInfo(&cmd);
		appendStringInfo(&cmd, "CREATE FOREIGN TABLE %s (\n", quote_identifier(ep->name));
		for (int c = 0; c < ep->ncolumns; c++)
			appendStringInfo(&cmd, "  %s %s%s\n", quote_identifier(ep->columns[c].name),
							 quo_coltype_name(ep->columns[c].type),
							 c + 1 < ep->ncolumns ? "," : "");
		appendStringInfo(&cmd, ") SERVER %s OPTIONS (endpoint %s)",
						 quote_identifier(server->servername),
						 quote_literal_cstr(ep->name));
		commands = lappend(commands, cmd.data);
	}
	return commands;
}
