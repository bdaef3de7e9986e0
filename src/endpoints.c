/*-------------------------------------------------------------------------
 * endpoints.c
 *		The Quo API endpoints quo_fdw exposes, described as data: columns,
 *		JSON keys, and which SQL quals become which request parameters.
 *
 * Adding a table is adding an entry here; the planner, request builder and
 * row converter read only these tables.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"

#include "quo_fdw.h"

#define lengthof_(a) ((int) (sizeof(a) / sizeof((a)[0])))

#define EXACT_EQ (QUO_OPBIT(QUO_OP_EQ) | QUO_OPBIT(QUO_OP_IN))

/* GET /v1/calls and GET /v1/calls/{callId} */
static const QuoColumn call_columns[] = {
	{"id", "id", QUO_TEXT, QUO_SRC_JSON},
	{"phone_number_id", "phoneNumberId", QUO_TEXT, QUO_SRC_JSON},
	{"user_id", "userId", QUO_TEXT, QUO_SRC_JSON},
	{"direction", "direction", QUO_TEXT, QUO_SRC_JSON},
	{"status", "status", QUO_TEXT, QUO_SRC_JSON},
	{"participants", "participants", QUO_TEXT_ARRAY, QUO_SRC_JSON},
	{"answered_at", "answeredAt", QUO_TIMESTAMPTZ, QUO_SRC_JSON},
	{"answered_by", "answeredBy", QUO_TEXT, QUO_SRC_JSON},
	{"initiated_by", "initiatedBy", QUO_TEXT, QUO_SRC_JSON},
	{"completed_at", "completedAt", QUO_TIMESTAMPTZ, QUO_SRC_JSON},
	{"created_at", "createdAt", QUO_TIMESTAMPTZ, QUO_SRC_JSON},
	{"updated_at", "updatedAt", QUO_TIMESTAMPTZ, QUO_SRC_JSON},
	{"call_route", "callRoute", QUO_TEXT, QUO_SRC_JSON},
	{"duration", "duration", QUO_INT4, QUO_SRC_JSON},
	{"forwarded_from", "forwardedFrom", QUO_TEXT, QUO_SRC_JSON},
	{"forwarded_to", "forwardedTo", QUO_TEXT, QUO_SRC_JSON},
	{"ai_handled", "aiHandled", QUO_TEXT, QUO_SRC_JSON},
	{"raw", NULL, QUO_JSONB, QUO_SRC_RAW},
};

/*
 * calls: the API lists the calls of one Quo number with one participant.
 * "v = ANY (participants)" is exactly what the API filters on; an array
 * comparison is rechecked, as the row may list more numbers than were sent.
 */
static const QuoFilter call_filters[] = {
	{"id", QUO_FILTER_ID, NULL, NULL, 0, 0, "AC", EXACT_EQ, false},
	{"phone_number_id", QUO_FILTER_EQ, "phoneNumberId", NULL, 0, 0, "PN", EXACT_EQ, true},
	{"participants", QUO_FILTER_ELEMENTS, "participants", NULL, 0, 1, NULL, QUO_OPBIT(QUO_OP_HAS), true},
	{"user_id", QUO_FILTER_EQ, "userId", NULL, 0, 0, "US", 0, false},
	{"created_at", QUO_FILTER_RANGE, "createdAfter", "createdBefore", 0, 0, NULL, 0, false},
};

/* GET /v1/messages and GET /v1/messages/{id} */
static const QuoColumn message_columns[] = {
	{"id", "id", QUO_TEXT, QUO_SRC_JSON},
	{"phone_number_id", "phoneNumberId", QUO_TEXT, QUO_SRC_JSON_OR_PHONE},
	{"conversation_id", "conversationId", QUO_TEXT, QUO_SRC_JSON_OR_CONVERSATION},
	{"direction", "direction", QUO_TEXT, QUO_SRC_JSON},
	{"from_number", "from", QUO_TEXT, QUO_SRC_JSON},
	{"to_numbers", "to", QUO_TEXT_ARRAY, QUO_SRC_JSON},
	{"text", "text", QUO_TEXT, QUO_SRC_JSON},
	{"status", "status", QUO_TEXT, QUO_SRC_JSON},
	{"user_id", "userId", QUO_TEXT, QUO_SRC_JSON},
	{"created_at", "createdAt", QUO_TIMESTAMPTZ, QUO_SRC_JSON},
	{"updated_at", "updatedAt", QUO_TIMESTAMPTZ, QUO_SRC_JSON},
	{"participants", NULL, QUO_TEXT_ARRAY, QUO_SRC_PARTICIPANTS},
	{"raw", NULL, QUO_JSONB, QUO_SRC_RAW},
};

/*
 * messages: participants is the set the rows were fetched for, so a single
 * participants qual is exactly the request; phone_number_id falls back to
 * the number the rows were fetched with when the API leaves it null.
 */
static const QuoFilter message_filters[] = {
	{"id", QUO_FILTER_ID, NULL, NULL, 0, 0, "AC", EXACT_EQ, false},
	{"phone_number_id", QUO_FILTER_EQ, "phoneNumberId", NULL, 0, 0, "PN", EXACT_EQ, true},
	{"participants", QUO_FILTER_ELEMENTS, "participants", NULL, 0, 10, NULL,
	QUO_OPBIT(QUO_OP_HAS) | QUO_OPBIT(QUO_OP_ARRAY_EQ) | QUO_OPBIT(QUO_OP_CONTAINS), true},
	{"user_id", QUO_FILTER_EQ, "userId", NULL, 0, 0, "US", 0, false},
	{"created_at", QUO_FILTER_RANGE, "createdAfter", "createdBefore", 0, 0, NULL, 0, false},
};

/* GET /v1/conversations */
static const QuoColumn conversation_columns[] = {
	{"id", "id", QUO_TEXT, QUO_SRC_JSON},
	{"phone_number_id", "phoneNumberId", QUO_TEXT, QUO_SRC_JSON},
	{"name", "name", QUO_TEXT, QUO_SRC_JSON},
	{"participants", "participants", QUO_TEXT_ARRAY, QUO_SRC_JSON},
	{"assigned_to", "assignedTo", QUO_TEXT, QUO_SRC_JSON},
	{"created_at", "createdAt", QUO_TIMESTAMPTZ, QUO_SRC_JSON},
	{"updated_at", "updatedAt", QUO_TIMESTAMPTZ, QUO_SRC_JSON},
	{"deleted_at", "deletedAt", QUO_TIMESTAMPTZ, QUO_SRC_JSON},
	{"last_activity_at", "lastActivityAt", QUO_TIMESTAMPTZ, QUO_SRC_JSON},
	{"last_activity_id", "lastActivityId", QUO_TEXT, QUO_SRC_JSON},
	{"muted_until", "mutedUntil", QUO_TIMESTAMPTZ, QUO_SRC_JSON},
	{"snoozed_until", "snoozedUntil", QUO_TIMESTAMPTZ, QUO_SRC_JSON},
	{"raw", NULL, QUO_JSONB, QUO_SRC_RAW},
};

/*
 * conversations: phoneNumbers takes up to 100 numbers or PN ids at once;
 * values that are not PN ids cannot equal phone_number_id and are not sent.
 */
static const QuoFilter conversation_filters[] = {
	{"phone_number_id", QUO_FILTER_EQ, "phoneNumbers", NULL, 100, 0, "PN", EXACT_EQ, false},
	{"created_at", QUO_FILTER_RANGE, "createdAfter", "createdBefore", 0, 0, NULL, 0, false},
	{"updated_at", QUO_FILTER_RANGE, "updatedAfter", "updatedBefore", 0, 0, NULL, 0, false},
};

static const QuoTableOption conversation_options[] = {
	{"user_id", "userId", false, "US"},
	{"exclude_inactive", "excludeInactive", true, NULL},
};

/* calls and messages workspace-wide: through the conversations */
static const QuoFanout call_fanout = {
	"conversations", "phone_number_id", "participants", 1, "created_at", "last_activity_at",
	NULL						/* a call has one participant besides the number */
};
static const QuoFanout message_fanout = {
	"conversations", "phone_number_id", "participants", 10, "created_at", "last_activity_at",
	"The Quo API lists messages only for conversations of at most 10 participants."
};

/* GET /v1/users and GET /v1/users/{userId} */
static const QuoColumn user_columns[] = {
	{"id", "id", QUO_TEXT, QUO_SRC_JSON},
	{"email", "email", QUO_TEXT, QUO_SRC_JSON},
	{"first_name", "firstName", QUO_TEXT, QUO_SRC_JSON},
	{"last_name", "lastName", QUO_TEXT, QUO_SRC_JSON},
	{"picture_url", "pictureUrl", QUO_TEXT, QUO_SRC_JSON},
	{"role", "role", QUO_TEXT, QUO_SRC_JSON},
	{"created_at", "createdAt", QUO_TIMESTAMPTZ, QUO_SRC_JSON},
	{"updated_at", "updatedAt", QUO_TIMESTAMPTZ, QUO_SRC_JSON},
	{"raw", NULL, QUO_JSONB, QUO_SRC_RAW},
};

/* users: the list takes no filter; id = v is a get by id */
static const QuoFilter user_filters[] = {
	{"id", QUO_FILTER_ID, NULL, NULL, 0, 0, "US", EXACT_EQ, false},
};

/* GET /v1/tasks and GET /v1/tasks/{taskId} */
static const QuoColumn task_columns[] = {
	{"id", "taskId", QUO_TEXT, QUO_SRC_JSON},
	{"phone_number_id", "phoneNumberId", QUO_TEXT, QUO_SRC_JSON},
	{"conversation_id", "conversationId", QUO_TEXT, QUO_SRC_JSON},
	{"activity_id", "activityId", QUO_TEXT, QUO_SRC_JSON},
	{"title", "title", QUO_TEXT, QUO_SRC_JSON},
	{"description", "description", QUO_TEXT, QUO_SRC_JSON},
	{"assigned_to", "assignedTo", QUO_TEXT, QUO_SRC_JSON},
	{"assigned_by", "assignedBy", QUO_TEXT, QUO_SRC_JSON},
	{"created_by", "createdBy", QUO_TEXT, QUO_SRC_JSON},
	{"revision", "revision", QUO_TEXT, QUO_SRC_JSON},
	{"due_date", "dueDate", QUO_TIMESTAMPTZ, QUO_SRC_JSON},
	{"created_at", "createdAt", QUO_TIMESTAMPTZ, QUO_SRC_JSON},
	{"completed", "completed", QUO_BOOL, QUO_SRC_JSON},
	{"is_deleted", "isDeleted", QUO_BOOL, QUO_SRC_JSON},
	{"raw", NULL, QUO_JSONB, QUO_SRC_RAW},
};

/* tasks: the list takes no filter; id = v is a get by id */
static const QuoFilter task_filters[] = {
	{"id", QUO_FILTER_ID, NULL, NULL, 0, 0, "TK", EXACT_EQ, false},
};

/* the paging styles (quo_fdw.h) */
const QuoPaging quo_paging_none = {QUO_PAGING_NONE, NULL, NULL, NULL};
const QuoPaging quo_paging_v1 = {QUO_PAGING_TOKEN, "maxResults", "pageToken", "nextPageToken"};
const QuoPaging quo_paging_dated = {QUO_PAGING_CURSOR, "limit", "after", "nextCursor"};

static const QuoEndpoint endpoints[] = {
	{"calls", "/v1/calls", "/v1/calls/", &quo_paging_v1, 100, QUO_ITEM_OBJECT, NULL,
		call_columns, lengthof_(call_columns),
		call_filters, lengthof_(call_filters),
		NULL, 0,
	"WHERE phone_number_id = 'PN123abc' AND '+15555550123' = ANY (participants)",
	&call_fanout, NULL},
	{"conversations", "/v1/conversations", NULL, &quo_paging_v1, 100, QUO_ITEM_OBJECT, NULL,
		conversation_columns, lengthof_(conversation_columns),
		conversation_filters, lengthof_(conversation_filters),
		conversation_options, lengthof_(conversation_options),
	NULL, NULL, NULL},
	{"messages", "/v1/messages", "/v1/messages/", &quo_paging_v1, 100, QUO_ITEM_OBJECT, NULL,
		message_columns, lengthof_(message_columns),
		message_filters, lengthof_(message_filters),
		NULL, 0,
	"WHERE phone_number_id = 'PN123abc' AND participants = ARRAY['+15555550123']",
	&message_fanout, NULL},
	/* maxResults 1..50 (the v1 document); the dated generation is live for
	 * users: moving is &quo_paging_dated, "/users", and "2026-03-30" */
	{"users", "/v1/users", "/v1/users/", &quo_paging_v1, 50, QUO_ITEM_OBJECT, NULL,
		user_columns, lengthof_(user_columns),
		user_filters, lengthof_(user_filters),
		NULL, 0,
		NULL, NULL,
	"The API key has no access to the workspace's users."},
	/* maxResults 1..100; the last page has no nextPageToken at all */
	{"tasks", "/v1/tasks", "/v1/tasks/", &quo_paging_v1, 100, QUO_ITEM_OBJECT, NULL,
		task_columns, lengthof_(task_columns),
		task_filters, lengthof_(task_filters),
		NULL, 0,
		NULL, NULL,
	"The API key has no access to the workspace's tasks."},
};

/* The endpoint called name, or NULL. */
const QuoEndpoint *
quo_endpoint_by_name(const char *name)
{
	for (int i = 0; i < lengthof_(endpoints); i++)
		if (strcmp(endpoints[i].name, name) == 0)
			return &endpoints[i];
	return NULL;
}

/* The i-th endpoint, for IMPORT FOREIGN SCHEMA and option hints. */
const QuoEndpoint *
quo_endpoint_at(int i)
{
	return (i >= 0 && i < lengthof_(endpoints)) ? &endpoints[i] : NULL;
}

int
quo_endpoint_count(void)
{
	return lengthof_(endpoints);
}

/* Index of the column called name in ep, or -1. */
int
quo_endpoint_column(const QuoEndpoint *ep, const char *name)
{
	for (int i = 0; i < ep->ncolumns; i++)
		if (strcmp(ep->columns[i].name, name) == 0)
			return i;
	return -1;
}

/* Index of the filter on column in ep, or -1. */
int
quo_endpoint_filter(const QuoEndpoint *ep, const char *column)
{
	for (int i = 0; i < ep->nfilters; i++)
		if (strcmp(ep->filters[i].column, column) == 0)
			return i;
	return -1;
}

/* The type OID a column of this type must be declared with. */
Oid
quo_coltype_oid(QuoColType type)
{
	switch (type)
	{
		case QUO_TEXT:
			return TEXTOID;
		case QUO_INT4:
			return INT4OID;
		case QUO_TIMESTAMPTZ:
			return TIMESTAMPTZOID;
		case QUO_TEXT_ARRAY:
			return TEXTARRAYOID;
		case QUO_JSONB:
			return JSONBOID;
		case QUO_BOOL:
			return BOOLOID;
	}
	return InvalidOid;
}

/* The SQL spelling of a column type, for DDL and messages. */
const char *
quo_coltype_name(QuoColType type)
{
	switch (type)
	{
		case QUO_TEXT:
			return "text";
		case QUO_INT4:
			return "integer";
		case QUO_TIMESTAMPTZ:
			return "timestamptz";
		case QUO_TEXT_ARRAY:
			return "text[]";
		case QUO_JSONB:
			return "jsonb";
		case QUO_BOOL:
			return "boolean";
	}
	return "?";
}
