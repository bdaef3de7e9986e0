/*-------------------------------------------------------------------------
 * pushdown.c
 *		Which WHERE clauses become Quo request parameters, and which must
 *		still be checked locally.
 *
 * A clause is pushed when it compares a column that has a filter in the
 * endpoint table with a value that can be computed before the scan starts:
 * a constant, a parameter ($1), a stable expression.  The value is kept as
 * an expression and evaluated at execution, so the same code serves
 * prepared statements now and join parameters later (a value that refers to
 * another relation is what a parameterized path would supply).
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/stratnum.h"
#include "catalog/pg_am.h"
#include "catalog/pg_operator.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/clauses.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/restrictinfo.h"
#include "utils/lsyscache.h"

#include "quo_fdw.h"

/* The array operators, by OID (pg_operator.dat). */
#define QUO_ARRAY_EQ_OP 1070
#define QUO_ARRAY_OVERLAP_OP 2750
#define QUO_ARRAY_CONTAINS_OP 2751
#define QUO_ARRAY_CONTAINED_OP 2752

/* If e is (a relabeling of) a plain Var of baserel, that Var; else NULL. */
static Var *
rel_var(Expr *e, RelOptInfo *baserel)
{
	while (e && IsA(e, RelabelType))
		e = ((RelabelType *) e)->arg;
	if (e && IsA(e, Var))
	{
		Var		   *v = (Var *) e;

		if ((Index) v->varno == baserel->relid && v->varlevelsup == 0 && v->varattno > 0)
			return v;
	}
	return NULL;
}

/*
 * Whether e can be evaluated before the scan starts (and again on each
 * rescan): no column of this table, nothing volatile, no subplans.  Columns
 * of other tables are allowed: they come from the outer side of a
 * parameterized nested loop (or a LATERAL reference) and reach the scan as
 * Params.
 */
static bool
is_scan_value(PlannerInfo *root, Expr *e, RelOptInfo *baserel)
{
	return !bms_is_member(baserel->relid, quo_pull_varnos(root, (Node *) e)) &&
		!contain_volatile_functions((Node *) e) &&
		!contain_subplans((Node *) e);
}

/* Whether a text comparison under collation coll is plain byte equality. */
static bool
collation_ok(Oid coll)
{
	return !OidIsValid(coll) || get_collation_isdeterministic(coll);
}

/* The filter for the column v refers to, or NULL. */
static const QuoFilter *
var_filter(QuoFdwRelationInfo *fpinfo, Var *v, int *filter_index)
{
	const QuoEndpoint *ep = fpinfo->endpoint;
	int			col;

	if (v->varattno > fpinfo->natts)
		return NULL;
	col = fpinfo->colmap[v->varattno - 1];
	if (col < 0)
		return NULL;
	*filter_index = quo_endpoint_filter(ep, ep->columns[col].name);
	return *filter_index >= 0 ? &ep->filters[*filter_index] : NULL;
}

/* The btree strategy of opno among timestamptz comparisons, or 0. */
static int
timestamp_strategy(Oid opno)
{
	static Oid	family = InvalidOid;

	if (!OidIsValid(family))
		family = get_opclass_family(GetDefaultOpClass(TIMESTAMPTZOID, BTREE_AM_OID));
	return get_op_opfamily_strategy(opno, family);
}

/* A range qual from a btree strategy; var_on_left false flips it. */
static bool
range_op(int strategy, bool var_on_left, QuoQualOp *op)
{
	switch (strategy)
	{
		case BTLessStrategyNumber:
			*op = var_on_left ? QUO_OP_LT : QUO_OP_GT;
			return true;
		case BTLessEqualStrategyNumber:
			*op = var_on_left ? QUO_OP_LE : QUO_OP_GE;
			return true;
		case BTEqualStrategyNumber:
			*op = QUO_OP_EQ;
			return true;
		case BTGreaterEqualStrategyNumber:
			*op = var_on_left ? QUO_OP_GE : QUO_OP_LE;
			return true;
		case BTGreaterStrategyNumber:
			*op = var_on_left ? QUO_OP_GT : QUO_OP_LT;
			return true;
	}
	return false;
}

/* Whether f is the filter on the column a fan-out takes participants from. */
static bool
is_fanout_participants(const QuoEndpoint *ep, const QuoFilter *f)
{
	return ep->fanout != NULL && strcmp(f->column, ep->fanout->participants_column) == 0;
}

/* Classify "a op b" where one side is a column of baserel. */
static bool
classify_opexpr(PlannerInfo *root, RelOptInfo *baserel, QuoFdwRelationInfo *fpinfo,
				OpExpr *opexpr, QuoQual *out)
{
	Expr	   *left,
			   *right,
			   *value;
	Var		   *var;
	bool		var_on_left;
	const QuoFilter *f;
	Oid			vtype;

	if (list_length(opexpr->args) != 2)
		return false;
	left = linitial(opexpr->args);
	right = lsecond(opexpr->args);
	if ((var = rel_var(left, baserel)) != NULL && is_scan_value(root, right, baserel))
	{
		var_on_left = true;
		value = right;
	}
	else if ((var = rel_var(right, baserel)) != NULL && is_scan_value(root, left, baserel))
	{
		var_on_left = false;
		value = left;
	}
	else
		return false;

	if ((f = var_filter(fpinfo, var, &out->filter)) == NULL)
		return false;
	vtype = exprType((Node *) value);
	out->value = value;

	switch (f->kind)
	{
		case QUO_FILTER_EQ:
		case QUO_FILTER_ID:
			if (opexpr->opno != TextEqualOperator || vtype != TEXTOID ||
				!collation_ok(opexpr->inputcollid))
				return false;
			out->op = QUO_OP_EQ;
			return true;
		case QUO_FILTER_RANGE:
			if (vtype != TIMESTAMPTZOID && vtype != TIMESTAMPOID && vtype != DATEOID)
				return false;
			return range_op(timestamp_strategy(opexpr->opno), var_on_left, &out->op);
		case QUO_FILTER_ELEMENTS:
			if (vtype != TEXTARRAYOID || !collation_ok(opexpr->inputcollid))
				return false;
			if (opexpr->opno == QUO_ARRAY_EQ_OP)
				out->op = QUO_OP_ARRAY_EQ;
			else if ((opexpr->opno == QUO_ARRAY_CONTAINS_OP && var_on_left) ||
					 (opexpr->opno == QUO_ARRAY_CONTAINED_OP && !var_on_left))
				out->op = QUO_OP_CONTAINS;
			else if (!is_fanout_participants(fpinfo->endpoint, f))
				return false;
			/* a fan-out's choice of conversations only (fanout.c) */
			else if (opexpr->opno == QUO_ARRAY_OVERLAP_OP)
				out->op = QUO_OP_OVERLAPS;
			else if ((opexpr->opno == QUO_ARRAY_CONTAINED_OP && var_on_left) ||
					 (opexpr->opno == QUO_ARRAY_CONTAINS_OP && !var_on_left))
				out->op = QUO_OP_CONTAINED;
			else
				return false;
			return true;
	}
	return false;
}

/* Classify "col = ANY (values)" and "value = ANY (col)". */
static bool
classify_saop(PlannerInfo *root, RelOptInfo *baserel, QuoFdwRelationInfo *fpinfo,
			  ScalarArrayOpExpr *saop, QuoQual *out)
{
	Expr	   *scalar = linitial(saop->args);
	Expr	   *array = lsecond(saop->args);
	Var		   *var;
	const QuoFilter *f;

	if (!saop->useOr || saop->opno != TextEqualOperator ||
		!collation_ok(saop->inputcollid))
		return false;

	if ((var = rel_var(scalar, baserel)) != NULL && is_scan_value(root, array, baserel))
	{
		/* col = ANY (array), col IN (...) */
		if ((f = var_filter(fpinfo, var, &out->filter)) == NULL ||
			(f->kind != QUO_FILTER_EQ && f->kind != QUO_FILTER_ID) ||
			exprType((Node *) array) != TEXTARRAYOID)
			return false;
		out->op = QUO_OP_IN;
		out->value = array;
		return true;
	}
	if ((var = rel_var(array, baserel)) != NULL && is_scan_value(root, scalar, baserel))
	{
		/* value = ANY (col) */
		if ((f = var_filter(fpinfo, var, &out->filter)) == NULL ||
			f->kind != QUO_FILTER_ELEMENTS ||
			exprType((Node *) scalar) != TEXTOID)
			return false;
		out->op = QUO_OP_HAS;
		out->value = scalar;
		return true;
	}
	return false;
}

/*
 * Whether a remote qual becomes a request parameter.  "col && array" and
 * "col <@ array" on participants do not (the API has no such filter): they
 * only choose a fan-out's conversations.
 */
bool
quo_qual_is_sent(const QuoEndpoint *ep, const QuoQual *qual)
{
	(void) ep;
	return qual->op != QUO_OP_OVERLAPS && qual->op != QUO_OP_CONTAINED;
}

/* How many remote quals that are sent use a filter of this kind. */
static int
count_kind(const QuoEndpoint *ep, List *remote_quals, QuoFilterKind kind)
{
	ListCell   *lc;
	int			n = 0;

	foreach(lc, remote_quals)
	{
		QuoQual    *q = lfirst(lc);

		if (ep->filters[q->filter].kind == kind && quo_qual_is_sent(ep, q))
			n++;
	}
	return n;
}

/*
 * Whether the endpoint's fan-out supplies every missing required filter
 * (columns, char *): the parent's phone number and participants.  With a
 * participants condition and no phone number, the parents supply the
 * number, and the condition chooses the parents (fanout.c).
 */
bool
quo_fanout_supplies(const QuoEndpoint *ep, List *missing)
{
	ListCell   *lc;

	if (ep->fanout == NULL || missing == NIL)
		return false;
	foreach(lc, missing)
	{
		const char *col = lfirst(lc);

		if (strcmp(col, ep->fanout->participants_column) != 0 &&
			strcmp(col, ep->fanout->phone_column) != 0)
			return false;
	}
	return true;
}

/*
 * Whether the request built from remote_quals returns exactly the rows that
 * satisfy qual, so it need not be rechecked locally.
 */
bool
quo_qual_is_exact(const QuoEndpoint *ep, List *remote_quals, const QuoQual *qual)
{
	const QuoFilter *f = &ep->filters[qual->filter];
	int			nid = count_kind(ep, remote_quals, QUO_FILTER_ID);

	/* With an id, only the id is sent: everything else is checked here. */
	if (nid > 0 && f->kind != QUO_FILTER_ID)
		return false;
	/*
	 * Listed through the parent (a required filter missing), the phone
	 * number and participants sent are the parent's.  Quals on the phone
	 * number are checked here.  Those on participants choose the parents
	 * (fanout.c): where the rows' participants are the parent's, each is
	 * decided on the parent, exactly; elsewhere (calls) the one parent
	 * kept per number is the one a request with the qual's value would
	 * list, so a qual the API filters on exactly stays exact.
	 */
	if (ep->fanout && quo_missing_required(ep, remote_quals) != NIL)
	{
		if (strcmp(f->column, ep->fanout->phone_column) == 0)
			return false;
		if (strcmp(f->column, ep->fanout->participants_column) == 0 &&
			quo_fanout_participants_from_parent(ep))
			return true;
	}
	if ((f->exact_ops & QUO_OPBIT(qual->op)) == 0)
		return false;
	/* Several participants quals are merged: the merge is rechecked. */
	if (f->kind == QUO_FILTER_ELEMENTS &&
		count_kind(ep, remote_quals, QUO_FILTER_ELEMENTS) > 1)
		return false;
	return true;
}

/*
 * The columns of required filters no remote qual covers (char *), or NIL.
 * An id lookup needs none.
 */
List *
quo_missing_required(const QuoEndpoint *ep, List *remote_quals)
{
	List	   *missing = NIL;

	if (count_kind(ep, remote_quals, QUO_FILTER_ID) > 0)
		return NIL;
	for (int i = 0; i < ep->nfilters; i++)
	{
		ListCell   *lc;
		bool		found = false;

		if (!ep->filters[i].required)
			continue;
		foreach(lc, remote_quals)
			if (((QuoQual *) lfirst(lc))->filter == i && quo_qual_is_sent(ep, lfirst(lc)))
				found = true;
		if (!found)
			missing = lappend(missing, (char *) ep->filters[i].column);
	}
	return missing;
}

/*
 * Split conds (RestrictInfos of baserel: its own quals, and for a
 * parameterized path the join clauses it is given) into remote quals that
 * build the request and local conditions, in fpinfo.  A pushed qual that the
 * API does not filter on exactly is kept in both.
 */
void
quo_classify_conds(PlannerInfo *root, RelOptInfo *baserel,
				   QuoFdwRelationInfo *fpinfo, List *conds)
{
	List	   *pushed_rinfos = NIL;
	List	   *missing;
	ListCell   *lc,
			   *lc2;

	fpinfo->remote_quals = NIL;
	fpinfo->local_conds = NIL;
	foreach(lc, conds)
	{
		RestrictInfo *rinfo = lfirst_node(RestrictInfo, lc);
		Expr	   *clause = rinfo->clause;
		QuoQual		q;
		bool		ok = false;

		memset(&q, 0, sizeof(q));
		if (IsA(clause, OpExpr))
			ok = classify_opexpr(root, baserel, fpinfo, (OpExpr *) clause, &q);
		else if (IsA(clause, ScalarArrayOpExpr))
			ok = classify_saop(root, baserel, fpinfo, (ScalarArrayOpExpr *) clause, &q);

		if (ok)
		{
			fpinfo->remote_quals = lappend(fpinfo->remote_quals,
										   memcpy(palloc(sizeof(QuoQual)), &q, sizeof(QuoQual)));
			pushed_rinfos = lappend(pushed_rinfos, rinfo);
		}
		else
			fpinfo->local_conds = lappend(fpinfo->local_conds, rinfo);
	}

	forboth(lc, fpinfo->remote_quals, lc2, pushed_rinfos)
	{
		if (!quo_qual_is_exact(fpinfo->endpoint, fpinfo->remote_quals, lfirst(lc)))
			fpinfo->local_conds = lappend(fpinfo->local_conds, lfirst(lc2));
	}

	fpinfo->has_id = count_kind(fpinfo->endpoint, fpinfo->remote_quals, QUO_FILTER_ID) > 0;
	missing = quo_missing_required(fpinfo->endpoint, fpinfo->remote_quals);
	fpinfo->has_required = (missing == NIL);
	fpinfo->fanout = !fpinfo->has_required && fpinfo->fanout_enabled &&
		quo_fanout_supplies(fpinfo->endpoint, missing);
	fpinfo->fanout_participants = false;
	if (fpinfo->fanout)
		foreach(lc, fpinfo->remote_quals)
			if (is_fanout_participants(fpinfo->endpoint,
									   &fpinfo->endpoint->filters[((QuoQual *) lfirst(lc))->filter]))
				fpinfo->fanout_participants = true;
}
