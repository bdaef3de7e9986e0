/*-------------------------------------------------------------------------
 * fuzz_headers.c
 *		libFuzzer target: arbitrary bytes as what an error response carries,
 *		through quo_fdw's real retry.c and errors.c.  The input's first line
 *		is a Retry-After value, the rest a response body:
 *
 *		- quo_retry_after_ms must return -1, or 0 to QUO_RETRY_AFTER_MAX_MS
 *		  + 1, and for plain digits exactly what they say (clamped);
 *		- quo_append_api_text must give text valid in the server encoding,
 *		  convertible to the client's, without control characters or the
 *		  key, for a UTF8 server, a UTF8 server with a LATIN1 client, and a
 *		  LATIN1 server;
 *		- quo_is_missing_object and quo_report_http_failure must end
 *		  cleanly (a clean ereport(ERROR) for the latter).
 *
 * A crash, a sanitizer report (UBSan included) or an abort is a bug.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"

#include "quo_fdw.h"
#include "shim.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

extern int	fuzz_server_encoding;
extern int	fuzz_client_encoding;

#define KEY "SECRETKEY"

/* Stop the run with a message: a property does not hold. */
static void
fail(const char *what, const char *s, size_t len)
{
	fprintf(stderr, "fuzz_headers: %s: \"%.*s\"\n", what, (int) Min(len, 200), s);
	abort();
}

/* Retry-After: the range always, the exact value for plain digits. */
static void
check_retry_after(const char *value)
{
	int64		r = quo_retry_after_ms(value, (time_t) 1700000000);
	int64		r0 = quo_retry_after_ms(value, (time_t) 0);
	bool		digits = value[0] != '\0';
	int64		secs = 0;

	if (r < -1 || r > QUO_RETRY_AFTER_MAX_MS + 1 ||
		r0 < -1 || r0 > QUO_RETRY_AFTER_MAX_MS + 1)
		fail("Retry-After out of range", value, strlen(value));
	for (const char *p = value; *p; p++)
	{
		if (*p < '0' || *p > '9')
		{
			digits = false;
			break;
		}
		if (secs <= QUO_RETRY_AFTER_MAX_MS)
			secs = secs * 10 + (*p - '0');
	}
	if (digits &&
		r != (secs * 1000 > QUO_RETRY_AFTER_MAX_MS ? QUO_RETRY_AFTER_MAX_MS + 1 : secs * 1000))
		fail("Retry-After digits misread", value, strlen(value));
	if (value[0] == '-' && r != -1)
		fail("a negative Retry-After was read", value, strlen(value));
}

/*
 * Quote s with the given encodings and check the result: valid in the
 * server encoding, every character in the client's, no control character,
 * no key, at most max quoted units.
 */
static void
check_quote(const char *s, size_t len, size_t max, int server, int client)
{
	StringInfoData buf;
	const unsigned char *p;
	size_t		units = 0;

	fuzz_server_encoding = server;
	fuzz_client_encoding = client;
	initStringInfo(&buf);
	quo_append_api_text(&buf, s, len, max, KEY);
	fuzz_server_encoding = fuzz_client_encoding = PG_UTF8;

	if (strlen(buf.data) != (size_t) buf.len)
		fail("a NUL in quoted text", s, len);
	if (strstr(buf.data, KEY) != NULL)
		fail("the key in quoted text", s, len);
	p = (const unsigned char *) buf.data;
	while (*p)
	{
		int			l = 1;

		if (*p < 0x20 || *p == 0x7f)
			fail("a control character in quoted text", s, len);
		if (server == PG_UTF8 && *p >= 0x80)
		{
			l = pg_utf_mblen(p);
			if (!pg_utf8_islegal(p, l) || strnlen((const char *) p, l) < (size_t) l)
				fail("invalid UTF-8 in quoted text", s, len);
			if (l == 2 && p[0] == 0xC2 && p[1] < 0xA0)
				fail("a C1 control character in quoted text", s, len);
			if (client == PG_LATIN1 && (l > 2 || p[0] > 0xC3))
				fail("a character LATIN1 lacks in quoted text", s, len);
		}
		if (server == PG_LATIN1 && *p >= 0x80 && *p < 0xA0)
			fail("a C1 control character in quoted text", s, len);
		p += l;
		units++;
	}
	/* a key is 9 characters for one unit; "..." adds 3 */
	if (units > 9 * max + 3)
		fail("quoted text too long", s, len);
}

/* A failed request with this body and Retry-After, reported. */
static void
check_report(const char *retry_after, const char *body, size_t len, long status)
{
	QuoFdwOptions opts;
	QuoHttpResult res;
	sigjmp_buf	jmp;

	memset(&opts, 0, sizeof(opts));
	opts.server_name = "fuzz";
	opts.base_url = "http://127.0.0.1:9";
	opts.api_key = KEY;
	memset(&res, 0, sizeof(res));
	res.status = status;
	res.body = body;
	res.body_len = len;
	res.retry_after = retry_after;
	res.attempts = 2;
	res.gave_up = psprintf("The API asked to retry after %s seconds, longer than quo_fdw waits.",
						   retry_after);

	if (quo_is_missing_object(quo_endpoint_by_name("calls"), &res) && status != 404)
		abort();
	if (sigsetjmp(jmp, 0) == 0)
	{
		fuzz_error_jmp = &jmp;
		quo_report_http_failure(&opts, "/v1/calls/AC1", &res);
		abort();				/* it never returns */
	}
	fuzz_error_jmp = NULL;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *) data;
	const char *nl = memchr(in, '\n', size);
	size_t		hlen = nl ? (size_t) (nl - in) : size;
	const char *body = nl ? nl + 1 : in;
	size_t		blen = nl ? size - hlen - 1 : size;
	char	   *header;
	char	   *body_z;
	size_t		max;

	/* the header as libcurl hands it over: NUL-terminated, cut at a NUL */
	header = palloc(hlen + 1);
	memcpy(header, in, hlen);
	header[hlen] = '\0';
	check_retry_after(header);

	/* the body as http.c keeps it: NUL-terminated after body_len bytes */
	body_z = palloc(blen + 1);
	memcpy(body_z, body, blen);
	body_z[blen] = '\0';
	max = 1 + (blen ? (unsigned char) body[0] : 0) % 320;
	check_quote(body_z, blen, max, PG_UTF8, PG_UTF8);
	check_quote(body_z, blen, max, PG_UTF8, PG_LATIN1);
	check_quote(body_z, blen, max, PG_LATIN1, PG_LATIN1);

	check_report(header, body_z, blen, 404);
	check_report(header, body_z, blen, 502);

	fuzz_arena_reset();
	return 0;
}
