/*-------------------------------------------------------------------------
 * http.c
 *		libcurl inside a backend: one multi handle per backend (so
 *		connections are reused across pages and scans), requests started
 *		and awaited through it, interrupts honoured while waiting.
 *
 * Built on the multi interface from the start so a scan can keep several
 * requests in flight (id lookups today, per-conversation fetches later).
 *
 * Memory: curl's own memory, and each request's buffers, are malloc'd, not
 * palloc'd: they are touched from inside curl callbacks, where a palloc
 * failure's longjmp would leave curl in an undefined state.  Whoever starts
 * a request releases it, on every path: scans do it from a memory context
 * callback, so an ERROR or cancel mid-request leaks nothing.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <curl/curl.h>

#include "access/xact.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "utils/timestamp.h"

#include "quo_fdw.h"

/* A response larger than this is refused (a page is at most 100 objects). */
#define QUO_MAX_RESPONSE_BYTES (64 * 1024 * 1024)

/* How long one wait for socket activity may last, so interrupts are seen. */
#define QUO_POLL_MS 100


struct QuoHttpRequest
{
	CURL	   *easy;			/* curl's handle */
	struct curl_slist *headers; /* request headers (hold the key) */
	bool		attached;		/* added to the multi handle */
	bool		done;			/* transfer finished (well or not) */
	char	   *body;			/* response body, malloc'd */
	size_t		body_len;
	size_t		body_cap;
	bool		too_large;		/* body exceeded QUO_MAX_RESPONSE_BYTES */
	char	   *content_type;	/* malloc'd header value */
	char	   *retry_after;	/* malloc'd header value */
	char		errbuf[CURL_ERROR_SIZE];	/* curl's message */
	QuoHttpResult result;		/* filled when done */
};

static CURLM *quo_multi = NULL;

/* Called once per backend from _PG_init. */
void
quo_http_init(void)
{
	CURLcode	rc = curl_global_init(CURL_GLOBAL_ALL);

	if (rc != CURLE_OK)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
				 errmsg("could not initialize libcurl: %s", curl_easy_strerror(rc))));
}

/* The backend's multi handle, made on first use. */
static CURLM *
get_multi(void)
{
	if (quo_multi == NULL)
	{
		quo_multi = curl_multi_init();
		if (quo_multi == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_OUT_OF_MEMORY),
					 errmsg("could not create a libcurl multi handle")));
		curl_multi_setopt(quo_multi, CURLMOPT_MAXCONNECTS, 8L);
	}
	return quo_multi;
}

/* curl write callback: append to the body, refusing oversized responses. */
static size_t
write_cb(char *data, size_t size, size_t nmemb, void *userp)
{
	QuoHttpRequest *req = userp;
	size_t		n = size * nmemb;

	if (req->body_len + n + 1 > QUO_MAX_RESPONSE_BYTES)
	{
		req->too_large = true;
		return 0;
	}
	if (req->body_len + n + 1 > req->body_cap)
	{
		size_t		cap = Max(req->body_cap * 2, req->body_len + n + 1);
		char	   *nb;

		cap = Max(cap, 16384);
		nb = realloc(req->body, cap);
		if (nb == NULL)
			return 0;
		req->body = nb;
		req->body_cap = cap;
	}
	memcpy(req->body + req->body_len, data, n);
	req->body_len += n;
	req->body[req->body_len] = '\0';
	return n;
}

/* A copy of a header's value with surrounding blanks removed (malloc'd). */
static char *
header_value(const char *line, size_t len, size_t namelen)
{
	const char *v = line + namelen;
	const char *end = line + len;
	char	   *out;

	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
		end--;
	out = malloc(end - v + 1);
	if (out)
	{
		memcpy(out, v, end - v);
		out[end - v] = '\0';
	}
	return out;
}

/* curl header callback: keep Content-Type and Retry-After of the last response. */
static size_t
header_cb(char *line, size_t size, size_t nitems, void *userp)
{
	QuoHttpRequest *req = userp;
	size_t		len = size * nitems;

	if (len >= 5 && strncmp(line, "HTTP/", 5) == 0)
	{
		/* a new response (after 100 Continue or a retry): forget the old */
		free(req->content_type);
		free(req->retry_after);
		req->content_type = req->retry_after = NULL;
	}
	else if (len > 13 && pg_strncasecmp(line, "content-type:", 13) == 0)
	{
		free(req->content_type);
		req->content_type = header_value(line, len, 13);
	}
	else if (len > 12 && pg_strncasecmp(line, "retry-after:", 12) == 0)
	{
		free(req->retry_after);
		req->retry_after = header_value(line, len, 12);
	}
	return len;
}

/* Free a request's memory; the key in its headers is wiped first. */
static void
free_request(QuoHttpRequest *req)
{
	for (struct curl_slist *h = req->headers; h; h = h->next)
		explicit_bzero(h->data, strlen(h->data));
	curl_slist_free_all(req->headers);
	if (req->easy)
		curl_easy_cleanup(req->easy);
	free(req->body);
	free(req->content_type);
	free(req->retry_after);
	free(req);
}

/*
 * Start GET base_url + target.  The request runs while the caller waits on
 * it (or on any other request): nothing blocks here.
 */
QuoHttpRequest *
quo_http_start(const QuoFdwOptions *opts, const char *target)
{
	CURLM	   *multi = get_multi();
	QuoHttpRequest *req = calloc(1, sizeof(QuoHttpRequest));
	char	   *url;
	char	   *auth;
	bool		ok = true;

	if (req == NULL || (req->easy = curl_easy_init()) == NULL)
	{
		free(req);
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OUT_OF_MEMORY),
				 errmsg("could not create a libcurl handle")));
	}

	url = psprintf("%s%s", opts->base_url, target);
	auth = psprintf("Authorization: %s", opts->api_key ? opts->api_key : "");
	req->headers = curl_slist_append(req->headers, auth);
	explicit_bzero(auth, strlen(auth));
	pfree(auth);
	if (req->headers)
		req->headers = curl_slist_append(req->headers, "Accept: application/json");

	ok = req->headers != NULL &&
		curl_easy_setopt(req->easy, CURLOPT_URL, url) == CURLE_OK &&
		curl_easy_setopt(req->easy, CURLOPT_HTTPGET, 1L) == CURLE_OK &&
		curl_easy_setopt(req->easy, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
		curl_easy_setopt(req->easy, CURLOPT_HTTPHEADER, req->headers) == CURLE_OK &&
		curl_easy_setopt(req->easy, CURLOPT_USERAGENT, "quo_fdw/" QUO_FDW_VERSION) == CURLE_OK &&
		curl_easy_setopt(req->easy, CURLOPT_ACCEPT_ENCODING, "") == CURLE_OK &&
		curl_easy_setopt(req->easy, CURLOPT_CONNECTTIMEOUT_MS, (long) opts->connect_timeout_ms) == CURLE_OK &&
		curl_easy_setopt(req->easy, CURLOPT_TIMEOUT_MS, (long) opts->request_timeout_ms) == CURLE_OK &&
		curl_easy_setopt(req->easy, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK &&
		curl_easy_setopt(req->easy, CURLOPT_TCP_KEEPALIVE, 1L) == CURLE_OK &&
		curl_easy_setopt(req->easy, CURLOPT_WRITEFUNCTION, write_cb) == CURLE_OK &&
		curl_easy_setopt(req->easy, CURLOPT_WRITEDATA, req) == CURLE_OK &&
		curl_easy_setopt(req->easy, CURLOPT_HEADERFUNCTION, header_cb) == CURLE_OK &&
		curl_easy_setopt(req->easy, CURLOPT_HEADERDATA, req) == CURLE_OK &&
		curl_easy_setopt(req->easy, CURLOPT_ERRORBUFFER, req->errbuf) == CURLE_OK &&
		curl_easy_setopt(req->easy, CURLOPT_PRIVATE, req) == CURLE_OK &&
		curl_easy_setopt(req->easy, CURLOPT_VERBOSE, 0L) == CURLE_OK;
#if LIBCURL_VERSION_NUM >= 0x075500
	ok = ok && curl_easy_setopt(req->easy, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK;
#else
	ok = ok && curl_easy_setopt(req->easy, CURLOPT_PROTOCOLS, (long) (CURLPROTO_HTTP | CURLPROTO_HTTPS)) == CURLE_OK;
#endif
	pfree(url);

	if (!ok || curl_multi_add_handle(multi, req->easy) != CURLM_OK)
	{
		free_request(req);
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_CREATE_EXECUTION),
				 errmsg("could not set up a request to the Quo API")));
	}
	req->attached = true;
	return req;
}

/* Record the outcome of a finished transfer and detach it. */
static void
finish(QuoHttpRequest *req, CURLcode code)
{
	curl_off_t	dl = 0;
	long		hdr = 0;

	req->done = true;
	req->result.curl_code = (int) code;
	req->result.curl_error = req->errbuf[0] ? req->errbuf : curl_easy_strerror(code);
	if (req->too_large)
		req->result.curl_error = "response larger than 64 MB";
	curl_easy_getinfo(req->easy, CURLINFO_RESPONSE_CODE, &req->result.status);
	curl_easy_getinfo(req->easy, CURLINFO_SIZE_DOWNLOAD_T, &dl);
	curl_easy_getinfo(req->easy, CURLINFO_HEADER_SIZE, &hdr);
	req->result.bytes = (size_t) dl + (size_t) hdr;
	req->result.body = req->body ? req->body : "";
	req->result.body_len = req->body_len;
	req->result.content_type = req->content_type;
	req->result.retry_after = req->retry_after;
	if (req->attached)
	{
		curl_multi_remove_handle(quo_multi, req->easy);
		req->attached = false;
	}
}

/* Run transfers until nothing more can be done without waiting. */
static void
drive(void)
{
	int			running = 0;
	int			left = 0;
	CURLMsg    *msg;
	CURLMcode	mc = curl_multi_perform(quo_multi, &running);

	if (mc != CURLM_OK)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("libcurl failed: %s", curl_multi_strerror(mc))));
	while ((msg = curl_multi_info_read(quo_multi, &left)) != NULL)
	{
		QuoHttpRequest *req = NULL;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **) &req);
		if (req)
			finish(req, msg->data.result);
	}
}

/*
 * Wait until req has finished, running every transfer in flight meanwhile.
 * A query cancel or statement_timeout interrupts within QUO_POLL_MS.
 */
void
quo_http_wait(QuoHttpRequest *req)
{
	for (;;)
	{
		int			nfds = 0;

		CHECK_FOR_INTERRUPTS();
		drive();
		if (req->done)
			return;
#if LIBCURL_VERSION_NUM >= 0x074200
		curl_multi_poll(quo_multi, NULL, 0, QUO_POLL_MS, &nfds);
#else
		curl_multi_wait(quo_multi, NULL, 0, QUO_POLL_MS, &nfds);
#endif
	}
}

/* The outcome of a finished request. */
const QuoHttpResult *
quo_http_result(QuoHttpRequest *req)
{
	Assert(req->done);
	return &req->result;
}

/* Detach (if still running) and free a request.  NULL is allowed. */
void
quo_http_release(QuoHttpRequest *req)
{
	if (req == NULL)
		return;
	if (req->attached && quo_multi != NULL)
		curl_multi_remove_handle(quo_multi, req->easy);
	req->attached = false;
	free_request(req);
}

/* Milliseconds left before statement_timeout fires, or -1 when none is set. */
static int64
statement_time_left_ms(void)
{
	TimestampTz deadline;

	if (StatementTimeout <= 0)
		return -1;
	deadline = TimestampTzPlusMilliseconds(GetCurrentStatementStartTimestamp(), StatementTimeout);
	return Max(0, (deadline - GetCurrentTimestamp()) / 1000);
}

/*
 * GET target, retrying 429, 500, 502, 503, 504, lost connections and
 * timeouts up to opts->max_retries times with exponential backoff and
 * jitter, honouring Retry-After, and never waiting past statement_timeout.
 * Every attempt first waits for the rate limit.  A first attempt the caller
 * already started (one of several in flight) may be passed as started.  The
 * request in flight is kept in *slot so the caller can release it on any
 * error path; the last attempt is returned, finished, whatever its outcome.
 */
QuoHttpRequest *
quo_http_fetch(const QuoFdwOptions *opts, const char *target,
			   QuoHttpRequest *started, QuoHttpRequest **slot, QuoFetchStats *stats)
{
	for (int attempt = 1;; attempt++)
	{
		QuoHttpRequest *req;
		int64		wait_ms,
					asked,
					left;

		if (attempt == 1 && started != NULL)
			req = *slot = started;	/* started ahead, already rate limited */
		else
		{
			quo_rate_acquire(opts->api_key, opts->rate_limit, &stats->throttled_usecs);
			req = *slot = quo_http_start(opts, target);
		}
		quo_http_wait(req);
		stats->requests++;
		stats->bytes += req->result.bytes;
		req->result.attempts = attempt;

		if (!quo_retry_is_retryable(&req->result) || attempt > opts->max_retries)
			return req;

		asked = req->result.status == 429 || req->result.status == 503 ?
			quo_retry_after_ms(req->result.retry_after, time(NULL)) : -1;
		if (asked > QUO_RETRY_AFTER_MAX_MS)
		{
			req->result.gave_up = psprintf("The API asked to retry after %s seconds, longer than quo_fdw waits.",
										   req->result.retry_after);
			return req;
		}
		wait_ms = asked >= 0 ? asked : quo_backoff_ms(attempt, quo_random_fraction());
		left = statement_time_left_ms();
		if (left >= 0 && wait_ms >= left)
		{
			req->result.gave_up = "Waiting to retry would outlast statement_timeout.";
			return req;
		}

		quo_http_release(req);
		*slot = NULL;
		stats->retries++;
		quo_sleep_usecs(wait_ms * 1000);
	}
}
