/*-------------------------------------------------------------------------
 * fanout.c
 *		Workspace-wide scans of an endpoint that the API lists only per phone
 *		number and participants (calls, messages): list the parent endpoint
 *		(conversations) first, then make one request series per parent.
 *
 * The scan runs both phases as request series (scan.c): the listing's
 * series have lists_parents set, and their rows come here instead of to the
 * executor.  Each parent is then visited, pruned (its last activity is
 * before the lower bound of the child's created_at range, so it holds no
 * matching row), or skipped as unlistable (more participants than the
 * child's list operation takes).  Before any child request, the number of
 * requests the scan needs is checked against quo_fdw.max_requests.
 *
 * Pruning assumes what the API documents lastActivityAt to be: the time of
 * the conversation's latest call or message.  A parent without one is
 * visited.
 *
 * The query's participants conditions choose the parents, as the listing
 * cannot (it takes no participants filter).  Where the child's rows carry
 * the parent's participants (messages), each condition is decided on the
 * parent exactly as SQL would decide it on the rows.  Where the rows carry
 * their own (calls, one participant a request), a parent is kept when a
 * request with its participant lists every row the conditions can match:
 * the one whose participant is a value each matching row holds, or, for
 * "&&" and "<@", one of the array's values; the rows are rechecked unless
 * that request is the one the condition would make with a phone number.
 *
 * A listing is kept for the life of the query (QuoFanoutCache, in the
 * scan's memory): a rescan with the same listing requests (a correlated
 * SubPlan, a LATERAL join, a nested loop whose parameter is not the phone
 * number) reuses its parents, and prunes them by its own bounds.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "quo_fdw.h"

/* The parent columns read from each listed row, in this order. */
enum
{
	PARENT_ID,
	PARENT_PHONE,
	PARENT_PARTICIPANTS,
	PARENT_ACTIVITY,
	PARENT_NCOLS
};

/* Margin on the prune bound, as on the range bounds sent (request.c). */
#define PRUNE_MARGIN_USECS USECS_PER_SEC

/*
 * A parent as listed, kept compact: one per conversation of the workspace,
 * for the life of the query.
 */
typedef struct FanoutParent
{
	char	   *id;
	char	   *phone;
	List	   *participants;	/* char *, the E.164 ones as listed */
	char	   *key;			/* phone and sorted participants: two parents
								 * with one key list the same rows */
	bool		odd;			/* no participants, or some not E.164 */
	bool		has_activity;	/* activity is known */
	TimestampTz activity;		/* last activity */
} FanoutParent;

/* One listing: its requests, and its parents in listing order. */
typedef struct FanoutListing
{
	MemoryContext cxt;			/* its own: parents, targets */
	char	   *targets;		/* the listing's requests, one per line */
	uint32		hash;			/* of targets */
	List	   *parents;		/* FanoutParent * */
	bool		complete;		/* every page was read */
} FanoutListing;

/*
 * The listings of one scan node, kept for the life of the query: the most
 * recent ones, each in its own memory, so that rescans whose listings
 * differ (a condition on phone_number_id from the outer row) keep no more
 * than a few.
 */
#define FANOUT_CACHE_MAX 8

struct QuoFanoutCache
{
	MemoryContext cxt;			/* the scan's: where listings live */
	List	   *listings;		/* FanoutListing *, complete ones, oldest first */
};

/*
 * A participants condition of the query (op HAS, ARRAY_EQ, CONTAINS,
 * OVERLAPS or CONTAINED), as the parents are chosen by it.
 */
typedef struct PartTest
{
	QuoQualOp	op;
	bool		known;			/* false: only text (EXPLAIN's placeholder) */
	char	   *text;			/* the value as EXPLAIN shows it */
	char	  **vals;			/* its non-NULL values, in order */
	int			nvals;
	char	  **sorted;			/* the same sorted, without repeats */
	int			nsorted;
	bool		had_null;		/* some element was NULL */
	bool		plain;			/* one dimension from index 1 (or empty) */
} PartTest;

struct QuoFanoutState
{
	const QuoEndpoint *child;
	const QuoEndpoint *parent;
	const QuoFanout *desc;
	MemoryContext cxt;			/* where this (re)scan's specs are kept */
	QuoFanoutCache *cache;		/* the scan's listings */
	FanoutListing *listing;		/* this (re)scan's: being read, or reused */
	bool		reused;			/* the listing came from the cache */
	List	   *parent_specs;	/* the listing (lists_parents set) */
	List	   *templates;		/* child series without phone and
								 * participants (QuoRequestSpec *) */
	bool		has_lower;		/* the prune bound is known */
	TimestampTz lower;
	List	   *ptests;			/* PartTest *: the participants conditions */
	bool		ptests_known;	/* every one's value is known */
	bool		from_parent;	/* the child's rows carry the parent's
								 * participants: tests decided on it */
	PartTest   *must;			/* else: a kept parent's participants hold
								 * its first value (every matching row does) */
	PartTest   *any_of;			/* else, without must: one of its values */
	List	   *within;			/* PartTest *: one of the values of each */
	QuoRowContext prow;			/* converter of parent rows */
	Datum		pvalues[PARENT_NCOLS];
	bool		pnulls[PARENT_NCOLS];
	MemoryContext row_cxt;		/* reset per parent row */
	List	   *visits;			/* FanoutVisit *, in listing order */
	QuoFanoutCounts counts;
};

/* A parent this (re)scan visits. */
typedef struct FanoutVisit
{
	FanoutParent *parent;
	int			order;			/* position among the visits */
} FanoutVisit;

static void find_listing(QuoFanoutState *fs);
static void classify(QuoFanoutState *fs, FanoutParent *p);
static bool add_participants_test(QuoFanoutState *fs, const QuoQual *q,
								  const QuoQualValue *v);
static int	cstring_cmp(const void *a, const void *b);
static void choose_request_rule(QuoFanoutState *fs);

/* The parameter name a child filter on column sends. */
static const char *
child_param(const QuoEndpoint *ep, const char *column)
{
	int			f = quo_endpoint_filter(ep, column);

	return f >= 0 ? ep->filters[f].param : column;
}

/*
 * Set up a fan-out for the quals (QuoQual *) and values of a child scan:
 * the parent listing (the child's quals on the phone number become the
 * parent's filter on it) and the child series templates (every other
 * qual).  api_key is the scan's, kept out of the messages about parent
 * rows.  NULL when no row can match.
 */
QuoFanoutState *
quo_fanout_begin(const QuoEndpoint *ep, List *quals, QuoQualValue *values,
				 List *fixed_params, const char *api_key, MemoryContext cxt,
				 QuoFanoutCache *cache)
{
	QuoFanoutState *fs;
	const QuoFanout *desc = ep->fanout;
	const QuoEndpoint *parent = quo_endpoint_by_name(desc->parent);
	List	   *pquals = NIL;
	List	   *cquals = NIL;
	QuoQualValue *pvals = palloc0(sizeof(QuoQualValue) * Max(list_length(quals), 1));
	QuoQualValue *cvals = palloc0(sizeof(QuoQualValue) * Max(list_length(quals), 1));
	int			np = 0,
				nc = 0,
				i = 0;
	List	   *missing = NIL;
	bool		possible = true;
	ListCell   *lc;
	MemoryContext old = MemoryContextSwitchTo(cxt);

	fs = palloc0(sizeof(QuoFanoutState));
	fs->child = ep;
	fs->parent = parent;
	fs->desc = desc;
	fs->cxt = cxt;
	fs->cache = cache;
	fs->from_parent = quo_fanout_participants_from_parent(ep);
	fs->ptests_known = true;

	foreach(lc, quals)
	{
		QuoQual    *q = lfirst(lc);
		const char *col = ep->filters[q->filter].column;

		if (strcmp(col, desc->phone_column) == 0)
		{
			QuoQual    *pq = palloc(sizeof(QuoQual));

			*pq = *q;
			pq->filter = quo_endpoint_filter(parent, col);
			Assert(pq->filter >= 0);
			pquals = lappend(pquals, pq);
			pvals[np++] = values[i];
		}
		else if (strcmp(col, desc->participants_column) == 0)
		{
			/* chooses the parents: the listing takes no participants */
			if (!add_participants_test(fs, q, &values[i]))
				possible = false;
		}
		else
		{
			cquals = lappend(cquals, q);
			cvals[nc++] = values[i];
		}
		i++;
	}
	if (!fs->from_parent)
		choose_request_rule(fs);
	fs->counts.filtered = (fs->ptests != NIL);

	fs->parent_specs = quo_build_requests(parent, pquals, pvals, NIL, &missing);
	foreach(lc, fs->parent_specs)
		((QuoRequestSpec *) lfirst(lc))->lists_parents = true;
	fs->templates = quo_build_templates(ep, cquals, cvals, fixed_params);
	fs->has_lower = quo_range_lower(ep, cquals, cvals, desc->prune_column, &fs->lower);

	/* the parent columns the fan-out reads, converted by the one converter */
	fs->prow.endpoint = parent;
	fs->prow.relname = parent->name;
	fs->prow.api_key = api_key;
	fs->prow.natts = PARENT_NCOLS;
	fs->prow.colmap = palloc(sizeof(int) * PARENT_NCOLS);
	fs->prow.attnames = palloc(sizeof(char *) * PARENT_NCOLS);
	fs->prow.colmap[PARENT_ID] = quo_endpoint_column(parent, "id");
	fs->prow.colmap[PARENT_PHONE] = quo_endpoint_column(parent, desc->phone_column);
	fs->prow.colmap[PARENT_PARTICIPANTS] = quo_endpoint_column(parent, desc->participants_column);
	fs->prow.colmap[PARENT_ACTIVITY] = quo_endpoint_column(parent, desc->activity_column);
	for (int c = 0; c < PARENT_NCOLS; c++)
		fs->prow.attnames[c] = parent->columns[fs->prow.colmap[c]].name;
	fs->prow.ctx_participants_null = true;
	fs->row_cxt = AllocSetContextCreate(cxt, "quo_fdw fan-out row", ALLOCSET_SMALL_SIZES);
	MemoryContextSwitchTo(old);

	if (!possible || fs->parent_specs == NIL || fs->templates == NIL)
		return NULL;
	find_listing(fs);
	return fs;
}

/*
 * Keep a participants condition (in fs->cxt) to choose parents by.  False
 * when it is true of no row: a NULL value, "@>" an array with a NULL, "&&"
 * an array without a value, or "=" an array with a NULL where the rows'
 * participants are the parent's (never NULL).
 */
static bool
add_participants_test(QuoFanoutState *fs, const QuoQual *q, const QuoQualValue *v)
{
	PartTest   *t = palloc0(sizeof(PartTest));

	t->op = q->op;
	fs->ptests = lappend(fs->ptests, t);
	if (!v->known)
	{
		t->text = v->placeholder;
		fs->ptests_known = false;
		return true;
	}
	t->known = true;
	if (v->isnull)
	{
		t->text = "NULL";
		return false;
	}
	if (q->op == QUO_OP_HAS)
	{
		t->vals = palloc(sizeof(char *));
		t->vals[0] = TextDatumGetCString(v->value);
		t->nvals = 1;
		t->text = quote_literal_cstr(t->vals[0]);
	}
	else
	{
		ArrayType  *arr = DatumGetArrayTypeP(v->value);
		Oid			typout;
		bool		isvarlena;
		Datum	   *elems;
		bool	   *nulls;
		int			n;

		getTypeOutputInfo(TEXTARRAYOID, &typout, &isvarlena);
		t->text = quote_literal_cstr(OidOutputFunctionCall(typout, v->value));
		t->plain = ARR_NDIM(arr) == 0 || (ARR_NDIM(arr) == 1 && ARR_LBOUND(arr)[0] == 1);
		deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
		t->vals = palloc(sizeof(char *) * Max(n, 1));
		for (int i = 0; i < n; i++)
		{
			CHECK_FOR_INTERRUPTS();
			if (nulls[i])
				t->had_null = true;
			else
				t->vals[t->nvals++] = TextDatumGetCString(elems[i]);
		}
	}
	/* sorted without repeats, to search (an array may be long) */
	t->sorted = palloc(sizeof(char *) * Max(t->nvals, 1));
	memcpy(t->sorted, t->vals, sizeof(char *) * t->nvals);
	qsort(t->sorted, t->nvals, sizeof(char *), cstring_cmp);
	for (int i = 0; i < t->nvals; i++)
		if (i == 0 || strcmp(t->sorted[i], t->sorted[t->nsorted - 1]) != 0)
			t->sorted[t->nsorted++] = t->sorted[i];

	if (t->op == QUO_OP_CONTAINS && t->had_null)
		return false;
	if (t->op == QUO_OP_OVERLAPS && t->nvals == 0)
		return false;
	if (t->op == QUO_OP_ARRAY_EQ && t->had_null && fs->from_parent)
		return false;
	return true;
}

/*
 * Where the rows carry their own participants (calls): which parents a
 * request with their participant lists every row the conditions can match
 * from.  The value of "v = ANY" is the one participant to keep; of "=" or
 * "@>", any of the array's values (a matching row holds them all, and a
 * row may list more than its conversation's participant); else, for "&&",
 * any of its values.  "<@" keeps only a parent whose participant is in the array
 * (every row listed with it holds it).  Conditions not used here are
 * rechecked on the rows.
 */
static void
choose_request_rule(QuoFanoutState *fs)
{
	ListCell   *lc;

	foreach(lc, fs->ptests)
	{
		PartTest   *t = lfirst(lc);

		if ((t->op == QUO_OP_HAS || t->op == QUO_OP_ARRAY_EQ || t->op == QUO_OP_CONTAINS) &&
			(!t->known || t->nvals > 0) && fs->must == NULL)
			fs->must = t;
		else if (t->op == QUO_OP_OVERLAPS && fs->any_of == NULL)
			fs->any_of = t;
		else if (t->op == QUO_OP_CONTAINED)
			fs->within = lappend(fs->within, t);
	}
}

/* Whether s is one of t's values. */
static bool
in_test(const PartTest *t, const char *s)
{
	return t->nsorted > 0 &&
		bsearch(&s, t->sorted, t->nsorted, sizeof(char *), cstring_cmp) != NULL;
}

/* Whether s is in a list of strings (a parent's participants). */
static bool
in_list(const char *s, List *l)
{
	ListCell   *lc;

	foreach(lc, l)
		if (strcmp(s, lfirst(lc)) == 0)
			return true;
	return false;
}

/* Whether some of a parent's participants is one of t's values. */
static bool
any_in_test(const PartTest *t, List *participants)
{
	ListCell   *lc;

	foreach(lc, participants)
		if (in_test(t, lfirst(lc)))
			return true;
	return false;
}

/*
 * Whether condition t is true of a row whose participants are these (a
 * parent's: a one-dimensional array from index 1, E.164 numbers, no NULL),
 * as SQL decides "v = ANY (col)", "col = a", "col @> a", "col && a" and
 * "col <@ a" (the last three ignore the dimensions of a).
 */
static bool
test_holds(const PartTest *t, List *participants)
{
	ListCell   *lc;
	int			i = 0;

	switch (t->op)
	{
		case QUO_OP_HAS:
			return in_list(t->vals[0], participants);
		case QUO_OP_ARRAY_EQ:
			if (t->had_null || !t->plain || t->nvals != list_length(participants))
				return false;
			foreach(lc, participants)
				if (strcmp(t->vals[i++], lfirst(lc)) != 0)
					return false;
			return true;
		case QUO_OP_CONTAINS:
			if (t->had_null || t->nsorted > list_length(participants))
				return false;
			for (i = 0; i < t->nsorted; i++)
				if (!in_list(t->sorted[i], participants))
					return false;
			return true;
		case QUO_OP_OVERLAPS:
			return any_in_test(t, participants);
		case QUO_OP_CONTAINED:
			foreach(lc, participants)
				if (!in_test(t, lfirst(lc)))
					return false;
			return true;
		default:
			return true;
	}
}

/*
 * Whether parent p may hold a row the participants conditions match, and
 * so is visited.  With a value not known (EXPLAIN), every parent may.
 */
static bool
participants_match(QuoFanoutState *fs, FanoutParent *p)
{
	ListCell   *lc;

	if (fs->ptests == NIL || !fs->ptests_known)
		return true;
	if (fs->from_parent)
	{
		foreach(lc, fs->ptests)
			if (!test_holds(lfirst(lc), p->participants))
				return false;
		return true;
	}
	if (fs->must != NULL)
	{
		/*
		 * A call's row may list more than its conversation's participant
		 * (the API documents two at most): of an array, a row can come
		 * from the conversation of any of its values
		 */
		if (fs->must->op == QUO_OP_HAS ? !in_list(fs->must->vals[0], p->participants)
			: !any_in_test(fs->must, p->participants))
			return false;
	}
	else if (fs->any_of != NULL && !any_in_test(fs->any_of, p->participants))
		return false;
	foreach(lc, fs->within)
		if (!any_in_test(lfirst(lc), p->participants))
			return false;
	return true;
}

/* Make a cache of listings for a scan node; it lives in cxt. */
QuoFanoutCache *
quo_fanout_cache_create(MemoryContext cxt)
{
	QuoFanoutCache *cache = MemoryContextAllocZero(cxt, sizeof(QuoFanoutCache));

	cache->cxt = cxt;
	return cache;
}

/*
 * Reuse a complete listing of the same requests from the cache, pruned by
 * this (re)scan's bounds; or start a new one, to be read.
 */
static void
find_listing(QuoFanoutState *fs)
{
	StringInfoData t;
	uint32		hash;
	ListCell   *lc;
	MemoryContext old;

	initStringInfo(&t);
	foreach(lc, fs->parent_specs)
	{
		char	   *target = quo_request_target(lfirst(lc), fs->parent->max_page, NULL);

		appendStringInfo(&t, "%s\n", target);
		pfree(target);
	}
	hash = hash_bytes((const unsigned char *) t.data, t.len);
	foreach(lc, fs->cache->listings)
	{
		FanoutListing *l = lfirst(lc);
		ListCell   *lc2;

		if (l->hash != hash || strcmp(l->targets, t.data) != 0)
			continue;
		pfree(t.data);
		fs->listing = l;
		fs->reused = true;
		foreach(lc2, l->parents)
		{
			CHECK_FOR_INTERRUPTS();
			classify(fs, lfirst(lc2));
		}
		return;
	}
	{
		MemoryContext lcxt = AllocSetContextCreate(fs->cache->cxt, "quo_fdw fan-out listing",
												   ALLOCSET_DEFAULT_SIZES);

		old = MemoryContextSwitchTo(lcxt);
		fs->listing = palloc0(sizeof(FanoutListing));
		fs->listing->cxt = lcxt;
		fs->listing->targets = pstrdup(t.data);
		fs->listing->hash = hash;
		MemoryContextSwitchTo(old);
	}
	pfree(t.data);
}

/* Whether the scan must read the listing: false when the cache had it. */
bool
quo_fanout_needs_listing(QuoFanoutState *fs)
{
	return !fs->reused;
}

/* The parent listing: the first series of the scan. */
List *
quo_fanout_parent_specs(QuoFanoutState *fs)
{
	return fs->parent_specs;
}

/* Whether s is an E.164 number, as the child list operations require. */
static bool
is_e164(const char *s)
{
	int			n = 0;

	if (s[0] != '+' || s[1] < '1' || s[1] > '9')
		return false;
	for (const char *p = s + 1; *p; p++, n++)
		if (*p < '0' || *p > '9')
			return false;
	return n >= 2 && n <= 15;
}

static int
cstring_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/* The de-duplication key of a parent: its phone and sorted participants. */
static char *
visit_key(const char *phone, List *participants)
{
	int			n = list_length(participants);
	char	  **sorted = palloc(sizeof(char *) * Max(n, 1));
	StringInfoData k;
	int			i = 0;
	ListCell   *lc;

	foreach(lc, participants)
		sorted[i++] = lfirst(lc);
	qsort(sorted, n, sizeof(char *), cstring_cmp);
	initStringInfo(&k);
	appendStringInfoString(&k, phone);
	for (i = 0; i < n; i++)
		appendStringInfo(&k, "|%s", sorted[i]);
	pfree(sorted);
	return k.data;
}

/*
 * Count a listed parent for this (re)scan, and keep it to visit unless it
 * is pruned by its last activity or cannot be listed.
 */
static void
classify(QuoFanoutState *fs, FanoutParent *p)
{
	fs->counts.listed++;
	if (fs->has_lower && p->has_activity && p->activity < fs->lower - PRUNE_MARGIN_USECS)
		fs->counts.pruned++;
	else if (p->odd || p->participants == NIL)
		fs->counts.odd++;
	else if (!participants_match(fs, p))
		fs->counts.by_participants++;
	else if (list_length(p->participants) > fs->desc->max_participants)
		fs->counts.unlistable++;
	else
	{
		MemoryContext old = MemoryContextSwitchTo(fs->cxt);
		FanoutVisit *v = palloc(sizeof(FanoutVisit));

		v->parent = p;
		v->order = list_length(fs->visits);
		fs->visits = lappend(fs->visits, v);
		fs->counts.visited++;
		MemoryContextSwitchTo(old);
	}
}

/*
 * One row of the parent listing: keep it in the listing (for the life of
 * the query) and classify it.  A parent without an id or phone number is
 * not the documented object: an ERROR, never a row silently left out.
 */
void
quo_fanout_add_parent(QuoFanoutState *fs, struct json_object *obj)
{
	MemoryContext old;
	List	   *participants = NIL;
	bool		odd = false;
	FanoutParent *p;
	ListCell   *lc;

	Assert(!fs->reused);
	MemoryContextReset(fs->row_cxt);
	old = MemoryContextSwitchTo(fs->row_cxt);
	quo_json_to_row(&fs->prow, obj, fs->pvalues, fs->pnulls);
	if (fs->pnulls[PARENT_ID] || fs->pnulls[PARENT_PHONE])
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_CREATE_REPLY),
				 errmsg("invalid response from the Quo API"),
				 errdetail("A conversation in the listing has no %s.",
						   fs->pnulls[PARENT_ID] ? "id" : "phoneNumberId")));
	if (!fs->pnulls[PARENT_PARTICIPANTS])
	{
		ArrayType  *arr = DatumGetArrayTypeP(fs->pvalues[PARENT_PARTICIPANTS]);
		Datum	   *elems;
		bool	   *nulls;
		int			n;

		deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
		for (int i = 0; i < n; i++)
		{
			char	   *s = nulls[i] ? NULL : TextDatumGetCString(elems[i]);

			if (s == NULL || !is_e164(s))
				odd = true;
			else
				participants = lappend(participants, s);
		}
	}

	/* keep only what a visit needs, in the listing's memory */
	MemoryContextSwitchTo(fs->listing->cxt);
	p = palloc0(sizeof(FanoutParent));
	p->id = TextDatumGetCString(fs->pvalues[PARENT_ID]);
	p->phone = TextDatumGetCString(fs->pvalues[PARENT_PHONE]);
	p->odd = odd;
	if (!odd)
	{
		foreach(lc, participants)
			p->participants = lappend(p->participants, pstrdup(lfirst(lc)));
		p->key = visit_key(p->phone, p->participants);
	}
	p->has_activity = !fs->pnulls[PARENT_ACTIVITY];
	if (p->has_activity)
		p->activity = DatumGetTimestampTz(fs->pvalues[PARENT_ACTIVITY]);
	fs->listing->parents = lappend(fs->listing->parents, p);
	MemoryContextSwitchTo(old);
	classify(fs, p);
}

/*
 * The budget, as the listing goes: the visits can only grow, so once the
 * requests made plus one per series to come pass quo_fdw.max_requests, the
 * scan stops without listing further.
 */
void
quo_fanout_check_budget(QuoFanoutState *fs, const char *relname, int64 requests_made,
						int rate_limit)
{
	int64		needed = fs->counts.visited * list_length(fs->templates);

	if (requests_made < 0 || quo_max_requests <= 0 ||
		requests_made + needed <= quo_max_requests)
		return;
	quo_check_budget(requests_made + needed,
					 psprintf("For foreign table \"%s\", visiting the " INT64_FORMAT " %s listed so far that may hold rows (of " INT64_FORMAT "; " INT64_FORMAT " skipped by their last activity%s) takes at least " INT64_FORMAT " more requests after the " INT64_FORMAT " the query has made%s.",
							  relname, fs->counts.visited, fs->parent->name, fs->counts.listed,
							  fs->counts.pruned,
							  fs->counts.filtered ?
							  psprintf(", " INT64_FORMAT " by their participants",
									   fs->counts.by_participants) : "",
							  needed, requests_made,
							  rate_limit > 0 ?
							  psprintf(", about " INT64_FORMAT " s at %d requests per second",
									   (needed + rate_limit - 1) / rate_limit, rate_limit) : ""),
					 "Narrow the query with a created_at range, a phone_number_id condition or a join with a local table, or raise quo_fdw.max_requests.");
}

static int
visit_key_cmp(const void *a, const void *b)
{
	const FanoutVisit *va = *(FanoutVisit *const *) a;
	const FanoutVisit *vb = *(FanoutVisit *const *) b;
	int			c = strcmp(va->parent->key, vb->parent->key);

	return c != 0 ? c : (va->order > vb->order) - (va->order < vb->order);
}

/*
 * The parents to visit, each key once (two listed parents with the same
 * phone and participants would list the same rows twice), in listing order.
 */
static List *
unique_visits(List *visits)
{
	int			n = list_length(visits);
	FanoutVisit **arr;
	List	   *out = NIL;
	int			i = 0;
	ListCell   *lc;

	if (n < 2)
		return visits;
	arr = palloc(sizeof(FanoutVisit *) * n);
	foreach(lc, visits)
		arr[i++] = lfirst(lc);
	qsort(arr, n, sizeof(FanoutVisit *), visit_key_cmp);
	for (i = 1; i < n; i++)
		if (strcmp(arr[i]->parent->key, arr[i - 1]->parent->key) == 0)
			arr[i]->order = -1;	/* a later duplicate */
	foreach(lc, visits)
		if (((FanoutVisit *) lfirst(lc))->order >= 0)
			out = lappend(out, lfirst(lc));
	pfree(arr);
	return out;
}

/* The child series of one parent, for each template (queries sized exactly). */
static List *
add_children(QuoFanoutState *fs, List *children, FanoutParent *v)
{
	ListCell   *lc,
			   *lc2;

	foreach(lc, fs->templates)
	{
		QuoRequestSpec *t = lfirst(lc);
		QuoRequestSpec *s = palloc0(sizeof(QuoRequestSpec));
		StringInfoData q;

		initStringInfo(&q);
		appendStringInfo(&q, "%s=", child_param(fs->child, fs->desc->phone_column));
		quo_append_encoded(&q, v->phone);
		foreach(lc2, v->participants)
		{
			appendStringInfo(&q, "&%s=", child_param(fs->child, fs->desc->participants_column));
			quo_append_encoded(&q, lfirst(lc2));
		}
		if (t->query[0] != '\0')
			appendStringInfo(&q, "&%s", t->query);
		s->ep = t->ep;
		s->path = t->path;
		s->query = pstrdup(q.data);
		pfree(q.data);
		s->ctx[QUO_CTX_PHONE] = v->phone;
		s->ctx_participants = v->participants;
		s->ctx[QUO_CTX_CONVERSATION] = v->id;
		children = lappend(children, s);
	}
	return children;
}

/*
 * After the listing: the child series to run.  Says once (warned) how
 * many parents could not be listed and why, and stops with an ERROR when
 * the requests the scan needs, at the least one per series, pass
 * quo_fdw.max_requests (not checked when requests_made is -1: under a
 * LIMIT, not every series may be needed).
 */
List *
quo_fanout_children(QuoFanoutState *fs, const char *relname, int64 requests_made,
					int rate_limit, bool *warned)
{
	List	   *children = NIL;
	ListCell   *lc;
	MemoryContext old;

	if (!*warned &&
		(fs->counts.odd > 0 || (fs->counts.unlistable > 0 && fs->desc->why_unlistable != NULL)))
	{
		*warned = true;
		ereport(WARNING,
				(errcode(ERRCODE_WARNING),
				 errmsg("foreign table \"%s\" skipped " INT64_FORMAT " of the " INT64_FORMAT " %s listed",
						relname,
						fs->counts.odd + (fs->desc->why_unlistable ? fs->counts.unlistable : 0),
						fs->counts.listed, fs->parent->name),
				 fs->counts.odd > 0 ?
				 errdetail(INT64_FORMAT " have participants the API cannot list by (none, or not E.164 numbers). %s",
						   fs->counts.odd,
						   fs->desc->why_unlistable && fs->counts.unlistable > 0 ?
						   fs->desc->why_unlistable : "") :
				 errdetail("%s Rows in those conversations are not in the result.",
						   fs->desc->why_unlistable)));
	}
	if (!fs->reused && !fs->listing->complete)
	{
		/* read to its end: kept for the rescans of the query, the oldest going */
		fs->listing->complete = true;
		if (list_length(fs->cache->listings) >= FANOUT_CACHE_MAX)
		{
			FanoutListing *oldest = linitial(fs->cache->listings);

			fs->cache->listings = list_delete_first(fs->cache->listings);
			MemoryContextDelete(oldest->cxt);
		}
		old = MemoryContextSwitchTo(fs->cache->cxt);
		fs->cache->listings = lappend(fs->cache->listings, fs->listing);
		MemoryContextSwitchTo(old);
	}
	old = MemoryContextSwitchTo(fs->cxt);
	fs->visits = unique_visits(fs->visits);
	fs->counts.visited = list_length(fs->visits);
	MemoryContextSwitchTo(old);
	quo_fanout_check_budget(fs, relname, requests_made, rate_limit);
	old = MemoryContextSwitchTo(fs->cxt);
	foreach(lc, fs->visits)
		children = add_children(fs, children, ((FanoutVisit *) lfirst(lc))->parent);
	MemoryContextSwitchTo(old);
	return children;
}

/* The counters EXPLAIN ANALYZE shows. */
const QuoFanoutCounts *
quo_fanout_counts(QuoFanoutState *fs)
{
	return &fs->counts;
}

/*
 * The child series as EXPLAIN shows them: the templates with the parent's
 * values as {placeholders}.
 */
List *
quo_fanout_shape(QuoFanoutState *fs)
{
	List	   *out = NIL;
	ListCell   *lc;

	foreach(lc, fs->templates)
	{
		QuoRequestSpec *t = lfirst(lc);
		QuoRequestSpec *s = palloc0(sizeof(QuoRequestSpec));

		*s = *t;
		s->query = psprintf("%s={conversation}&%s={participant%s}%s%s",
							child_param(fs->child, fs->desc->phone_column),
							child_param(fs->child, fs->desc->participants_column),
							fs->desc->max_participants > 1 ? "s" : "",
							t->query[0] ? "&" : "", t->query);
		out = lappend(out, s);
	}
	return out;
}

/*
 * Which parents the participants conditions keep, as EXPLAIN shows it
 * ("Quo Conversations Kept"), or NULL when there is no such condition.
 */
char *
quo_fanout_kept(QuoFanoutState *fs)
{
	StringInfoData buf;
	ListCell   *lc;

	if (fs->ptests == NIL)
		return NULL;
	initStringInfo(&buf);
	if (fs->from_parent)
	{
		foreach(lc, fs->ptests)
		{
			PartTest   *t = lfirst(lc);
			const char *col = fs->desc->participants_column;

			if (buf.len > 0)
				appendStringInfoString(&buf, " AND ");
			switch (t->op)
			{
				case QUO_OP_HAS:
					appendStringInfo(&buf, "%s = ANY (%s)", t->text, col);
					break;
				case QUO_OP_ARRAY_EQ:
					appendStringInfo(&buf, "%s = %s", col, t->text);
					break;
				case QUO_OP_CONTAINS:
					appendStringInfo(&buf, "%s @> %s", col, t->text);
					break;
				case QUO_OP_OVERLAPS:
					appendStringInfo(&buf, "%s && %s", col, t->text);
					break;
				case QUO_OP_CONTAINED:
					appendStringInfo(&buf, "%s <@ %s", col, t->text);
					break;
				default:
					break;
			}
		}
		return buf.data;
	}
	if (fs->must != NULL)
	{
		if (fs->must->op == QUO_OP_HAS && fs->must->known)
			appendStringInfo(&buf, "participant = %s", quote_literal_cstr(fs->must->vals[0]));
		else if (fs->must->op == QUO_OP_HAS)
			appendStringInfo(&buf, "participant = %s", fs->must->text);
		else
			appendStringInfo(&buf, "participant = ANY (%s)", fs->must->text);
	}
	else if (fs->any_of != NULL)
		appendStringInfo(&buf, "participant = ANY (%s)", fs->any_of->text);
	foreach(lc, fs->within)
		appendStringInfo(&buf, "%sparticipant = ANY (%s)", buf.len > 0 ? " AND " : "",
						 ((PartTest *) lfirst(lc))->text);
	if (buf.len == 0)
		appendStringInfoString(&buf, "all (the participants conditions are checked on the rows)");
	return buf.data;
}
