/*-------------------------------------------------------------------------
 * quo_fdw.c
 *		The foreign data wrapper handler: planner callbacks (which quals go to
 *		the API, parameterized paths for joins, LIMIT) and IMPORT FOREIGN
 *		SCHEMA.  The executor side is in scan.c.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "commands/defrem.h"
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

static void quoGetForeignRelSize(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid);
static void quoGetForeignPaths(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid);
static ForeignScan *quoGetForeignPlan(PlannerInfo *root, RelOptInfo *baserel,
									  Oid foreigntableid, ForeignPath *best_path,
									  List *tlist, List *scan_clauses, Plan *outer_plan);
static ForeignScan *quoGetPlan(PlannerInfo *root, RelOptInfo *rel,
							   Oid foreigntableid, ForeignPath *best_path,
							   List *tlist, List *scan_clauses, Plan *outer_plan);
static List *quoImportForeignSchema(ImportForeignSchemaStmt *stmt, Oid serverOid);

Datum
quo_fdw_handler(PG_FUNCTION_ARGS)
{
	FdwRoutine *routine = makeNode(FdwRoutine);

	routine->GetForeignRelSize = quoGetForeignRelSize;
	routine->GetForeignPaths = quoGetForeignPaths;
	routine->GetForeignPlan = quoGetPlan;
	routine->GetForeignJoinPaths = quo_join_paths;
	quo_scan_routines(routine);
	routine->ImportForeignSchema = quoImportForeignSchema;
	PG_RETURN_POINTER(routine);
}

/* Whether foreign server serverid is one of quo_fdw's (its wrapper's handler is ours). */
bool
quo_is_quo_server(Oid serverid)
{
	FdwRoutine *routine = GetFdwRoutineByServerId(serverid);

	return routine->GetForeignRelSize == quoGetForeignRelSize;
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
void
quo_report_missing_required(const QuoEndpoint *ep, const char *relname, List *missing)
{
	StringInfoData cols;
	ListCell   *lc;

	initStringInfo(&cols);
	foreach(lc, missing)
		appendStringInfo(&cols, "%s%s", cols.len ? " and " : "", (char *) lfirst(lc));
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("foreign table \"%s\" needs a WHERE condition on %s", relname, cols.data),
			 ep->list_path == NULL ?
			 errdetail("The Quo API has no list of %s: it returns them for one %s at a time (GET %s{%s}).",
					   ep->name, cols.data, ep->item_path, cols.data) :
			 errdetail("The Quo API lists %s only for one phone_number_id and its participants (or by id).",
					   ep->name),
			 errhint("Add a condition such as: %s", ep->required_hint)));
}

static void
quoGetForeignRelSize(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	QuoFdwRelationInfo *fpinfo = palloc0(sizeof(QuoFdwRelationInfo));
	double		rows;

	QuoFdwOptions opts;

	fpinfo->endpoint = quo_table_endpoint(foreigntableid);
	fpinfo->colmap = map_columns(foreigntableid, fpinfo->endpoint, &fpinfo->natts);
	quo_get_options(foreigntableid, InvalidOid, false, &opts);
	fpinfo->fanout_enabled = opts.fanout != 0;
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

/*
 * Remote cost of a path expected to return rows rows: 100 per request.  A
 * fan-out lists the conversations and then makes at least one request per
 * conversation (QUO_FANOUT_EST_PARENTS, a large workspace: the count is not
 * known before the listing), so a parameterized path wins for outer sides
 * of up to thousands of rows, even unanalyzed ones.
 *
 * A fan-out that participants conditions narrow visits few conversations
 * (QUO_FANOUT_EST_KEPT) after its listing's pages; rescanned loops times
 * (a nested loop that supplies the participant), it lists once for the
 * query, so each loop bears its share of the listing.
 */
#define QUO_FANOUT_EST_PARENTS 20000
#define QUO_FANOUT_EST_KEPT 4

static Cost
path_cost(double rows, const QuoFdwRelationInfo *fpinfo, double loops)
{
	const QuoEndpoint *ep = fpinfo->endpoint;
	double		pages = ep->paging->style == QUO_PAGING_NONE ? 0 : ceil(rows / ep->max_page);
	Cost		total = 100.0 + pages * 100.0 + rows * cpu_tuple_cost;

	if (fpinfo->has_required)
		return total;
	if (fpinfo->fanout && fpinfo->fanout_participants)
	{
		const QuoEndpoint *parent = quo_endpoint_by_name(ep->fanout->parent);
		double		listing = ceil((double) QUO_FANOUT_EST_PARENTS / parent->max_page);

		return total + (listing / Max(loops, 1.0) + QUO_FANOUT_EST_KEPT) * 100.0;
	}
	if (fpinfo->fanout)
		return total + (1 + QUO_FANOUT_EST_PARENTS) * 100.0;
	/* a path the API cannot serve is planned only if nothing else is */
	return total + disable_cost;
}

/*
 * How many times a path parameterized by the outer relations may be
 * rescanned: the fewest rows of one of them, as the core's index paths
 * estimate it (indxpath.c, get_loop_count).
 */
static double
loop_count(PlannerInfo *root, Relids outer)
{
	double		result = 0.0;	/* none yet, as core's get_loop_count */
	int			relid = -1;

	while ((relid = bms_next_member(outer, relid)) >= 0)
	{
		RelOptInfo *rel;

		if (relid >= root->simple_rel_array_size)
			continue;
		rel = root->simple_rel_array[relid];
		if (rel == NULL || rel->rows <= 0)
			continue;
		if (result == 0.0 || rel->rows < result)
			result = rel->rows;
	}
	return Max(result, 1.0);
}

/* Whether some remote qual of fpinfo is on the column a fan-out takes participants from. */
static bool
has_participants_qual(const QuoFdwRelationInfo *fpinfo)
{
	const QuoEndpoint *ep = fpinfo->endpoint;
	ListCell   *lc;

	if (ep->fanout == NULL)
		return false;
	foreach(lc, fpinfo->remote_quals)
		if (strcmp(ep->filters[((QuoQual *) lfirst(lc))->filter].column,
				   ep->fanout->participants_column) == 0)
			return true;
	return false;
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
										 path_cost(baserel->tuples, fpinfo, 1.0),
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
		QuoFdwRelationInfo joined = *fpinfo;
		double		rows = ppi->ppi_rows;

		quo_classify_conds(root, baserel, &probe,
						   list_concat(list_copy(baserel->baserestrictinfo), ppi->ppi_clauses));
		quo_classify_conds(root, baserel, &joined, ppi->ppi_clauses);

		/*
		 * Per outer row, a precise request, or the visits of the
		 * conversations the outer row's participants choose (the listing
		 * is made once for the query); never a fan-out of every
		 * conversation.
		 */
		if (!probe.has_required &&
			!(probe.fanout && probe.fanout_participants && has_participants_qual(&joined)))
			continue;
		if (probe.has_id)
			rows = Min(rows, 1);
		add_path(baserel, (Path *)
				 quo_create_foreignscan_path(root, baserel, NULL, rows, 100.0,
											 path_cost(rows, &probe, loop_count(root, outer)),
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
	if (!plan.has_required && !plan.fanout)
		quo_report_missing_required(plan.endpoint, get_rel_name(foreigntableid),
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

	fdw_private = list_make5(qual_ints,
							 fetched_columns(baserel, &plan, local_exprs),
							 makeInteger((int) Min(limit, (double) PG_INT32_MAX)),
	/* under a LIMIT, a request started ahead may be one nobody needs */
							 makeBoolean(root->limit_tuples <= 0 && root->parse->limitCount == NULL),
							 makeBoolean(!plan.has_required && plan.fanout));

	return make_foreignscan(tlist, local_exprs, baserel->relid, fdw_exprs,
							fdw_private, NIL, NIL, outer_plan);
}

/* The plan of a path: join.c's id-lookup join, or a scan of one table. */
static ForeignScan *
quoGetPlan(PlannerInfo *root, RelOptInfo *rel, Oid foreigntableid,
		   ForeignPath *best_path, List *tlist, List *scan_clauses,
		   Plan *outer_plan)
{
	if (IS_JOIN_REL(rel))
		return quo_join_plan(root, rel, best_path, tlist, outer_plan);
	return quoGetForeignPlan(root, rel, foreigntableid, best_path, tlist,
							 scan_clauses, outer_plan);
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
