/*-------------------------------------------------------------------------
 * join.c
 *		The id-lookup join: a join whose inner side is a Quo table read by
 *		id (GET item_path/{key}), the key computed from each outer row, run
 *		as one foreign scan over the outer plan, with the lookups of a
 *		window of outer rows in flight at once under the rate limit.
 *
 * Planner: GetForeignJoinPaths offers, for an INNER or LEFT join of
 * anything on the server (the outer side) with a table that has an id
 * filter (the inner side), one path when a join clause is
 * "inner.id = <expression of the outer side>".  The plan is a ForeignScan
 * with scanrelid 0 whose outer plan is the outer side's cheapest path; its
 * scan tuple (fdw_scan_tlist) holds the Vars of both sides the join
 * outputs and checks; its one fdw_expr is the key.
 *
 * Executor: outer rows are copied into a window of up to
 * 2 * max_concurrent_requests rows, each one's lookup submitted at once to
 * the scan's fetcher (which applies max_concurrent_requests and the rate
 * limit); the front row's lookup is awaited, its inner rows emitted, and
 * the window refilled.  Rows with the same key share a lookup while it is
 * among the most recent ones (the window's rows and as many before).  A
 * NULL key, or one without the id's documented prefix, costs no request:
 * no inner row (a LEFT join emits the outer row null-extended).
 *
 * Memory: the join's context holds the fetcher, the lookups and their keys;
 * parsed answers (json-c memory) and requests are released by a reset
 * callback on it, so an ERROR or cancel anywhere leaks nothing.  Converted
 * rows live in a per-row context, keys being computed in a per-key one.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/cost.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/paths.h"
#include "optimizer/planmain.h"
#include "optimizer/restrictinfo.h"
#include "optimizer/tlist.h"
#include "parser/parsetree.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "quo_fdw.h"

/* Planner cost of one request, as quo_fdw.c prices a scan's. */
#define QUO_REQUEST_COST 100.0

/* The slots of the join path's fdw_private (planning only). */
enum QuoJoinPathPrivate
{
	JoinPathKey,				/* Expr: the key, over the outer side */
	JoinPathLocal,				/* List of RestrictInfo: checked on the output */
	JoinPathInner,				/* Integer: the inner rel's relid */
	JoinPathType,				/* Integer: JOIN_INNER or JOIN_LEFT */
	JoinPathFilter				/* Integer: the id filter (endpoint->filters) */
};

/* The slots of the join plan's fdw_private (made here, read here). */
enum QuoJoinPlanPrivate
{
	JoinPrivRel,				/* OidList: the inner table, the user to check as
								 * (InvalidOid: the current user) */
	JoinPrivType,				/* Integer: JOIN_INNER or JOIN_LEFT */
	JoinPrivFilter,				/* Integer: the id filter */
	JoinPrivColmap,				/* IntList: per inner attribute, endpoint
								 * column or -1 when not fetched */
	JoinPrivSources,			/* IntList: per fdw_scan_tlist entry, > 0 the
								 * outer plan's resno, < 0 minus the inner
								 * attribute number */
	JoinPrivSlowStart,			/* Boolean: under a LIMIT, start with a window
								 * of one row and grow it */
	JoinPrivRelations			/* String: the relations, for EXPLAIN */
};

/* ------------------------------------------------------------------------
 * Planning
 * ------------------------------------------------------------------------
 */

/*
 * The key of rinfo if it is "inner.id = <expr>" with expr over the outer
 * side only (either order, text equality), else NULL; *filter is the id
 * filter.  pushdown.c decides, on a probe, as for a parameterized path.
 */
static Expr *
join_key(PlannerInfo *root, RelOptInfo *outerrel, RelOptInfo *innerrel,
		 RestrictInfo *rinfo, int *filter)
{
	QuoFdwRelationInfo probe = *(QuoFdwRelationInfo *) innerrel->fdw_private;
	QuoQual    *q;
	Relids		varnos;

	if (rinfo->pseudoconstant || !IsA(rinfo->clause, OpExpr))
		return NULL;
	quo_classify_conds(root, innerrel, &probe, list_make1(rinfo));
	if (list_length(probe.remote_quals) != 1)
		return NULL;
	q = linitial(probe.remote_quals);
	if (probe.endpoint->filters[q->filter].kind != QUO_FILTER_ID || q->op != QUO_OP_EQ)
		return NULL;
	varnos = quo_pull_varnos(root, (Node *) q->value);
	if (bms_is_empty(varnos) || !bms_is_subset(varnos, outerrel->relids))
		return NULL;
	*filter = q->filter;
	return q->value;
}

/*
 * Whether every Var in vars can be had: an inner column (not a whole row
 * or system column), or a Var the outer path outputs.  No PlaceHolderVar.
 */
static bool
vars_available(List *vars, Index inner_relid, Path *outer_path)
{
	ListCell   *lc;

	foreach(lc, vars)
	{
		Var		   *v = lfirst(lc);

		if (!IsA(v, Var))
			return false;
		if ((Index) v->varno == inner_relid)
		{
			if (v->varattno <= 0)
				return false;
		}
		else if (!list_member(outer_path->pathtarget->exprs, v))
			return false;
	}
	return true;
}

/* Whether some RestrictInfo of rinfos is pseudoconstant (no Var of any level). */
static bool
any_pseudoconstant(List *rinfos)
{
	ListCell   *lc;

	foreach(lc, rinfos)
		if (lfirst_node(RestrictInfo, lc)->pseudoconstant)
			return true;
	return false;
}

/* The Vars the join's output, its local quals and its key need. */
static List *
needed_vars(RelOptInfo *joinrel, List *local_exprs, Expr *key)
{
	List	   *vars;

	vars = pull_var_clause((Node *) joinrel->reltarget->exprs, PVC_INCLUDE_PLACEHOLDERS);
	vars = list_concat(vars, pull_var_clause((Node *) local_exprs, PVC_INCLUDE_PLACEHOLDERS));
	return list_concat(vars, pull_var_clause((Node *) key, PVC_INCLUDE_PLACEHOLDERS));
}

/*
 * GetForeignJoinPaths: an id-lookup join path for an INNER or LEFT join
 * whose inner side is a table with an id filter and whose join clauses
 * give it the id from the outer side.  An INNER join checks every other
 * clause (and the inner table's own conditions) on its output; a LEFT
 * join takes no other ON clause and no inner condition, which would have
 * to be checked before the row is null-extended.
 */
void
quo_join_paths(PlannerInfo *root, RelOptInfo *joinrel, RelOptInfo *outerrel,
			   RelOptInfo *innerrel, JoinType jointype, JoinPathExtraData *extra)
{
	Path	   *outer_path = outerrel->cheapest_total_path;
	QuoFdwRelationInfo *ifp;
	RangeTblEntry *rte;
	Expr	   *key = NULL;
	int			filter = -1;
	List	   *local = NIL;
	List	   *local_exprs;
	ListCell   *lc;
	QuoFdwOptions opts;
	QualCost	qcost;
	double		conc;
	Cost		startup,
				total;

	if (jointype != JOIN_INNER && jointype != JOIN_LEFT)
		return;
	/*
	 * No row locks, UPDATE, DELETE or MERGE, hence no EvalPlanQual recheck
	 * of a joined row (INSERT ... SELECT has none either).
	 */
	if ((root->parse->commandType != CMD_SELECT && root->parse->commandType != CMD_INSERT) ||
		root->parse->rowMarks != NIL)
		return;
	if (innerrel->reloptkind != RELOPT_BASEREL || innerrel->fdw_private == NULL)
		return;
	rte = planner_rt_fetch(innerrel->relid, root);
	ifp = innerrel->fdw_private;
	if (rte->rtekind != RTE_RELATION || ifp->endpoint->item_path == NULL)
		return;
	if (outer_path == NULL || outer_path->param_info != NULL ||
		!bms_is_empty(joinrel->lateral_relids) || !bms_is_empty(innerrel->lateral_relids))
		return;
	/*
	 * A pseudoconstant qual would need a gating Result above the join
	 * (fdw_restrictinfo from PG17; PG15 and 16 cannot place it): none here.
	 */
	if (any_pseudoconstant(extra->restrictlist) ||
		any_pseudoconstant(innerrel->baserestrictinfo))
		return;

	foreach(lc, extra->restrictlist)
	{
		RestrictInfo *rinfo = lfirst_node(RestrictInfo, lc);
		bool		on_clause = !RINFO_IS_PUSHED_DOWN(rinfo, joinrel->relids);

		if (key == NULL && (jointype == JOIN_INNER || on_clause) &&
			(key = join_key(root, outerrel, innerrel, rinfo, &filter)) != NULL)
			continue;
		if (jointype == JOIN_LEFT && on_clause)
			return;
		local = lappend(local, rinfo);
	}
	if (key == NULL)
		return;
	if (jointype == JOIN_LEFT && innerrel->baserestrictinfo != NIL)
		return;
	if (jointype == JOIN_INNER)
		local = list_concat(local, list_copy(innerrel->baserestrictinfo));

	local_exprs = extract_actual_clauses(local, false);
	if (!vars_available(needed_vars(joinrel, local_exprs, key), innerrel->relid, outer_path))
		return;

	/*
	 * The outer side, then one request per outer row, max_concurrent_requests
	 * at a time (fewer when the rate limit is lower), then the local quals.
	 */
	quo_get_options(rte->relid, InvalidOid, false, &opts);
	conc = opts.max_concurrent;
	if (opts.rate_limit > 0)
		conc = Min(conc, opts.rate_limit);
	conc = Max(conc, 1);
	cost_qual_eval(&qcost, local_exprs, root);
	startup = outer_path->startup_cost + QUO_REQUEST_COST + qcost.startup;
	total = outer_path->total_cost + qcost.startup +
		outer_path->rows * (QUO_REQUEST_COST / conc + cpu_tuple_cost) +
		joinrel->rows * (cpu_tuple_cost + qcost.per_tuple);

	add_path(joinrel, (Path *)
			 quo_create_foreign_join_path(root, joinrel, NULL, joinrel->rows,
										  startup, total, NIL, outer_path,
										  list_make5(key, local,
													 makeInteger((int) innerrel->relid),
													 makeInteger((int) jointype),
													 makeInteger(filter))));
}

/* "quo.calls c, quo.users u": the tables of relids, as EXPLAIN names them. */
static char *
relation_names(PlannerInfo *root, Relids relids)
{
	StringInfoData buf;
	int			x = -1;

	initStringInfo(&buf);
	while ((x = bms_next_member(relids, x)) >= 0)
	{
		RangeTblEntry *rte = planner_rt_fetch(x, root);
		char	   *name;

		if (rte->rtekind != RTE_RELATION)
			continue;			/* an outer join's own index (PG16+) */
		name = get_rel_name(rte->relid);
		appendStringInfo(&buf, "%s%s", buf.len ? ", " : "",
						 quote_qualified_identifier(get_namespace_name(get_rel_namespace(rte->relid)),
													name));
		if (rte->eref && strcmp(rte->eref->aliasname, name) != 0)
			appendStringInfo(&buf, " %s", quote_identifier(rte->eref->aliasname));
	}
	return buf.data;
}

/*
 * GetForeignPlan for an id-lookup join path: the scan tuple is every Var
 * the join outputs, checks or computes its key from; each is an outer
 * plan's output column or an inner column, as JoinPrivSources says.
 */
ForeignScan *
quo_join_plan(PlannerInfo *root, RelOptInfo *joinrel, ForeignPath *best_path,
			  List *tlist, Plan *outer_plan)
{
	List	   *priv = best_path->fdw_private;
	Expr	   *key = list_nth(priv, JoinPathKey);
	List	   *local = list_nth(priv, JoinPathLocal);
	Index		inner_relid = (Index) intVal(list_nth(priv, JoinPathInner));
	RelOptInfo *innerrel = find_base_rel(root, inner_relid);
	QuoFdwRelationInfo *ifp = innerrel->fdw_private;
	RangeTblEntry *rte = planner_rt_fetch(inner_relid, root);
	List	   *local_exprs = extract_actual_clauses(local, false);
	List	   *scan_tlist;
	List	   *sources = NIL;
	List	   *colmap = NIL;
	List	   *fdw_private;
	Bitmapset  *inner_attrs = NULL;
	ListCell   *lc;
	char	   *relations;

	scan_tlist = add_to_flat_tlist(NIL, needed_vars(joinrel, local_exprs, key));
	foreach(lc, scan_tlist)
	{
		Var		   *v = (Var *) ((TargetEntry *) lfirst(lc))->expr;
		ListCell   *lc2;
		int			resno = 0;

		Assert(IsA(v, Var));
		if ((Index) v->varno == inner_relid)
		{
			sources = lappend_int(sources, -(int) v->varattno);
			inner_attrs = bms_add_member(inner_attrs, v->varattno);
			continue;
		}
		foreach(lc2, outer_plan->targetlist)
		{
			TargetEntry *tle = lfirst(lc2);

			if (equal(tle->expr, v))
			{
				resno = tle->resno;
				break;
			}
		}
		if (resno == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg_internal("quo_fdw: a column of the join is not in its outer plan's output")));
		sources = lappend_int(sources, resno);
	}
	for (int i = 0; i < ifp->natts; i++)
		colmap = lappend_int(colmap, bms_is_member(i + 1, inner_attrs) ? ifp->colmap[i] : -1);

	relations = psprintf("(%s) %s JOIN (%s)",
						 relation_names(root, best_path->fdw_outerpath->parent->relids),
						 intVal(list_nth(priv, JoinPathType)) == JOIN_LEFT ? "LEFT" : "INNER",
						 relation_names(root, innerrel->relids));

	fdw_private = list_make5(list_make2_oid(rte->relid, innerrel->userid),
							 list_nth(priv, JoinPathType),
							 list_nth(priv, JoinPathFilter),
							 colmap, sources);
	/* under a LIMIT, a lookup started ahead may be one nobody needs */
	fdw_private = lappend(fdw_private,
						  makeBoolean(root->limit_tuples > 0 || root->parse->limitCount != NULL));
	fdw_private = lappend(fdw_private, makeString(relations));

	return make_foreignscan(tlist, local_exprs, 0, list_make1(key), fdw_private,
							scan_tlist, NIL, outer_plan);
}

/* ------------------------------------------------------------------------
 * Execution
 * ------------------------------------------------------------------------
 */

/* One id looked up: its request, then its answer. */
typedef struct QuoJoinLookup
{
	char	   *key;			/* the id; NULL: the slot is free */
	char	   *target;			/* GET target, for messages */
	QuoFetch   *fetch;			/* submitted, until its answer is read */
	int			refs;			/* window rows waiting for it */
	uint64		used;			/* when last wanted, for eviction */
	bool		answered;		/* rows and nrows are set */
	struct json_object *root;	/* the parsed answer (json-c), or NULL */
	struct json_object *rows;	/* its inner rows */
	int			nrows;			/* 0: no such object */
} QuoJoinLookup;

/* One outer row of the window. */
typedef struct QuoJoinEntry
{
	TupleTableSlot *slot;		/* a copy of the outer row */
	QuoJoinLookup *lookup;		/* its lookup; NULL: no inner row can match */
} QuoJoinEntry;

/* Executor state of an id-lookup join. */
typedef struct QuoJoinState
{
	QuoFdwOptions opts;			/* the inner table's server, key, endpoint */
	const char *relname;		/* the inner table */
	JoinType	jointype;
	const QuoFilter *filter;	/* the id filter: its documented prefix */
	QuoRowContext rowctx;		/* converts the inner table's rows */
	Datum	   *inner_values;	/* per inner attribute, for the converter */
	bool	   *inner_nulls;
	int			nsources;		/* columns of the scan tuple */
	int		   *sources;		/* per column: > 0 outer resno, < 0 -attno */
	ExprState  *key_state;		/* the key, over the scan tuple */
	TupleTableSlot *key_slot;	/* a scan tuple with only outer columns */

	QuoJoinEntry *window;		/* a ring of window_max rows */
	int			window_max;		/* 2 * max_concurrent_requests */
	int			window_cap;		/* rows the window takes now */
	bool		slow_start;		/* window_cap starts at 1, doubles per row */
	int			head;			/* the front row */
	int			count;			/* rows in the window */
	bool		outer_done;		/* the outer plan has no more rows */

	QuoJoinLookup *lookups;		/* nlookups slots, 2 * window_max */
	int			nlookups;
	uint64		clock;			/* for QuoJoinLookup.used */

	bool		started;		/* the budget is set for this (re)scan */
	bool		front_ready;	/* the front row's lookup is answered */
	bool		front_done;		/* ... and every row of it emitted */
	bool		front_matched;	/* an inner row was emitted for it */
	int			front_row;		/* next inner row of the front to emit */

	QuoFetcher *fetcher;		/* every request, from submission to release */
	QuoFetchStats stats;		/* for EXPLAIN ANALYZE */
	int64		rows_fetched;

	MemoryContext join_cxt;		/* lives as long as the scan */
	MemoryContext key_cxt;		/* reset per outer row: its key */
	MemoryContext row_cxt;		/* reset per row: the inner row's Datums */
} QuoJoinState;

/* Forget a lookup: its request and its answer. */
static void
free_lookup(QuoJoinState *js, QuoJoinLookup *lk)
{
	if (lk->fetch)
		quo_fetch_release(js->fetcher, lk->fetch);
	quo_json_free(lk->root);
	if (lk->key)
		pfree(lk->key);
	if (lk->target)
		pfree(lk->target);
	memset(lk, 0, sizeof(QuoJoinLookup));
}

/* Release every request and answer, and empty the window. */
static void
release_all(QuoJoinState *js)
{
	if (js->fetcher)
		quo_fetcher_reset(js->fetcher);
	for (int i = 0; i < js->nlookups; i++)
	{
		js->lookups[i].fetch = NULL;	/* released just above */
		free_lookup(js, &js->lookups[i]);
	}
	for (int i = 0; i < js->window_max; i++)
	{
		if (js->window[i].slot)
			ExecClearTuple(js->window[i].slot);
		js->window[i].lookup = NULL;
	}
	js->head = js->count = 0;
	js->front_ready = js->front_done = js->front_matched = false;
	js->front_row = 0;
}

/* Memory context callback: what lives outside PostgreSQL's memory goes too. */
static void
join_memory_gone(void *arg)
{
	QuoJoinState *js = arg;

	if (js->fetcher)
		quo_fetcher_reset(js->fetcher);
	for (int i = 0; i < js->nlookups; i++)
	{
		quo_json_free(js->lookups[i].root);
		js->lookups[i].root = NULL;
		js->lookups[i].fetch = NULL;
	}
}

void
quo_join_begin(ForeignScanState *node, int eflags)
{
	ForeignScan *fsplan = (ForeignScan *) node->ss.ps.plan;
	EState	   *estate = node->ss.ps.state;
	QuoJoinState *js;
	List	   *rel = list_nth(fsplan->fdw_private, JoinPrivRel);
	Oid			relid = linitial_oid(rel);
	Oid			userid = OidIsValid(lsecond_oid(rel)) ? lsecond_oid(rel) : GetUserId();
	List	   *colmap = list_nth(fsplan->fdw_private, JoinPrivColmap);
	List	   *sources = list_nth(fsplan->fdw_private, JoinPrivSources);
	int			filter = intVal(list_nth(fsplan->fdw_private, JoinPrivFilter));
	TupleDesc	outer_desc = ExecGetResultType(outerPlanState(node));
	MemoryContextCallback *cb;
	MemoryContext old;
	ListCell   *lc;
	int			i;

	js = palloc0(sizeof(QuoJoinState));
	node->fdw_state = js;
	quo_get_options(relid, userid, (eflags & EXEC_FLAG_EXPLAIN_ONLY) == 0, &js->opts);
	js->relname = get_rel_name(relid);
	js->jointype = (JoinType) intVal(list_nth(fsplan->fdw_private, JoinPrivType));
	js->filter = &js->opts.endpoint->filters[filter];
	js->slow_start = boolVal(list_nth(fsplan->fdw_private, JoinPrivSlowStart));

	js->rowctx.endpoint = js->opts.endpoint;
	js->rowctx.relname = js->relname;
	js->rowctx.api_key = js->opts.api_key;
	js->rowctx.natts = list_length(colmap);
	js->rowctx.colmap = palloc(sizeof(int) * Max(js->rowctx.natts, 1));
	js->rowctx.attnames = palloc0(sizeof(char *) * Max(js->rowctx.natts, 1));
	js->rowctx.ctx_participants_null = true;
	i = 0;
	foreach(lc, colmap)
	{
		js->rowctx.colmap[i] = lfirst_int(lc);
		if (js->rowctx.colmap[i] >= 0)
			js->rowctx.attnames[i] = get_attname(relid, (AttrNumber) (i + 1), false);
		i++;
	}
	js->inner_values = palloc0(sizeof(Datum) * Max(js->rowctx.natts, 1));
	js->inner_nulls = palloc0(sizeof(bool) * Max(js->rowctx.natts, 1));
	js->nsources = list_length(sources);
	js->sources = palloc(sizeof(int) * Max(js->nsources, 1));
	i = 0;
	foreach(lc, sources)
		js->sources[i++] = lfirst_int(lc);

	js->key_state = ExecInitExpr(linitial(fsplan->fdw_exprs), (PlanState *) node);
	js->key_slot = ExecInitExtraTupleSlot(estate, node->ss.ss_ScanTupleSlot->tts_tupleDescriptor,
										  &TTSOpsVirtual);

	js->join_cxt = AllocSetContextCreate(estate->es_query_cxt, "quo_fdw join",
										 ALLOCSET_DEFAULT_SIZES);
	js->key_cxt = AllocSetContextCreate(js->join_cxt, "quo_fdw join key",
										ALLOCSET_SMALL_SIZES);
	js->row_cxt = AllocSetContextCreate(js->join_cxt, "quo_fdw join row",
										ALLOCSET_DEFAULT_SIZES);

	js->window_max = 2 * Max(js->opts.max_concurrent, 1);
	js->window_cap = js->slow_start ? 1 : js->window_max;
	js->window = palloc0(sizeof(QuoJoinEntry) * js->window_max);
	for (i = 0; i < js->window_max; i++)
		js->window[i].slot = ExecInitExtraTupleSlot(estate, outer_desc, &TTSOpsMinimalTuple);

	old = MemoryContextSwitchTo(js->join_cxt);
	js->nlookups = 2 * js->window_max;
	js->lookups = palloc0(sizeof(QuoJoinLookup) * js->nlookups);
	js->fetcher = quo_fetcher_create(&js->opts, js->opts.max_concurrent, &js->stats,
									 js->join_cxt);
	cb = palloc(sizeof(MemoryContextCallback));
	cb->func = join_memory_gone;
	cb->arg = js;
	MemoryContextRegisterResetCallback(js->join_cxt, cb);
	MemoryContextSwitchTo(old);
}

/*
 * The lookup of the outer row in slot: an answer or a request already
 * there for the same id, or a new request; NULL when no inner row can
 * match (a NULL key, or one without the documented prefix).
 */
static QuoJoinLookup *
lookup_for(ForeignScanState *node, QuoJoinState *js, TupleTableSlot *slot)
{
	ExprContext *econtext = node->ss.ps.ps_ExprContext;
	QuoJoinLookup *lk = NULL;
	MemoryContext old;
	Datum		d;
	bool		isnull;
	char	   *key;
	StringInfoData target;

	/* the key's input: the outer columns of a scan tuple */
	slot_getallattrs(slot);
	ExecClearTuple(js->key_slot);
	for (int i = 0; i < js->nsources; i++)
	{
		int			src = js->sources[i];

		js->key_slot->tts_isnull[i] = src <= 0 || slot->tts_isnull[src - 1];
		js->key_slot->tts_values[i] = src > 0 ? slot->tts_values[src - 1] : (Datum) 0;
	}
	ExecStoreVirtualTuple(js->key_slot);

	MemoryContextReset(js->key_cxt);
	old = MemoryContextSwitchTo(js->key_cxt);
	econtext->ecxt_scantuple = js->key_slot;
	d = ExecEvalExpr(js->key_state, econtext, &isnull);
	key = isnull ? NULL : quo_api_string(d);
	MemoryContextSwitchTo(old);
	if (key == NULL || !quo_value_possible(js->filter, key))
		return NULL;

	/* the same id: share; else a free slot, or the least recently wanted answer */
	for (int i = 0; i < js->nlookups; i++)
	{
		QuoJoinLookup *l = &js->lookups[i];

		if (l->key != NULL && strcmp(l->key, key) == 0)
		{
			l->refs++;
			l->used = ++js->clock;
			return l;
		}
		if (l->key == NULL)
		{
			if (lk == NULL || lk->key != NULL)
				lk = l;
		}
		else if (l->refs == 0 && (lk == NULL || (lk->key != NULL && l->used < lk->used)))
			lk = l;
	}
	/* nlookups is twice the window: some slot has no row waiting for it */
	if (lk == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg_internal("quo_fdw: no free lookup slot in the join window")));
	free_lookup(js, lk);

	lk->key = MemoryContextStrdup(js->join_cxt, key);
	initStringInfo(&target);
	appendStringInfoString(&target, js->opts.endpoint->item_path);
	quo_append_encoded(&target, key);
	lk->target = MemoryContextStrdup(js->join_cxt, target.data);
	pfree(target.data);
	lk->fetch = quo_fetch_submit(js->fetcher, lk->target, js->opts.endpoint->api_version);
	lk->refs = 1;
	lk->used = ++js->clock;
	return lk;
}

/* Fill the window with outer rows, submitting their lookups. */
static void
fill_window(ForeignScanState *node, QuoJoinState *js)
{
	while (!js->outer_done && js->count < js->window_cap)
	{
		TupleTableSlot *outer;
		QuoJoinEntry *e;

		CHECK_FOR_INTERRUPTS();
		outer = ExecProcNode(outerPlanState(node));
		if (TupIsNull(outer))
		{
			js->outer_done = true;
			break;
		}
		e = &js->window[(js->head + js->count) % js->window_max];
		ExecCopySlot(e->slot, outer);
		e->lookup = lookup_for(node, js, e->slot);
		js->count++;
	}
}

/*
 * Wait for the lookup's answer, and read it: Quo's documented 404 is no
 * row; any other failure is the ERROR a scan of the table would give.
 */
static void
answer(QuoJoinState *js, QuoJoinLookup *lk)
{
	const QuoHttpResult *res;
	const char *error = NULL;
	const char *token = NULL;

	if (lk == NULL || lk->answered)
		return;
	res = quo_fetch_await(js->fetcher, lk->fetch);
	if (!quo_is_missing_object(js->opts.endpoint, res))
	{
		lk->root = quo_parse_response(&js->opts, lk->target, res);
		if (!quo_json_page(lk->root, js->opts.endpoint, true, &lk->rows, &lk->nrows,
						   &token, &error))
			quo_report_bad_response(&js->opts, lk->target, error);
		js->rows_fetched += lk->nrows;
		quo_stats_rows(&js->opts, lk->nrows);
	}
	quo_fetch_release(js->fetcher, lk->fetch);
	lk->fetch = NULL;
	lk->answered = true;
}

/* Drop the front row: its lookup stays as an answer others may share. */
static void
pop_front(QuoJoinState *js)
{
	QuoJoinEntry *e = &js->window[js->head];

	if (e->lookup)
		e->lookup->refs--;
	e->lookup = NULL;
	ExecClearTuple(e->slot);
	js->head = (js->head + 1) % js->window_max;
	js->count--;
	js->front_ready = js->front_done = js->front_matched = false;
	js->front_row = 0;
	if (js->window_cap < js->window_max)
		js->window_cap = Min(js->window_cap * 2, js->window_max);
}

/* Error context while an inner row is converted: which request it came from. */
static void
join_row_context(void *arg)
{
	QuoJoinState *js = arg;
	QuoJoinLookup *lk = js->window[js->head].lookup;

	errcontext("row %d of the Quo API response to GET %s for foreign table \"%s\"",
			   js->front_row - 1, lk && lk->target ? lk->target : "?", js->relname);
}

/*
 * The joined row of the front outer row and, when matched, obj, its inner
 * row (not matched: the row null-extended), in the scan slot.  A matched
 * obj that is not an object (a JSON null in an array answer) is the scan's
 * ERROR, never a row of NULLs.
 */
static TupleTableSlot *
emit(ForeignScanState *node, QuoJoinState *js, bool matched, struct json_object *obj)
{
	TupleTableSlot *slot = node->ss.ss_ScanTupleSlot;
	QuoJoinEntry *e = &js->window[js->head];

	MemoryContextReset(js->row_cxt);
	if (matched)
	{
		ErrorContextCallback errcb;
		MemoryContext old;

		errcb.callback = join_row_context;
		errcb.arg = js;
		errcb.previous = error_context_stack;
		error_context_stack = &errcb;
		old = MemoryContextSwitchTo(js->row_cxt);
		js->rowctx.ctx[QUO_CTX_ITEM_ID] = e->lookup->key;
		quo_json_to_row(&js->rowctx, obj, js->inner_values, js->inner_nulls);
		MemoryContextSwitchTo(old);
		error_context_stack = errcb.previous;
	}

	ExecClearTuple(slot);
	slot_getallattrs(e->slot);
	for (int i = 0; i < js->nsources; i++)
	{
		int			src = js->sources[i];

		if (src > 0)
		{
			slot->tts_values[i] = e->slot->tts_values[src - 1];
			slot->tts_isnull[i] = e->slot->tts_isnull[src - 1];
		}
		else
		{
			slot->tts_values[i] = matched ? js->inner_values[-src - 1] : (Datum) 0;
			slot->tts_isnull[i] = matched ? js->inner_nulls[-src - 1] : true;
		}
	}
	return ExecStoreVirtualTuple(slot);
}

/*
 * The next joined row.  The front row is dropped only at the next call,
 * so the row returned (which points into its copy) stays valid until then.
 */
TupleTableSlot *
quo_join_iterate(ForeignScanState *node)
{
	QuoJoinState *js = node->fdw_state;
	TupleTableSlot *slot = node->ss.ss_ScanTupleSlot;

	ExecClearTuple(slot);
	if (!js->started)
	{
		elog(DEBUG1, "quo_fdw: join with \"%s\" starts with %d HTTP requests held by this backend",
			 js->relname, quo_http_live_requests());
		quo_fetcher_set_budget(js->fetcher, js->relname);
		js->started = true;
	}
	for (;;)
	{
		QuoJoinLookup *lk;

		CHECK_FOR_INTERRUPTS();
		if (js->front_done)
			pop_front(js);
		fill_window(node, js);
		if (js->count == 0)
			return slot;

		lk = js->window[js->head].lookup;
		if (!js->front_ready)
		{
			answer(js, lk);
			js->front_ready = true;
		}
		if (lk != NULL && js->front_row < lk->nrows)
		{
			js->front_matched = true;
			js->front_row++;
			return emit(node, js, true, quo_json_row(lk->rows, js->front_row - 1));
		}
		js->front_done = true;
		if (js->jointype == JOIN_LEFT && !js->front_matched)
			return emit(node, js, false, NULL);
	}
}

void
quo_join_rescan(ForeignScanState *node)
{
	QuoJoinState *js = node->fdw_state;

	release_all(js);
	js->outer_done = false;
	js->started = false;
	js->window_cap = js->slow_start ? 1 : js->window_max;
	MemoryContextReset(js->row_cxt);
	MemoryContextReset(js->key_cxt);
}

void
quo_join_end(ForeignScanState *node)
{
	QuoJoinState *js = node->fdw_state;

	if (js)
		release_all(js);
}

/*
 * EXPLAIN: the relations joined; VERBOSE adds the request made per outer
 * row (the key as the plan computes it, never evaluated); ANALYZE what the
 * join did.
 */
void
quo_join_explain(ForeignScanState *node, ExplainState *es)
{
	ForeignScan *fsplan = (ForeignScan *) node->ss.ps.plan;
	QuoJoinState *js = node->fdw_state;

	ExplainPropertyText("Relations", strVal(list_nth(fsplan->fdw_private, JoinPrivRelations)), es);
	if (es->verbose)
		ExplainPropertyText("Quo Join",
							psprintf("GET %s{%s} per outer row", js->opts.endpoint->item_path,
									 quo_explain_expr(&node->ss.ps, es,
													  linitial(fsplan->fdw_exprs))),
							es);
	if (es->analyze)
	{
		ExplainPropertyInteger("Quo Requests Made", NULL, js->stats.requests, es);
		ExplainPropertyInteger("Quo Rows Fetched", NULL, js->rows_fetched, es);
		ExplainPropertyInteger("Quo Retries", NULL, js->stats.retries, es);
		ExplainPropertyInteger("Quo Peak Requests In Flight", NULL, js->stats.peak_in_flight, es);
	}
}
