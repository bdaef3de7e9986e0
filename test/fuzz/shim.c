/*-------------------------------------------------------------------------
 * shim.c
 *		Just enough of the PostgreSQL backend for the fuzz targets to run
 *		quo_fdw's real JSON converter and request builder outside a server.
 *
 * palloc is malloc into a per-input arena (so AddressSanitizer sees every
 * allocation, which palloc inside a server hides), ereport(ERROR) is a
 * longjmp to the innermost PG_TRY or back to the target, no interrupt ever
 * arrives, and arrays use a private layout only this file reads.
 * Functions of the planner that the fuzzed paths never call are left
 * unresolved at link time.
 *-------------------------------------------------------------------------
 */
#define _GNU_SOURCE 1
#include "postgres.h"

#include <limits.h>
#include <malloc.h>
#include <setjmp.h>
#include <signal.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/pg_list.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/timestamp.h"

#include "compat.h"
#include "shim.h"

sigjmp_buf *fuzz_error_jmp = NULL;
ErrorContextCallback *error_context_stack = NULL;
MemoryContext CurrentMemoryContext = NULL;
static int	cur_elevel;

/* ---- the arena ---- */
static void **arena;
static size_t arena_len,
			arena_cap;

static void *
track(void *p)
{
	if (p == NULL)
		abort();
	if (arena_len == arena_cap)
	{
		arena_cap = arena_cap ? arena_cap * 2 : 1024;
		arena = realloc(arena, arena_cap * sizeof(void *));
	}
	arena[arena_len++] = p;
	return p;
}

void
fuzz_arena_reset(void)
{
	for (size_t i = 0; i < arena_len; i++)
		free(arena[i]);
	arena_len = 0;
}

void *
palloc(Size size)
{
	return track(malloc(size ? size : 1));
}

void *
palloc0(Size size)
{
	return track(calloc(1, size ? size : 1));
}

void *
palloc_extended(Size size, int flags)
{
	return (flags & MCXT_ALLOC_ZERO) ? palloc0(size) : palloc(size);
}

void *
MemoryContextAlloc(MemoryContext context, Size size)
{
	(void) context;
	return palloc(size);
}

void *
MemoryContextAllocZero(MemoryContext context, Size size)
{
	(void) context;
	return palloc0(size);
}

void
pfree(void *pointer)
{
	(void) pointer;				/* freed with the arena */
}

void *
repalloc(void *pointer, Size size)
{
	void	   *n = palloc(size);

	/* sizes are not tracked: copy what the new size holds (reads stay in bounds below) */
	memcpy(n, pointer, Min(size, (Size) malloc_usable_size(pointer)));
	return n;
}

char *
pstrdup(const char *in)
{
	return track(strdup(in));
}

/* vasprintf, or abort: the one formatter of psprintf and appendStringInfo */
static char *
format_va(const char *fmt, va_list ap)
{
	char	   *out;

	if (vasprintf(&out, fmt, ap) < 0)
		abort();
	return out;
}

char *
psprintf(const char *fmt,...)
{
	va_list		ap;
	char	   *out;

	va_start(ap, fmt);
	out = format_va(fmt, ap);
	va_end(ap);
	return track(out);
}

/* ---- errors ---- */
bool
errstart(int elevel, const char *domain)
{
	(void) domain;
	cur_elevel = elevel;
	return elevel >= ERROR;
}

bool
errstart_cold(int elevel, const char *domain)
{
	return errstart(elevel, domain);
}

/* PG_TRY's handler when one is set, else the target's; abort when neither is. */
sigjmp_buf *PG_exception_stack = NULL;

void
pg_re_throw(void)
{
	if (PG_exception_stack)
		siglongjmp(*PG_exception_stack, 1);
	if (fuzz_error_jmp)
		siglongjmp(*fuzz_error_jmp, 1);
	abort();
}

void
errfinish(const char *filename, int lineno, const char *funcname)
{
	(void) filename;
	(void) lineno;
	(void) funcname;
	if (cur_elevel >= ERROR)
		pg_re_throw();
}

/* CHECK_FOR_INTERRUPTS(): no interrupt ever arrives here. */
volatile sig_atomic_t InterruptPending = false;

void
ProcessInterrupts(void)
{
}

int
errcode(int sqlerrcode)
{
	(void) sqlerrcode;
	return 0;
}

/* errmsg() and friends: format (so bad format use is caught) and drop. */
#define MESSAGE_PART(name) \
int \
name(const char *fmt,...) \
{ \
	va_list		ap; \
	char		buf[256]; \
 \
	va_start(ap, fmt); \
	vsnprintf(buf, sizeof(buf), fmt, ap); \
	va_end(ap); \
	return 0; \
}
MESSAGE_PART(errmsg)
MESSAGE_PART(errmsg_internal)
MESSAGE_PART(errdetail)
MESSAGE_PART(errdetail_internal)
MESSAGE_PART(errhint)

/* ---- strings ---- */
void
initStringInfo(StringInfo str)
{
	str->maxlen = 64;
	str->data = palloc(str->maxlen);
	resetStringInfo(str);
}

void
resetStringInfo(StringInfo str)
{
	str->data[0] = '\0';
	str->len = 0;
	str->cursor = 0;
}

void
enlargeStringInfo(StringInfo str, int needed)
{
	int			newlen;
	char	   *n;

	needed += str->len + 1;
	if (needed <= str->maxlen)
		return;
	newlen = str->maxlen * 2;
	while (needed > newlen)
		newlen *= 2;
	n = palloc(newlen);
	memcpy(n, str->data, str->len + 1);
	str->data = n;
	str->maxlen = newlen;
}

void
appendBinaryStringInfo(StringInfo str, quo_binary_data data, int datalen)
{
	enlargeStringInfo(str, datalen);
	memcpy(str->data + str->len, data, datalen);
	str->len += datalen;
	str->data[str->len] = '\0';
}

void
appendStringInfoString(StringInfo str, const char *s)
{
	appendBinaryStringInfo(str, s, (int) strlen(s));
}

void
appendStringInfoChar(StringInfo str, char ch)
{
	appendBinaryStringInfo(str, &ch, 1);
}

void
appendStringInfo(StringInfo str, const char *fmt,...)
{
	va_list		ap;
	char	   *out;

	va_start(ap, fmt);
	out = format_va(fmt, ap);
	va_end(ap);
	appendStringInfoString(str, out);
	free(out);
}

text *
cstring_to_text_with_len(const char *s, int len)
{
	text	   *t = palloc(len + VARHDRSZ);

	SET_VARSIZE(t, len + VARHDRSZ);
	memcpy(VARDATA(t), s, len);
	return t;
}

text *
cstring_to_text(const char *s)
{
	return cstring_to_text_with_len(s, (int) strlen(s));
}

char *
text_to_cstring(const text *t)
{
	int			len = VARSIZE_ANY_EXHDR(t);
	char	   *s = palloc(len + 1);

	memcpy(s, VARDATA_ANY(t), len);
	s[len] = '\0';
	return s;
}

struct varlena *
pg_detoast_datum(struct varlena *datum)
{
	return datum;
}

/*
 * Whether s holds len bytes of valid UTF-8 without NUL, by PostgreSQL's own
 * rule (libpgcommon's pg_utf8_islegal: no surrogates, overlong forms or
 * code points beyond U+10FFFF), as pg_verify_mbstr checks it.
 */
static bool
valid_utf8(const char *s, int len)
{
	const unsigned char *p = (const unsigned char *) s;
	const unsigned char *end = p + len;

	while (p < end)
	{
		int			n = *p < 0x80 ? 1 : pg_utf_mblen(p);

		if (*p == 0 || n > end - p || (n > 1 && !pg_utf8_islegal(p, n)) ||
			(n == 1 && *p >= 0x80))
			return false;
		p += n;
	}
	return true;
}

/* UTF-8 only: the fuzzed converter is given UTF-8 and checks it like the server. */
char *
pg_any_to_server(const char *s, int len, int encoding)
{
	(void) encoding;
	if (!valid_utf8(s, len))
		ereport(ERROR, (errcode(ERRCODE_CHARACTER_NOT_IN_REPERTOIRE), errmsg("invalid UTF-8")));
	return (char *) s;
}

int
pg_mbcliplen(const char *mbstr, int len, int limit)
{
	(void) mbstr;
	return Min(len, limit);
}

/* the fuzz targets' server encoding is UTF-8: nothing to convert */
char *
pg_server_to_any(const char *s, int len, int encoding)
{
	(void) len;
	(void) encoding;
	return (char *) s;
}

/* ---- arrays: [int n][Datum elems[n]][bool nulls[n]] after the varlena header ---- */
ArrayType *
construct_md_array(Datum *elems, bool *nulls, int ndims, int *dims, int *lbs,
				   Oid elmtype, int elmlen, bool elmbyval, char elmalign)
{
	int			n = ndims > 0 ? dims[0] : 0;
	Size		sz = sizeof(ArrayType) + sizeof(int) + n * (sizeof(Datum) + sizeof(bool));
	ArrayType  *a = palloc0(sz);
	char	   *p = (char *) a + sizeof(ArrayType);

	(void) lbs;
	(void) elmlen;
	(void) elmbyval;
	(void) elmalign;
	SET_VARSIZE(a, sz);
	a->elemtype = elmtype;
	memcpy(p, &n, sizeof(int));
	if (n > 0)					/* an empty array may come with elems NULL */
		memcpy(p + sizeof(int), elems, n * sizeof(Datum));
	if (n > 0 && nulls)
		memcpy(p + sizeof(int) + n * sizeof(Datum), nulls, n * sizeof(bool));
	return a;
}

ArrayType *
construct_array(Datum *elems, int nelems, Oid elmtype, int elmlen, bool elmbyval, char elmalign)
{
	int			dims[1] = {nelems};
	int			lbs[1] = {1};

	return construct_md_array(elems, NULL, 1, dims, lbs, elmtype, elmlen, elmbyval, elmalign);
}

ArrayType *
construct_empty_array(Oid elmtype)
{
	return construct_array(NULL, 0, elmtype, -1, false, TYPALIGN_INT);
}

void
deconstruct_array(ArrayType *array, Oid elmtype, int elmlen, bool elmbyval, char elmalign,
				  Datum **elemsp, bool **nullsp, int *nelemsp)
{
	char	   *p = (char *) array + sizeof(ArrayType);
	int			n;

	(void) elmtype;
	(void) elmlen;
	(void) elmbyval;
	(void) elmalign;
	memcpy(&n, p, sizeof(int));
	*elemsp = palloc(Max(n, 1) * sizeof(Datum));
	*nullsp = palloc(Max(n, 1) * sizeof(bool));
	memcpy(*elemsp, p + sizeof(int), n * sizeof(Datum));
	memcpy(*nullsp, p + sizeof(int) + n * sizeof(Datum), n * sizeof(bool));
	*nelemsp = n;
}

/* ---- lists (PostgreSQL 13+ layout) ---- */
static List *
new_list(NodeTag type, int n)
{
	List	   *l = palloc0(offsetof(List, initial_elements) + Max(n, 4) * sizeof(ListCell));

	l->type = type;
	l->length = n;
	l->max_length = Max(n, 4);
	l->elements = l->initial_elements;
	return l;
}

static void
grow(List *l, int n)
{
	if (n > l->max_length)
	{
		ListCell   *e = palloc(n * 2 * sizeof(ListCell));

		memcpy(e, l->elements, l->length * sizeof(ListCell));
		l->elements = e;
		l->max_length = n * 2;
	}
}

List *
list_make1_impl(NodeTag t, ListCell datum1)
{
	List	   *l = new_list(t, 1);

	l->elements[0] = datum1;
	return l;
}

List *
list_make2_impl(NodeTag t, ListCell datum1, ListCell datum2)
{
	List	   *l = new_list(t, 2);

	l->elements[0] = datum1;
	l->elements[1] = datum2;
	return l;
}

List *
lappend(List *list, void *datum)
{
	if (list == NIL)
		list = new_list(T_List, 0);
	grow(list, list->length + 1);
	list->elements[list->length++].ptr_value = datum;
	return list;
}

List *
list_concat(List *list1, const List *list2)
{
	if (list2 == NIL)
		return list1;
	if (list1 == NIL)
		list1 = new_list(list2->type, 0);
	grow(list1, list1->length + list2->length);
	memcpy(list1->elements + list1->length, list2->elements, list2->length * sizeof(ListCell));
	list1->length += list2->length;
	return list1;
}

List *
list_truncate(List *list, int new_size)
{
	if (list != NIL && new_size < list->length)
		list->length = new_size;
	return new_size <= 0 ? NIL : list;
}

/* ---- dates ---- */
const int	day_tab[2][13] = {
	{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31, 0},
	{31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31, 0}
};

int
date2j(int y, int m, int d)
{
	int			julian,
				century;

	if (m > 2)
	{
		m += 1;
		y += 4800;
	}
	else
	{
		m += 13;
		y += 4799;
	}
	century = y / 100;
	julian = y * 365 - 32167;
	julian += y / 4 - century + century / 4;
	julian += 7834 * m / 256 + d;
	return julian;
}

void
j2date(int jd, int *year, int *month, int *day)
{
	unsigned int julian,
				quad,
				extra;
	int			y;

	julian = jd;
	julian += 32044;
	quad = julian / 146097;
	extra = (julian - quad * 146097) * 4 + 3;
	julian += 60 + quad * 3 + extra / 146097;
	quad = julian / 1461;
	julian -= quad * 1461;
	y = julian * 4 / 1461;
	julian = ((y != 0) ? ((julian + 305) % 365) : ((julian + 306) % 366)) + 123;
	y += quad * 4;
	*year = y - 4800;
	quad = julian * 2141 / 65536;
	*day = julian - 7834 * quad / 256;
	*month = (quad + 10) % MONTHS_PER_YEAR + 1;
}

int
timestamp2tm(Timestamp dt, int *tzp, struct pg_tm *tm, fsec_t *fsec, const char **tzn, pg_tz *attimezone)
{
	Timestamp	date = dt / USECS_PER_DAY;
	Timestamp	time = dt - date * USECS_PER_DAY;

	(void) tzp;
	(void) tzn;
	(void) attimezone;
	if (time < 0)
	{
		time += USECS_PER_DAY;
		date -= 1;
	}
	date += POSTGRES_EPOCH_JDATE;
	if (date < 0 || date > (Timestamp) INT_MAX)
		return -1;
	j2date((int) date, &tm->tm_year, &tm->tm_mon, &tm->tm_mday);
	tm->tm_hour = time / USECS_PER_HOUR;
	time -= tm->tm_hour * USECS_PER_HOUR;
	tm->tm_min = time / USECS_PER_MINUTE;
	time -= tm->tm_min * USECS_PER_MINUTE;
	tm->tm_sec = time / USECS_PER_SEC;
	*fsec = time - tm->tm_sec * USECS_PER_SEC;
	return 0;
}

/* ---- fmgr: just the direct calls the converter makes ---- */
Datum
DirectFunctionCall1Coll(PGFunction func, Oid collation, Datum arg1)
{
	LOCAL_FCINFO(fcinfo, 1);

	InitFunctionCallInfoData(*fcinfo, NULL, 1, collation, NULL, NULL);
	fcinfo->args[0].value = arg1;
	fcinfo->args[0].isnull = false;
	return (*func) (fcinfo);
}

/* jsonb_in: checks the text json-c made is JSON again; returns it as text. */
Datum
jsonb_in(PG_FUNCTION_ARGS)
{
	char	   *s = PG_GETARG_CSTRING(0);

	if (!fuzz_json_valid(s))
		abort();				/* json-c wrote something it cannot read back */
	if (!valid_utf8(s, (int) strlen(s)))
		abort();				/* the server's jsonb_in would take bad bytes */
	PG_RETURN_POINTER(cstring_to_text(s));
}

Datum
date_timestamptz(PG_FUNCTION_ARGS)
{
	PG_RETURN_TIMESTAMPTZ((TimestampTz) PG_GETARG_INT32(0) * USECS_PER_DAY);
}

Datum
timestamp_timestamptz(PG_FUNCTION_ARGS)
{
	PG_RETURN_TIMESTAMPTZ(PG_GETARG_INT64(0));
}

/* ---- the planner: pushdown.c's classification is not fuzzed here ---- */
#define NOT_IN_FUZZING(name) \
	void name(void); \
	void name(void) { fprintf(stderr, "fuzz shim: %s called\n", #name); abort(); }
NOT_IN_FUZZING(GetDefaultOpClass)
NOT_IN_FUZZING(contain_subplans)
NOT_IN_FUZZING(contain_var_clause)
NOT_IN_FUZZING(contain_volatile_functions)
NOT_IN_FUZZING(exprType)
NOT_IN_FUZZING(get_collation_isdeterministic)
NOT_IN_FUZZING(get_op_opfamily_strategy)
NOT_IN_FUZZING(get_opclass_family)
NOT_IN_FUZZING(pull_varnos)

bool
bms_is_member(int x, const Bitmapset *a)
{
	(void) x;
	(void) a;
	fprintf(stderr, "fuzz shim: bms_is_member called\n");
	abort();
}

/* PostgreSQL's qsort is libc's here */
#undef qsort
void
pg_qsort(void *base, size_t nel, size_t elsize, int (*cmp) (const void *, const void *))
{
	qsort(base, nel, elsize, cmp);
}

/* PostgreSQL's snprintf is libc's here */
int
pg_vsnprintf(char *str, size_t count, const char *fmt, va_list args)
{
	return vsnprintf(str, count, fmt, args);
}
