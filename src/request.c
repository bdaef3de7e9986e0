/*-------------------------------------------------------------------------
 * request.c
 *		The one request builder: from pushed quals and their values to the
 *		list of request series a scan makes, and from a series and a page
 *		token to the request target.  EXPLAIN prints what this builds.
 *
 * Several values for one parameter (IN lists, = ANY) become several request
 * series, or one with repeated keys where the API takes arrays.  Ranges are
 * collapsed to one after/before pair, widened by a second on both sides so
 * the result is exact whatever the API's inclusivity; the rows are
 * rechecked locally.  A value that can match no row costs no request.
 *
 * Lists of values may be long (an "= ANY" of tens of thousands of ids):
 * repeats are removed and lists intersected by sorting, never by searching
 * a list in a loop, and every long loop checks for interrupts.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/int.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/date.h"
#include "utils/timestamp.h"

#include "quo_fdw.h"

/* Widening of a pushed created/updated range, in microseconds. */
#define RANGE_WIDEN_USECS USECS_PER_SEC

/* What the quals on one filter come to. */
typedef struct FilterValues
{
	bool		constrained;	/* some qual applies */
	bool		has_values;		/* EQ/ID: values holds a first set */
	bool		exact;			/* ELEMENTS: some qual on it is not
								 * rechecked locally */
	List	   *values;			/* EQ/ID: allowed values, without repeats,
								 * in first-seen order; ELEMENTS: values to
								 * send (char *) */
	bool		have_lower,		/* RANGE: a lower bound applies */
				have_upper;		/* RANGE: an upper bound applies */
	TimestampTz lower,			/* RANGE: the tightest lower bound */
				upper;			/* RANGE: the tightest upper bound */
	bool		lower_strict,	/* RANGE: lower is excluded (>) */
				upper_strict;	/* RANGE: upper is excluded (<) */
	List	   *placeholders;	/* EXPLAIN only: values not yet known,
								 * rendered as param=text */
} FilterValues;

/* A value and where it was first seen, for sorting without losing order. */
typedef struct SeenValue
{
	const char *s;				/* the value */
	int			pos;			/* its position in the list it came from */
} SeenValue;

/* Percent-encode s (everything but RFC 3986 unreserved characters). */
void
quo_append_encoded(StringInfo buf, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (const unsigned char *p = (const unsigned char *) s; *p; p++)
	{
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
			(*p >= '0' && *p <= '9') || *p == '-' || *p == '.' ||
			*p == '_' || *p == '~')
			appendStringInfoChar(buf, (char) *p);
		else
		{
			appendStringInfoChar(buf, '%');
			appendStringInfoChar(buf, hex[*p >> 4]);
			appendStringInfoChar(buf, hex[*p & 15]);
		}
	}
}

/*
 * Append ts as ISO 8601 in UTC with milliseconds, as the API documents its
 * date-times.  False (nothing appended) when ts is not finite or outside
 * the years 1 to 9999 that the format can write.
 */
bool
quo_format_timestamp(StringInfo buf, TimestampTz ts)
{
	struct pg_tm tm;
	fsec_t		fsec;

	if (TIMESTAMP_NOT_FINITE(ts) || timestamp2tm(ts, NULL, &tm, &fsec, NULL, NULL) != 0 ||
		tm.tm_year < 1 || tm.tm_year > 9999)
		return false;
	appendStringInfo(buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
					 tm.tm_year, tm.tm_mon, tm.tm_mday, tm.tm_hour, tm.tm_min,
					 tm.tm_sec, (int) (fsec / 1000));
	return true;
}

/* A timestamp-like value as timestamptz, the way the comparison operators see it. */
static TimestampTz
as_timestamptz(Datum d, Oid type)
{
	if (type == DATEOID)
		return DatumGetTimestampTz(DirectFunctionCall1(date_timestamptz, d));
	if (type == TIMESTAMPOID)
		return DatumGetTimestampTz(DirectFunctionCall1(timestamp_timestamptz, d));
	return DatumGetTimestampTz(d);
}

/*
 * A text value as the API reads it: UTF-8, whatever the server encoding
 * (a LATIN1 database's 'Müller' must be sent as M%C3%BCller).
 */
char *
quo_api_string(Datum d)
{
	char	   *s = TextDatumGetCString(d);

	return pg_server_to_any(s, (int) strlen(s), PG_UTF8);
}

/* Characters of a UTF-8 string. */
static int
utf8_length(const char *s)
{
	int			n = 0;

	for (; *s; s++)
		if (((unsigned char) *s & 0xC0) != 0x80)
			n++;
	return n;
}

/*
 * The non-NULL elements of a text[] value, in order (as quo_api_string); *had_null says whether
 * some element was NULL.  The array may be long: the loop is interruptible.
 */
static List *
text_array_values(Datum d, bool *had_null)
{
	ArrayType  *arr = DatumGetArrayTypeP(d);
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	List	   *out = NIL;

	deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	*had_null = false;
	for (int i = 0; i < n; i++)
	{
		CHECK_FOR_INTERRUPTS();
		if (nulls[i])
			*had_null = true;
		else
			out = lappend(out, quo_api_string(elems[i]));
	}
	pfree(elems);
	pfree(nulls);
	return out;
}

/* qsort order of SeenValues: by value, then by position. */
static int
seen_value_cmp(const void *a, const void *b)
{
	const SeenValue *x = a;
	const SeenValue *y = b;
	int			c = strcmp(x->s, y->s);

	if (c != 0)
		return c;
	return (x->pos > y->pos) - (x->pos < y->pos);
}

/* qsort and bsearch order of strings (char * elements). */
static int
string_ptr_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/*
 * The values of vals (char *) without repeats, each where it was first
 * seen.  Sorting (value, position) pairs makes this O(n log n): the first
 * pair of each run of equal values is the one to keep.
 */
static List *
unique_strings(List *vals)
{
	int			n = list_length(vals);
	SeenValue  *seen;
	bool	   *keep;
	List	   *out = NIL;
	ListCell   *lc;
	int			i = 0;

	if (n < 2)
		return vals;
	seen = palloc(sizeof(SeenValue) * n);
	foreach(lc, vals)
	{
		seen[i].s = lfirst(lc);
		seen[i].pos = i;
		i++;
	}
	CHECK_FOR_INTERRUPTS();
	qsort(seen, n, sizeof(SeenValue), seen_value_cmp);
	keep = palloc0(sizeof(bool) * n);
	for (i = 0; i < n; i++)
	{
		CHECK_FOR_INTERRUPTS();
		if (i == 0 || strcmp(seen[i].s, seen[i - 1].s) != 0)
			keep[seen[i].pos] = true;
	}
	i = 0;
	foreach(lc, vals)
	{
		if (keep[i++])
			out = lappend(out, lfirst(lc));
	}
	pfree(seen);
	pfree(keep);
	return out;
}

/*
 * The values of a (char *, no repeats), in order, that are also in b:
 * b sorted once and searched, O((n + m) log m).
 */
static List *
intersect_strings(List *a, List *b)
{
	int			nb = list_length(b);
	char	  **sorted;
	List	   *out = NIL;
	ListCell   *lc;
	int			i = 0;

	if (a == NIL || b == NIL)
		return NIL;
	sorted = palloc(sizeof(char *) * nb);
	foreach(lc, b)
		sorted[i++] = lfirst(lc);
	CHECK_FOR_INTERRUPTS();
	qsort(sorted, nb, sizeof(char *), string_ptr_cmp);
	foreach(lc, a)
	{
		char	   *s = lfirst(lc);

		CHECK_FOR_INTERRUPTS();
		if (bsearch(&s, sorted, nb, sizeof(char *), string_ptr_cmp) != NULL)
			out = lappend(out, s);
	}
	pfree(sorted);
	return out;
}

/*
 * Whether the text[] column f filters on can hold NULL elements.  A column
 * read from JSON can (json_row.c makes a JSON null element a NULL); the
 * participants a row was fetched for are the values sent, never NULL.
 */
static bool
elements_may_be_null(const QuoEndpoint *ep, const QuoFilter *f)
{
	int			col = quo_endpoint_column(ep, f->column);

	return col < 0 || ep->columns[col].source != QUO_SRC_CONTEXT;
}

/*
 * Whether a value (UTF-8) can be in f's column at all: it has the
 * documented id prefix and length.  Others match no row and are never sent.
 */
bool
quo_value_possible(const QuoFilter *f, const char *s)
{
	if (f->prefix && strncmp(s, f->prefix, strlen(f->prefix)) != 0)
		return false;
	/*
	 * "" would make GET item_path/ (the list, on some endpoints), and "."
	 * or ".." a path libcurl resolves to another resource: an id without a
	 * documented prefix that is only dots is none.
	 */
	if (f->kind == QUO_FILTER_ID && strspn(s, ".") == strlen(s))
		return false;
	/* the document bounds the field itself (contacts' externalId, source) */
	if (f->max_len > 0 && (s[0] == '\0' || utf8_length(s) > f->max_len))
		return false;
	return true;
}

/* The request context slot the value of f's column is kept in. */
static QuoCtx
filter_ctx(const QuoEndpoint *ep, const QuoFilter *f)
{
	int			col = quo_endpoint_column(ep, f->column);

	return col < 0 ? QUO_CTX_NONE : ep->columns[col].ctx;
}

/*
 * Fold one qual into its filter's values.  Returns false when the qual can
 * be true for no row (a NULL, a value outside the documented id pattern).
 * exact says the qual is not rechecked locally.
 *
 * NULL elements, as SQL treats them: in "col = ANY (array)" a NULL equals
 * nothing, so the other values are sent; "col @> array" is never true when
 * the array holds a NULL; "col = array" is true when col has NULLs at the
 * same places, which only a column that can hold NULL elements can match:
 * then the other values are sent and the qual is rechecked.
 */
static bool
apply_qual(const QuoEndpoint *ep, const QuoFilter *f, const QuoQual *q,
		   const QuoQualValue *v, FilterValues *fv, bool exact)
{
	List	   *vals = NIL;
	ListCell   *lc;
	bool		had_null = false;

	fv->constrained = true;
	if (!v->known)
	{
		fv->placeholders = lappend(fv->placeholders, v->placeholder);
		return true;
	}
	if (v->isnull)
		return false;

	switch (f->kind)
	{
		case QUO_FILTER_EQ:
		case QUO_FILTER_ID:
			{
				List	   *ok = NIL;

				if (q->op == QUO_OP_IN)
					vals = text_array_values(v->value, &had_null);
				else
					vals = list_make1(quo_api_string(v->value));
				foreach(lc, vals)
				{
					char	   *s = lfirst(lc);

					CHECK_FOR_INTERRUPTS();
					if (!quo_value_possible(f, s))
						continue;
					ok = lappend(ok, s);
				}
				ok = unique_strings(ok);
				fv->values = fv->has_values ? intersect_strings(fv->values, ok) : ok;
				fv->has_values = true;
				return fv->values != NIL;
			}
		case QUO_FILTER_ELEMENTS:
			if (q->op == QUO_OP_HAS)
				vals = list_make1(quo_api_string(v->value));
			else
			{
				vals = text_array_values(v->value, &had_null);
				if (had_null && q->op == QUO_OP_CONTAINS)
					return false;
				if (had_null && !elements_may_be_null(ep, f))
					return false;
				if (had_null && exact)
					ereport(ERROR,
							(errcode(ERRCODE_INTERNAL_ERROR),
							 errmsg_internal("an array with NULL elements on column \"%s\" of endpoint \"%s\" needs a local recheck",
											 f->column, ep->name)));
			}
			/* every value must be an element of the row's array */
			foreach(lc, vals)
			{
				CHECK_FOR_INTERRUPTS();
				if (!quo_value_possible(f, lfirst(lc)))
					return false;
			}
			fv->values = list_concat(fv->values, vals);
			return true;
		case QUO_FILTER_RANGE:
			{
				TimestampTz t = as_timestamptz(v->value, v->type);
				bool		lower = (q->op == QUO_OP_GT || q->op == QUO_OP_GE || q->op == QUO_OP_EQ);
				bool		upper = (q->op == QUO_OP_LT || q->op == QUO_OP_LE || q->op == QUO_OP_EQ);

				if (lower && (!fv->have_lower || t > fv->lower ||
							  (t == fv->lower && q->op == QUO_OP_GT)))
				{
					fv->have_lower = true;
					fv->lower = t;
					fv->lower_strict = (q->op == QUO_OP_GT);
				}
				if (upper && (!fv->have_upper || t < fv->upper ||
							  (t == fv->upper && q->op == QUO_OP_LT)))
				{
					fv->have_upper = true;
					fv->upper = t;
					fv->upper_strict = (q->op == QUO_OP_LT);
				}
				return true;
			}
	}
	return true;
}

/* Whether a collapsed range can hold a row; drops unbounded infinities. */
static bool
range_possible(FilterValues *fv)
{
	if (fv->have_lower && TIMESTAMP_IS_NOBEGIN(fv->lower))
		fv->have_lower = false;
	if (fv->have_upper && TIMESTAMP_IS_NOEND(fv->upper))
		fv->have_upper = false;
	if ((fv->have_lower && TIMESTAMP_IS_NOEND(fv->lower)) ||
		(fv->have_upper && TIMESTAMP_IS_NOBEGIN(fv->upper)))
		return false;
	if (fv->have_lower && fv->have_upper)
	{
		if (fv->lower > fv->upper)
			return false;
		if (fv->lower == fv->upper && (fv->lower_strict || fv->upper_strict))
			return false;
	}
	return true;
}

/* Append name=value to a query fragment, percent-encoding the value if asked. */
static void
append_param(StringInfo buf, const char *name, const char *value, bool encode)
{
	if (buf->len > 0)
		appendStringInfoChar(buf, '&');
	appendStringInfoString(buf, name);
	appendStringInfoChar(buf, '=');
	if (encode)
		quo_append_encoded(buf, value);
	else
		appendStringInfoString(buf, value);
}

/*
 * Append param=<t widened by delta> to frag, when there is such a value to
 * send: a bound whose widening would overflow, or that ISO 8601 cannot
 * write, is not sent (the local recheck still applies it).
 */
static void
append_bound(StringInfo frag, const char *param, TimestampTz t, int64 delta)
{
	TimestampTz widened;
	StringInfoData ts;

	initStringInfo(&ts);
	if (!pg_add_s64_overflow(t, delta, &widened) && IS_VALID_TIMESTAMP(widened) &&
		quo_format_timestamp(&ts, widened))
		append_param(frag, param, ts.data, true);
	pfree(ts.data);
}

/*
 * Append to out each spec of specs extended by fragment (a query
 * fragment), and by what it fetches rows for when given: a value for a
 * context slot, or the participants.  Each query is allocated to its size:
 * there may be tens of thousands.
 */
static List *
extend_specs(List *out, List *specs, const char *fragment, QuoCtx slot,
			 const char *value, List *participants)
{
	ListCell   *lc;

	foreach(lc, specs)
	{
		QuoRequestSpec *s = lfirst(lc);
		QuoRequestSpec *n = palloc(sizeof(QuoRequestSpec));

		CHECK_FOR_INTERRUPTS();
		*n = *s;
		n->query = psprintf("%s%s%s", s->query,
							(s->query[0] != '\0' && fragment[0] != '\0') ? "&" : "",
							fragment);
		if (slot != QUO_CTX_NONE && slot < QUO_CTX_TEXT_SLOTS && value)
			n->ctx[slot] = (char *) value;
		if (participants)
			n->ctx_participants = participants;
		out = lappend(out, n);
	}
	return out;
}

/*
 * Step 1: fold every qual into its filter's values (fvs, one per filter).
 * False when no row can match.  Several quals on the participants are
 * merged, without repeats, and rechecked.
 */
static bool
fold_quals(const QuoEndpoint *ep, List *quals, QuoQualValue *values,
		   FilterValues *fvs)
{
	ListCell   *lc;
	int			qi = 0;
	int			nelements_quals = 0;

	foreach(lc, quals)
	{
		QuoQual    *q = lfirst(lc);

		if (ep->filters[q->filter].kind == QUO_FILTER_ELEMENTS && quo_qual_is_sent(ep, q))
		{
			nelements_quals++;
			if (quo_qual_is_exact(ep, quals, q))
				fvs[q->filter].exact = true;
		}
	}

	foreach(lc, quals)
	{
		QuoQual    *q = lfirst(lc);
		QuoQualValue *v = &values[qi++];

		/* a qual that is no parameter is checked locally, or by a fan-out */
		if (!quo_qual_is_sent(ep, q))
			continue;
		if (!apply_qual(ep, &ep->filters[q->filter], q, v,
						&fvs[q->filter], quo_qual_is_exact(ep, quals, q)))
			return false;
	}

	if (nelements_quals > 1)
		for (int i = 0; i < ep->nfilters; i++)
			if (ep->filters[i].kind == QUO_FILTER_ELEMENTS)
				fvs[i].values = unique_strings(fvs[i].values);
	return true;
}

/*
 * Step 2: with a qual on an id, one GET per id and nothing else is sent.
 * False when there is no such qual.
 */
static bool
id_requests(const QuoEndpoint *ep, FilterValues *fvs, List **specs)
{
	for (int i = 0; i < ep->nfilters; i++)
	{
		const QuoFilter *f = &ep->filters[i];
		QuoCtx		slot = filter_ctx(ep, f);
		StringInfoData path;
		ListCell   *lc;

		if (f->kind != QUO_FILTER_ID || !fvs[i].constrained)
			continue;
		*specs = NIL;
		foreach(lc, fvs[i].placeholders)
		{
			QuoRequestSpec *s = palloc0(sizeof(QuoRequestSpec));

			s->ep = ep;
			s->path = psprintf("%s{%s}", ep->item_path, (char *) lfirst(lc));
			*specs = lappend(*specs, s);
		}
		initStringInfo(&path);
		foreach(lc, fvs[i].values)
		{
			QuoRequestSpec *s = palloc0(sizeof(QuoRequestSpec));

			CHECK_FOR_INTERRUPTS();
			s->ep = ep;
			if (slot != QUO_CTX_NONE && slot < QUO_CTX_TEXT_SLOTS)
				s->ctx[slot] = lfirst(lc);
			resetStringInfo(&path);
			appendStringInfoString(&path, ep->item_path);
			quo_append_encoded(&path, lfirst(lc));
			s->path = pstrdup(path.data);
			*specs = lappend(*specs, s);
		}
		pfree(path.data);
		return true;
	}
	return false;
}

/*
 * Step 3, an EQ filter: one series per value (each specs times each
 * value), or values in chunks of f->chunk repeated keys.  frag holds the
 * placeholders.
 */
static List *
multiply_eq(QuoCtx slot, const QuoFilter *f, FilterValues *fv, List *specs,
			StringInfo frag)
{
	List	   *out = NIL;
	StringInfoData buf;
	ListCell   *vc;
	int			n = 0;

	if (fv->values == NIL)
		return extend_specs(NIL, specs, frag->data, QUO_CTX_NONE, NULL, NIL);

	initStringInfo(&buf);
	foreach(vc, fv->values)
	{
		CHECK_FOR_INTERRUPTS();
		if (f->chunk == 0)
		{
			resetStringInfo(&buf);
			appendStringInfoString(&buf, frag->data);
			append_param(&buf, f->param, lfirst(vc), true);
			out = extend_specs(out, specs, buf.data, slot, lfirst(vc), NIL);
			continue;
		}
		append_param(&buf, f->param, lfirst(vc), true);
		if (++n % f->chunk == 0 || lnext(fv->values, vc) == NULL)
		{
			out = extend_specs(out, specs, buf.data, QUO_CTX_NONE, NULL, NIL);
			resetStringInfo(&buf);
		}
	}
	pfree(buf.data);
	return out;
}

/*
 * Step 3, an ELEMENTS filter: every value as a repeated key, in each
 * series.  More values than one request takes is an ERROR when the filter
 * is exact, else the first ones are sent (the rows are rechecked).  NIL,
 * with the column added to *missing, when a required filter has no value.
 */
static List *
multiply_elements(const QuoEndpoint *ep, const QuoFilter *f, FilterValues *fv,
				  List *specs, StringInfo frag, List **missing)
{
	ListCell   *vc;

	if (fv->values == NIL && fv->placeholders == NIL)
	{
		if (f->required)
			*missing = lappend(*missing, (char *) f->column);
		return specs;
	}
	if (list_length(fv->values) > f->max_items)
	{
		if (fv->exact)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
					 errmsg("Quo endpoint \"%s\" accepts at most %d %s per request, not %d",
							ep->name, f->max_items, f->param,
							list_length(fv->values))));
		/* the rows are rechecked: fetch for the first ones */
		fv->values = list_truncate(fv->values, f->max_items);
	}
	foreach(vc, fv->values)
		append_param(frag, f->param, lfirst(vc), true);
	return extend_specs(NIL, specs, frag->data, QUO_CTX_NONE, NULL,
						filter_ctx(ep, f) == QUO_CTX_PARTICIPANTS ? fv->values : NIL);
}

/* Step 3, a RANGE filter: one after/before pair, widened.  NIL when empty. */
static List *
multiply_range(const QuoFilter *f, FilterValues *fv, List *specs, StringInfo frag)
{
	if (!range_possible(fv))
		return NIL;
	if (fv->have_lower)
		append_bound(frag, f->param, fv->lower, -RANGE_WIDEN_USECS);
	if (fv->have_upper)
		append_bound(frag, f->param_before, fv->upper, RANGE_WIDEN_USECS);
	return extend_specs(NIL, specs, frag->data, QUO_CTX_NONE, NULL, NIL);
}

/*
 * Step 3: the list series, starting from one with no parameters and
 * multiplied filter by filter, in the endpoint's parameter order.  NIL when
 * no row can match or (with *missing set) a required filter has no value.
 */
static List *
list_requests(const QuoEndpoint *ep, FilterValues *fvs, List **missing)
{
	QuoRequestSpec *start;
	List	   *specs;

	if (ep->list_path == NULL)
	{
		/* no list operation: an id is the required filter */
		for (int i = 0; i < ep->nfilters; i++)
			if (ep->filters[i].kind == QUO_FILTER_ID)
				*missing = lappend(*missing, (char *) ep->filters[i].column);
		Assert(*missing != NIL);
		return NIL;
	}
	start = palloc0(sizeof(QuoRequestSpec));
	start->ep = ep;
	start->path = (char *) ep->list_path;
	start->query = "";
	specs = list_make1(start);

	for (int i = 0; i < ep->nfilters; i++)
	{
		const QuoFilter *f = &ep->filters[i];
		FilterValues *fv = &fvs[i];
		StringInfoData frag;
		ListCell   *vc;

		if (!fv->constrained)
		{
			if (f->required)
				*missing = lappend(*missing, (char *) f->column);
			continue;
		}
		initStringInfo(&frag);
		foreach(vc, fv->placeholders)
		{
			if (f->kind == QUO_FILTER_RANGE)
				append_param(&frag, f->param, psprintf("{bound %s}", (char *) lfirst(vc)), false);
			else
				append_param(&frag, f->param, psprintf("{%s}", (char *) lfirst(vc)), false);
		}

		switch (f->kind)
		{
			case QUO_FILTER_EQ:
				specs = multiply_eq(filter_ctx(ep, f), f, fv, specs, &frag);
				break;
			case QUO_FILTER_ELEMENTS:
				specs = multiply_elements(ep, f, fv, specs, &frag, missing);
				break;
			case QUO_FILTER_RANGE:
				specs = multiply_range(f, fv, specs, &frag);
				if (specs == NIL)
					return NIL;
				break;
			case QUO_FILTER_ID:
				break;
		}
		pfree(frag.data);
	}
	return specs;
}

/* Step 4: the table options' fixed parameters, in every series. */
static List *
add_fixed_params(List *specs, List *fixed_params)
{
	StringInfoData frag;

	if (fixed_params == NIL)
		return specs;
	initStringInfo(&frag);
	for (int i = 0; i + 1 < list_length(fixed_params); i += 2)
		append_param(&frag, list_nth(fixed_params, i), list_nth(fixed_params, i + 1), true);
	return extend_specs(NIL, specs, frag.data, QUO_CTX_NONE, NULL, NIL);
}

/*
 * Build the request series for quals (QuoQual *) with values (one per
 * qual).  NIL means no row can match, so no request is made; or, with
 * *missing set to their columns, that required parameters have no value (as in
 * "participants @> '{}'").  Values not known yet (EXPLAIN without ANALYZE
 * of a join parameter) are printed as {placeholders}.
 *
 * Every step is O(n log n) or linear in what it builds, and checks for
 * interrupts: an IN list can hold tens of thousands of values.
 */
List *
quo_build_requests(const QuoEndpoint *ep, List *quals, QuoQualValue *values,
				   List *fixed_params, List **missing)
{
	FilterValues *fvs = palloc0(sizeof(FilterValues) * ep->nfilters);
	List	   *specs;

	*missing = NIL;
	if (!fold_quals(ep, quals, values, fvs))
		return NIL;
	if (id_requests(ep, fvs, &specs))
		return specs;
	specs = list_requests(ep, fvs, missing);
	if (*missing != NIL || specs == NIL)
		return NIL;
	return add_fixed_params(specs, fixed_params);
}

/*
 * The list series of a fan-out's child: as quo_build_requests, but the
 * required filters the parent supplies may be missing (no id lookups
 * either: a qual on an id needs no fan-out).  NIL when no row can match.
 */
List *
quo_build_templates(const QuoEndpoint *ep, List *quals, QuoQualValue *values,
					List *fixed_params)
{
	FilterValues *fvs = palloc0(sizeof(FilterValues) * ep->nfilters);
	List	   *missing = NIL;
	List	   *specs;

	if (!fold_quals(ep, quals, values, fvs))
		return NIL;
	specs = list_requests(ep, fvs, &missing);
	if (specs == NIL)
		return NIL;
	return add_fixed_params(specs, fixed_params);
}

/*
 * The lower bound the quals put on a range column (before widening), when
 * its value is known: what a fan-out prunes parents by.
 */
bool
quo_range_lower(const QuoEndpoint *ep, List *quals, QuoQualValue *values,
				const char *column, TimestampTz *lower)
{
	FilterValues *fvs = palloc0(sizeof(FilterValues) * ep->nfilters);
	int			f = quo_endpoint_filter(ep, column);

	if (f < 0 || ep->filters[f].kind != QUO_FILTER_RANGE ||
		!fold_quals(ep, quals, values, fvs) ||
		!range_possible(&fvs[f]) || !fvs[f].have_lower)
		return false;
	*lower = fvs[f].lower;
	return true;
}

/*
 * The request target (path and query) of one page of a series: the
 * endpoint's paging parameters (page size, and the token of a later page)
 * after the series' own.
 */
char *
quo_request_target(const QuoRequestSpec *spec, int max_results,
				   const char *page_token)
{
	const QuoPaging *paging = spec->ep->paging;
	StringInfoData buf;

	if (spec->query == NULL)
		return pstrdup(spec->path);
	initStringInfo(&buf);
	appendStringInfoString(&buf, spec->path);
	if (spec->query[0])
		appendStringInfo(&buf, "?%s", spec->query);
	if (paging->style == QUO_PAGING_NONE)
		return buf.data;
	appendStringInfo(&buf, "%c%s=%d", spec->query[0] ? '&' : '?',
					 paging->size_param, max_results);
	if (page_token)
	{
		appendStringInfo(&buf, "&%s=", paging->token_param);
		quo_append_encoded(&buf, page_token);
	}
	return buf.data;
}
