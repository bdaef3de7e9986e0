/*-------------------------------------------------------------------------
 * http.c
 *		libcurl inside a backend: one multi handle per backend (so
 *		connections are reused across pages and scans), requests started on
 *		it, and the one wait of quo_fdw: a latch-based wait on curl's
 *		sockets and timer, the process latch (cancel, statement_timeout) and
 *		postmaster death, with a wait event shown in pg_stat_activity.
 *
 * curl tells us which sockets it wants watched (CURLMOPT_SOCKETFUNCTION)
 * and when it next needs to run (CURLMOPT_TIMERFUNCTION); each wait builds
 * a WaitEventSet from that, so every sleep of a scan (the rate limit, a
 * backoff, a Retry-After) keeps every transfer in flight moving.
 *
 * Memory: curl's own memory, and each request's buffers, are malloc'd, not
 * palloc'd: they are touched from inside curl callbacks, where a palloc
 * failure's longjmp would leave curl in an undefined state.  Whoever starts
 * a request releases it, on every path: the fetcher (fetch.c) owns every
 * request from the moment it exists, and is released from a memory context
 * callback, so an ERROR or cancel mid-request leaks nothing.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <curl/curl.h>
#include <sys/stat.h>

#include "miscadmin.h"
#include "storage/latch.h"
#include "utils/memutils.h"

#include "quo_fdw.h"

/* A response larger than this is refused (a page is at most 100 objects). */
#define QUO_MAX_RESPONSE_BYTES (64 * 1024 * 1024)


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

/* A socket curl wants watched, and for what (CURL_POLL_IN/OUT/INOUT). */
typedef struct QuoSocket
{
	curl_socket_t fd;
	int			what;
} QuoSocket;

static CURLM *quo_multi = NULL;
static QuoSocket *quo_sockets = NULL;	/* malloc'd: written inside curl */
static int	quo_nsockets = 0;
static int	quo_sockets_cap = 0;
static int64 quo_timer_at = -1;	/* when curl next needs to run, or -1 */
static int	quo_live_requests = 0;	/* made and not yet freed */

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

/* CURLMOPT_SOCKETFUNCTION: remember which sockets to watch for what. */
static int
socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	int			i;

	(void) easy;
	(void) userp;
	(void) socketp;
	for (i = 0; i < quo_nsockets; i++)
		if (quo_sockets[i].fd == fd)
			break;
	if (what == CURL_POLL_REMOVE)
	{
		if (i < quo_nsockets)
			quo_sockets[i] = quo_sockets[--quo_nsockets];
		return 0;
	}
	if (i == quo_nsockets)
	{
		if (quo_nsockets == quo_sockets_cap)
		{
			int			cap = Max(16, quo_sockets_cap * 2);
			QuoSocket  *n = realloc(quo_sockets, sizeof(QuoSocket) * cap);

			if (n == NULL)
				return -1;
			quo_sockets = n;
			quo_sockets_cap = cap;
		}
		quo_sockets[quo_nsockets++].fd = fd;
	}
	quo_sockets[i].what = what;
	return 0;
}

/* CURLMOPT_TIMERFUNCTION: when curl next needs to run (-1: no timer). */
static int
timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	(void) multi;
	(void) userp;
	quo_timer_at = timeout_ms < 0 ? -1 : quo_monotonic_usecs() + (int64) timeout_ms * 1000;
	return 0;
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
		curl_multi_setopt(quo_multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
		curl_multi_setopt(quo_multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	}
	return quo_multi;
}

/*
 * The body buffer of the last request freed, kept for the next response
 * (up to 4 MB): a scan's pages are of one size, so the next page is
 * written without a realloc or a copy.
 */
#define QUO_SPARE_BODY_MAX (4 * 1024 * 1024)
static char *spare_body = NULL;
static size_t spare_cap = 0;

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
	if (req->body == NULL && spare_body != NULL)
	{
		req->body = spare_body;
		req->body_cap = spare_cap;
		spare_body = NULL;
		spare_cap = 0;
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

/*
 * Easy handles of finished requests, kept for the next ones: making a
 * handle (curl_easy_init) costs some microseconds of allocation, a few
 * percent of a page's CPU.  A kept handle has its options reset
 * (curl_easy_reset) and is detached from the multi handle; the
 * connections stay in the multi handle's cache either way.
 */
#define QUO_EASY_POOL 16
static CURL *easy_pool[QUO_EASY_POOL];
static int	easy_pooled = 0;

static CURL *
easy_take(void)
{
	if (easy_pooled > 0)
		return easy_pool[--easy_pooled];
	return curl_easy_init();
}

static void
easy_give_back(CURL *easy)
{
	if (easy_pooled < QUO_EASY_POOL)
	{
		curl_easy_reset(easy);
		easy_pool[easy_pooled++] = easy;
	}
	else
		curl_easy_cleanup(easy);
}

/* Free a request's memory; the key in its headers is wiped first. */
static void
free_request(QuoHttpRequest *req)
{
	for (struct curl_slist *h = req->headers; h; h = h->next)
		explicit_bzero(h->data, strlen(h->data));
	curl_slist_free_all(req->headers);
	if (req->easy)
		easy_give_back(req->easy);
	if (req->body != NULL && req->body_cap <= QUO_SPARE_BODY_MAX && req->body_cap > spare_cap)
	{
		free(spare_body);
		spare_body = req->body;
		spare_cap = req->body_cap;
	}
	else
		free(req->body);
	free(req->content_type);
	free(req->retry_after);
	free(req);
	quo_live_requests--;
}

/* Requests made and not yet released in this backend (a leak detector). */
int
quo_http_live_requests(void)
{
	return quo_live_requests;
}

/*
 * Start GET base_url + target, with a Quo-Api-Version header when
 * api_version is set (the dated API generation).  The request runs while
 * the caller waits on it (or on any other request): nothing blocks here.
 */
/* Append s to a request's headers; false, the list kept, when out of memory. */
static bool
add_header(QuoHttpRequest *req, const char *s)
{
	struct curl_slist *l = curl_slist_append(req->headers, s);

	if (l == NULL)
		return false;
	req->headers = l;
	return true;
}

QuoHttpRequest *
quo_http_start(const QuoFdwOptions *opts, const char *target, const char *api_version)
{
	CURLM	   *multi = get_multi();
	/* palloc'd before the malloc'd request, so an ERROR here leaks nothing */
	char	   *url = psprintf("%s%s", opts->base_url, target);
	char	   *auth = psprintf("Authorization: %s", opts->api_key ? opts->api_key : "");
	char		version[128];
	QuoHttpRequest *req = calloc(1, sizeof(QuoHttpRequest));
	bool		ok = true;

	if (req == NULL || (req->easy = easy_take()) == NULL)
	{
		free(req);
		explicit_bzero(auth, strlen(auth));
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OUT_OF_MEMORY),
				 errmsg("could not create a libcurl handle")));
	}
	quo_live_requests++;

	ok = add_header(req, auth);
	explicit_bzero(auth, strlen(auth));
	pfree(auth);
	ok = ok && add_header(req, "Accept: application/json");
	if (ok && api_version)
	{
		snprintf(version, sizeof(version), "Quo-Api-Version: %s", api_version);
		ok = add_header(req, version);
	}

	ok = ok &&
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

/* Record every transfer curl reports finished. */
static void
collect_finished(void)
{
	int			left = 0;
	CURLMsg    *msg;

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

/* Let curl act on a socket (or, with CURL_SOCKET_TIMEOUT, on its timer). */
static void
act(curl_socket_t fd, int flags)
{
	int			running = 0;
	CURLMcode	mc = curl_multi_socket_action(quo_multi, fd, flags, &running);

	if (mc != CURLM_OK)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("libcurl failed: %s", curl_multi_strerror(mc))));
}

/*
 * The wait set of quo_http_wait, kept from one wait to the next: making
 * one costs an epoll descriptor and a system call per event, and closing
 * it more (a few percent of a page's CPU).  It holds the latch, the
 * postmaster's death and the sockets curl watches; it is made again when
 * those sockets are other ones, and a socket's events are changed in place.
 * A socket is the same one when its descriptor still names the same open
 * socket (fstat's device and inode): curl may close a connection and open
 * another that gets the same number, which the epoll set no longer holds.
 * It lives in TopMemoryContext, with no resource owner, for the backend's
 * life.
 */
typedef struct WaitSetSocket
{
	curl_socket_t fd;
	uint32		events;
	int			pos;
	dev_t		dev;
	ino_t		ino;
} WaitSetSocket;

static WaitEventSet *wait_set = NULL;
static WaitSetSocket *wait_set_socks = NULL;	/* in TopMemoryContext */
static int	wait_set_nsocks = 0;

static uint32
socket_events(int what)
{
	uint32		ev = 0;

	if (what & CURL_POLL_IN)
		ev |= WL_SOCKET_READABLE;
	if (what & CURL_POLL_OUT)
		ev |= WL_SOCKET_WRITEABLE;
	return ev;
}

static bool
same_socket(const WaitSetSocket *w)
{
	struct stat st;

	return fstat(w->fd, &st) == 0 && st.st_dev == w->dev && st.st_ino == w->ino;
}

/* The kept set if it holds the sockets curl watches now, else NULL. */
static WaitEventSet *
kept_wait_set(void)
{
	int			nwanted = 0;

	if (wait_set == NULL)
		return NULL;
	for (int i = 0; i < quo_nsockets; i++)
	{
		uint32		ev = socket_events(quo_sockets[i].what);
		int			j;

		if (ev == 0)
			continue;
		nwanted++;
		for (j = 0; j < wait_set_nsocks; j++)
			if (wait_set_socks[j].fd == quo_sockets[i].fd)
				break;
		if (j == wait_set_nsocks || !same_socket(&wait_set_socks[j]))
			return NULL;
	}
	if (nwanted != wait_set_nsocks)
		return NULL;
	/* the same sockets: change what they are watched for */
	for (int i = 0; i < quo_nsockets; i++)
	{
		uint32		ev = socket_events(quo_sockets[i].what);

		if (ev == 0)
			continue;
		for (int j = 0; j < wait_set_nsocks; j++)
			if (wait_set_socks[j].fd == quo_sockets[i].fd && wait_set_socks[j].events != ev)
			{
				ModifyWaitEvent(wait_set, wait_set_socks[j].pos, ev, NULL);
				wait_set_socks[j].events = ev;
			}
	}
	return wait_set;
}

/* The wait set for the sockets curl watches now: the kept one, or a new one. */
static WaitEventSet *
wait_set_for_sockets(void)
{
	WaitEventSet *set = kept_wait_set();

	if (set != NULL)
		return set;
	if (wait_set != NULL)
		FreeWaitEventSet(wait_set);
	wait_set = NULL;
	if (wait_set_socks != NULL)
		pfree(wait_set_socks);
	wait_set_socks = NULL;
	wait_set_nsocks = 0;

	wait_set_socks = MemoryContextAlloc(TopMemoryContext,
										sizeof(WaitSetSocket) * Max(quo_nsockets, 1));
	set = quo_create_persistent_wait_event_set(2 + quo_nsockets);
	PG_TRY();
	{
		AddWaitEventToSet(set, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
		if (IsUnderPostmaster)	/* not in single-user mode */
			AddWaitEventToSet(set, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, NULL, NULL);
		for (int i = 0; i < quo_nsockets; i++)
		{
			uint32		ev = socket_events(quo_sockets[i].what);
			WaitSetSocket *w = &wait_set_socks[wait_set_nsocks];
			struct stat st;

			if (ev == 0)
				continue;
			if (fstat(quo_sockets[i].fd, &st) != 0)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_ERROR),
						 errmsg("could not inspect a socket of libcurl: %m")));
			w->fd = quo_sockets[i].fd;
			w->events = ev;
			w->dev = st.st_dev;
			w->ino = st.st_ino;
			w->pos = AddWaitEventToSet(set, ev, w->fd, NULL, NULL);
			wait_set_nsocks++;
		}
	}
	PG_CATCH();
	{
		FreeWaitEventSet(set);
		wait_set_nsocks = 0;
		PG_RE_THROW();
	}
	PG_END_TRY();
	wait_set = set;
	return set;
}

/*
 * The one wait of quo_fdw: sleep until a socket of a transfer in flight is
 * ready, curl's timer is due, until (quo_monotonic_usecs() time; -1 for
 * none) comes, the latch is set (a cancel, statement_timeout) or the
 * postmaster dies; then let curl run and record finished transfers.
 * Shown in pg_stat_activity as wait_event.  Returns after one wake-up:
 * callers loop until what they wait for has happened.
 */
void
quo_http_wait(int64 until, uint32 wait_event)
{
	int64		now = quo_monotonic_usecs();
	int64		deadline = until;
	long		timeout_ms;
	WaitEventSet *set;
	WaitEvent  *events;
	int			nevents = 2 + quo_nsockets;
	int			n = 0;

	if (quo_timer_at >= 0 && (deadline < 0 || quo_timer_at < deadline))
		deadline = quo_timer_at;
	timeout_ms = deadline < 0 ? -1 : (long) Max(0, (deadline - now + 999) / 1000);

	/*
	 * curl's timer is due (it is, once per request, as a transfer starts):
	 * run it without a look at the sockets, which would cost system calls
	 * and find nothing; the next wait looks.  Interrupts are checked as
	 * after any wait; a latch set meanwhile wakes the next wait.
	 */
	if (quo_timer_at >= 0 && now >= quo_timer_at)
	{
		quo_timer_at = -1;
		act(CURL_SOCKET_TIMEOUT, 0);
		collect_finished();
		CHECK_FOR_INTERRUPTS();
		return;
	}
	events = palloc(sizeof(WaitEvent) * nevents);
	set = wait_set_for_sockets();
	n = WaitEventSetWait(set, timeout_ms, events, nevents, wait_event);

	for (int i = 0; i < n; i++)
	{
		int			flags = 0;

		if (events[i].events & WL_LATCH_SET)
		{
			ResetLatch(MyLatch);
			continue;
		}
		if (events[i].events & WL_SOCKET_READABLE)
			flags |= CURL_CSELECT_IN;
		if (events[i].events & WL_SOCKET_WRITEABLE)
			flags |= CURL_CSELECT_OUT;
		if (flags != 0)
			act(events[i].fd, flags);
	}
	pfree(events);
	if (quo_timer_at >= 0 && quo_monotonic_usecs() >= quo_timer_at)
	{
		quo_timer_at = -1;		/* one-shot: curl sets it again as needed */
		act(CURL_SOCKET_TIMEOUT, 0);
	}
	collect_finished();
	CHECK_FOR_INTERRUPTS();
}

/* Whether a request has finished (well or not). */
bool
quo_http_done(QuoHttpRequest *req)
{
	return req->done;
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
