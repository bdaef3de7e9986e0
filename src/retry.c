/*-------------------------------------------------------------------------
 * retry.c
 *		The retry policy: which finished requests are worth trying again,
 *		how long a Retry-After header asks to wait, and the backoff delay.
 *
 * Pure functions of their arguments (no I/O, no clock but the one passed
 * in), so the fuzz targets can drive them with arbitrary header values.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include <curl/curl.h>

#include "quo_fdw.h"

/* Whether a finished GET is worth trying again. */
bool
quo_retry_is_retryable(const QuoHttpResult *res)
{
	switch (res->curl_code)
	{
		case CURLE_OK:
			break;
		case CURLE_OPERATION_TIMEDOUT:
		case CURLE_RECV_ERROR:
		case CURLE_SEND_ERROR:
		case CURLE_GOT_NOTHING:
		case CURLE_PARTIAL_FILE:
			return true;
		default:
			/* refused connections, DNS, TLS: trying again will not help */
			return false;
	}
	return res->status == 429 || res->status == 500 || res->status == 502 ||
		res->status == 503 || res->status == 504;
}

/* An ASCII digit, whatever the locale. */
static inline bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Past a run of one or more digits at p, or NULL when p is not at one. */
static const char *
skip_digits(const char *p)
{
	if (!is_digit(*p))
		return NULL;
	while (is_digit(*p))
		p++;
	return p;
}

/*
 * Whether s is a number of seconds quo_fdw reads: digits, as RFC 9110's
 * delta-seconds, optionally with a fraction and an exponent ("1.5",
 * "1e300"), which some servers send and which say more than a blind
 * backoff would.  No sign, no "inf" or "nan", no hex; nothing after it
 * but spaces and tabs.
 */
static bool
is_seconds(const char *s)
{
	const char *p = skip_digits(s);

	if (p != NULL && *p == '.')
		p = skip_digits(p + 1);
	if (p != NULL && (*p == 'e' || *p == 'E'))
	{
		p++;
		if (*p == '+' || *p == '-')
			p++;
		p = skip_digits(p);
	}
	if (p == NULL)
		return false;
	while (*p == ' ' || *p == '\t')
		p++;
	return *p == '\0';
}

/*
 * A wait in seconds as milliseconds: at least 0, rounded up, and
 * QUO_RETRY_AFTER_MAX_MS + 1 for anything longer than quo_fdw waits (an
 * infinity from an overflowing strtod included), so a huge value never
 * reaches an integer conversion.  NaN, which the callers cannot produce,
 * would be unreadable (-1).
 */
static int64
seconds_to_ms(double secs)
{
	double		ms = secs * 1000.0;

	if (isnan(ms))
		return -1;
	if (ms <= 0)
		return 0;
	if (ms > (double) QUO_RETRY_AFTER_MAX_MS)
		return QUO_RETRY_AFTER_MAX_MS + 1;
	return (int64) ceil(ms);
}

/*
 * Milliseconds a Retry-After header asks to wait, relative to now: 0 for a
 * date in the past, QUO_RETRY_AFTER_MAX_MS + 1 for any wait longer than
 * quo_fdw honours, -1 when absent or unreadable (the caller then backs off
 * with jitter).  Delta-seconds as is_seconds() reads them; an HTTP-date
 * (all three RFC 9110 forms start with a day name) through curl_getdate.
 */
int64
quo_retry_after_ms(const char *value, time_t now)
{
	time_t		when;

	if (value == NULL)
		return -1;
	while (*value == ' ' || *value == '\t')
		value++;
	if (is_digit(*value))
		return is_seconds(value) ? seconds_to_ms(strtod(value, NULL)) : -1;
	if (!((*value >= 'a' && *value <= 'z') || (*value >= 'A' && *value <= 'Z')))
		return -1;
	when = curl_getdate(value, NULL);
	if (when == (time_t) -1)
		return -1;
	return seconds_to_ms(difftime(when, now));
}

/*
 * Exponential backoff with jitter: a delay in [d/2, d] for
 * d = base * 2^(attempt-1), capped; jitter is a number in [0, 1).
 */
int64
quo_backoff_ms(int attempt, double jitter)
{
	int64		d = QUO_BACKOFF_BASE_MS;

	for (int i = 1; i < attempt && d < QUO_BACKOFF_CAP_MS; i++)
		d *= 2;
	d = Min(d, QUO_BACKOFF_CAP_MS);
	return d / 2 + (int64) (jitter * (double) (d / 2));
}
