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

/*
 * Milliseconds a Retry-After header asks for (delta-seconds or an
 * HTTP-date, relative to now), or -1 when absent or unreadable.
 */
int64
quo_retry_after_ms(const char *value, time_t now)
{
	char	   *end;
	double		secs;
	time_t		when;

	if (value == NULL || *value == '\0')
		return -1;
	secs = strtod(value, &end);
	if (end != value && *end == '\0')
		return secs < 0 ? 0 : (int64) (secs * 1000.0);
	when = curl_getdate(value, NULL);
	if (when == (time_t) -1)
		return -1;
	secs = difftime(when, now);
	return secs < 0 ? 0 : (int64) (secs * 1000.0);
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
