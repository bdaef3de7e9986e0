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
	ListCell   *lc;
	MemoryContext old = MemoryContextSwitchTo(cxt);

	fs = palloc0(sizeof(QuoFanoutState));
	fs->child = ep;
	fs->parent = parent;
	fs->desc = desc;
	fs->cxt = cxt;
	fs->cache = cache;

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
		else if (strcmp(col, desc->participants_column) != 0)
		{
			cquals = lappend(cquals, q);
			cvals[nc++] = values[i];
		}
		i++;
	}

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

	if (fs->parent_specs == NIL || fs->templates == NIL)
		return NULL;
	find_listing(fs);
	return fs;
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
			classify(fs, lfirst(lc2));
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
					 psprintf("For foreign table \"%s\", visiting the " INT64_FORMAT " %s listed so far that may hold rows (of " INT64_FORMAT "; " INT64_FORMAT " skipped by their last activity) takes at least " INT64_FORMAT " more requests after the " INT64_FORMAT " the query has made%s.",
							  relname, fs->counts.visited, fs->parent->name, fs->counts.listed,
							  fs->counts.pruned, needed, requests_made,
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
