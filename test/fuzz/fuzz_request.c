/*-------------------------------------------------------------------------
 * fuzz_request.c
 *		libFuzzer target: arbitrary quals and values through quo_fdw's real
 *		request builder (request.c).  Every request target it makes must be
 *		a path of its endpoint and a query of percent-encoded name=value
 *		pairs, whatever bytes the values hold; every value sent must fit
 *		its filter (prefix, length, values per request); and the ids looked
 *		up must be exactly those a naive reading of the quals gives.  The
 *		endpoints are the real entries, and copies of each moved to the
 *		dated generation's paging (paths without /v1).
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

	if (want == 39)
		want += byte(in) % 60;	/* sometimes past the 75-character bounds */
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
	Datum	   *elems;
	bool	   *nulls;
	int			dims[1];
	int			lbs[1] = {1};

	if (n == 11)
		n += byte(in) % 120;	/* sometimes past the 20 and 100 per request */
	elems = palloc(sizeof(Datum) * Max(n, 1));
	nulls = palloc(sizeof(bool) * Max(n, 1));
	dims[0] = n;
	for (int i = 0; i < n; i++)
	{
		nulls[i] = (byte(in) % 17) == 0;
		elems[i] = PointerGetDatum(cstring_to_text(string(in)));
	}
	return PointerGetDatum(construct_md_array(elems, nulls, 1, dims, lbs, TEXTOID, -1, false, TYPALIGN_INT));
}

/*
 * Whether target starts with the endpoint's list or item path and has only
 * unreserved characters, %XX, and ?&= separators.
 */
static bool
well_formed(const QuoEndpoint *ep, const char *t)
{
	if (!((ep->list_path && strncmp(t, ep->list_path, strlen(ep->list_path)) == 0) ||
		  (ep->item_path && strncmp(t, ep->item_path, strlen(ep->item_path)) == 0)))
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
 * non-NULL values with the documented prefix, not empty nor only dots
 * (paths libcurl would resolve elsewhere), that every id qual allows, in
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

			if ((f->prefix == NULL || strncmp(s, f->prefix, strlen(f->prefix)) == 0) &&
				strspn(s, ".") < strlen(s) &&	/* "", ".", "..": no id */
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
		{
			/* the id is kept for a column that reads it from the request */
			int			col = quo_endpoint_column(ep, ep->filters[0].column);
			QuoCtx		slot = QUO_CTX_NONE;

			for (int i = 0; i < ep->nfilters; i++)
				if (ep->filters[i].kind == QUO_FILTER_ID)
					col = quo_endpoint_column(ep, ep->filters[i].column);
			if (col >= 0)
				slot = ep->columns[col].ctx;
			if (slot != QUO_CTX_NONE && slot < QUO_CTX_TEXT_SLOTS &&
				(s->ctx[slot] == NULL || strcmp(s->ctx[slot], lfirst(ic)) != 0))
			{
				fprintf(stderr, "id lookup %s does not keep its id\n", s->path);
				abort();
			}
		}
	}
}

/* The value of one %XX-encoded query value, or NULL if malformed. */
static char *
decode(const char *s, size_t len)
{
	char	   *out = palloc(len + 1);
	size_t		n = 0;

	for (size_t i = 0; i < len; i++)
	{
		if (s[i] == '%')
		{
			unsigned int c;

			if (i + 2 >= len)
				return NULL;
			if (sscanf(s + i + 1, "%2x", &c) != 1)
				return NULL;
			out[n++] = (char) c;
			i += 2;
		}
		else
			out[n++] = s[i];
	}
	out[n] = '\0';
	return out;
}

/* Characters of a UTF-8 string (bytes that do not continue a character). */
static int
utf8_chars(const char *s)
{
	int			n = 0;

	for (; *s; s++)
		if (((unsigned char) *s & 0xC0) != 0x80)
			n++;
	return n;
}

/*
 * Every parameter a list series sends must fit its filter: a documented
 * prefix, 1..max_len characters, at most chunk (EQ; one when chunk is 0)
 * or max_items (ELEMENTS) values of one filter per request.
 */
static void
check_values(const QuoEndpoint *ep, const QuoRequestSpec *s)
{
	int			counts[16] = {0};
	const char *p = s->query;

	if (s->query == NULL)
		return;
	while (*p)
	{
		const char *amp = strchr(p, '&');
		size_t		len = amp ? (size_t) (amp - p) : strlen(p);
		const char *eq = memchr(p, '=', len);

		for (int i = 0; eq && i < ep->nfilters && i < 16; i++)
		{
			const QuoFilter *f = &ep->filters[i];
			char	   *v;

			if ((f->kind != QUO_FILTER_EQ && f->kind != QUO_FILTER_ELEMENTS) ||
				strlen(f->param) != (size_t) (eq - p) || strncmp(p, f->param, eq - p) != 0)
				continue;
			if (eq[1] == '{')
				break;			/* a placeholder */
			v = decode(eq + 1, len - (eq + 1 - p));
			if (v == NULL ||
				(f->prefix && strncmp(v, f->prefix, strlen(f->prefix)) != 0) ||
				(f->max_len > 0 && (v[0] == '\0' || utf8_chars(v) > f->max_len)))
			{
				fprintf(stderr, "value %.*s sent for filter %s\n", (int) len, p, f->column);
				abort();
			}
			counts[i]++;
			if ((f->kind == QUO_FILTER_EQ && counts[i] > Max(f->chunk, 1)) ||
				(f->kind == QUO_FILTER_ELEMENTS && counts[i] > f->max_items))
			{
				fprintf(stderr, "%d values of %s in one request: %s\n", counts[i], f->param, s->query);
				abort();
			}
			break;
		}
		p += len;
		if (*p == '&')
			p++;
	}
}

/* The endpoint of a fuzz input: a real entry, or a copy with dated paging. */
static const QuoEndpoint *
pick_endpoint(Input *in)
{
	int			n = quo_endpoint_count();
	int			i = byte(in) % (2 * n);
	QuoEndpoint *copy;

	if (i < n)
		return quo_endpoint_at(i);
	copy = palloc(sizeof(QuoEndpoint));
	*copy = *quo_endpoint_at(i - n);
	/* as the dated generation has it: no /v1, cursor paging, a version */
	if (copy->list_path)
		copy->list_path = copy->list_path + 3;
	if (copy->item_path)
		copy->item_path = copy->item_path + 3;
	if (copy->paging->style != QUO_PAGING_NONE)
		copy->paging = &quo_paging_dated;
	copy->api_version = "2026-03-30";
	return copy;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Input		in = {data, size};
	const QuoEndpoint *ep = pick_endpoint(&in);
	int			nquals = ep->nfilters > 0 ? byte(&in) % 8 : 0;
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
			check_values(ep, s);
			t = quo_request_target(s, 1 + byte(&in) % Max(ep->max_page, 1), *token ? token : NULL);
			if (!well_formed(ep, t))
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
