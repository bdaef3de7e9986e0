/*-------------------------------------------------------------------------
 * option.c
 *		Options of quo_fdw: the validator, reading server, user mapping,
 *		table and column options into QuoFdwOptions, and _PG_init.
 *
 * The API key is accepted only in a user mapping, and never printed.  A
 * base_url other than the default is a superuser's choice, or one from
 * quo_fdw.allowed_base_urls (check_base_url_privilege).
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/reloptions.h"
#include "catalog/pg_foreign_server.h"
#include "catalog/pg_foreign_table.h"
#include "catalog/pg_user_mapping.h"
#include "catalog/pg_attribute.h"
#include "commands/defrem.h"
#include "foreign/foreign.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/varlena.h"

#include "quo_fdw.h"

QUO_MODULE_MAGIC;

PG_FUNCTION_INFO_V1(quo_fdw_validator);

/* How an option's value is read. */
typedef enum QuoOptionKind
{
	QUO_OPT_OTHER,				/* checked by its own code */
	QUO_OPT_TIMEOUT,			/* seconds (fractions allowed), stored as ms */
	QUO_OPT_INT,				/* a whole number in [min, max] */
	QUO_OPT_BOOL				/* a boolean, stored as 0 or 1 */
} QuoOptionKind;

/*
 * One valid option: where it may appear and, for numbers, its range and
 * default.  The validator and the reader both use this table.
 */
typedef struct QuoOptionDef
{
	const char *name;
	Oid			context;		/* catalog the option belongs to */
	QuoOptionKind kind;
	int			min;			/* QUO_OPT_INT: smallest value */
	int			max;			/* QUO_OPT_INT: largest value */
	int			dflt;			/* default (ms for timeouts) */
	size_t		offset;			/* where QuoFdwOptions keeps it */
} QuoOptionDef;

#define OPT_FIELD(f) offsetof(QuoFdwOptions, f)

static const QuoOptionDef valid_options[] = {
	{"base_url", ForeignServerRelationId, QUO_OPT_OTHER, 0, 0, 0, 0},
	{"connect_timeout", ForeignServerRelationId, QUO_OPT_TIMEOUT, 0, 0, 10000, OPT_FIELD(connect_timeout_ms)},
	{"request_timeout", ForeignServerRelationId, QUO_OPT_TIMEOUT, 0, 0, 60000, OPT_FIELD(request_timeout_ms)},
	{"max_retries", ForeignServerRelationId, QUO_OPT_INT, 0, 10, 4, OPT_FIELD(max_retries)},
	{"rate_limit", ForeignServerRelationId, QUO_OPT_INT, 0, 100, 10, OPT_FIELD(rate_limit)},
	{"max_concurrent_requests", ForeignServerRelationId, QUO_OPT_INT, 1, QUO_MAX_CONCURRENT, 4, OPT_FIELD(max_concurrent)},
	{"fanout", ForeignServerRelationId, QUO_OPT_BOOL, 0, 1, 1, OPT_FIELD(fanout)},
	{"api_key", UserMappingRelationId, QUO_OPT_OTHER, 0, 0, 0, 0},
	{"endpoint", ForeignTableRelationId, QUO_OPT_OTHER, 0, 0, 0, 0},
	{"user_id", ForeignTableRelationId, QUO_OPT_OTHER, 0, 0, 0, 0},
	{"exclude_inactive", ForeignTableRelationId, QUO_OPT_OTHER, 0, 0, 0, 0},
	{"fanout", ForeignTableRelationId, QUO_OPT_BOOL, 0, 1, 1, OPT_FIELD(fanout)},
	{"column_name", AttributeRelationId, QUO_OPT_OTHER, 0, 0, 0, 0},
};

void		_PG_init(void);

/* GUCs */
int			quo_max_requests = 2000;
int			quo_mirror_max_requests = 100000;
bool		quo_progress = false;
char	   *quo_allowed_base_urls = NULL;

static bool check_allowed_base_urls(char **newval, void **extra, GucSource source);

/*
 * Load-time setup: the GUCs, libcurl's global state, the shared memory of
 * the rate limit and of the statistics; once per backend.
 */
void
_PG_init(void)
{
	DefineCustomIntVariable("quo_fdw.max_requests",
							"Most Quo API requests one query may make, all its scans and rescans together (0: no limit).",
							"A query that would need more stops with an error before it spends them.",
							&quo_max_requests, 2000, 0, INT_MAX,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("quo_fdw.mirror_max_requests",
							"Most Quo API requests one quo_fdw.refresh_mirror may make (0: no limit).",
							"The refresh sets quo_fdw.max_requests for each of its scans from what is left; a refresh that would need more stops and changes nothing.",
							&quo_mirror_max_requests, 100000, 0, INT_MAX,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomBoolVariable("quo_fdw.progress",
							 "Report the progress of long Quo scans as NOTICEs, at most every 5 seconds.",
							 NULL, &quo_progress, false,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("quo_fdw.allowed_base_urls",
							   "Comma-separated base_url values that servers owned by roles that are not superusers may use.",
							   "Without an entry here, only a superuser may give a server a base_url other than " QUO_DEFAULT_BASE_URL ".",
							   &quo_allowed_base_urls, "",
							   PGC_SUSET, GUC_LIST_INPUT,
							   check_allowed_base_urls, NULL, NULL);
	DefineCustomBoolVariable("quo_fdw.stats",
							 "Count Quo API requests, responses, rows and errors in quo_fdw.stats.",
							 "Counted only when quo_fdw is in shared_preload_libraries.",
							 &quo_stats_enabled, true,
							 PGC_SUSET, 0, NULL, NULL, NULL);
	/*
	 * A PGC_POSTMASTER variable may only be made while preloading; loaded
	 * later (no statistics then), the variable still exists, so that a
	 * value in postgresql.conf is not removed with a WARNING in every
	 * session by the prefix reservation below
	 */
	DefineCustomIntVariable("quo_fdw.stats_max",
							"Most (database, foreign server) pairs quo_fdw.stats keeps apart.",
							"Pairs beyond them are counted together in one overflow row; read at server start, with quo_fdw in shared_preload_libraries.",
							&quo_stats_max, 100, 1, 10000,
							process_shared_preload_libraries_in_progress ? PGC_POSTMASTER : PGC_SIGHUP,
							0, NULL, NULL, NULL);
	quo_mark_guc_prefix_reserved("quo_fdw");
	quo_http_init();
	quo_rate_init();
	quo_stats_init();
}

/* Name of the catalog an option context stands for, for messages. */
static const char *
context_name(Oid context)
{
	switch (context)
	{
		case ForeignServerRelationId:
			return "a server";
		case UserMappingRelationId:
			return "a user mapping";
		case ForeignTableRelationId:
			return "a foreign table";
		case AttributeRelationId:
			return "a foreign table column";
		default:
			return "this object";
	}
}

/*
 * Raise "invalid <what> "given" [for <where>]", with a hint naming the closest valid name when
 * one is close enough, else listing the valid ones.
 */
void
quo_suggest_option(const char *given, const char **valid, int nvalid,
				   const char *what, const char *where)
{
	const char *best = NULL;
	int			best_dist = INT_MAX;
	StringInfoData list;

	initStringInfo(&list);
	for (int i = 0; i < nvalid; i++)
	{
		int			d = varstr_levenshtein(given, strlen(given),
										   valid[i], strlen(valid[i]),
										   1, 1, 1, true);

		if (d < best_dist)
		{
			best_dist = d;
			best = valid[i];
		}
		appendStringInfo(&list, "%s%s", i ? ", " : "", valid[i]);
	}

	if (best != NULL && best_dist <= Max(2, (int) strlen(given) / 3))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 where ? errmsg("invalid %s \"%s\" for %s", what, given, where) :
				 errmsg("invalid %s \"%s\"", what, given),
				 errhint("Perhaps you meant \"%s\".", best)));
	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
			 where ? errmsg("invalid %s \"%s\" for %s", what, given, where) :
			 errmsg("invalid %s \"%s\"", what, given),
			 nvalid > 0 ? errhint("Valid %ss are: %s.", what, list.data) :
			 errhint("No %ss are valid here.", what)));
}

/* Parse a timeout in seconds (fractions allowed) into milliseconds. */
static int
parse_timeout(const char *name, const char *value)
{
	char	   *end;
	double		secs;

	errno = 0;
	secs = strtod(value, &end);
	if (end == value || *end != '\0' || errno != 0 || isnan(secs) ||
		secs <= 0 || secs > 86400)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid value for option \"%s\": \"%s\"", name, value),
				 errdetail("A timeout is a number of seconds greater than 0 and at most 86400.")));
	return (int) ceil(secs * 1000.0);
}

/* Parse a whole number option within [min, max]. */
static int
parse_int_option(const char *name, const char *value, int min, int max)
{
	char	   *end;
	long		v;

	errno = 0;
	v = strtol(value, &end, 10);
	if (end == value || *end != '\0' || errno != 0 || v < min || v > max)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid value for option \"%s\": \"%s\"", name, value),
				 errdetail("The value must be a whole number from %d to %d.", min, max)));
	return (int) v;
}

/* The definition of a numeric or boolean option, or NULL for any other name. */
static const QuoOptionDef *
number_option(const char *name)
{
	for (int i = 0; i < (int) lengthof(valid_options); i++)
		if (valid_options[i].kind != QUO_OPT_OTHER && strcmp(valid_options[i].name, name) == 0)
			return &valid_options[i];
	return NULL;
}

/* Parse a numeric or boolean option's value (ms for timeouts, 0/1 for booleans). */
static int
parse_number_option(const QuoOptionDef *def, const char *value)
{
	bool		b;

	if (def->kind == QUO_OPT_TIMEOUT)
		return parse_timeout(def->name, value);
	if (def->kind == QUO_OPT_BOOL)
	{
		if (!parse_bool(value, &b))
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
					 errmsg("invalid value for option \"%s\": \"%s\"", def->name, value),
					 errdetail("The value must be a boolean.")));
		return b ? 1 : 0;
	}
	return parse_int_option(def->name, value, def->min, def->max);
}

/* Whether host (as written in a URL) is a loopback address. */
static bool
is_loopback_host(const char *host, size_t len)
{
	int			octets = 0;
	const char *p = host;

	if ((len == 9 && pg_strncasecmp(host, "localhost", 9) == 0) ||
		(len == 5 && strncmp(host, "[::1]", 5) == 0))
		return true;
	/* 127.0.0.0/8 written as a dotted quad */
	if (len < 9 || strncmp(host, "127.", 4) != 0)
		return false;
	while (p < host + len)
	{
		int			digits = 0;
		int			v = 0;

		while (p < host + len && *p >= '0' && *p <= '9' && digits < 4)
		{
			v = v * 10 + (*p++ - '0');
			digits++;
		}
		if (digits == 0 || v > 255)
			return false;
		octets++;
		if (p < host + len && *p++ != '.')
			return false;
	}
	return octets == 4;
}

/* What is wrong with a base_url value, if anything. */
typedef enum QuoUrlProblem
{
	QUO_URL_OK,
	QUO_URL_SCHEME,				/* neither https:// nor http:// */
	QUO_URL_SHAPE,				/* no host, or credentials, query, spaces */
	QUO_URL_PLAIN_HTTP			/* http:// to a host that is not loopback */
} QuoUrlProblem;

/*
 * Whether a base_url value is https://host[:port][/path], or http:// for
 * a loopback host only (a local test server), without credentials or
 * query.  Raises nothing: the GUC check hook uses it too.
 */
static QuoUrlProblem
base_url_problem(const char *value)
{
	const char *host;
	size_t		hostlen;
	bool		https;

	if (pg_strncasecmp(value, "https://", 8) == 0)
	{
		host = value + 8;
		https = true;
	}
	else if (pg_strncasecmp(value, "http://", 7) == 0)
	{
		host = value + 7;
		https = false;
	}
	else
		return QUO_URL_SCHEME;
	if (*host == '\0' || *host == ':' || *host == '/' ||
		strpbrk(value, " \t\r\n@?#\\") != NULL)
		return QUO_URL_SHAPE;
	if (*host == '[')
		hostlen = strcspn(host, "]") + 1;
	else
		hostlen = strcspn(host, ":/");
	if (!https && !is_loopback_host(host, hostlen))
		return QUO_URL_PLAIN_HTTP;
	return QUO_URL_OK;
}

/* Check a base_url value (see base_url_problem), or raise an error. */
static void
check_base_url(const char *value)
{
	switch (base_url_problem(value))
	{
		case QUO_URL_OK:
			break;
		case QUO_URL_SCHEME:
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
					 errmsg("invalid value for option \"base_url\": \"%s\"", value),
					 errdetail("The URL must start with https:// (or http:// for a local test server).")));
			break;
		case QUO_URL_SHAPE:
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
					 errmsg("invalid value for option \"base_url\": \"%s\"", value),
					 errdetail("The URL must be a scheme and host, such as https://api.quo.com, without credentials, query or spaces.")));
			break;
		case QUO_URL_PLAIN_HTTP:
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
					 errmsg("invalid value for option \"base_url\": \"%s\"", value),
					 errdetail("Plain http:// is allowed only for loopback hosts (127.0.0.0/8, ::1, localhost), so the API key never crosses a network unencrypted."),
					 errhint("Use https://.")));
			break;
	}
}

/*
 * A base_url as quo_get_options uses it: without trailing '/'.  With
 * fold, the scheme and host are lowercased too, the form in which
 * base_urls are compared (they name the same server in any case).
 */
static char *
normalized_base_url(const char *url, bool fold)
{
	char	   *s = pstrdup(url);
	size_t		len = strlen(s);
	char	   *host;
	char	   *end;

	while (len > 0 && s[len - 1] == '/')
		s[--len] = '\0';
	if (!fold || (host = strstr(s, "://")) == NULL)
		return s;
	host += 3;
	end = host + (*host == '[' ? strcspn(host, "]") : strcspn(host, ":/"));
	for (char *c = s; c < end; c++)
		*c = pg_ascii_tolower((unsigned char) *c);
	return s;
}

/*
 * The entries of a quo_fdw.allowed_base_urls value: comma-separated,
 * blanks around each ignored, empty ones skipped.  Points into a copy.
 */
static List *
split_base_url_list(const char *value)
{
	char	   *copy = pstrdup(value);
	List	   *urls = NIL;
	char	   *p = copy;

	while (*p != '\0')
	{
		char	   *start;
		char	   *end;

		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		start = p;
		while (*p != '\0' && *p != ',')
			p++;
		end = p;
		if (*p == ',')
			p++;
		while (end > start && (end[-1] == ' ' || end[-1] == '\t' ||
							   end[-1] == '\r' || end[-1] == '\n'))
			end--;
		*end = '\0';
		if (*start != '\0')
			urls = lappend(urls, start);
	}
	return urls;
}

/*
 * GUC check hook of quo_fdw.allowed_base_urls: every entry must be a
 * base_url the validator would accept, so that a typo is reported when
 * the setting is made instead of never matching.
 */
static bool
check_allowed_base_urls(char **newval, void **extra, GucSource source)
{
	List	   *urls;
	ListCell   *lc;

	(void) extra;
	(void) source;
	if (*newval == NULL)
		return true;
	urls = split_base_url_list(*newval);
	foreach(lc, urls)
	{
		const char *url = lfirst(lc);

		if (base_url_problem(url) != QUO_URL_OK)
		{
			GUC_check_errdetail("\"%s\" is not a valid base_url: it must be https://host[:port][/path], or http:// to a loopback host.",
								url);
			return false;
		}
	}
	return true;
}

/*
 * Whether servers owned by roles that are not superusers may use url:
 * it is the default, or quo_fdw.allowed_base_urls lists it (trailing '/'
 * ignored, scheme and host in any case).
 */
static bool
base_url_allowed(const char *url)
{
	char	   *norm = normalized_base_url(url, true);
	List	   *urls;
	ListCell   *lc;

	if (strcmp(norm, QUO_DEFAULT_BASE_URL) == 0)
		return true;
	if (quo_allowed_base_urls == NULL)
		return false;
	urls = split_base_url_list(quo_allowed_base_urls);
	foreach(lc, urls)
		if (strcmp(norm, normalized_base_url(lfirst(lc), true)) == 0)
			return true;
	return false;
}

/*
 * Refuse a base_url the current user may not set.  A base_url is a place
 * to send requests to, and errors quote what the place answers, so
 * pointing a server at any host (a metadata endpoint, an admin port on
 * loopback) is a superuser's decision, or one from the list a superuser
 * keeps in quo_fdw.allowed_base_urls.
 *
 * ALTER SERVER by an owner that is not a superuser: the validator sees the
 * whole new option list, not what changed, so it cannot tell a base_url
 * being kept from one being set.  A URL that is neither the default nor
 * listed is refused in any such ALTER, whatever the statement changes.
 * Nothing is lost by that: such a server (a superuser set the URL, or it
 * was listed and no longer is) is refused at scan time too, as its owner
 * is not a superuser; the owner may drop the base_url (back to the
 * default) or ask a superuser to list the URL or to make the change.
 */
static void
check_base_url_privilege(const char *value)
{
	if (superuser() || base_url_allowed(value))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied to set option \"base_url\""),
			 errdetail("Only a superuser may give a server a base_url other than %s, unless quo_fdw.allowed_base_urls lists the URL.",
					   QUO_DEFAULT_BASE_URL),
			 errhint("A superuser can list the URL in quo_fdw.allowed_base_urls, or make the change.  ALTER SERVER checks a base_url the server already has, too.")));
}

/*
 * The shortest api_key accepted.  Quo's keys are far longer; a shorter
 * value cannot be a real key, and redacting it wherever its bytes appear
 * would cut pieces out of ordinary words in messages ("pageTo[api_key]en").
 */
#define QUO_MIN_API_KEY_LEN 16

/*
 * Check an api_key: at least QUO_MIN_API_KEY_LEN characters of printable
 * ASCII, no space, line break or control character (none belongs in a key,
 * and the key goes out as a header).  role and server are NULL in the
 * validator; at scan time they name the user mapping, which was created
 * before this rule, so that the key is refused instead of sent.
 */
static void
check_api_key(const char *key, const char *role, const char *server)
{
	bool		printable = true;

	for (const unsigned char *p = (const unsigned char *) key; *p; p++)
		if (*p <= ' ' || *p >= 0x7f)
			printable = false;
	if (!printable)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 role ? errmsg("invalid value for option \"api_key\" of the user mapping for role \"%s\" on server \"%s\"",
							   role, server) :
				 errmsg("invalid value for option \"api_key\""),
				 errdetail("The key must be printable ASCII, without spaces, line breaks or control characters."),
				 role ? errhint("ALTER USER MAPPING FOR CURRENT_USER SERVER %s OPTIONS (SET api_key '...').",
								quote_identifier(server)) : 0));
	if (strlen(key) < QUO_MIN_API_KEY_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 role ? errmsg("invalid value for option \"api_key\" of the user mapping for role \"%s\" on server \"%s\"",
							   role, server) :
				 errmsg("invalid value for option \"api_key\""),
				 errdetail("The key must be at least %d characters long.", QUO_MIN_API_KEY_LEN),
				 role ? errhint("ALTER USER MAPPING FOR CURRENT_USER SERVER %s OPTIONS (SET api_key '...').",
								quote_identifier(server)) : 0));
}

/* Check the value of a table option that becomes a request parameter. */
static void
check_table_option(const QuoTableOption *opt, const char *value)
{
	bool		b;

	if (opt->is_bool && !parse_bool(value, &b))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid value for option \"%s\": \"%s\"", opt->name, value),
				 errdetail("The value must be a boolean.")));
	if (opt->prefix && strncmp(value, opt->prefix, strlen(opt->prefix)) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid value for option \"%s\": \"%s\"", opt->name, value),
				 errdetail("Quo identifiers for this option start with \"%s\".", opt->prefix)));
}

/* The endpoint named in an option value, or an error with a suggestion. */
static const QuoEndpoint *
lookup_endpoint(const char *value)
{
	const QuoEndpoint *ep = quo_endpoint_by_name(value);

	if (ep == NULL)
	{
		int			n = quo_endpoint_count();
		const char **names = palloc(sizeof(char *) * n);

		for (int i = 0; i < n; i++)
			names[i] = quo_endpoint_at(i)->name;
		quo_suggest_option(value, names, n, "endpoint", NULL);
	}
	return ep;
}

/*
 * quo_fdw_validator
 *		Check the options of CREATE/ALTER SERVER, USER MAPPING, FOREIGN TABLE
 *		and foreign table columns.
 */
Datum
quo_fdw_validator(PG_FUNCTION_ARGS)
{
	List	   *options = untransformRelOptions(PG_GETARG_DATUM(0));
	Oid			catalog = PG_GETARG_OID(1);
	ListCell   *lc;
	const QuoEndpoint *ep = NULL;

	/* The endpoint first: the other table options depend on it. */
	foreach(lc, options)
	{
		DefElem    *def = lfirst(lc);

		if (catalog == ForeignTableRelationId && strcmp(def->defname, "endpoint") == 0)
			ep = lookup_endpoint(defGetString(def));
	}

	foreach(lc, options)
	{
		DefElem    *def = lfirst(lc);
		const char *name = def->defname;
		bool		found = false;
		const char *valid[lengthof(valid_options)];
		int			nvalid = 0;

		if (strcmp(name, "api_key") == 0 && catalog != UserMappingRelationId)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("option \"api_key\" is accepted only in a user mapping"),
					 errhint("Use CREATE USER MAPPING FOR CURRENT_USER SERVER ... OPTIONS (api_key '...').")));

		for (int i = 0; i < (int) lengthof(valid_options); i++)
		{
			if (valid_options[i].context != catalog)
				continue;
			valid[nvalid++] = valid_options[i].name;
			if (strcmp(valid_options[i].name, name) == 0)
				found = true;
		}
		if (!found)
			quo_suggest_option(name, valid, nvalid, "option", context_name(catalog));

		if (strcmp(name, "base_url") == 0)
		{
			check_base_url(defGetString(def));
			check_base_url_privilege(defGetString(def));
		}
		else if (number_option(name) != NULL)
			(void) parse_number_option(number_option(name), defGetString(def));
		else if (strcmp(name, "api_key") == 0)
			check_api_key(defGetString(def), NULL, NULL);
		else if (catalog == ForeignTableRelationId && strcmp(name, "endpoint") != 0)
		{
			const QuoTableOption *opt = NULL;

			if (ep == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
						 errmsg("option \"%s\" needs the option \"endpoint\"", name)));
			for (int i = 0; i < ep->noptions; i++)
				if (strcmp(ep->options[i].name, name) == 0)
					opt = &ep->options[i];
			if (opt == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
						 errmsg("option \"%s\" is not valid for endpoint \"%s\"", name, ep->name)));
			check_table_option(opt, defGetString(def));
		}
	}

	PG_RETURN_VOID();
}

/* The endpoint of a foreign table, from its "endpoint" option or its name. */
const QuoEndpoint *
quo_table_endpoint(Oid foreigntableid)
{
	ForeignTable *table = GetForeignTable(foreigntableid);
	ListCell   *lc;
	const char *name = NULL;

	foreach(lc, table->options)
	{
		DefElem    *def = lfirst(lc);

		if (strcmp(def->defname, "endpoint") == 0)
			name = defGetString(def);
	}
	if (name == NULL)
		name = get_rel_name(foreigntableid);
	if (quo_endpoint_by_name(name) == NULL)
	{
		StringInfoData names;

		initStringInfo(&names);
		for (int i = 0; i < quo_endpoint_count(); i++)
			appendStringInfo(&names, "%s'%s'", i == 0 ? "" : ", ", quo_endpoint_at(i)->name);
		ereport(ERROR,
				(errcode(ERRCODE_FDW_TABLE_NOT_FOUND),
				 errmsg("foreign table \"%s\" names no Quo endpoint",
						get_rel_name(foreigntableid)),
				 errhint("Add OPTIONS (endpoint '...') with one of %s.", names.data)));
	}
	return quo_endpoint_by_name(name);
}

/* The endpoint column a table column reads: its column_name option, or its name. */
char *
quo_column_remote_name(Oid relid, AttrNumber attnum)
{
	List	   *options = GetForeignColumnOptions(relid, attnum);
	ListCell   *lc;

	foreach(lc, options)
	{
		DefElem    *def = lfirst(lc);

		if (strcmp(def->defname, "column_name") == 0)
			return defGetString(def);
	}
	return get_attname(relid, attnum, false);
}

/*
 * Gather what requests through server serverid as userid need, for
 * endpoint ep: server options, and (need_key) the user mapping's key,
 * checked.  need_key is false at plan time and for EXPLAIN without
 * ANALYZE, where nothing is sent and a missing mapping is not yet an error.
 */
void
quo_get_server_options(Oid serverid, Oid userid, const QuoEndpoint *ep, bool need_key,
					   QuoFdwOptions *opts)
{
	ForeignServer *server = GetForeignServer(serverid);
	ListCell   *lc;

	memset(opts, 0, sizeof(*opts));
	opts->server_name = server->servername;
	opts->server_id = server->serverid;
	opts->base_url = QUO_DEFAULT_BASE_URL;
	for (int i = 0; i < (int) lengthof(valid_options); i++)
		if (valid_options[i].kind != QUO_OPT_OTHER)
			*(int *) ((char *) opts + valid_options[i].offset) = valid_options[i].dflt;
	opts->endpoint = ep;

	foreach(lc, server->options)
	{
		DefElem    *def = lfirst(lc);

		if (strcmp(def->defname, "base_url") == 0)
			opts->base_url = normalized_base_url(defGetString(def), false);
		else if (number_option(def->defname) != NULL)
		{
			const QuoOptionDef *d = number_option(def->defname);

			*(int *) ((char *) opts + d->offset) = parse_number_option(d, defGetString(def));
		}
	}

	if (need_key)
	{
		UserMapping *um = NULL;
		HeapTuple	tp;

		/*
		 * The validator's rule once more, for the server as it is now: its
		 * base_url may have been set before the rule, taken off the list
		 * since, or set by a superuser before OWNER TO gave the server to
		 * a role that is not one.  The owner decides where the server
		 * sends requests, so the owner is checked, not the current user.
		 */
		if (!superuser_arg(server->owner) && !base_url_allowed(opts->base_url))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied to send requests through server \"%s\"",
							server->servername),
					 errdetail("The server's base_url is neither %s nor listed in quo_fdw.allowed_base_urls, and its owner \"%s\" is not a superuser.",
							   QUO_DEFAULT_BASE_URL, GetUserNameFromId(server->owner, false)),
					 errhint("A superuser can list the URL in quo_fdw.allowed_base_urls, or take ownership of the server.")));

		/* GetUserMapping's own error does not say which server; ours does. */
		tp = SearchSysCache2(USERMAPPINGUSERSERVER, ObjectIdGetDatum(userid),
							 ObjectIdGetDatum(server->serverid));
		if (!HeapTupleIsValid(tp))
			tp = SearchSysCache2(USERMAPPINGUSERSERVER, ObjectIdGetDatum(InvalidOid),
								 ObjectIdGetDatum(server->serverid));
		if (!HeapTupleIsValid(tp))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
					 errmsg("no user mapping for role \"%s\" on server \"%s\"",
							GetUserNameFromId(userid, false), server->servername),
					 errhint("Create one with CREATE USER MAPPING FOR CURRENT_USER SERVER %s OPTIONS (api_key '...').",
							 quote_identifier(server->servername))));
		ReleaseSysCache(tp);
		um = GetUserMapping(userid, server->serverid);
		foreach(lc, um->options)
		{
			DefElem    *def = lfirst(lc);

			if (strcmp(def->defname, "api_key") == 0)
				opts->api_key = defGetString(def);
		}
		if (opts->api_key == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
					 errmsg("user mapping for role \"%s\" on server \"%s\" has no api_key",
							GetUserNameFromId(userid, false), server->servername),
					 errhint("ALTER USER MAPPING FOR CURRENT_USER SERVER %s OPTIONS (ADD api_key '...').",
							 quote_identifier(server->servername))));
		check_api_key(opts->api_key, GetUserNameFromId(userid, false), server->servername);
	}
}

/*
 * Gather the options a scan of foreigntableid as userid needs: the
 * server's (quo_get_server_options), then the table's own.
 */
void
quo_get_options(Oid foreigntableid, Oid userid, bool need_key,
				QuoFdwOptions *opts)
{
	ForeignTable *table = GetForeignTable(foreigntableid);
	ListCell   *lc;

	quo_get_server_options(table->serverid, userid, quo_table_endpoint(foreigntableid),
						   need_key, opts);

	foreach(lc, table->options)
	{
		DefElem    *def = lfirst(lc);

		/* a table's own fanout overrides the server's */
		if (number_option(def->defname) != NULL)
			*(int *) ((char *) opts + number_option(def->defname)->offset) =
				parse_number_option(number_option(def->defname), defGetString(def));
		for (int i = 0; i < opts->endpoint->noptions; i++)
		{
			const QuoTableOption *opt = &opts->endpoint->options[i];

			if (strcmp(opt->name, def->defname) == 0)
			{
				const char *v = defGetString(def);

				if (opt->is_bool)
				{
					bool		b = false;

					(void) parse_bool(v, &b);
					v = b ? "true" : "false";
				}
				opts->fixed_params = lappend(opts->fixed_params, pstrdup(opt->param));
				opts->fixed_params = lappend(opts->fixed_params, pstrdup(v));
			}
		}
	}
}
