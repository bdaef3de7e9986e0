/*-------------------------------------------------------------------------
 * json_row.c
 *		The one JSON converter: a response body to json-c objects, a page to
 *		its rows and next token, an API object to a row of Datums.
 *
 * JSON null and absent keys become SQL NULL; unknown keys are ignored.  A
 * value of the wrong type is an ERROR naming the table, column and value,
 * quoted as all API text is.  Strings, and the JSON of jsonb columns, are
 * converted from UTF-8 to the server encoding; integers beyond 64 bits
 * keep the digits the API sent (json-c alone would clamp them).  This is
 * the per-row path: it does one lookup per fetched column and no work for
 * columns the query does not use.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/datetime.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"
/* PostgreSQL's json_object() would clash with json-c's json_object type */
#define json_object pg_sql_json_object
#include "utils/builtins.h"
#undef json_object

#include "quo_fdw.h"

#include <json-c/json.h>

/* Deepest nesting accepted in a response. */
#define QUO_JSON_MAX_DEPTH 64

/*
 * Bytes parsed between two checks for interrupts: a few milliseconds of
 * json-c's time, some tens on the costliest input (empty objects).  A
 * build may set a smaller one to exercise the chunk boundaries.
 */
#ifndef QUO_JSON_CHUNK
#define QUO_JSON_CHUNK (1024 * 1024)
#endif

/*
 * Most JSON values a body may hold.  json-c mallocs each value (an empty
 * object costs it some 750 bytes), so a hostile 64 MB body of "{}," would
 * take gigabytes; a page of 100 API objects holds a few thousand.
 */
#define QUO_JSON_MAX_VALUES 200000	/* in the error below too */

/*
 * The digits of the integers json-c cannot hold: a negative one beyond
 * int64, a positive one beyond uint64.  json-c 0.16 clamps such a literal
 * without an error (123456789012345678901234 becomes 18446744073709551615).
 */
#define QUO_INT64_MIN_DIGITS "9223372036854775808"
#define QUO_UINT64_MAX_DIGITS "18446744073709551615"

/* The shortest run of digits that may be one of them. */
#define QUO_BIG_MIN_DIGITS 19

/*
 * Whether the digits s[start, end) of text s (len bytes) are an integer
 * literal beyond 64 bits: a whole number token (an optional '-' after a
 * separator, no fraction, no exponent) of more significant digits than
 * json-c holds.  *sig is where they start after leading zeros.
 */
static bool
big_integer_at(const char *s, size_t len, size_t start, size_t end, size_t *sig)
{
	size_t		p = start;
	bool		negative = false;
	const char *limit;
	size_t		n;

	if (p > 0 && s[p - 1] == '-')
	{
		negative = true;
		p--;
	}
	/* not the digits of a fraction or an exponent, nor inside a word */
	if (p > 0 && s[p - 1] != '[' && s[p - 1] != ',' && s[p - 1] != ':' &&
		!isspace((unsigned char) s[p - 1]))
		return false;
	if (end < len && (s[end] == '.' || s[end] == 'e' || s[end] == 'E'))
		return false;
	while (start < end && s[start] == '0')
		start++;
	*sig = start;
	n = end - start;
	limit = negative ? QUO_INT64_MIN_DIGITS : QUO_UINT64_MAX_DIGITS;
	if (n != strlen(limit))
		return n > strlen(limit);
	return memcmp(s + start, limit, n) > 0;
}

/* A copy of a body being written with its big integers marked. */
typedef struct BodyCopy
{
	char	   *data;			/* room for the body, 2 bytes per mark, NUL */
	size_t		len;			/* bytes written */
	size_t		from;			/* the body before this offset is written */
} BodyCopy;

/*
 * Write to copy the body up to the big integer at body[start, end) (its
 * significant digits from sig), and the integer with "e0" after it: json-c
 * reads 123456789012345678901234e0 as a double that keeps its text, prints
 * that text, and jsonb_in reads it as the numeric 123456789012345678901234.
 */
static void
copy_marked(BodyCopy *copy, const char *body, size_t start, size_t sig, size_t end)
{
	memcpy(copy->data + copy->len, body + copy->from, start - copy->from);
	copy->len += start - copy->from;
	memcpy(copy->data + copy->len, body + sig, end - sig);
	copy->len += end - sig;
	memcpy(copy->data + copy->len, "e0", 2);
	copy->len += 2;
	copy->from = end;
}

/*
 * Bodies shorter than this cannot hold more than QUO_JSON_MAX_VALUES
 * values: each value counted (an opening bracket or a comma) needs a
 * closing bracket or a value after it.
 */
#define QUO_FAST_MAX_BYTES (2 * (size_t) QUO_JSON_MAX_VALUES)

/*
 * Whether the text holds a run of QUO_BIG_MIN_DIGITS digits or more, in a
 * string or not.  Every such run covers one of the positions
 * k * QUO_BIG_MIN_DIGITS - 1, so only the digits there are looked at,
 * with the run around them: about a tenth of a page's bytes.
 */
static bool
has_long_digit_run(const char *s, size_t len)
{
	size_t		p = QUO_BIG_MIN_DIGITS - 1;

	while (p < len)
	{
		if (s[p] >= '0' && s[p] <= '9')
		{
			size_t		l = p,
						r = p + 1;

			while (l > 0 && s[l - 1] >= '0' && s[l - 1] <= '9')
				l--;
			while (r < len && s[r] >= '0' && s[r] <= '9')
				r++;
			if (r - l >= QUO_BIG_MIN_DIGITS)
				return true;
			/* the next position past this run */
			p = r + (QUO_BIG_MIN_DIGITS - 1 - r % QUO_BIG_MIN_DIGITS);
			continue;
		}
		p += QUO_BIG_MIN_DIGITS;
	}
	return false;
}

/* What scan_body returns for a body it refuses. */
#define SCAN_TOO_MANY (-1)		/* more than QUO_JSON_MAX_VALUES values */
#define SCAN_NOT_JSON (-2)		/* a comment or a single quote */

/*
 * Scan a body outside its strings for what json-c cannot be given as it
 * is.  Returns SCAN_TOO_MANY when it holds more than QUO_JSON_MAX_VALUES
 * values (objects and arrays opened, and values separated by commas),
 * SCAN_NOT_JSON when a '/' or a single quote stands outside a string, else
 * how many integer literals beyond 64 bits it holds; with copy, writes
 * there the body with those marked.  Strings are quoted with " only: a
 * comment or a single-quoted string, which json-c's default mode reads and
 * JSON has not, would give json-c other strings than this scan sees (a
 * quote in a comment would hide the rest of the body from the count and
 * the marking), so the body is refused instead, whatever json-c's mode
 * (tokener_flags).  This is the per-page path: a digit costs a counter, and
 * only runs of QUO_BIG_MIN_DIGITS or more are looked at again.  Checks for
 * interrupts between chunks.
 */
static int64
scan_body(const char *body, size_t len, BodyCopy *copy)
{
	size_t		values = 1;
	size_t		digits = 0;		/* the run of digits before i */
	size_t		sig;
	size_t		next_check = 0;
	int64		big = 0;

	for (size_t i = 0; i < len; i++)
	{
		char		c = body[i];

		if (unlikely(i >= next_check))
		{
			CHECK_FOR_INTERRUPTS();
			next_check = i + QUO_JSON_CHUNK;
		}
		if (c >= '0' && c <= '9')
		{
			digits++;
			continue;
		}
		if (unlikely(digits >= QUO_BIG_MIN_DIGITS) &&
			big_integer_at(body, len, i - digits, i, &sig))
		{
			big++;
			if (copy)
				copy_marked(copy, body, i - digits, sig, i);
		}
		digits = 0;
		if (c == '"')
		{
			/*
			 * Skip the string at once (memchr): its closing quote is the
			 * first one after an even run of backslashes.  Most of a page's
			 * bytes are inside strings.
			 */
			for (;;)
			{
				const char *q = memchr(body + i + 1, '"', len - i - 1);
				size_t		backslashes = 0;

				if (q == NULL)
				{
					i = len;	/* unterminated: json-c says so */
					break;
				}
				i = q - body;
				while (body[i - 1 - backslashes] == '\\')
					backslashes++;
				if (backslashes % 2 == 0)
					break;
			}
		}
		else if (c == '{' || c == '[' || c == ',')
		{
			if (++values > QUO_JSON_MAX_VALUES)
				return SCAN_TOO_MANY;
		}
		else if (c == '/' || c == '\'')
			return SCAN_NOT_JSON;
	}
	/* a body that ends in a number */
	if (digits >= QUO_BIG_MIN_DIGITS && big_integer_at(body, len, len - digits, len, &sig))
	{
		big++;
		if (copy)
			copy_marked(copy, body, len - digits, sig, len);
	}
	if (copy)
	{
		memcpy(copy->data + copy->len, body + copy->from, len - copy->from);
		copy->len += len - copy->from;
		copy->data[copy->len] = '\0';
	}
	return big;
}

/*
 * The flags of every tokener: JSON only (JSON_TOKENER_STRICT: no comments,
 * single quotes, trailing commas, leading zeros or capitalised literals),
 * with text after the value left to parse_text's own check and message
 * (JSON_TOKENER_ALLOW_TRAILING_CHARS; both are in every json-c that has
 * json_tokener_get_parse_end, 0.15 and later).  Except where json-c's
 * strict mode refuses every string holding a byte above 0x7f: json-c 0.18
 * compares a signed char with 0x1f to refuse control characters (json-c
 * issue #875, fixed in 0.19), so strict there would refuse every name with
 * an accent; that json-c keeps its default mode.  Either way scan_body has
 * refused comments and single quotes, the two extensions that move where
 * json-c's strings start and end.  This is a test of the library loaded,
 * not of the headers built against (a fixed 0.18 has the same soname), so
 * it is run once per backend, on one such string, rather than in compat.h.
 */
static int
tokener_flags(void)
{
	static int	flags = -1;
	struct json_tokener *tok;
	struct json_object *obj;

	if (flags >= 0)
		return flags;
	tok = json_tokener_new();
	if (tok == NULL)
		return 0;				/* out of memory: the parse will say so */
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS);
	obj = json_tokener_parse_ex(tok, "\"\xc3\xa9\"", 4);	/* U+00E9 as a string */
	flags = (obj != NULL && json_tokener_get_error(tok) == json_tokener_success) ?
		JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS : 0;
	json_object_put(obj);
	json_tokener_free(tok);
	return flags;
}

/*
 * Parse JSON text with json-c; NULL with *error set when it is not JSON.
 * The text (up to 64 MB) is fed to json-c's tokener in chunks with a check
 * for interrupts before each, so a cancel is seen within milliseconds; the
 * tokener, and the partial value it holds, is freed on that error too.
 */
static struct json_object *
parse_text(const char *text, size_t len, const char **error)
{
	struct json_tokener *tok;
	struct json_object *obj = NULL;
	enum json_tokener_error jerr = json_tokener_continue;
	size_t		used = 0;

	tok = json_tokener_new_ex(QUO_JSON_MAX_DEPTH);
	if (tok == NULL)
	{
		*error = "out of memory";
		return NULL;
	}
	json_tokener_set_flags(tok, tokener_flags());

	PG_TRY();
	{
		size_t		off = 0;

		do
		{
			size_t		n = Min(len - off, (size_t) QUO_JSON_CHUNK);

			CHECK_FOR_INTERRUPTS();
			obj = json_tokener_parse_ex(tok, text + off, (int) n);
			jerr = json_tokener_get_error(tok);
			used = off + json_tokener_get_parse_end(tok);
			off += n;
		} while (jerr == json_tokener_continue && off < len);
	}
	PG_CATCH();
	{
		json_tokener_free(tok);
		PG_RE_THROW();
	}
	PG_END_TRY();

	if (jerr == json_tokener_continue)
	{
		*error = "the body ends in the middle of a JSON value";
		json_object_put(obj);
		obj = NULL;
	}
	else if (jerr != json_tokener_success)
	{
		*error = json_tokener_error_desc(jerr);
		json_object_put(obj);
		obj = NULL;
	}
	else
	{
		for (; used < len; used++)
			if (!isspace((unsigned char) text[used]))
			{
				*error = "text follows the JSON value";
				json_object_put(obj);
				obj = NULL;
				break;
			}
	}
	json_tokener_free(tok);
	if (obj == NULL && *error == NULL)
		*error = "the body is JSON null";
	return obj;
}

/*
 * Parse a whole response body; NULL with *error set when it is not JSON
 * or holds too many values.  A body with integers beyond 64 bits is parsed
 * from a copy in which they are marked (scan_body), so that they keep
 * their digits; any other body is parsed as it is, without a copy.
 */
struct json_object *
quo_json_parse(const char *body, size_t len, const char **error)
{
	int64		big;
	BodyCopy	copy = {0};
	struct json_object *obj;

	*error = NULL;

	/*
	 * The fast path, a page's usual case: json-c in strict mode refuses
	 * comments and single quotes itself, a body under QUO_FAST_MAX_BYTES
	 * cannot hold more than QUO_JSON_MAX_VALUES values, and one with no run
	 * of QUO_BIG_MIN_DIGITS digits anywhere has no integer beyond 64 bits;
	 * so it is parsed as it is, without scan_body's pass.  Should json-c
	 * refuse it, the scan below runs, for its more precise message.
	 */
	if ((tokener_flags() & JSON_TOKENER_STRICT) && len < QUO_FAST_MAX_BYTES &&
		!has_long_digit_run(body, len))
	{
		obj = parse_text(body, len, error);
		if (obj != NULL)
			return obj;
		*error = NULL;
	}

	big = scan_body(body, len, NULL);
	if (big == SCAN_TOO_MANY)
	{
		*error = "the body holds more than 200,000 JSON values";
		return NULL;
	}
	if (big == SCAN_NOT_JSON)
	{
		*error = "a comment or a single quote outside a string";
		return NULL;
	}
	if (big == 0)
		return parse_text(body, len, error);
	copy.data = palloc(len + 2 * (size_t) big + 1);
	(void) scan_body(body, len, &copy);
	obj = parse_text(copy.data, copy.len, error);
	pfree(copy.data);
	return obj;
}

/* Release a parsed response.  NULL is allowed. */
void
quo_json_free(struct json_object *obj)
{
	if (obj)
		json_object_put(obj);
}

/*
 * Find a page's rows and next token in a parsed response of ep.  A list
 * response is {"data": [...]}, with the paging's next field (a string,
 * null or absent) when it pages; an item response is {"data": {...}}, or
 * {"data": [...]} for an endpoint whose item is an array of rows.  The
 * token points into root.
 */
bool
quo_json_page(struct json_object *root, const QuoEndpoint *ep, bool is_item,
			  struct json_object **rows, int *nrows,
			  const char **next_token, const char **error)
{
	const QuoPaging *paging = ep->paging;

	struct json_object *data;
	struct json_object *tok;

	*next_token = NULL;
	if (!json_object_is_type(root, json_type_object))
	{
		*error = "the response is not a JSON object";
		return false;
	}
	if (!json_object_object_get_ex(root, "data", &data) || data == NULL)
	{
		*error = "the response has no \"data\"";
		return false;
	}
	if (is_item && ep->item_shape == QUO_ITEM_OBJECT)
	{
		if (!json_object_is_type(data, json_type_object))
		{
			*error = "\"data\" is not an object";
			return false;
		}
		*rows = data;
		*nrows = 1;
		return true;
	}
	if (!json_object_is_type(data, json_type_array))
	{
		*error = "\"data\" is not an array";
		return false;
	}
	*rows = data;
	*nrows = (int) json_object_array_length(data);
	if (!is_item && paging->style != QUO_PAGING_NONE &&
		json_object_object_get_ex(root, paging->next_field, &tok) && tok != NULL)
	{
		if (!json_object_is_type(tok, json_type_string))
		{
			*error = psprintf("\"%s\" is not a string", paging->next_field);
			return false;
		}
		if (json_object_get_string_len(tok) > 0)
			*next_token = json_object_get_string(tok);
	}
	return true;
}

/* The i-th row object of a page. */
struct json_object *
quo_json_row(struct json_object *rows, int i)
{
	if (json_object_is_type(rows, json_type_object))
		return rows;
	return json_object_array_get_idx(rows, i);
}

/* Parse n digits at *p into *out; false if they are not all digits. */
static inline bool
digits(const char **p, int n, int *out)
{
	int			v = 0;

	for (int i = 0; i < n; i++)
	{
		char		c = (*p)[i];

		if (c < '0' || c > '9')
			return false;
		v = v * 10 + (c - '0');
	}
	*p += n;
	*out = v;
	return true;
}

/*
 * Parse an ISO 8601 date-time: YYYY-MM-DD[T ]HH:MM[:SS[.frac]][Z|+HH:MM|
 * +HHMM|+HH].  Without an offset the time is UTC.  False when s is not one.
 */
bool
quo_parse_timestamp(const char *s, TimestampTz *result)
{
	const char *p = s;
	int			y,
				mo,
				d,
				h,
				mi,
				sec = 0;
	int64		usec = 0;
	int			offset = 0;
	int64		days;
	TimestampTz ts;

	if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) || *p++ != '-' ||
		!digits(&p, 2, &d) || (*p != 'T' && *p != 't' && *p != ' '))
		return false;
	p++;
	if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi))
		return false;
	if (*p == ':')
	{
		p++;
		if (!digits(&p, 2, &sec))
			return false;
		if (*p == '.' || *p == ',')
		{
			int64		scale = 100000;

			p++;
			if (*p < '0' || *p > '9')
				return false;
			for (; *p >= '0' && *p <= '9'; p++)
			{
				usec += (*p - '0') * scale;
				scale /= 10;
			}
		}
	}
	if (*p == 'Z' || *p == 'z')
		p++;
	else if (*p == '+' || *p == '-')
	{
		int			sign = (*p == '-') ? -1 : 1;
		int			oh,
					om = 0;

		p++;
		if (!digits(&p, 2, &oh))
			return false;
		if (*p == ':')
		{
			p++;
			if (!digits(&p, 2, &om))
				return false;
		}
		else if (*p >= '0' && *p <= '9' && !digits(&p, 2, &om))
			return false;
		if (oh > 15 || om > 59)
			return false;
		offset = sign * (oh * 3600 + om * 60);
	}
	if (*p != '\0')
		return false;

	if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > day_tab[isleap(y)][mo - 1] ||
		h > 24 || mi > 59 || sec > 60 ||
		(h == 24 && (mi > 0 || sec > 0 || usec > 0)))
		return false;

	days = date2j(y, mo, d) - POSTGRES_EPOCH_JDATE;
	ts = days * USECS_PER_DAY +
		((int64) ((h * 60 + mi) * 60 + sec - offset)) * USECS_PER_SEC + usec;
	if (!IS_VALID_TIMESTAMP(ts))
		return false;
	*result = ts;
	return true;
}

/*
 * When v is an integer beyond 64 bits that quo_json_parse marked, its
 * digits (as json-c prints them, with the mark) and in *len their length
 * without the mark; else NULL.  A literal the API sent as digits and
 * "e0" reads the same: it is the same number.
 */
static const char *
big_integer_text(struct json_object *v, size_t *len)
{
	const char *s;
	size_t		n;
	size_t		sig;

	if (!json_object_is_type(v, json_type_double))
		return NULL;
	s = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
	n = strlen(s);
	if (n < QUO_BIG_MIN_DIGITS + 2 || s[n - 2] != 'e' || s[n - 1] != '0')
		return NULL;
	n -= 2;
	for (size_t i = (s[0] == '-'); i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return NULL;
	if (!big_integer_at(s, n, s[0] == '-', n, &sig))
		return NULL;
	*len = n;
	return s;
}

/*
 * A short rendering of a JSON value for error messages: json-c's print of
 * it (an integer beyond 64 bits as the API sent it), quoted as all API
 * text is (quo_append_api_text: 100 characters at most, control characters
 * as spaces, the scan's API key as [api_key], '?' for what the server or
 * client encoding lacks), so that a LATIN1 client reads the error instead
 * of an encoding error in its place.
 */
static char *
show_value(const QuoRowContext *ctx, struct json_object *v)
{
	size_t		len;
	const char *s = big_integer_text(v, &len);
	StringInfoData buf;

	if (s == NULL)
	{
		s = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN |
										   JSON_C_TO_STRING_NOSLASHESCAPE);
		len = strlen(s);
	}
	initStringInfo(&buf);
	quo_append_api_text(&buf, s, len, 100, ctx->api_key);
	return buf.data;
}

/* "a string", "a number", ... for messages. */
static const char *
json_kind(struct json_object *v)
{
	size_t		len;

	switch (json_object_get_type(v))
	{
		case json_type_null:
			return "null";
		case json_type_boolean:
			return "a boolean";
		case json_type_double:
			if (big_integer_text(v, &len))
				return "an integer beyond 64 bits";
			return "a fractional number";
		case json_type_int:
			return "an integer";
		case json_type_object:
			return "an object";
		case json_type_array:
			return "an array";
		case json_type_string:
			return "a string";
	}
	return "a value";
}

/* What an integer column takes, for messages. */
#define INT4_RANGE "an integer between -2147483648 and 2147483647"

/* ERROR: a value of the wrong type for its column. */
pg_noreturn static void
wrong_value(const QuoRowContext *ctx, int att, struct json_object *v,
			const char *expected)
{
	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
			 errmsg("invalid value for column \"%s\" of foreign table \"%s\": %s",
					ctx->attnames[att], ctx->relname, show_value(ctx, v)),
			 errdetail("The Quo API returned %s where %s was expected.",
					   json_kind(v), expected)));
	pg_unreachable();
}

/* A text Datum from an API string, checked and converted to the server encoding. */
static Datum
text_value(const QuoRowContext *ctx, int att, const char *s, size_t len)
{
	char	   *conv;

	if (memchr(s, '\0', len) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNTRANSLATABLE_CHARACTER),
				 errmsg("invalid value for column \"%s\" of foreign table \"%s\"",
						ctx->attnames[att], ctx->relname),
				 errdetail("The string contains a NUL character (\\u0000), which text cannot hold.")));
	conv = pg_any_to_server(s, (int) len, PG_UTF8);
	if (conv == s)
		return PointerGetDatum(cstring_to_text_with_len(s, (int) len));
	return PointerGetDatum(cstring_to_text(conv));
}

/*
 * A jsonb Datum of a JSON value.  json-c prints UTF-8 as it was sent, and
 * jsonb_in trusts its input to be valid in the server encoding, so the
 * text goes through pg_any_to_server as text columns' strings do: in a
 * UTF-8 or SQL_ASCII database it is checked (a byte sequence that is not
 * UTF-8 is 22021, with the row's context), in any other it is converted
 * (a character the database lacks is 22P05).  So raw and jsonb columns
 * hold what text columns hold, and no bad byte reaches a stored jsonb.
 * The check is here rather than in json-c's JSON_TOKENER_VALIDATE_UTF8:
 * that flag passes what PostgreSQL refuses (encoded surrogates, overlong
 * forms, code points beyond U+10FFFF), and it would make an error body
 * with a bad byte unreadable, where errors.c quotes its fields with '?'.
 */
static Datum
jsonb_value(struct json_object *v)
{
	const char *s = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN |
												   JSON_C_TO_STRING_NOSLASHESCAPE);

	s = pg_any_to_server(s, (int) strlen(s), PG_UTF8);
	return DirectFunctionCall1(jsonb_in, CStringGetDatum(s));
}

/*
 * The value at a column's JSON path in obj (quo_fdw.h): NULL when a key is
 * absent or a value on the way is null.  When a key ends in "[]", that
 * array is returned and *rest is the path of its elements' values ("" for
 * the elements themselves).  A value on the way that is not an object is
 * an ERROR.
 */
static struct json_object *
json_at(const QuoRowContext *ctx, int att, struct json_object *obj,
		const char *path, const char **rest)
{
	const char *p = path;

	*rest = NULL;
	if (strpbrk(path, ".[") == NULL)
		return json_object_object_get_ex(obj, path, &obj) ? obj : NULL;
	for (;;)
	{
		const char *dot = strchr(p, '.');
		size_t		len = dot ? (size_t) (dot - p) : strlen(p);
		bool		is_array = len >= 2 && p[len - 2] == '[' && p[len - 1] == ']';
		char		key[64];
		struct json_object *v;

		if (is_array)
			len -= 2;
		if (len >= sizeof(key))
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg_internal("quo_fdw: JSON path \"%s\" has a key too long", path)));
		memcpy(key, p, len);
		key[len] = '\0';
		if (!json_object_is_type(obj, json_type_object))
			wrong_value(ctx, att, obj, psprintf("an object with the key \"%s\"", key));
		if (!json_object_object_get_ex(obj, key, &v) || v == NULL)
			return NULL;
		if (is_array)
		{
			*rest = dot ? dot + 1 : "";
			return v;
		}
		if (dot == NULL)
			return v;
		obj = v;
		p = dot + 1;
	}
}

/*
 * A text[] Datum of the values at path rest in each element of the JSON
 * array v ("emails[].value"; "" for an array of strings): a null element,
 * or one without the value, gives a NULL element.
 */
static Datum
mapped_array_value(const QuoRowContext *ctx, int att, struct json_object *v,
				   const char *rest)
{
	int			n;
	Datum	   *elems;
	bool	   *nulls;
	int			dims[1];
	int			lbs[1] = {1};

	if (!json_object_is_type(v, json_type_array))
		wrong_value(ctx, att, v, rest[0] ? "an array" : "an array of strings");
	n = (int) json_object_array_length(v);
	if (n == 0)
		return PointerGetDatum(construct_empty_array(TEXTOID));
	elems = palloc(sizeof(Datum) * n);
	nulls = palloc(sizeof(bool) * n);
	for (int i = 0; i < n; i++)
	{
		struct json_object *e = json_object_array_get_idx(v, i);
		const char *none;

		if (e != NULL && rest[0] != '\0')
		{
			if (!json_object_is_type(e, json_type_object))
				wrong_value(ctx, att, e, "an object");
			e = json_at(ctx, att, e, rest, &none);
		}
		nulls[i] = (e == NULL);
		if (e == NULL)
			continue;
		if (!json_object_is_type(e, json_type_string))
		{
			if (rest[0] == '\0')
				wrong_value(ctx, att, v, "an array of strings");
			wrong_value(ctx, att, e, "a string");
		}
		elems[i] = text_value(ctx, att, json_object_get_string(e), json_object_get_string_len(e));
	}
	dims[0] = n;
	return PointerGetDatum(construct_md_array(elems, nulls, 1, dims, lbs,
											  TEXTOID, -1, false, TYPALIGN_INT));
}

/*
 * Fill values/nulls (one per attribute) from an API object.  Allocates in
 * the current memory context, which the caller resets per row.
 */
void
quo_json_to_row(const QuoRowContext *ctx, struct json_object *obj,
				Datum *values, bool *nulls)
{
	const QuoEndpoint *ep = ctx->endpoint;

	if (obj == NULL || !json_object_is_type(obj, json_type_object))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
				 errmsg("invalid row for foreign table \"%s\": %s", ctx->relname,
						obj ? show_value(ctx, obj) : "null"),
				 errdetail("The Quo API returned a row that is not a JSON object.")));

	for (int att = 0; att < ctx->natts; att++)
	{
		const QuoColumn *col;
		struct json_object *v = NULL;

		nulls[att] = true;
		if (ctx->colmap[att] < 0)
			continue;
		col = &ep->columns[ctx->colmap[att]];

		switch (col->source)
		{
			case QUO_SRC_RAW:
				values[att] = jsonb_value(obj);
				nulls[att] = false;
				continue;
			case QUO_SRC_CONTEXT:
				if (col->ctx == QUO_CTX_PARTICIPANTS)
				{
					values[att] = ctx->ctx_participants;
					nulls[att] = ctx->ctx_participants_null;
				}
				else if (col->ctx != QUO_CTX_NONE && col->ctx < QUO_CTX_TEXT_SLOTS &&
						 ctx->ctx[col->ctx] != NULL)
				{
					/* sent as UTF-8 (request.c) */
					values[att] = text_value(ctx, att, ctx->ctx[col->ctx], strlen(ctx->ctx[col->ctx]));
					nulls[att] = false;
				}
				continue;
			case QUO_SRC_JSON:
				{
					const char *rest;

					v = json_at(ctx, att, obj, col->json_path, &rest);
					if (v == NULL)
					{
						/* absent or null: what the request was made for, if kept */
						if (col->ctx != QUO_CTX_NONE && col->ctx < QUO_CTX_TEXT_SLOTS &&
							ctx->ctx[col->ctx] != NULL)
						{
							values[att] = text_value(ctx, att, ctx->ctx[col->ctx],
													 strlen(ctx->ctx[col->ctx]));
							nulls[att] = false;
						}
						continue;
					}
					if (rest != NULL)
					{
						values[att] = mapped_array_value(ctx, att, v, rest);
						nulls[att] = false;
						continue;
					}
				}
				break;
		}

		switch (col->type)
		{
			case QUO_TEXT:
				if (!json_object_is_type(v, json_type_string))
					wrong_value(ctx, att, v, "a string");
				values[att] = text_value(ctx, att, json_object_get_string(v),
										 json_object_get_string_len(v));
				break;
			case QUO_INT4:
				{
					int64		i;
					size_t		len;

					if (!json_object_is_type(v, json_type_int))
						wrong_value(ctx, att, v, big_integer_text(v, &len) ? INT4_RANGE : "an integer");
					errno = 0;
					i = json_object_get_int64(v);
					if (errno != 0 || i < PG_INT32_MIN || i > PG_INT32_MAX)
						wrong_value(ctx, att, v, INT4_RANGE);
					values[att] = Int32GetDatum((int32) i);
					break;
				}
			case QUO_TIMESTAMPTZ:
				{
					TimestampTz ts;

					if (!json_object_is_type(v, json_type_string) ||
						!quo_parse_timestamp(json_object_get_string(v), &ts))
						wrong_value(ctx, att, v, "an ISO 8601 date-time string");
					values[att] = TimestampTzGetDatum(ts);
					break;
				}
			case QUO_TEXT_ARRAY:
				values[att] = mapped_array_value(ctx, att, v, "");
				break;
			case QUO_FLOAT8:
				{
					double		d;

					if (!json_object_is_type(v, json_type_double) &&
						!json_object_is_type(v, json_type_int))
						wrong_value(ctx, att, v, "a number");
					d = json_object_get_double(v);

					/*
					 * json-c's strtod makes a literal beyond every double
					 * infinite (an integer of 309 digits, 1e400), and it
					 * reads NaN and Infinity, which JSON has not: refused,
					 * as float8in refuses "1e400"
					 */
					if (!isfinite(d))
						wrong_value(ctx, att, v, "a number within the range of double precision");
					values[att] = Float8GetDatum(d);
					break;
				}
			case QUO_BOOL:
				if (!json_object_is_type(v, json_type_boolean))
					wrong_value(ctx, att, v, "true or false");
				values[att] = BoolGetDatum(json_object_get_boolean(v));
				break;
			case QUO_JSONB:
				values[att] = jsonb_value(v);
				break;
		}
		nulls[att] = false;
	}
}
