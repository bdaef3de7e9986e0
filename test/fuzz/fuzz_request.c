/*-------------------------------------------------------------------------
 * fuzz_request.c
 *		libFuzzer target: arbitrary quals and values through quo_fdw's real
 *		request builder (request.c).  Every request target it makes must be
 *		a path of /v1/ and a query of percent-encoded name=value pairs,
 *		whatever bytes the values hold.
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
		foreach(lc, specs)
		{
			char	   *t = quo_request_target(lfirst(lc), 1 + byte(&in) % 100, *token ? token : NULL);

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
