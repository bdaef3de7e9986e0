/*-------------------------------------------------------------------------
 * quo_fdw.h
 *		The one shared header of quo_fdw: endpoint descriptions, planner and
 *		executor state, and the entry points of each source file.
 *
 * libcurl and json-c types stay out of this header: the HTTP request is an
 * opaque struct and json-c objects are forward-declared.
 *-------------------------------------------------------------------------
 */
#ifndef QUO_FDW_H
#define QUO_FDW_H

#include "postgres.h"

#include <time.h>

#include "compat.h"
#include "datatype/timestamp.h"
#include "nodes/execnodes.h"
#include "nodes/pathnodes.h"

#define QUO_FDW_VERSION "0.4.0"
#define QUO_DEFAULT_BASE_URL "https://api.quo.com"
#define QUO_MAX_CONCURRENT 16	/* the max_concurrent_requests option's maximum */

struct json_object;

/* ---------------------------------------------------------------------
 * Endpoints as data (endpoints.c)
 * ---------------------------------------------------------------------
 */

/* SQL type of a column. */
typedef enum QuoColType
{
	QUO_TEXT,
	QUO_INT4,
	QUO_TIMESTAMPTZ,
	QUO_TEXT_ARRAY,
	QUO_JSONB,
	QUO_BOOL,
	QUO_FLOAT8
} QuoColType;

/*
 * What a request was made for, kept with the rows it returns: the
 * phoneNumberId sent, the conversation listed through, the id of a get by
 * id, the participants sent.  A column can fall back to, or be, one of them.
 */
typedef enum QuoCtx
{
	QUO_CTX_NONE = 0,
	QUO_CTX_PHONE,
	QUO_CTX_CONVERSATION,
	QUO_CTX_ITEM_ID,
	QUO_CTX_PARTICIPANTS		/* text[]: the request's participants */
} QuoCtx;

#define QUO_CTX_TEXT_SLOTS QUO_CTX_PARTICIPANTS	/* slots 1.. hold text */

/* Where a column's value comes from. */
typedef enum QuoColSource
{
	QUO_SRC_JSON,				/* json_path in the object; when null or
								 * absent, the column's ctx slot if any */
	QUO_SRC_CONTEXT,			/* only the request's ctx slot */
	QUO_SRC_RAW					/* the whole object, as jsonb */
} QuoColSource;

/*
 * json_path: keys separated by '.', for nested objects
 * ("defaultFields.firstName"); a key ending in "[]" is an array whose
 * elements the rest of the path is read from, giving a text[]
 * ("defaultFields.emails[].value"; one "[]" per path, text[] columns only).
 */
typedef struct QuoColumn
{
	const char *name;			/* column name in SQL */
	const char *json_path;		/* where in the API object, or NULL */
	QuoColType	type;			/* SQL type */
	QuoColSource source;		/* where the value comes from */
	QuoCtx		ctx;			/* the request's value it falls back to / is */
} QuoColumn;

/* How a filter turns SQL quals into request parameters. */
typedef enum QuoFilterKind
{
	QUO_FILTER_EQ,				/* col = v, col IN (...): a query parameter */
	QUO_FILTER_ELEMENTS,		/* text[] col: v = ANY(col), col = ARRAY, col @> ARRAY */
	QUO_FILTER_RANGE,			/* timestamptz col: < <= = >= > as after/before */
	QUO_FILTER_ID				/* col = v, col IN (...): GET item_path/{v} */
} QuoFilterKind;

/* The SQL operators a qual can use, as bits for QuoFilter.exact_ops. */
typedef enum QuoQualOp
{
	QUO_OP_EQ = 0,				/* col = v */
	QUO_OP_IN,					/* col = ANY (array) */
	QUO_OP_HAS,					/* v = ANY (col) */
	QUO_OP_ARRAY_EQ,			/* col = array */
	QUO_OP_CONTAINS,			/* col @> array */
	QUO_OP_LT,					/* col < v */
	QUO_OP_LE,					/* col <= v */
	QUO_OP_GT,					/* col > v */
	QUO_OP_GE,					/* col >= v */
	QUO_OP_OVERLAPS,			/* col && array: no request parameter, a
								 * fan-out's choice of conversations */
	QUO_OP_CONTAINED			/* col <@ array: the same */
} QuoQualOp;

#define QUO_OPBIT(op) (1U << (op))

typedef struct QuoFilter
{
	const char *column;			/* the column the quals are on */
	QuoFilterKind kind;			/* how quals become parameters */
	const char *param;			/* query parameter (RANGE: the "after" one) */
	const char *param_before;	/* RANGE: the "before" parameter */
	int			chunk;			/* EQ: 0 = one request per value; N = up to N
								 * values per request as repeated keys */
	int			max_items;		/* ELEMENTS: most values one request takes */
	const char *prefix;			/* documented id prefix: other values match
								 * no row and are not sent */
	uint32		exact_ops;		/* ops whose API filter equals the SQL qual,
								 * so no local recheck is needed */
	bool		required;		/* the list operation needs this parameter */
	int			max_len;		/* documented longest value, 0: none; longer
								 * values match no row and are not sent */
} QuoFilter;

/* A table option that becomes a fixed request parameter. */
typedef struct QuoTableOption
{
	const char *name;			/* option name */
	const char *param;			/* query parameter */
	bool		is_bool;		/* value is a boolean, sent as true/false */
	const char *prefix;			/* value must start with this, or NULL */
} QuoTableOption;

/*
 * How an endpoint that needs a phone number and participants is listed
 * workspace-wide: its parent endpoint (conversations) is listed first, and
 * each parent row becomes one request series of the child, with the
 * parent's phone number and participants as the required parameters.
 */
typedef struct QuoFanout
{
	const char *parent;			/* endpoint listed first */
	const char *phone_column;	/* child and parent column: the phone number
								 * id (child quals on it filter the parent) */
	const char *participants_column;	/* child and parent column: participants */
	int			max_participants;	/* most participants one child request takes */
	const char *prune_column;	/* child range column: a parent whose last
								 * activity is before its lower bound is
								 * not visited */
	const char *activity_column;	/* parent column: time of last activity */
	const char *why_unlistable; /* DETAIL for parents with too many
								 * participants, or NULL: they cannot hold
								 * a row, so skipping them needs no WARNING */
} QuoFanout;

/*
 * How a list operation pages: not at all, by v1's maxResults/pageToken and
 * nextPageToken, or by the dated generation's limit/after and nextCursor.
 * A list ends when the next field is absent, null or "".
 */
typedef enum QuoPagingStyle
{
	QUO_PAGING_NONE,
	QUO_PAGING_TOKEN,
	QUO_PAGING_CURSOR
} QuoPagingStyle;

typedef struct QuoPaging
{
	QuoPagingStyle style;
	const char *size_param;		/* "maxResults", "limit"; NULL when none */
	const char *token_param;	/* "pageToken", "after" */
	const char *next_field;		/* "nextPageToken", "nextCursor" */
} QuoPaging;

extern const QuoPaging quo_paging_none;
extern const QuoPaging quo_paging_v1;
extern const QuoPaging quo_paging_dated;

/* What a get-by-id returns under "data": one object, or an array of rows. */
typedef enum QuoItemShape
{
	QUO_ITEM_OBJECT,
	QUO_ITEM_ARRAY
} QuoItemShape;

typedef struct QuoEndpoint
{
	const char *name;			/* table and endpoint option name */
	const char *list_path;		/* list operation */
	const char *item_path;		/* get-by-id operation prefix, or NULL */
	const QuoPaging *paging;	/* how the list operation pages */
	int			max_page;		/* its largest page size (1..max_page) */
	QuoItemShape item_shape;	/* what item_path returns */
	const char *api_version;	/* Quo-Api-Version header, NULL for v1 */
	const QuoColumn *columns;
	int			ncolumns;
	const QuoFilter *filters;	/* in the order parameters are sent */
	int			nfilters;
	const QuoTableOption *options;
	int			noptions;
	const char *required_hint;	/* a WHERE clause that satisfies the
								 * required filters */
	const QuoFanout *fanout;	/* workspace-wide listing, or NULL */
	const char *forbidden_hint; /* HINT of a 403, NULL: no access to the
								 * phone number */
	const char *not_found_code; /* the "code" of the document's 404 for
								 * this endpoint's operations: only that
								 * 404 means "no such object" */
} QuoEndpoint;

/* in endpoints.c */
extern const QuoEndpoint *quo_endpoint_by_name(const char *name);
extern const QuoEndpoint *quo_endpoint_at(int i);
extern int	quo_endpoint_count(void);
extern int	quo_endpoint_column(const QuoEndpoint *ep, const char *name);
extern int	quo_endpoint_filter(const QuoEndpoint *ep, const char *column);
extern const QuoEndpoint *quo_endpoint_of_target(const char *target);
extern bool quo_fanout_participants_from_parent(const QuoEndpoint *ep);
extern Oid	quo_coltype_oid(QuoColType type);
extern const char *quo_coltype_name(QuoColType type);

/* ---------------------------------------------------------------------
 * Options (option.c)
 * ---------------------------------------------------------------------
 */

/* Everything a scan needs from server, user mapping and table options. */
typedef struct QuoFdwOptions
{
	char	   *server_name;	/* for messages */
	Oid			server_id;		/* the foreign server, its statistics' key */
	char	   *base_url;		/* scheme://host[:port], no trailing slash */
	char	   *api_key;		/* from the user mapping; never printed */
	int			connect_timeout_ms; /* libcurl connect timeout */
	int			request_timeout_ms; /* whole-request timeout */
	int			max_retries;	/* retries of a failed GET after the first try */
	int			rate_limit;		/* requests per second per key, 0 = none */
	int			max_concurrent; /* most requests in flight at once */
	int			fanout;			/* 1: list calls/messages through
								 * conversations when no participants are
								 * given */
	const QuoEndpoint *endpoint;	/* the table's endpoint */
	List	   *fixed_params;	/* table options as request parameters:
								 * alternating param name, value (char *) */
} QuoFdwOptions;

/* GUCs (option.c) */
extern int	quo_max_requests;
extern int	quo_mirror_max_requests;
extern bool quo_progress;
extern char *quo_allowed_base_urls;

extern void quo_get_options(Oid foreigntableid, Oid userid, bool need_key,
							QuoFdwOptions *opts);
extern void quo_get_server_options(Oid serverid, Oid userid, const QuoEndpoint *ep,
								   bool need_key, QuoFdwOptions *opts);
extern const QuoEndpoint *quo_table_endpoint(Oid foreigntableid);
extern char *quo_column_remote_name(Oid relid, AttrNumber attnum);
extern void quo_suggest_option(const char *given, const char **valid,
							   int nvalid, const char *what, const char *where);

/* ---------------------------------------------------------------------
 * Pushdown and request building (pushdown.c, request.c)
 * ---------------------------------------------------------------------
 */

/* A qual turned into a request parameter at plan time. */
typedef struct QuoQual
{
	int			filter;			/* index into endpoint->filters */
	QuoQualOp	op;				/* the SQL operator */
	Expr	   *value;			/* the other side, evaluated at execution */
} QuoQual;

/* Planner information about a foreign table (baserel->fdw_private). */
typedef struct QuoFdwRelationInfo
{
	const QuoEndpoint *endpoint;
	List	   *remote_quals;	/* QuoQual *: used to build requests */
	List	   *local_conds;	/* RestrictInfo *: checked locally */
	int		   *colmap;			/* per attribute (0-based), endpoint column
								 * index, or -1 when not fetched */
	int			natts;
	bool		has_id;			/* an id filter: GET item by id */
	bool		has_required;	/* every required filter is present */
	bool		fanout_enabled; /* the fanout option is on */
	bool		fanout;			/* required filters are missing, but the
								 * endpoint's fan-out supplies them */
	bool		fanout_participants;	/* the fan-out keeps only the
										 * conversations its participants
										 * conditions select */
	double		limit;			/* pushed LIMIT, or 0 */
} QuoFdwRelationInfo;

/* A qual's value at execution time. */
typedef struct QuoQualValue
{
	bool		known;			/* false: only the text in placeholder */
	bool		isnull;
	Datum		value;
	Oid			type;
	char	   *placeholder;	/* deparsed expression, for EXPLAIN */
} QuoQualValue;

/* One request series: a list operation followed page by page, or one item. */
typedef struct QuoRequestSpec
{
	const QuoEndpoint *ep;		/* the endpoint requested (paging, shape) */
	char	   *path;			/* "/v1/calls" or "/v1/calls/AC%2F1" */
	char	   *query;			/* parameters without the paging ones,
								 * "" when none; NULL for an item GET */
	char	   *ctx[QUO_CTX_TEXT_SLOTS];	/* what the request was made for
											 * (QuoCtx), or NULL */
	List	   *ctx_participants;	/* participants sent (char *) */
	bool		lists_parents;	/* a fan-out's parent listing: its rows
								 * become series, not result rows */
} QuoRequestSpec;

/* The slots of ForeignScan.fdw_private (made in quo_fdw.c, read in scan.c). */
enum QuoFdwScanPrivate
{
	FdwPrivQuals,				/* IntList: filter, op, filter, op, ... (the
								 * values are fdw_exprs, in the same order) */
	FdwPrivColmap,				/* IntList: endpoint column per attribute, -1
								 * when not fetched */
	FdwPrivLimit,				/* Integer: pushed LIMIT, 0 when none */
	FdwPrivAhead,				/* Boolean: requests may be started ahead */
	FdwPrivFanout				/* Boolean: list through the parent endpoint */
};

/* in quo_fdw.c */
extern bool quo_is_quo_server(Oid serverid);
pg_noreturn extern void quo_report_missing_required(const QuoEndpoint *ep,
													 const char *relname,
													 List *missing);

/* in scan.c */
struct FdwRoutine;
extern void quo_scan_routines(struct FdwRoutine *routine);
extern char *quo_explain_expr(PlanState *ps, ExplainState *es, Node *expr);

/* in join.c: the id-lookup join (a foreign join path over the outer plan) */
extern void quo_join_paths(PlannerInfo *root, RelOptInfo *joinrel, RelOptInfo *outerrel,
						   RelOptInfo *innerrel, JoinType jointype,
						   JoinPathExtraData *extra);
extern ForeignScan *quo_join_plan(PlannerInfo *root, RelOptInfo *joinrel,
								  ForeignPath *best_path, List *tlist, Plan *outer_plan);
extern void quo_join_begin(ForeignScanState *node, int eflags);
extern TupleTableSlot *quo_join_iterate(ForeignScanState *node);
extern void quo_join_rescan(ForeignScanState *node);
extern void quo_join_end(ForeignScanState *node);
extern void quo_join_explain(ForeignScanState *node, ExplainState *es);

/* in pushdown.c */
extern void quo_classify_conds(PlannerInfo *root, RelOptInfo *baserel,
							   QuoFdwRelationInfo *fpinfo, List *conds);
extern bool quo_qual_is_exact(const QuoEndpoint *ep, List *remote_quals,
							  const QuoQual *qual);
extern List *quo_missing_required(const QuoEndpoint *ep, List *remote_quals);
extern bool quo_fanout_supplies(const QuoEndpoint *ep, List *missing);
extern bool quo_qual_is_sent(const QuoEndpoint *ep, const QuoQual *qual);

/* in request.c */
extern List *quo_build_requests(const QuoEndpoint *ep, List *quals,
								QuoQualValue *values, List *fixed_params,
								List **missing);
extern List *quo_build_templates(const QuoEndpoint *ep, List *quals,
								 QuoQualValue *values, List *fixed_params);
extern bool quo_range_lower(const QuoEndpoint *ep, List *quals, QuoQualValue *values,
							const char *column, TimestampTz *lower);
extern char *quo_request_target(const QuoRequestSpec *spec, int max_results,
								const char *page_token);
extern void quo_append_encoded(StringInfo buf, const char *s);
extern char *quo_api_string(Datum text);
extern bool quo_value_possible(const QuoFilter *f, const char *s);
extern bool quo_format_timestamp(StringInfo buf, TimestampTz ts);

/* ---------------------------------------------------------------------
 * HTTP (http.c)
 * ---------------------------------------------------------------------
 */

typedef struct QuoHttpRequest QuoHttpRequest;

/* What a finished request produced; owned by the request. */
typedef struct QuoHttpResult
{
	int			curl_code;		/* CURLE_OK (0) or the transport failure */
	const char *curl_error;		/* libcurl's message for curl_code */
	long		status;			/* HTTP status, 0 when none */
	const char *body;			/* response body (NUL-terminated) */
	size_t		body_len;
	const char *content_type;	/* or NULL */
	const char *retry_after;	/* Retry-After header, or NULL */
	size_t		bytes;			/* bytes received on the wire */
	int			attempts;		/* tries made, retries included */
	const char *gave_up;		/* why retrying stopped early, or NULL */
} QuoHttpResult;

/* What a scan counts for EXPLAIN ANALYZE. */
typedef struct QuoFetchStats
{
	int64		requests;		/* HTTP requests sent */
	int64		retries;		/* of which retries */
	int64		bytes;			/* bytes received */
	int64		throttled_usecs;	/* time spent waiting for the rate limit */
	int			peak_in_flight; /* most requests in flight at once */
} QuoFetchStats;

extern void quo_http_init(void);
extern QuoHttpRequest *quo_http_start(const QuoFdwOptions *opts,
									  const char *target, const char *api_version);
extern void quo_http_wait(int64 until, uint32 wait_event);
extern bool quo_http_done(QuoHttpRequest *req);
extern const QuoHttpResult *quo_http_result(QuoHttpRequest *req);
extern void quo_http_release(QuoHttpRequest *req);
extern int	quo_http_live_requests(void);

/*
 * The fetcher (fetch.c): the GETs of one scan, each with its retries,
 * started on the one multi handle under the rate limit, at most
 * max_in_flight at once, all driven by one wait loop.
 */
typedef struct QuoFetcher QuoFetcher;
typedef struct QuoFetch QuoFetch;

extern QuoFetcher *quo_fetcher_create(const QuoFdwOptions *opts, int max_in_flight,
									  QuoFetchStats *stats, MemoryContext cxt);
extern QuoFetch *quo_fetch_submit(QuoFetcher *fetcher, const char *target,
								  const char *api_version);
extern const QuoHttpResult *quo_fetch_await(QuoFetcher *fetcher, QuoFetch *fetch);
extern const char *quo_fetch_target(const QuoFetch *fetch);
extern void quo_fetch_release(QuoFetcher *fetcher, QuoFetch *fetch);
extern void quo_fetcher_reset(QuoFetcher *fetcher);
extern void quo_fetcher_set_budget(QuoFetcher *fetcher, const char *relname);
extern int64 quo_fetcher_query_requests(const QuoFetcher *fetcher);
extern void quo_fetcher_stop_after(QuoFetcher *fetcher, int64 n);
extern bool quo_fetcher_stopped(const QuoFetcher *fetcher);
extern void quo_check_budget(int64 needed, const char *detail, const char *hint);

/* in token_set.c: the page tokens of one request series */
typedef struct QuoTokenSet QuoTokenSet;
extern QuoTokenSet *quo_token_set_create(MemoryContext cxt);
extern bool quo_token_set_add(QuoTokenSet *set, const char *token);
extern void quo_token_set_clear(QuoTokenSet *set);

/*
 * The one scan engine (series.c): request series consumed in order on the
 * one multi handle under the rate limit, the next series' first requests
 * in flight ahead of need.  quo_series_next gives one event at a time.
 */
typedef enum QuoSeriesEvent
{
	QUO_SERIES_ROW,				/* run->row is the next row */
	QUO_SERIES_PAGE_DONE,		/* the rows of a page have all been given */
	QUO_SERIES_SERIES_DONE,		/* the current series is complete */
	QUO_SERIES_END,				/* every series is complete (or the LIMIT met) */
	QUO_SERIES_STOPPED			/* held back by quo_series_stop_after */
} QuoSeriesEvent;

typedef struct QuoSeriesRun
{
	const QuoFdwOptions *opts;	/* server, key, endpoint */
	struct QuoRowContext *rowctx;	/* its ctx slots follow the series */
	int			limit;			/* pushed LIMIT, 0 when none */
	bool		may_start_ahead;	/* every series will be needed */
	const char *label;			/* for progress NOTICEs */
	const char *progress_noun;	/* what the series are, to count them */
	List	   *specs;			/* QuoRequestSpec *, the caller's */
	int			next_spec;		/* index of the next series to start */
	QuoRequestSpec *spec;		/* the current series */
	bool		in_series;		/* spec is being read */
	bool		finished;		/* QUO_SERIES_END was reached */
	bool		forbidden_is_answer;	/* an item's 403 ends its series
										 * (the caller's to note), not an
										 * ERROR */
	bool		series_forbidden;	/* the current series ended on a 403 */
	char	   *first_token;	/* the first series' starting page, or NULL */
	char	   *page_token;		/* the current series' next page, or NULL */
	QuoTokenSet *seen_tokens;	/* the current series' tokens so far */
	char	   *target;			/* the current page's request (page_cxt) */
	struct json_object *page;	/* parsed response (json-c memory) */
	struct json_object *rows;	/* its rows */
	int			nrows;
	int			next_row;
	struct json_object *row;	/* the row of the last QUO_SERIES_ROW */
	QuoFetcher *fetcher;		/* every request, submission to release */
	QuoFetch   *current;		/* the page being fetched, until parsed */
	QuoFetch   *ahead[QUO_MAX_CONCURRENT];	/* ahead[i] is for
											 * specs[next_spec + i] */
	int			nahead;
	MemoryContext cxt;			/* the run's own */
	MemoryContext spec_cxt;		/* reset per series: its participants */
	MemoryContext page_cxt;		/* reset per page: the request target */
	int64		started_at;		/* progress: when the run started */
	int64		progress_at;	/* progress: when last reported */
	QuoFetchStats stats;		/* requests, retries, bytes, throttling */
	int64		n_pages;
	int64		n_rows_fetched;
	int64		rows_recorded;	/* of n_rows_fetched, those the statistics
								 * have counted */
	int64		rows_returned;	/* rows given since the last reset */
} QuoSeriesRun;

struct QuoRowContext;
extern QuoSeriesRun *quo_series_create(const QuoFdwOptions *opts, struct QuoRowContext *rowctx,
									   int limit, bool may_start_ahead, const char *label,
									   MemoryContext parent);
extern void quo_series_start(QuoSeriesRun *run, List *specs, const char *first_token);
extern void quo_series_reset(QuoSeriesRun *run);
extern void quo_series_set_budget(QuoSeriesRun *run, const char *relname);
extern void quo_series_stop_after(QuoSeriesRun *run, int64 n);
extern int	quo_series_page_size(const QuoSeriesRun *run, const QuoRequestSpec *spec);
extern QuoSeriesEvent quo_series_next(QuoSeriesRun *run);
extern void quo_series_skip(QuoSeriesRun *run);
extern void quo_series_count_as(QuoSeriesRun *run, const char *noun);

/* The fan-out (fanout.c): calls and messages listed through conversations. */
typedef struct QuoFanoutState QuoFanoutState;
typedef struct QuoFanoutCache QuoFanoutCache;

typedef struct QuoFanoutCounts
{
	int64		listed;			/* parents listed */
	int64		visited;		/* parents whose children were requested */
	int64		pruned;			/* skipped: last activity before the range */
	int64		unlistable;		/* skipped: more participants than the child
								 * list takes */
	int64		odd;			/* skipped: no participants, or some that
								 * are not E.164 numbers */
	int64		by_participants;	/* skipped: the query's participants
									 * conditions rule them out */
	bool		filtered;		/* participants conditions select parents */
} QuoFanoutCounts;

extern QuoFanoutCache *quo_fanout_cache_create(MemoryContext cxt);
extern QuoFanoutState *quo_fanout_begin(const QuoEndpoint *ep, List *quals,
										QuoQualValue *values, List *fixed_params,
										const char *api_key, MemoryContext cxt,
										QuoFanoutCache *cache);
extern List *quo_fanout_parent_specs(QuoFanoutState *fs);
extern bool quo_fanout_needs_listing(QuoFanoutState *fs);
extern void quo_fanout_add_parent(QuoFanoutState *fs, struct json_object *obj);
extern void quo_fanout_check_budget(QuoFanoutState *fs, const char *relname,
									int64 requests_made, int rate_limit);
extern List *quo_fanout_children(QuoFanoutState *fs, const char *relname,
								 int64 requests_made, int rate_limit, bool *warned);
extern const QuoFanoutCounts *quo_fanout_counts(QuoFanoutState *fs);
extern List *quo_fanout_shape(QuoFanoutState *fs);
extern char *quo_fanout_kept(QuoFanoutState *fs);

/* in retry.c: backoff's first delay and cap, and the longest Retry-After honoured */
#define QUO_BACKOFF_BASE_MS 500
#define QUO_BACKOFF_CAP_MS 8000
#define QUO_RETRY_AFTER_MAX_MS 60000
extern bool quo_retry_is_retryable(const QuoHttpResult *res);
extern int64 quo_retry_after_ms(const char *value, time_t now);
extern int64 quo_backoff_ms(int attempt, double jitter);

/* in rate.c */
extern void quo_rate_init(void);
extern int64 quo_monotonic_usecs(void);
extern int64 quo_rate_reserve(const char *api_key, int rate, int64 *wait_usecs);

/* in stats.c: the API usage statistics (quo_fdw.stats), when preloaded */
extern bool quo_stats_enabled;
extern int	quo_stats_max;
extern void quo_stats_init(void);
extern void quo_stats_request_started(const QuoFdwOptions *opts, bool retry,
									  int64 waited_usecs);
extern void quo_stats_request_finished(const QuoFdwOptions *opts,
									   const QuoHttpResult *res);
extern void quo_stats_rows(const QuoFdwOptions *opts, int64 n);
extern void quo_stats_error(const QuoFdwOptions *opts, MemoryContext cxt);

/* in errors.c */
extern bool quo_is_missing_object(const QuoEndpoint *ep, const QuoHttpResult *res);
extern void quo_append_api_text(StringInfo buf, const char *s, size_t len,
								size_t max, const char *key);
pg_noreturn extern void quo_report_http_failure(const QuoFdwOptions *opts,
												const char *target,
												const QuoHttpResult *res);
pg_noreturn extern void quo_report_bad_response(const QuoFdwOptions *opts,
												 const char *target,
												 const char *what);
extern struct json_object *quo_parse_response(const QuoFdwOptions *opts,
											  const char *target,
											  const QuoHttpResult *res);

/* ---------------------------------------------------------------------
 * JSON to rows (json_row.c)
 * ---------------------------------------------------------------------
 */

/* What the row converter needs to know about one scan. */
typedef struct QuoRowContext
{
	const QuoEndpoint *endpoint;
	const char *relname;		/* for error messages */
	const char *api_key;		/* redacted from quoted values, or NULL */
	int			natts;
	int		   *colmap;			/* per attribute, endpoint column or -1 */
	const char **attnames;		/* per attribute, SQL column name */
	const char *ctx[QUO_CTX_TEXT_SLOTS];	/* the current request's (QuoCtx) */
	Datum		ctx_participants;	/* the current request's participants */
	bool		ctx_participants_null;
} QuoRowContext;

extern struct json_object *quo_json_parse(const char *body, size_t len,
										  const char **error);
extern void quo_json_free(struct json_object *obj);
extern bool quo_json_page(struct json_object *root, const QuoEndpoint *ep, bool is_item,
						  struct json_object **rows, int *nrows,
						  const char **next_token, const char **error);
extern struct json_object *quo_json_row(struct json_object *rows, int i);
extern void quo_json_to_row(const QuoRowContext *ctx, struct json_object *obj,
							Datum *values, bool *nulls);
extern bool quo_parse_timestamp(const char *s, TimestampTz *result);

#endif							/* QUO_FDW_H */
