/*-------------------------------------------------------------------------
 * fuzz_request.c
 *		libFuzzer target: arbitrary quals and values through quo_fdw's real
 *		request builder (request.c).  Every request target it makes must be
 *		a path of /v1/ and a query of percent-encoded name=value pairs,
 *		whatever bytes the values hold; and the ids looked up must be
 *		exactly those a naive reading of the quals gives.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "quo_fdw.h"
#include "shim.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A reader over the fuzz input. */
typedef struct Input
{
	const uint8_t *p;
	size_t		left;
} Input;

static uint8_t
byte(Input *in)
{
	if (in->left == 0)
		return 0;
	in->left--;
	return *in->p++;
}

static char *
string(Input *in)
{
	size_t		want = byte(in) % 40;	/* not inside Min(): it evaluates twice */
	size_t		n = Min(want, in->left);
	char	   *s = palloc(n + 1);

	memcpy(s, in->p, n);
	s[n] = '\0';				/* values are C strings in SQL too: no NUL inside */
	in->p += n;
	in->left -= n;
	return s;
}

static Datum
text_array(Input *in)
{
	int			n = byte(in) % 12;
	Datum	   *elems = palloc(sizeof(Datum) * Max(n, 1));
	bool	   *nulls = palloc(sizeof(bool) * Max(n, 1));
	int			dims[1] = {n};
	int			lbs[1] = {1};

	for (int i = 0; i < n; i++)
	{
		nulls[i] = (byte(in) % 17) == 0;
		elems[i] = PointerGetDatum(cstring_to_text(string(in)));
	}
	return PointerGetDatum(construct_md_array(elems, nulls, 1, dims, lbs, TEXTOID, -1, false, TYPALIGN_INT));
}

/* Whether target is "/v1/..." with only unreserved characters, %XX, and ?&= separators. */
static bool
well_formed(const char *t)
{
	if (strncmp(t, "/v1/", 4) != 0)
		return false;
	for (const char *p = t; *p; p++)
	{
		if (isalnum((unsigned char) *p) || strchr("-._~/?&=", *p))
			continue;
		if (*p == '%' && isxdigit((unsigned char) p[1]) && isxdigit((unsigned char) p[2]))
		{
			p += 2;
			continue;
		}
		return false;
	}
	return true;
}

/* Whether s is in the list l (char *). */
static bool
has_string(List *l, const char *s)
{
	ListCell   *lc;

	foreach(lc, l)
		if (strcmp(lfirst(lc), s) == 0)
			return true;
	return false;
}

/*
 * The ids the quals on the id filter allow, the slow and obvious way: the
 * non-NULL values with the documented prefix that every id qual allows, in
 * the first qual's order, each once.  *nid counts the id quals.
 */
static List *
expected_ids(const QuoEndpoint *ep, List *quals, QuoQualValue *values, int *nid)
{
	List	   *allowed = NIL;
	ListCell   *lc;
	int			qi = 0;

	*nid = 0;
	foreach(lc, quals)
	{
		QuoQual    *q = lfirst(lc);
		const QuoFilter *f = &ep->filters[q->filter];
		QuoQualValue *v = &values[qi++];
		List	   *these = NIL;
		List	   *kept = NIL;
		ListCell   *vc;

		if (f->kind != QUO_FILTER_ID)
			continue;
		if (!v->isnull && q->op == QUO_OP_IN)
		{
			Datum	   *elems;
			bool	   *nulls;
			int			n;

			deconstruct_array(DatumGetArrayTypeP(v->value), TEXTOID, -1, false, TYPALIGN_INT,
							  &elems, &nulls, &n);
			for (int i = 0; i < n; i++)
				if (!nulls[i])
					these = lappend(these, TextDatumGetCString(elems[i]));
		}
		else if (!v->isnull)
			these = lappend(these, TextDatumGetCString(v->value));
		foreach(vc, these)
		{
			char	   *s = lfirst(vc);

			if (strncmp(s, f->prefix, strlen(f->prefix)) == 0 &&
				(*nid == 0 || has_string(allowed, s)) && !has_string(kept, s))
				kept = lappend(kept, s);
		}
		if (*nid > 0)
		{
			/* keep the order of the earlier quals */
			List	   *both = NIL;

			foreach(vc, allowed)
				if (has_string(kept, lfirst(vc)))
					both = lappend(both, lfirst(vc));
			kept = both;
		}
		allowed = kept;
		(*nid)++;
	}
	return allowed;
}

/*
 * Check the id lookups built against expected_ids: when they are built,
 * one GET per expected id, in order; when only id quals were given and
 * nothing was built, no id was expected.
 */
static void
check_ids(const QuoEndpoint *ep, List *quals, QuoQualValue *values, List *specs)
{
	int			nid;
	List	   *ids = expected_ids(ep, quals, values, &nid);
	ListCell   *lc,
			   *ic;

	if (nid == 0)
		return;
	if (specs == NIL)
	{
		if (nid == list_length(quals) && ids != NIL)
		{
			fprintf(stderr, "no request although %d ids are allowed\n", list_length(ids));
			abort();
		}
		return;
	}
	if (list_length(specs) != list_length(ids))
	{
		fprintf(stderr, "%d id lookups, %d ids allowed\n", list_length(specs), list_length(ids));
		abort();
	}
	forboth(lc, specs, ic, ids)
	{
		QuoRequestSpec *s = lfirst(lc);
		StringInfoData path;

		initStringInfo(&path);
		appendStringInfoString(&path, ep->item_path);
		quo_append_encoded(&path, lfirst(ic));
		if (s->query != NULL || strcmp(s->path, path.data) != 0)
		{
			fprintf(stderr, "id lookup %s, expected %s\n", s->path, path.data);
			abort();
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Input		in = {data, size};
	const QuoEndpoint *ep = quo_endpoint_at(byte(&in) % quo_endpoint_count());
	int			nquals = byte(&in) % 8;
	List	   *quals = NIL;
	QuoQualValue *values = palloc0(sizeof(QuoQualValue) * 8);
	List	   *fixed = NIL;
	sigjmp_buf	jmp;

	for (int i = 0; i < nquals; i++)
	{
		QuoQual    *q = palloc0(sizeof(QuoQual));
		const QuoFilter *f;
		QuoQualValue *v = &values[i];

		q->filter = byte(&in) % ep->nfilters;
		f = &ep->filters[q->filter];
		v->known = true;
		v->isnull = (byte(&in) % 23) == 0;
		switch (f->kind)
		{
			case QUO_FILTER_EQ:
			case QUO_FILTER_ID:
				q->op = (byte(&in) & 1) ? QUO_OP_IN : QUO_OP_EQ;
				v->type = q->op == QUO_OP_IN ? TEXTARRAYOID : TEXTOID;
				v->value = q->op == QUO_OP_IN ? text_array(&in) :
					PointerGetDatum(cstring_to_text(string(&in)));
				break;
			case QUO_FILTER_ELEMENTS:
				q->op = (QuoQualOp[]) {QUO_OP_HAS, QUO_OP_ARRAY_EQ, QUO_OP_CONTAINS}[byte(&in) % 3];
				v->type = q->op == QUO_OP_HAS ? TEXTOID : TEXTARRAYOID;
				v->value = q->op == QUO_OP_HAS ? PointerGetDatum(cstring_to_text(string(&in))) :
					text_array(&in);
				break;
			case QUO_FILTER_RANGE:
				{
					uint64		u = 0;
					int64		t;

					q->op = (QuoQualOp[]) {QUO_OP_EQ, QUO_OP_LT, QUO_OP_LE, QUO_OP_GT, QUO_OP_GE}[byte(&in) % 5];
					for (int b = 0; b < 8; b++)
						u = (u << 8) | byte(&in);
					t = (int64) u;
					/* mostly plausible dates, sometimes anything (infinities included) */
					if (byte(&in) % 4)
						t = (int64) (t % ((int64) 200 * 365 * USECS_PER_DAY));
					v->type = TIMESTAMPTZOID;
					v->value = TimestampTzGetDatum(t);
					break;
				}
		}
		quals = lappend(quals, q);
	}
	for (int i = 0; i < ep->noptions; i++)
		if (byte(&in) & 1)
		{
			fixed = lappend(fixed, (char *) ep->options[i].param);
			fixed = lappend(fixed, string(&in));
		}

	if (sigsetjmp(jmp, 0) == 0)
	{
		List	   *missing = NIL;
		List	   *specs;
		ListCell   *lc;
		char	   *token = string(&in);

		fuzz_error_jmp = &jmp;
		specs = quo_build_requests(ep, quals, values, fixed, &missing);
		if (specs != NIL && missing != NIL)
			abort();			/* requests built although a filter is missing */
		check_ids(ep, quals, values, specs);
		foreach(lc, specs)
		{
			QuoRequestSpec *s = lfirst(lc);
			char	   *t;

			if (s->ep != ep)
				abort();		/* a series must know its endpoint */
			t = quo_request_target(s, 1 + byte(&in) % ep->max_page, *token ? token : NULL);
			if (!well_formed(t))
			{
				fprintf(stderr, "malformed request target: %s\n", t);
				abort();
			}
		}
	}
	fuzz_error_jmp = NULL;
	fuzz_arena_reset();
	return 0;
}
