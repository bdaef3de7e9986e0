/*-------------------------------------------------------------------------
 * fetch.c
 *		The fetcher: the GETs of one scan, each with its retries, started on
 *		the backend's one multi handle under the rate limit, at most
 *		max_in_flight at once, and driven by one wait loop.
 *
 * A scan submits the requests it will need (the page it needs now first,
 * then any it may start ahead) and awaits them one at a time.  While it
 * awaits one, every other submitted request moves too: queued ones start
 * as rate-limit slots come, failed ones are retried after their backoff,
 * and transfers in flight keep running during every sleep, because every
 * sleep is the same wait on curl's sockets and timer (quo_http_wait).
 *
 * A request belongs to the fetcher from submission to release, so a
 * cancel or ERROR at any point (even while waiting for a rate-limit slot)
 * leaves nothing behind once the fetcher is reset; the scan resets it from
 * a memory context callback.
 *
 * Every attempt is counted in the statistics (stats.c) where it starts
 * (try_start) and where it ends (attempt_finished).
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "fmgr.h"
#include "lib/ilist.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "utils/timestamp.h"

#include "quo_fdw.h"

/*
 * Quo API requests this backend has started, every attempt counted (what
 * quo_fdw.requests_sent() returns: the mirror's refresh reports and budgets
 * its requests with it).
 */
static int64 quo_requests_sent = 0;

PG_FUNCTION_INFO_V1(quo_fdw_requests_sent);

/* One GET and its retries. */
struct QuoFetch
{
	dlist_node	node;			/* in QuoFetcher.fetches, submission order */
	char	   *target;			/* path and query (fetcher's context) */
	const char *api_version;	/* Quo-Api-Version (an endpoint's, static) */
	int			attempt;		/* attempts started so far */
	bool		reserved;		/* a rate-limit slot is reserved at start_at */
	int64		start_at;		/* the reserved slot (monotonic usecs) */
	int64		not_before;		/* backoff: no new attempt before this */
	int64		throttled;		/* rate-limit wait given to the next attempt
								 * (usecs), for the statistics */
	QuoHttpRequest *req;		/* the attempt running or finished, or NULL */
	bool		running;		/* req is in flight */
	bool		done;			/* req holds the final outcome */
};

/*
 * The requests of the statement running: every scan, rescan and join node
 * of it, and of the queries its functions run, which quo_fdw.max_requests
 * bounds as a whole.  A statement is known by its start time
 * (statement_timestamp()): the counter starts again when that changes.
 */
typedef struct QuoQueryBudget
{
	TimestampTz statement;		/* the statement counted */
	int64		requests;		/* requests its fetchers have started */
} QuoQueryBudget;

static QuoQueryBudget statement_budget;

/* The budget, for the statement running now. */
static QuoQueryBudget *
current_budget(void)
{
	TimestampTz now = GetCurrentStatementStartTimestamp();

	if (statement_budget.statement != now)
	{
		statement_budget.statement = now;
		statement_budget.requests = 0;
	}
	return &statement_budget;
}

struct QuoFetcher
{
	const QuoFdwOptions *opts;	/* key, rate limit, retries, timeouts */
	int			max_in_flight;	/* most requests in flight at once */
	int			running;		/* requests in flight now */
	int			waiting;		/* fetches holding a rate-limit slot not yet come */
	QuoFetchStats *stats;		/* the scan's counters */
	const char *relname;		/* for the budget's error, or NULL: no budget */
	int64		stop_after;		/* start no request past this many of this
								 * fetcher's, 0: none (a clean stop, not an
								 * error: quo_fetcher_stop_after) */
	bool		stopped;		/* a request was held back by stop_after */
	MemoryContext cxt;			/* where fetches live */
	dlist_head	fetches;		/* QuoFetch, in submission order */
};

/*
 * A request must start within this long of its rate-limit slot, or it
 * takes a new slot: one sent late could share a second with the slots
 * after it.  Inside the 50 ms margin of the limiter's window (rate.c);
 * connection set-up after the start can still take longer, and the rare
 * 429 that then follows is retried.
 */
#define QUO_SLOT_LATE_USECS 20000

/* Wait events: waiting for the API, for a rate-limit slot, for a backoff. */
static uint32 wait_api = 0;
static uint32 wait_rate = 0;
static uint32 wait_backoff = 0;

/*
 * A fetcher for a scan or join node; its fetches live in cxt, its counters
 * go to stats, and its requests count towards the statement's
 * quo_fdw.max_requests.
 */
QuoFetcher *
quo_fetcher_create(const QuoFdwOptions *opts, int max_in_flight,
				   QuoFetchStats *stats, MemoryContext cxt)
{
	QuoFetcher *f = MemoryContextAllocZero(cxt, sizeof(QuoFetcher));
	f->opts = opts;
	f->max_in_flight = Max(1, max_in_flight);
	f->stats = stats;
	f->cxt = cxt;
	dlist_init(&f->fetches);
	if (wait_api == 0)
	{
		wait_api = quo_wait_event("QuoApiRequest");
		wait_rate = quo_wait_event("QuoRateLimit");
		wait_backoff = quo_wait_event("QuoRetryBackoff");
	}
	return f;
}

/*
 * Hold the requests of relname's scan to the query's quo_fdw.max_requests
 * from now on (not before: EXPLAIN without ANALYZE sends none).
 */
void
quo_fetcher_set_budget(QuoFetcher *f, const char *relname)
{
	f->relname = relname;
}

/*
 * Start no request past the n-th of this fetcher (0: no such stop): a
 * fetch that would need one is never started, and quo_fetch_await
 * returns NULL for it.  For work done in steps (the mirror), which ends
 * cleanly where the step's budget does, instead of with an ERROR.
 */
void
quo_fetcher_stop_after(QuoFetcher *f, int64 n)
{
	f->stop_after = n;
}

/* Whether a request was held back by quo_fetcher_stop_after. */
bool
quo_fetcher_stopped(const QuoFetcher *f)
{
	return f->stopped;
}

/* The requests the statement has started so far, all its scans counted. */
int64
quo_fetcher_query_requests(const QuoFetcher *f)
{
	(void) f;
	return current_budget()->requests;
}

/*
 * ERROR: the query needs at least needed requests in all, more than
 * quo_fdw.max_requests; raised before they are spent.  detail says which
 * table needs them and what for, hint how to need fewer.
 */
void
quo_check_budget(int64 needed, const char *detail, const char *hint)
{
	if (quo_max_requests <= 0 || needed <= quo_max_requests)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
			 errmsg("query needs at least " INT64_FORMAT " Quo API requests, more than quo_fdw.max_requests (%d)",
					needed, quo_max_requests),
			 errdetail_internal("%s", detail),
			 errhint("%s", hint)));
}

/*
 * Queue GET target (with a Quo-Api-Version header when api_version is set,
 * a string that outlives the fetch); nothing is sent until a fetch is
 * awaited.
 */
QuoFetch *
quo_fetch_submit(QuoFetcher *f, const char *target, const char *api_version)
{
	QuoFetch   *fetch = MemoryContextAllocZero(f->cxt, sizeof(QuoFetch));

	fetch->target = MemoryContextStrdup(f->cxt, target);
	fetch->api_version = api_version;
	dlist_push_tail(&f->fetches, &fetch->node);
	return fetch;
}

const char *
quo_fetch_target(const QuoFetch *fetch)
{
	return fetch->target;
}

/* Forget a fetch, stopping its transfer if it is still running. */
void
quo_fetch_release(QuoFetcher *f, QuoFetch *fetch)
{
	if (fetch == NULL)
		return;
	if (fetch->running)
		f->running--;
	if (fetch->reserved)
		f->waiting--;
	dlist_delete(&fetch->node);
	quo_http_release(fetch->req);
	pfree(fetch->target);
	pfree(fetch);
}

/* Release every fetch (end of scan, rescan, error). */
void
quo_fetcher_reset(QuoFetcher *f)
{
	dlist_mutable_iter it;

	dlist_foreach_modify(it, &f->fetches)
		quo_fetch_release(f, dlist_container(QuoFetch, node, it.cur));
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
 * Start fetch's next attempt if it may go now: a slot in flight is free,
 * its backoff is over, and its rate-limit slot has come (reserved here, in
 * the order fetches are considered; a missed slot was given up by the
 * caller).
 * Otherwise lower *wake_at to when it could go.
 */
static void
try_start(QuoFetcher *f, QuoFetch *fetch, int64 now, int64 *wake_at, bool *rate_wait)
{
	int64		wait;

	if (fetch->done || fetch->running || f->running >= f->max_in_flight)
		return;
	if (fetch->not_before > now)
	{
		*wake_at = Min(*wake_at, fetch->not_before);
		return;
	}
	if (!fetch->reserved)
	{
		/* a slot only for a fetch that can start when it comes */
		if (f->running + f->waiting >= f->max_in_flight)
			return;
		/*
		 * and not past the stop: a slot reserved for a request that never
		 * starts would hold back the requests that come after it, this
		 * backend's and every other's on the key
		 */
		if (f->stop_after > 0 && f->stats->requests + f->waiting >= f->stop_after)
			return;
		fetch->start_at = quo_rate_reserve(f->opts->api_key, f->opts->rate_limit, &wait);
		fetch->reserved = true;
		f->waiting++;
		f->stats->throttled_usecs += wait;
		fetch->throttled += wait;
	}
	if (fetch->start_at > now)
	{
		*wake_at = Min(*wake_at, fetch->start_at);
		*rate_wait = true;
		return;
	}
	if (f->stop_after > 0 && f->stats->requests >= f->stop_after)
	{
		/* cannot happen (slots are reserved within the budget): let it go */
		f->waiting--;
		fetch->reserved = false;
		return;
	}
	if (f->relname != NULL && quo_max_requests > 0 &&
		current_budget()->requests >= quo_max_requests)
		quo_check_budget(current_budget()->requests + 1,
						 psprintf("Foreign table \"%s\" needs another request for its next page or retry, after the " INT64_FORMAT " the query has made.",
								  f->relname, current_budget()->requests),
						 "Narrow the query, or raise quo_fdw.max_requests.");
	f->waiting--;
	fetch->reserved = false;
	fetch->req = quo_http_start(f->opts, fetch->target, fetch->api_version);
	fetch->running = true;
	fetch->attempt++;
	f->running++;
	f->stats->requests++;
	current_budget()->requests++;
	quo_requests_sent++;
	f->stats->peak_in_flight = Max(f->stats->peak_in_flight, f->running);
	if (fetch->attempt > 1)
		f->stats->retries++;
	quo_stats_request_started(f->opts, fetch->attempt > 1, fetch->throttled);
	fetch->throttled = 0;
}

/*
 * A running attempt has finished: keep it as the outcome, or schedule the
 * next attempt (429, 5xx, lost connections, timeouts; up to max_retries,
 * with exponential backoff and jitter, honouring Retry-After, never past
 * statement_timeout).
 */
static void
attempt_finished(QuoFetcher *f, QuoFetch *fetch)
{
	QuoHttpResult *res = (QuoHttpResult *) quo_http_result(fetch->req);
	int64		wait_ms,
				asked,
				left;

	fetch->running = false;
	f->running--;
	f->stats->bytes += res->bytes;
	quo_stats_request_finished(f->opts, res);
	res->attempts = fetch->attempt;
	fetch->done = true;

	if (!quo_retry_is_retryable(res) || fetch->attempt > f->opts->max_retries)
		return;
	asked = res->status == 429 || res->status == 503 ?
		quo_retry_after_ms(res->retry_after, time(NULL)) : -1;
	if (asked > QUO_RETRY_AFTER_MAX_MS)
	{
		/* kept as long as the fetch: it may be reported rows later */
		char	   *text = psprintf("The API asked to wait longer than quo_fdw does (60 s): Retry-After: %s.",
									res->retry_after);

		res->gave_up = MemoryContextStrdup(f->cxt, text);
		pfree(text);
		return;
	}
	wait_ms = asked >= 0 ? asked : quo_backoff_ms(fetch->attempt, quo_random_fraction());
	left = statement_time_left_ms();
	if (left >= 0 && wait_ms >= left)
	{
		res->gave_up = "Waiting to retry would outlast statement_timeout.";
		return;
	}

	/* try again later; meanwhile the other fetches move */
	quo_http_release(fetch->req);
	fetch->req = NULL;
	fetch->done = false;
	fetch->reserved = false;
	fetch->not_before = quo_monotonic_usecs() + wait_ms * 1000;
}

/*
 * Run the fetcher until fetch has its final outcome (after any retries),
 * and return it; NULL when it cannot start because of
 * quo_fetcher_stop_after.  The awaited fetch is considered first for a
 * slot in flight and for the rate limit; the others follow in submission
 * order.
 */
const QuoHttpResult *
quo_fetch_await(QuoFetcher *f, QuoFetch *fetch)
{
	for (;;)
	{
		int64		now;
		int64		wake_at = PG_INT64_MAX;
		bool		rate_wait = false;
		dlist_iter	it;
		uint32		event;

		/*
		 * Before anything else: claim every transfer that has finished (the
		 * multi handle is the backend's, so another scan's wait may have
		 * finished ours, and then nothing would wake this one), and give up
		 * slots missed by more than QUO_SLOT_LATE_USECS (the stamp stays,
		 * unused), so the awaited fetch is considered first for a new one.
		 */
		now = quo_monotonic_usecs();
		dlist_foreach(it, &f->fetches)
		{
			QuoFetch   *other = dlist_container(QuoFetch, node, it.cur);

			if (other->running && quo_http_done(other->req))
				attempt_finished(f, other);
			else if (other->reserved && other->start_at + QUO_SLOT_LATE_USECS < now)
			{
				other->reserved = false;
				f->waiting--;
			}
		}

		try_start(f, fetch, now, &wake_at, &rate_wait);
		dlist_foreach(it, &f->fetches)
			try_start(f, dlist_container(QuoFetch, node, it.cur), now, &wake_at, &rate_wait);

		if (fetch->done)
			return quo_http_result(fetch->req);
		/*
		 * Held back by the stop: only once the budget is spent (a slot
		 * reserved within it, given up for being late, frees its share)
		 */
		if (f->stop_after > 0 && f->stats->requests >= f->stop_after &&
			!fetch->running && !fetch->reserved)
		{
			f->stopped = true;
			return NULL;
		}

		event = f->running > 0 ? wait_api : rate_wait ? wait_rate : wait_backoff;
		quo_http_wait(wake_at == PG_INT64_MAX ? -1 : wake_at, event);
	}
}

/* quo_fdw.requests_sent(): the requests this session has started. */
Datum
quo_fdw_requests_sent(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(quo_requests_sent);
}
