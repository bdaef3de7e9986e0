/*-------------------------------------------------------------------------
 * series.c
 *		The one scan engine: a list of request series (QuoRequestSpec: a
 *		list operation followed page by page, or one item) consumed in
 *		order on the backend's one multi handle, under the rate limit, with
 *		the first requests of the series after the current one in flight
 *		ahead of need, all driven by the fetcher's one wait loop.
 *
 * Every reader of the API is a series run: a foreign scan (and its
 * fan-out's listing and visits), and the mirror's listings, visits and id
 * lookups (fetch_sql.c).  The caller asks for the next event: a row, the
 * end of a page, the end of a series, the end of them all, or a clean stop
 * where a step's budget ends (quo_series_stop_after).  Pages stream one at
 * a time; a page token seen twice in a series is a paging loop (an ERROR).
 *
 * Memory: the run's own context holds per-series and per-page children;
 * what lives outside PostgreSQL's memory (the parsed page, the fetcher's
 * curl handles) is released by a reset callback on it, so an ERROR or
 * cancel anywhere leaks nothing.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "quo_fdw.h"

/* Free the parsed page (json-c memory). */
static void
release_page(QuoSeriesRun *run)
{
	quo_json_free(run->page);
	run->page = NULL;
	run->rows = NULL;
	run->nrows = run->next_row = 0;
}

/* Give the rows given since last time to the statistics. */
static void
record_rows(QuoSeriesRun *run)
{
	quo_stats_rows(run->opts, run->n_rows_fetched - run->rows_recorded);
	run->rows_recorded = run->n_rows_fetched;
}

/* Release every request of the run and the page. */
static void
release_external(QuoSeriesRun *run)
{
	if (run->fetcher)
		quo_fetcher_reset(run->fetcher);
	run->current = NULL;
	run->nahead = 0;
	release_page(run);
}

/* Memory context callback: runs when the run's memory goes, error or not. */
static void
run_memory_gone(void *arg)
{
	release_external((QuoSeriesRun *) arg);
}

/*
 * A run of request series with opts (server, key, endpoint), whose rows
 * rowctx converts (its ctx slots follow the current series); limit is a
 * pushed LIMIT or 0; may_start_ahead says every series will be needed.
 * It lives in a context of its own under parent; its requests count
 * towards the statement's quo_fdw.max_requests.
 */
QuoSeriesRun *
quo_series_create(const QuoFdwOptions *opts, QuoRowContext *rowctx, int limit,
				  bool may_start_ahead, const char *label, MemoryContext parent)
{
	MemoryContext cxt = AllocSetContextCreate(parent, "quo_fdw series run",
											  ALLOCSET_SMALL_SIZES);
	QuoSeriesRun *run = MemoryContextAllocZero(cxt, sizeof(QuoSeriesRun));
	MemoryContextCallback *cb;

	run->cxt = cxt;
	run->opts = opts;
	run->rowctx = rowctx;
	run->limit = limit;
	run->may_start_ahead = may_start_ahead;
	run->label = label;
	run->spec_cxt = AllocSetContextCreate(cxt, "quo_fdw series values", ALLOCSET_SMALL_SIZES);
	run->page_cxt = AllocSetContextCreate(cxt, "quo_fdw page", ALLOCSET_DEFAULT_SIZES);
	run->fetcher = quo_fetcher_create(opts, opts->max_concurrent, &run->stats, cxt);
	run->seen_tokens = quo_token_set_create(cxt);
	cb = MemoryContextAlloc(cxt, sizeof(MemoryContextCallback));
	cb->func = run_memory_gone;
	cb->arg = run;
	MemoryContextRegisterResetCallback(cxt, cb);
	return run;
}

/*
 * Run specs (QuoRequestSpec *, kept by the caller) from the first, after
 * any series before (whose requests must all be done: a fan-out's listing).
 * first_token, when set, is the page of the first series to start at (a
 * listing resumed where an earlier step stopped).
 */
void
quo_series_start(QuoSeriesRun *run, List *specs, const char *first_token)
{
	Assert(run->nahead == 0 && run->current == NULL);
	run->specs = specs;
	run->next_spec = 0;
	run->spec = NULL;
	run->in_series = false;
	run->finished = false;
	if (run->first_token)
		pfree(run->first_token);
	run->first_token = first_token ? MemoryContextStrdup(run->cxt, first_token) : NULL;
}

/* Forget everything of the last run of series (a rescan). */
void
quo_series_reset(QuoSeriesRun *run)
{
	record_rows(run);
	release_external(run);
	run->specs = NIL;
	run->next_spec = 0;
	run->spec = NULL;
	run->in_series = false;
	run->finished = false;
	if (run->page_token)
		pfree(run->page_token);
	run->page_token = NULL;
	quo_token_set_clear(run->seen_tokens);
	run->rows_returned = 0;
	MemoryContextReset(run->page_cxt);
	run->target = NULL;
}

/* Hold this run to quo_fdw.max_requests from now on, its errors naming relname. */
void
quo_series_set_budget(QuoSeriesRun *run, const char *relname)
{
	quo_fetcher_set_budget(run->fetcher, relname);
}

/*
 * End cleanly (QUO_SERIES_STOPPED) instead of starting the run's (n+1)-th
 * request; 0: no such stop.
 */
void
quo_series_stop_after(QuoSeriesRun *run, int64 n)
{
	quo_fetcher_stop_after(run->fetcher, n);
}

/* Page size for a series: its endpoint's largest, or the pushed LIMIT when smaller. */
int
quo_series_page_size(const QuoSeriesRun *run, const QuoRequestSpec *spec)
{
	if (run->limit > 0 && run->limit < spec->ep->max_page && !spec->lists_parents)
		return run->limit;
	return spec->ep->max_page;
}

/*
 * Submit the first requests of the series after the current one (an id
 * lookup, or a list's first page), so up to the server's
 * max_concurrent_requests are in flight.  They are submitted after the
 * request the run needs now, so they never take its rate-limit slot; the
 * fetcher runs them while earlier answers are awaited.  Not under a LIMIT,
 * where a series may not be needed at all.
 */
static void
submit_ahead(QuoSeriesRun *run)
{
	while (run->may_start_ahead && run->nahead < run->opts->max_concurrent &&
		   run->next_spec + run->nahead < list_length(run->specs))
	{
		QuoRequestSpec *spec = list_nth(run->specs, run->next_spec + run->nahead);
		char	   *target;

		target = quo_request_target(spec, quo_series_page_size(run, spec), NULL);
		run->ahead[run->nahead++] = quo_fetch_submit(run->fetcher, target,
													 spec->ep->api_version);
		pfree(target);
	}
}

/*
 * The fetch submitted ahead for the series just started
 * (specs[next_spec - 1]), or NULL; the others move up.
 */
static QuoFetch *
take_ahead(QuoSeriesRun *run)
{
	QuoFetch   *fetch;

	if (run->nahead == 0)
		return NULL;
	fetch = run->ahead[0];
	memmove(&run->ahead[0], &run->ahead[1], sizeof(QuoFetch *) * (run->nahead - 1));
	run->nahead--;
	return fetch;
}

/* Move on to the next request series; false when there is none. */
static bool
start_next_series(QuoSeriesRun *run)
{
	QuoRowContext *rc = run->rowctx;

	if (run->next_spec >= list_length(run->specs))
		return false;
	run->spec = list_nth(run->specs, run->next_spec++);
	run->series_forbidden = false;
	if (run->page_token)
		pfree(run->page_token);
	run->page_token = NULL;
	if (run->next_spec == 1 && run->first_token)
	{
		run->page_token = run->first_token;
		run->first_token = NULL;
	}
	quo_token_set_clear(run->seen_tokens);
	MemoryContextReset(run->spec_cxt);
	memcpy(rc->ctx, run->spec->ctx, sizeof(rc->ctx));
	rc->ctx_participants_null = (run->spec->ctx_participants == NIL);
	if (run->spec->ctx_participants != NIL)
	{
		int			np = list_length(run->spec->ctx_participants);
		Datum	   *d;
		ListCell   *lc;
		int			i = 0;
		MemoryContext old = MemoryContextSwitchTo(run->spec_cxt);

		d = palloc(sizeof(Datum) * np);
		foreach(lc, run->spec->ctx_participants)
			d[i++] = CStringGetTextDatum(lfirst(lc));
		rc->ctx_participants =
			PointerGetDatum(construct_array(d, np, TEXTOID, -1, false, TYPALIGN_INT));
		MemoryContextSwitchTo(old);
	}
	return true;
}

/* Check a finished request's outcome and parse its body into the page. */
static void
take_response(QuoSeriesRun *run, const QuoHttpResult *res, bool is_item)
{
	const char *error = NULL;
	const char *token = NULL;

	run->page = quo_parse_response(run->opts, run->target, res);
	quo_fetch_release(run->fetcher, run->current);
	run->current = NULL;

	if (!quo_json_page(run->page, run->spec->ep, is_item, &run->rows, &run->nrows, &token, &error))
		quo_report_bad_response(run->opts, run->target, error);
	run->n_pages++;
	run->next_row = 0;

	if (token && !quo_token_set_add(run->seen_tokens, token))
		quo_report_bad_response(run->opts, run->target,
								"the API returned a page token it had returned before, so paging would never end");
	if (run->page_token)
		pfree(run->page_token);
	run->page_token = token ? MemoryContextStrdup(run->cxt, token) : NULL;
}

/*
 * With quo_fdw.progress on, a NOTICE at most every 5 seconds: how far the
 * run is, and, when it counts its series (progress_noun set, e.g.
 * "conversations"), the time left at the current pace.
 */
static void
report_progress(QuoSeriesRun *run)
{
	int64		now;
	double		secs;

	if (!quo_progress)
		return;
	now = quo_monotonic_usecs();
	if (run->progress_at == 0)
		run->progress_at = run->started_at = now;
	if (now - run->progress_at < 5 * USECS_PER_SEC)
		return;
	run->progress_at = now;
	secs = (double) (now - run->started_at) / USECS_PER_SEC;
	if (run->progress_noun != NULL && run->next_spec > 1)
	{
		int			done = run->next_spec - 1;
		int			total = list_length(run->specs);

		ereport(NOTICE,
				(errmsg("quo_fdw: \"%s\": %d of %d %s, " INT64_FORMAT " rows, " INT64_FORMAT " requests, about %.0f s left",
						run->label, done, total, run->progress_noun,
						run->rows_returned, run->stats.requests,
						secs / done * (total - done))));
	}
	else
		ereport(NOTICE,
				(errmsg("quo_fdw: \"%s\": " INT64_FORMAT " rows, " INT64_FORMAT " requests in %.0f s",
						run->label, run->rows_returned, run->stats.requests, secs)));
}

/*
 * Fetch the current series' next page (starting the next series when the
 * current one is done): true with the page set or the series ended (an
 * id the API says does not exist), false when the fetch was held back by
 * the run's stop.
 */
static bool
fetch_page(QuoSeriesRun *run, QuoFetch *fetch)
{
	const QuoHttpResult *res;
	bool		is_item = (run->spec->query == NULL);

	MemoryContextReset(run->page_cxt);
	run->target = NULL;
	if (fetch == NULL)
	{
		char	   *target = quo_request_target(run->spec, quo_series_page_size(run, run->spec),
												run->page_token);

		fetch = quo_fetch_submit(run->fetcher, target, run->spec->ep->api_version);
		pfree(target);
	}
	run->current = fetch;
	run->target = MemoryContextStrdup(run->page_cxt, quo_fetch_target(fetch));
	submit_ahead(run);
	report_progress(run);

	res = quo_fetch_await(run->fetcher, fetch);
	if (res == NULL)
		return false;

	/* an id the API says does not exist is no row: the series is done */
	if (is_item && quo_is_missing_object(run->spec->ep, res))
	{
		quo_fetch_release(run->fetcher, fetch);
		run->current = NULL;
		if (run->page_token)
			pfree(run->page_token);
		run->page_token = NULL;
		return true;
	}
	/* a caller that notes refused items: a 403 ends the item's series */
	if (is_item && run->forbidden_is_answer && res->curl_code == 0 &&
		res->status == 403)
	{
		quo_fetch_release(run->fetcher, fetch);
		run->current = NULL;
		if (run->page_token)
			pfree(run->page_token);
		run->page_token = NULL;
		run->series_forbidden = true;
		return true;
	}
	take_response(run, res, is_item);

	/* with a pushed LIMIT, no page past the one that reaches it */
	if (run->limit > 0 && !run->spec->lists_parents &&
		run->rows_returned + run->nrows >= run->limit)
	{
		if (run->page_token)
			pfree(run->page_token);
		run->page_token = NULL;
		run->next_spec = list_length(run->specs);
	}
	return true;
}

/* quo_series_next's event, before the rows are recorded. */
static QuoSeriesEvent
next_event(QuoSeriesRun *run)
{
	for (;;)
	{
		CHECK_FOR_INTERRUPTS();
		if (run->finished)
			return QUO_SERIES_END;
		if (run->page != NULL)
		{
			if (run->next_row < run->nrows)
			{
				if (run->limit > 0 && !run->spec->lists_parents &&
					run->rows_returned >= run->limit)
				{
					release_page(run);
					run->finished = true;
					return QUO_SERIES_END;
				}
				run->row = quo_json_row(run->rows, run->next_row++);
				if (!run->spec->lists_parents)
				{
					run->rows_returned++;
					run->n_rows_fetched++;
				}
				return QUO_SERIES_ROW;
			}
			release_page(run);
			return QUO_SERIES_PAGE_DONE;
		}
		if (run->in_series && run->page_token == NULL)
		{
			run->in_series = false;
			return QUO_SERIES_SERIES_DONE;
		}
		if (!run->in_series)
		{
			if (!start_next_series(run))
			{
				run->finished = true;
				return QUO_SERIES_END;
			}
			run->in_series = true;
			if (!fetch_page(run, run->page_token ? NULL : take_ahead(run)))
				return QUO_SERIES_STOPPED;
			continue;
		}
		if (!fetch_page(run, NULL))
			return QUO_SERIES_STOPPED;
	}
}

/*
 * The next event of the run: a row (run->row, of series run->spec, the
 * run->next_spec-th), the end of a page, the end of a series, the end of
 * every series, or a stop.  The row object belongs to the page: it is
 * valid until the next call.  The statistics count the rows a page at a
 * time: at each event that is not a row, and at a reset.
 */
QuoSeriesEvent
quo_series_next(QuoSeriesRun *run)
{
	QuoSeriesEvent ev = next_event(run);

	if (ev != QUO_SERIES_ROW)
		record_rows(run);
	return ev;
}

/*
 * Leave the current series where it is (after QUO_SERIES_STOPPED): the
 * run goes on with the next, whose first answer may be in already.
 */
void
quo_series_skip(QuoSeriesRun *run)
{
	if (run->current)
		quo_fetch_release(run->fetcher, run->current);
	run->current = NULL;
	release_page(run);
	if (run->page_token)
		pfree(run->page_token);
	run->page_token = NULL;
	run->in_series = false;
}

/* The fan-out's children are started: progress counts them as noun. */
void
quo_series_count_as(QuoSeriesRun *run, const char *noun)
{
	run->progress_noun = noun;
}
