/*-------------------------------------------------------------------------
 * errors.c
 *		The one mapping from Quo API and transport failures to PostgreSQL
 *		errors (SQLSTATE, message, DETAIL and HINT), and the one rule for
 *		when a 404 is Quo saying an object does not exist.
 *
 * Both documented error shapes are read: {message, code, status, title,
 * trace, errors[]} and {"error": {message, key, trace}}.  Text from the
 * response is quoted by whole characters, cleaned of control characters
 * and of the API key, and kept to what the server and client encodings
 * can hold: quoting the API must never turn its error into another one.
 * Each error raised here is also its server's last error in the
 * statistics (stats.c).
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <curl/curl.h>

#include "catalog/namespace.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"

#include "quo_fdw.h"

/* json-c last: its json_object type would clash with PostgreSQL's json_object() */
#include <json-c/json.h>

/* At most this many characters of a response are quoted in a message. */
#define QUOTE_MAX 300

/*
 * The encodings quoted API text (UTF-8, as the API speaks) must fit: the
 * server's, in which the message is built, and the client's, to which it
 * is converted on the way out; a character the client encoding lacks would
 * replace the whole error with "character ... has no equivalent".  UTF8
 * and SQL_ASCII take any UTF-8 as it is.
 */
typedef struct QuoteEncodings
{
	bool		convert;		/* the server encoding needs a conversion */
	int			server;			/* the server encoding */
	Oid			to_server;		/* conversion from UTF-8, or InvalidOid */
	bool		check_client;	/* the client encoding must hold it too */
	int			client;			/* the client encoding */
	Oid			to_client;		/* conversion from UTF-8, or InvalidOid */
} QuoteEncodings;

/*
 * The default conversion from UTF-8 to an encoding: the one json_row.c's
 * pg_any_to_server(..., PG_UTF8) uses for row text.
 */
static Oid
conversion_from_utf8(int encoding)
{
#ifdef QUO_HAVE_NOERROR_CONVERSION
	return FindDefaultConversionProc(PG_UTF8, encoding);
#else
	(void) encoding;
	return InvalidOid;
#endif
}

/* Find what quoting must respect in this session. */
static void
quote_encodings(QuoteEncodings *enc)
{
	enc->server = GetDatabaseEncoding();
	enc->client = pg_get_client_encoding();
	enc->convert = enc->server != PG_UTF8 && enc->server != PG_SQL_ASCII;
	enc->to_server = enc->convert ? conversion_from_utf8(enc->server) : InvalidOid;
	/* from SQL_ASCII, or to the server's own encoding, nothing is converted */
	enc->check_client = enc->server != PG_SQL_ASCII && enc->client != enc->server &&
		enc->client != PG_UTF8 && enc->client != PG_SQL_ASCII;
	enc->to_client = enc->check_client ? conversion_from_utf8(enc->client) : InvalidOid;
}

/*
 * One valid UTF-8 character (l bytes) converted to encoding, into out:
 * its length, or -1 when the encoding lacks it.  Never raises an error.
 */
static int
convert_char(const unsigned char *c, int l, int encoding, Oid proc,
			 unsigned char *out, int outsize)
{
#ifdef QUO_HAVE_NOERROR_CONVERSION
	if (OidIsValid(proc) &&
		pg_do_encoding_conversion_buf(proc, PG_UTF8, encoding,
									  unconstify(unsigned char *, c), l,
									  out, outsize, true) == l)
		return (int) strlen((char *) out);
#else
	(void) c;
	(void) l;
	(void) encoding;
	(void) proc;
	(void) out;
	(void) outsize;
#endif
	return -1;
}

/*
 * Append one valid non-ASCII UTF-8 character (l bytes) in the server
 * encoding; '?' when the server or client encoding lacks it, a space for a
 * C1 control character.
 */
static void
append_char(StringInfo buf, const unsigned char *c, int l, const QuoteEncodings *enc)
{
	unsigned char out[MAX_CONVERSION_GROWTH * 8 + 1];
	int			n;

	if (l == 2 && c[0] == 0xC2 && c[1] < 0xA0)
		appendStringInfoChar(buf, ' ');
	else if (enc->check_client &&
			 convert_char(c, l, enc->client, enc->to_client, out, sizeof(out)) < 0)
		appendStringInfoChar(buf, '?');
	else if (!enc->convert)
		appendBinaryStringInfo(buf, (const char *) c, l);
	else if ((n = convert_char(c, l, enc->server, enc->to_server, out, sizeof(out))) >= 0)
		appendBinaryStringInfo(buf, (const char *) out, n);
	else
		appendStringInfoChar(buf, '?');
}

/*
 * Append the API's text s (len bytes, UTF-8 by the API's contract) to buf
 * for a message: whole characters only, at most max of them, then "..."
 * when cut; control characters as spaces; the key as [api_key]; '?' for a
 * byte that does not start a valid UTF-8 character and for a character the
 * server or client encoding lacks.  Never raises an error of its own.
 */
void
quo_append_api_text(StringInfo buf, const char *s, size_t len, size_t max,
					const char *key)
{
	size_t		keylen = key ? strlen(key) : 0;
	size_t		i = 0;
	size_t		nchars = 0;
	QuoteEncodings enc = {0};	/* set on first use; zeroed for gcc 14 */
	bool		have_enc = false;

	for (; i < len && nchars < max; nchars++)
	{
		const unsigned char *c = (const unsigned char *) s + i;
		int			l;

		if (keylen > 0 && len - i >= keylen && memcmp(c, key, keylen) == 0)
		{
			appendStringInfoString(buf, "[api_key]");
			i += keylen;
			continue;
		}
		if (*c < 0x80)
		{
			appendStringInfoChar(buf, (*c < 0x20 || *c == 0x7f) ? ' ' : (char) *c);
			i++;
			continue;
		}
		l = pg_utf_mblen(c);
		if ((size_t) l > len - i || !pg_utf8_islegal(c, l))
		{
			/* not UTF-8: skip one byte and look again */
			appendStringInfoChar(buf, '?');
			i++;
			continue;
		}
		if (!have_enc)
		{
			quote_encodings(&enc);
			have_enc = true;
		}
		append_char(buf, c, l, &enc);
		i += l;
	}
	if (i < len)
		appendStringInfoString(buf, "...");
}

/* A scalar member of obj as a string, or NULL. */
static const char *
member(struct json_object *obj, const char *key)
{
	struct json_object *v;

	if (obj && json_object_object_get_ex(obj, key, &v) && v &&
		!json_object_is_type(v, json_type_object) &&
		!json_object_is_type(v, json_type_array))
		return json_object_get_string(v);
	return NULL;
}

/* Append " label: value." with value quoted from the API; nothing if empty. */
static void
append_field(StringInfo buf, const char *label, const char *value, const char *key)
{
	if (value == NULL || *value == '\0')
		return;
	appendStringInfo(buf, " %s: ", label);
	quo_append_api_text(buf, value, strlen(value), QUOTE_MAX, key);
	appendStringInfoChar(buf, '.');
}

/*
 * Whether a parsed body is the document's 404 for an operation of ep, the
 * answer for an object that does not exist: "status" 404, the "code" the
 * document gives ep's operations (0100404 for calls, 0200404 for messages,
 * 0500404 for call summaries, ...), and a string "message".  Another
 * seven-digit code ending in 404 is not it: a gateway or another service
 * answering 404 in a look-alike shape must not read as "no row".  "title"
 * and "docs" are not compared: docs already changed with the rename
 * (openphone.com to quo.com).
 */
static bool
is_documented_404(const QuoEndpoint *ep, struct json_object *root)
{
	struct json_object *v;

	if (ep == NULL || ep->not_found_code == NULL ||
		root == NULL || !json_object_is_type(root, json_type_object))
		return false;
	if (!json_object_object_get_ex(root, "status", &v) || v == NULL ||
		!((json_object_is_type(v, json_type_int) && json_object_get_int64(v) == 404) ||
		  (json_object_is_type(v, json_type_double) && json_object_get_double(v) == 404.0)))
		return false;
	if (!json_object_object_get_ex(root, "code", &v) || v == NULL ||
		!json_object_is_type(v, json_type_string) ||
		strcmp(json_object_get_string(v), ep->not_found_code) != 0)
		return false;
	return json_object_object_get_ex(root, "message", &v) && v != NULL &&
		json_object_is_type(v, json_type_string);
}

/*
 * Whether a finished request of endpoint ep is Quo saying the object asked
 * for does not exist: a 404 whose body is the document's 404 for ep.  Only
 * then is a 404 on a get-by-id "no row"; any other 404 (another code,
 * another shape, no body, a web server's or a proxy's page) is a failure,
 * so that a base_url with a wrong path cannot make id lookups silently
 * empty.
 */
bool
quo_is_missing_object(const QuoEndpoint *ep, const QuoHttpResult *res)
{
	struct json_object *root;
	const char *error = NULL;
	bool		missing;

	if (res->curl_code != CURLE_OK || res->status != 404 || res->body_len == 0)
		return false;
	root = quo_json_parse(res->body, res->body_len, &error);
	missing = is_documented_404(ep, root);
	quo_json_free(root);
	return missing;
}

/* The SQLSTATE for an HTTP status; quo_404: Quo's documented 404. */
static int
status_sqlstate(long status, bool quo_404)
{
	if (status == 401 || status == 403)
		return ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION;
	if (status == 400)
		return ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE;
	if (status == 404 && quo_404)
		return ERRCODE_FDW_TABLE_NOT_FOUND;
	if (status >= 200 && status < 300)
		return ERRCODE_FDW_UNABLE_TO_CREATE_REPLY;
	return ERRCODE_FDW_ERROR;
}

/* What to tell the user to do about an HTTP status; quo_404 as above. */
static const char *
status_hint(long status, const QuoFdwOptions *opts, bool quo_404)
{
	const char *server = opts->server_name;

	switch (status)
	{
		case 401:
			return psprintf("Check the api_key option of your user mapping for server \"%s\".", server);
		case 402:
			return "The Quo workspace's subscription has expired.";
		case 403:
			if (opts->endpoint && opts->endpoint->forbidden_hint)
				return opts->endpoint->forbidden_hint;
			return "The API key's workspace has no access to this phone number.";
		case 404:
			if (quo_404)
				return "Check the identifiers in the WHERE clause and in the foreign table's options.";
			return psprintf("The answer is not the Quo API's documented 404 for a missing object: check that the base_url option of server \"%s\" points at the API.",
							server);
		case 429:
			return "The Quo API allows 10 requests per second per API key; retry later.";
		default:
			if (status >= 500)
				return "The Quo API failed; retry later.";
			return NULL;
	}
}

/* Start a DETAIL: the request, the attempts made, why retrying stopped. */
static void
append_request(StringInfo detail, const QuoFdwOptions *opts, const char *target,
			   const QuoHttpResult *res)
{
	appendStringInfoString(detail, "Request: GET ");
	quo_append_api_text(detail, target, strlen(target), 2000, opts->api_key);
	appendStringInfoChar(detail, '.');
	if (res->attempts > 1)
		appendStringInfo(detail, " Attempts: %d.", res->attempts);
	if (res->gave_up)
	{
		/* it may quote a response header */
		appendStringInfoChar(detail, ' ');
		quo_append_api_text(detail, res->gave_up, strlen(res->gave_up), 2 * QUOTE_MAX,
							opts->api_key);
	}
}

/* Raise the error for a transport failure (res->curl_code is set). */
pg_noreturn static void
report_transport_failure(const QuoFdwOptions *opts, const QuoHttpResult *res,
						 StringInfo detail)
{
	appendStringInfo(detail, " libcurl: %s.", res->curl_error);
	switch (res->curl_code)
	{
		case CURLE_OPERATION_TIMEDOUT:
			ereport(ERROR,
					(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
					 errmsg("Quo API request timed out"),
					 errdetail_internal("%s", detail->data),
					 errhint("Raise the request_timeout or connect_timeout option of server \"%s\".",
							 opts->server_name)));
			break;
		case CURLE_COULDNT_RESOLVE_HOST:
		case CURLE_COULDNT_RESOLVE_PROXY:
		case CURLE_COULDNT_CONNECT:
			ereport(ERROR,
					(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
					 errmsg("could not connect to the Quo API at %s", opts->base_url),
					 errdetail_internal("%s", detail->data),
					 errhint("Check the base_url option of server \"%s\" and the network.",
							 opts->server_name)));
			break;
		case CURLE_PARTIAL_FILE:
		case CURLE_GOT_NOTHING:
		case CURLE_RECV_ERROR:
		case CURLE_SEND_ERROR:
			ereport(ERROR,
					(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
					 errmsg("connection to the Quo API was lost during a request"),
					 errdetail_internal("%s", detail->data)));
			break;
		case CURLE_WRITE_ERROR:
		case CURLE_BAD_CONTENT_ENCODING:
			ereport(ERROR,
					(errcode(ERRCODE_FDW_UNABLE_TO_CREATE_REPLY),
					 errmsg("invalid response from the Quo API"),
					 errdetail_internal("%s", detail->data)));
			break;
		default:
			ereport(ERROR,
					(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
					 errmsg("Quo API request failed: %s", res->curl_error),
					 errdetail_internal("%s", detail->data),
					 errhint("Check the base_url option of server \"%s\" and the network.",
							 opts->server_name)));
	}
	pg_unreachable();
}

/* Append the documented shape's fields; its title (palloc'd) or NULL. */
static char *
append_documented_error(StringInfo detail, struct json_object *root, const char *key)
{
	struct json_object *errors;
	const char *title = member(root, "title");

	append_field(detail, "Quo code", member(root, "code"), key);
	append_field(detail, "Title", title, key);
	append_field(detail, "Message", member(root, "message"), key);
	if (json_object_object_get_ex(root, "errors", &errors) && errors &&
		json_object_is_type(errors, json_type_array))
	{
		for (size_t i = 0; i < json_object_array_length(errors) && i < 5; i++)
		{
			struct json_object *e = json_object_array_get_idx(errors, i);
			const char *path = member(e, "path");
			const char *msg = member(e, "message");

			if (msg == NULL || *msg == '\0')
				continue;
			appendStringInfoString(detail, " Error");
			if (path && *path)
			{
				appendStringInfoString(detail, " at ");
				quo_append_api_text(detail, path, strlen(path), 100, key);
			}
			appendStringInfoString(detail, ": ");
			quo_append_api_text(detail, msg, strlen(msg), QUOTE_MAX, key);
			appendStringInfoChar(detail, '.');
		}
	}
	append_field(detail, "Trace", member(root, "trace"), key);
	return title ? pstrdup(title) : NULL;
}

/* Append {"error": {"message", "key", "trace"}}'s fields; its key as title. */
static char *
append_alt_error(StringInfo detail, struct json_object *err, const char *key)
{
	const char *title = member(err, "key");

	append_field(detail, "Quo code", title, key);
	append_field(detail, "Message", member(err, "message"), key);
	append_field(detail, "Trace", member(err, "trace"), key);
	return title ? pstrdup(title) : NULL;
}

/*
 * Append what an error response's body says: either documented shape's
 * fields, or the start of a body that is not a JSON object.  Returns the
 * title for the primary message (palloc'd, not yet cleaned) or NULL, and
 * sets *quo_404 when the body is the document's 404 for the operation of
 * target.
 */
static char *
append_body(StringInfo detail, const QuoHttpResult *res, const char *target,
			const char *key, bool *quo_404)
{
	struct json_object *root;
	struct json_object *err;
	const char *error = NULL;
	char	   *title = NULL;

	*quo_404 = false;
	if (res->body_len == 0)
		return NULL;
	root = quo_json_parse(res->body, res->body_len, &error);
	if (root == NULL || !json_object_is_type(root, json_type_object))
	{
		appendStringInfoString(detail, " Body: ");
		quo_append_api_text(detail, res->body, res->body_len, QUOTE_MAX, key);
	}
	else if (json_object_object_get_ex(root, "error", &err) && err &&
			 json_object_is_type(err, json_type_object))
		title = append_alt_error(detail, err, key);
	else
	{
		title = append_documented_error(detail, root, key);
		*quo_404 = res->status == 404 &&
			is_documented_404(quo_endpoint_of_target(target), root);
	}
	quo_json_free(root);
	return title;
}

/*
 * Raise the error for a failed request: a transport failure, or an HTTP
 * error status with what the API said about it.
 */
pg_noreturn static void
raise_http_failure(const QuoFdwOptions *opts, const char *target,
				   const QuoHttpResult *res)
{
	StringInfoData detail;
	StringInfoData title;
	char	   *raw_title;
	const char *hint;
	bool		quo_404;

	initStringInfo(&detail);
	append_request(&detail, opts, target, res);
	if (res->curl_code != CURLE_OK)
		report_transport_failure(opts, res, &detail);

	appendStringInfo(&detail, " HTTP status: %ld.", res->status);
	raw_title = append_body(&detail, res, target, opts->api_key, &quo_404);
	initStringInfo(&title);
	if (raw_title)
		quo_append_api_text(&title, raw_title, strlen(raw_title), 100, opts->api_key);
	hint = status_hint(res->status, opts, quo_404);
	ereport(ERROR,
			(errcode(status_sqlstate(res->status, quo_404)),
			 raw_title ? errmsg("Quo API request failed with HTTP %ld: %s", res->status, title.data)
			 : errmsg("Quo API request failed with HTTP %ld", res->status),
			 errdetail_internal("%s", detail.data),
			 hint ? errhint("%s", hint) : 0));
	pg_unreachable();
}

/* Raise the error for a 200 response that is not what the API documents. */
pg_noreturn static void
raise_bad_response(const QuoFdwOptions *opts, const char *target, const char *what)
{
	StringInfoData detail;

	initStringInfo(&detail);
	appendStringInfoString(&detail, "Request: GET ");
	quo_append_api_text(&detail, target, strlen(target), 2000, opts->api_key);
	appendStringInfoString(&detail, ". Problem: ");
	quo_append_api_text(&detail, what, strlen(what), QUOTE_MAX, opts->api_key);
	appendStringInfoChar(&detail, '.');
	ereport(ERROR,
			(errcode(ERRCODE_FDW_UNABLE_TO_CREATE_REPLY),
			 errmsg("invalid response from the Quo API"),
			 errdetail_internal("%s", detail.data)));
	pg_unreachable();
}

/*
 * Report a failed request: a transport failure, or an HTTP error status
 * with what the API said about it.  The error is the server's last error
 * in quo_fdw.stats, as raised (a cancel first is not: it is no failure of
 * the API's).
 */
void
quo_report_http_failure(const QuoFdwOptions *opts, const char *target,
						const QuoHttpResult *res)
{
	MemoryContext cxt = CurrentMemoryContext;

	CHECK_FOR_INTERRUPTS();
	PG_TRY();
	{
		raise_http_failure(opts, target, res);
	}
	PG_CATCH();
	{
		quo_stats_error(opts, cxt);
		PG_RE_THROW();
	}
	PG_END_TRY();
	pg_unreachable();
}

/* Report a 200 response that is not what the API documents (last error too). */
void
quo_report_bad_response(const QuoFdwOptions *opts, const char *target,
						const char *what)
{
	MemoryContext cxt = CurrentMemoryContext;

	CHECK_FOR_INTERRUPTS();
	PG_TRY();
	{
		raise_bad_response(opts, target, what);
	}
	PG_CATCH();
	{
		quo_stats_error(opts, cxt);
		PG_RE_THROW();
	}
	PG_END_TRY();
	pg_unreachable();
}

/*
 * The body of a finished request, parsed: it must be a 200 with a JSON body,
 * anything else is an ERROR (the API's failure, or an invalid response).
 * The caller owns the result (json-c memory, quo_json_free).
 */
struct json_object *
quo_parse_response(const QuoFdwOptions *opts, const char *target,
				   const QuoHttpResult *res)
{
	struct json_object *root;
	const char *error = NULL;

	if (res->curl_code != CURLE_OK || res->status != 200)
		quo_report_http_failure(opts, target, res);
	if (res->content_type == NULL || strstr(res->content_type, "json") == NULL)
		quo_report_bad_response(opts, target,
								psprintf("the content type is %s, not JSON",
										 res->content_type ? res->content_type : "missing"));
	root = quo_json_parse(res->body, res->body_len, &error);
	if (root == NULL)
		quo_report_bad_response(opts, target,
								psprintf("the body is not valid JSON: %s", error));
	return root;
}
