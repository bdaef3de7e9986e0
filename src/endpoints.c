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
	{"id", "id", QUO_TEXT, QUO_SRC_JSON, QUO_CTX_NONE},
	{"phone_number_id", "phoneNumberId", QUO_TEXT, QUO_SRC_JSON, QUO_CTX_NONE},
	{"user_id", "userId", QUO_TEXT, QUO_SRC_JSON, QUO_CTX_NONE},
	{"direction", "direction", QUO_TEXT, QUO_SRC_JSON, QUO_CTX_NONE},
	{"status", "status", QUO_TEXT, QUO_SRC_JSON, QUO_CTX_NONE},
	{"participants", "participants", QUO_TEXT_ARRAY, QUO_SRC_JSON, QUO_CTX_NONE},
	{"answered_at", "answeredAt", QUO_TIMESTAMPTZ, QUO_SRC_JSON, QUO_CTX_NONE},
	{"answered_by", "answeredBy", QUO_TEXT, QUO_SRC_JSON, QUO_CTX_NONE},
	{"initiated_by", "initiatedBy", QUO_TEXT, QUO_SRC_JSON, QUO_CTX_NONE},
	{"completed_at", "completedAt", QUO_TIMESTAMPTZ, QUO_SRC_JSON, QUO_CTX_NONE},
	{"created_at", "createdAt", QUO_TIMESTAMPTZ, QUO_SRC_JSON, QUO_CTX_NONE},
	{"updated_at", "updatedAt", QUO_TIMESTAMPTZ, QUO_SRC_JSON, QUO_CTX_NONE},
	{"call_route", "callRoute", QUO_TEXT, QUO_SRC_JSON, QUO_CTX_NONE},
	{"duration", "duration", QUO_INT4, QUO_SRC_JSON, QUO_CTX_NONE},
	{"forwarded_from", "forwardedFrom", QUO_TEXT, QUO_SRC_JSON, QUO_CTX_NONE},
	{"forwarded_to", "forwardedTo", QUO_TEXT, QUO_SRC_JSON, QUO_CTX_NONE},
	{"ai_handled", "aiHandled", QUO_TEXT, QUO_SRC_JSON, QUO_CTX_NONE},
	{"raw", NULL, QUO_JSONB, QUO_SRC_RAW, QUO_CTX_NONE},
};

/*
 * calls: the API lists the calls of one Quo number with one participant.
 * "v = ANY (participants)" is exactly what the API filters on; an array
 * comparison is rechecked, as the row may list more numbers than were sent.
 */
static const QuoFilter call_filters[] = {
	{"id", QUO_FILTER_ID, NULL, NULL, 0, 0, "AC", EXACT_EQ, false, 0},
	{"phone_number_id", QUO_FILTER_EQ, "phoneNumberId", NULL, 0, 0, "PN", EXACT_EQ, true, 0},
	{"participants", QUO_FILTER_ELEMENTS, "participants", NULL, 0, 1, NULL, QUO_OPBIT(QUO_OP_HAS), true, 0},
	{"user_id", QUO_FILTER_EQ, "userId", NULL, 0, 0, "US", 0, false, 0},
	{"created_at", QUO_FILTER_RANGE, "createdAfter", "createdBefore", 0, 0, NULL, 0, false, 0},
};

/* GET /v1/messages and GET /v1/messages/{id} */
static const QuoColumn message_columns[] = {
	{"id", "id", QUO_TEXT, QUO_SRC_JSON, QUO_CTX_NONE},
	{"phone_number_id", "phoneNumberId", QUO_TEXT, QUO_SRC_JSON, QUO_CTX_PHONE},
	{"conversation_id", "conversationId", QUO_TEXT, QUO_SRC_JSON, QUO_CTX_CONVERSATION},
	{"direction", "direction", QUO_TEXT, QUO_SRC_JSON, QUO_CTX_NONE},
	{"from_number", "from", QUO_TEXT, QUO_SRC_JSON, QUO_CTX_NONE},
	{"to_numbers", "to", QUO_TEXT_ARRAY, QUO_SRC_JSON, QUO_CTX_NONE},
	{"text", "text", QUO_TEXT, QUO_SRC_JSON, QUO_CTX_NONE},
	{"status", "status", QUO_TEXT, QUO_SRC_JSON, QUO_CTX_NONE},
	{"user_id", "userId", QUO_TEXT, QUO_SRC_JSON, QUO_CTX_NONE},
	{"created_at", "createdAt", QUO_TIMESTAMPTZ, QUO_SRC_JSON, QUO_CTX_NONE},
	{"updated_at", "updatedAt", QUO_TIMESTAMPTZ, QUO_SRC_JSON, QUO_CTX_NONE},
	{"participants", NULL, QUO_TEXT_ARRAY, QUO_SRC_CONTEXT, QUO_CTX_PARTICIPANTS},
	{"raw", NULL, QUO_JSONB, QUO_SRC_RAW, QUO_CTX_NONE},
};

/*
 * messages: participants is the set the rows were fetched for, so a single
 * participants qual is exactly the request; phone_number_id falls back to
 * the number the rows were fetched with when the API leaves it null.
 */
static const QuoFilter message_filters[] = {
	{"id", QUO_FILTER_ID, NULL, NULL, 0, 0, "AC", EXACT_EQ, false, 0},
	{"phone_number_id", QUO_FILTER_EQ, "phoneNumberId", NULL, 0, 0, "PN", EXACT_EQ, true, 0},
	{"participants", QUO_FILTER_ELEMENTS, "participants", NULL, 0, 10, NULL,
	QUO_OPBIT(QUO_OP_HAS) | QUO_OPBIT(QUO_OP_ARRAY_EQ) | QUO_OPBIT(QUO_OP_CONTAINS), true, 0},
	{"user_id", QUO_FILTER_EQ, "userId", NULL, 0, 0, "US", 0, false, 0},
	{"created_at", QUO_FILTER_RANGE, "createdAfter", "createdBefore", 0, 0, NULL, 0, false, 0},
};

/* GET /v1/conversations */
static const QuoColumn conversation_columns[] = {
	{"id", "id", QUO_TEXT, QUO_SRC_JSON, QUO_CTX_NONE},
	{"phone_number_id", "phoneNumberId", QUO_TEXT, QUO_SRC_JSON, QUO_CTX_NONE},
	{"name", "name", QUO_TEXT, QUO_SRC_JSON, QUO_CTX_NONE},
	{"participants", "participants", QUO_TEXT_ARRAY, QUO_SRC_JSON, QUO_CTX_NONE},
	{"assigned_to", "assignedTo", QUO_TEXT, QUO_SRC_JSON, QUO_CTX_NONE},
	{"created_at", "createdAt", QUO_TIMESTAMPTZ, QUO_SRC_JSON, QUO_CTX_NONE},
	{"updated_at", "updatedAt", QUO_TIMESTAMPTZ, QUO_SRC_JSON, QUO_CTX_NONE},
	{"deleted_at", "deletedAt", QUO_TIMESTAMPTZ, QUO_SRC_JSON, QUO_CTX_NONE},
	{"last_activity_at", "lastActivityAt", QUO_TIMESTAMPTZ, QUO_SRC_JSON, QUO_CTX_NONE},
	{"last_activity_id", "lastActivityId", QUO_TEXT, QUO_SRC_JSON, QUO_CTX_NONE},
	{"muted_until", "mutedUntil", QUO_TIMESTAMPTZ, QUO_SRC_JSON, QUO_CTX_NONE},
	{"snoozed_until", "snoozedUntil", QUO_TIMESTAMPTZ, QUO_SRC_JSON, QUO_CTX_NONE},
	{"raw", NULL, QUO_JSONB, QUO_SRC_RAW, QUO_CTX_NONE},
};

/*
 * conversations: phoneNumbers takes up to 100 numbers or PN ids at once;
 * values that are not PN ids cannot equal phone_number_id and are not sent.
 */
static const QuoFilter conversation_filters[] = {
	{"phone_number_id", QUO_FILTER_EQ, "phoneNumbers", NULL, 100, 0, "PN", EXACT_EQ, false, 0},
	{"created_at", QUO_FILTER_RANGE, "createdAfter", "createdBefore", 0, 0, NULL, 0, false, 0},
	{"updated_at", QUO_FILTER_RANGE, "updatedAfter", "updatedBefore", 0, 0, NULL, 0, false, 0},
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
	{"id", "id", QUO_TEXT, QUO_SRC_JSON, QUO_CTX_NONE},
	{"email", "email", QUO_TEXT, QUO_SRC_JSON, QUO_CTX_NONE},
	{"first_name", "firstName", QUO_TEXT, QUO_SRC_JSON, QUO_CTX_NONE},
	{"last_name", "lastName", QUO_TEXT, QUO_SRC_JSON, QUO_CTX_NONE},
	{"picture_url", "pictureUrl", QUO_TEXT, QUO_SRC_JSON, QUO_CTX_NONE},
	{"role", "role", QUO_TEXT, QUO_SRC_JSON, QUO_CTX_NONE},
	{"created_at", "createdAt", QUO_TIMESTAMPTZ, QUO_SRC_JSON, QUO_CTX_NONE},
	{"updated_at", "updatedAt", QUO_TIMESTAMPTZ, QUO_SRC_JSON, QUO_CTX_NONE},
	{"raw", NULL, QUO_JSONB, QUO_SRC_RAW, QUO_CTX_NONE},
};

/* users: the list takes no filter; id = v is a get by id */
static const QuoFilter user_filters[] = {
	{"id", QUO_FILTER_ID, NULL, NULL, 0, 0, "US", EXACT_EQ, false, 0},
};

/* GET /v1/tasks and GET /v1/tasks/{taskId} */
static const QuoColumn task_columns[] = {
	{"id", "taskId", QUO_TEXT, QUO_SRC_JSON, QUO_CTX_NONE},
	{"phone_number_id", "phoneNumberId", QUO_TEXT, QUO_SRC_JSON, QUO_CTX_NONE},
	{"conversation_id", "conversationId", QUO_TEXT, QUO_SRC_JSON, QUO_CTX_NONE},
	{"activity_id", "activityId", QUO_TEXT, QUO_SRC_JSON, QUO_CTX_NONE},
	{"title", "title", QUO_TEXT, QUO_SRC_JSON, QUO_CTX_NONE},
	{"description", "description", QUO_TEXT, QUO_SRC_JSON, QUO_CTX_NONE},
	{"assigned_to", "assignedTo", QUO_TEXT, QUO_SRC_JSON, QUO_CTX_NONE},
	{"assigned_by", "assignedBy", QUO_TEXT, QUO_SRC_JSON, QUO_CTX_NONE},
	{"created_by", "createdBy", QUO_TEXT, QUO_SRC_JSON, QUO_CTX_NONE},
	{"revision", "revision", QUO_TEXT, QUO_SRC_JSON, QUO_CTX_NONE},
	{"due_date", "dueDate", QUO_TIMESTAMPTZ, QUO_SRC_JSON, QUO_CTX_NONE},
	{"created_at", "createdAt", QUO_TIMESTAMPTZ, QUO_SRC_JSON, QUO_CTX_NONE},
	{"completed", "completed", QUO_BOOL, QUO_SRC_JSON, QUO_CTX_NONE},
	{"is_deleted", "isDeleted", QUO_BOOL, QUO_SRC_JSON, QUO_CTX_NONE},
	{"raw", NULL, QUO_JSONB, QUO_SRC_RAW, QUO_CTX_NONE},
};

/* tasks: the list takes no filter; id = v is a get by id */
static const QuoFilter task_filters[] = {
	{"id", QUO_FILTER_ID, NULL, NULL, 0, 0, "TK", EXACT_EQ, false, 0},
};

/* GET /v1/phone-numbers and GET /v1/phone-numbers/{phoneNumberId} */
static const QuoColumn phone_number_columns[] = {
	{"id", "id", QUO_TEXT, QUO_SRC_JSON, QUO_CTX_NONE},
	{"group_id", "groupId", QUO_TEXT, QUO_SRC_JSON, QUO_CTX_NONE},
	{"name", "name", QUO_TEXT, QUO_SRC_JSON, QUO_CTX_NONE},
	{"number", "number", QUO_TEXT, QUO_SRC_JSON, QUO_CTX_NONE},
	{"formatted_number", "formattedNumber", QUO_TEXT, QUO_SRC_JSON, QUO_CTX_NONE},
	{"forward", "forward", QUO_TEXT, QUO_SRC_JSON, QUO_CTX_NONE},
	{"port_request_id", "portRequestId", QUO_TEXT, QUO_SRC_JSON, QUO_CTX_NONE},
	{"porting_status", "portingStatus", QUO_TEXT, QUO_SRC_JSON, QUO_CTX_NONE},
	{"symbol", "symbol", QUO_TEXT, QUO_SRC_JSON, QUO_CTX_NONE},
	{"user_ids", "users[].id", QUO_TEXT_ARRAY, QUO_SRC_JSON, QUO_CTX_NONE},
	{"users", "users", QUO_JSONB, QUO_SRC_JSON, QUO_CTX_NONE},
	{"restrictions", "restrictions", QUO_JSONB, QUO_SRC_JSON, QUO_CTX_NONE},
	{"created_at", "createdAt", QUO_TIMESTAMPTZ, QUO_SRC_JSON, QUO_CTX_NONE},
	{"updated_at", "updatedAt", QUO_TIMESTAMPTZ, QUO_SRC_JSON, QUO_CTX_NONE},
	{"raw", NULL, QUO_JSONB, QUO_SRC_RAW, QUO_CTX_NONE},
};

/*
 * phone_numbers: the list is not paged; userId lists the numbers a user
 * is on.  The document does not say it matches users[].id exactly, and a
 * recheck costs nothing on an unpaged list: it is rechecked.
 */
static const QuoFilter phone_number_filters[] = {
	{"id", QUO_FILTER_ID, NULL, NULL, 0, 0, "PN", EXACT_EQ, false, 0},
	{"user_ids", QUO_FILTER_ELEMENTS, "userId", NULL, 0, 1, "US", 0, false, 0},
};

/* GET /v1/contacts and GET /v1/contacts/{id}: names under defaultFields */
static const QuoColumn contact_columns[] = {
	{"id", "id", QUO_TEXT, QUO_SRC_JSON, QUO_CTX_NONE},
	{"external_id", "externalId", QUO_TEXT, QUO_SRC_JSON, QUO_CTX_NONE},
	{"source", "source", QUO_TEXT, QUO_SRC_JSON, QUO_CTX_NONE},
	{"source_url", "sourceUrl", QUO_TEXT, QUO_SRC_JSON, QUO_CTX_NONE},
	{"first_name", "defaultFields.firstName", QUO_TEXT, QUO_SRC_JSON, QUO_CTX_NONE},
	{"last_name", "defaultFields.lastName", QUO_TEXT, QUO_SRC_JSON, QUO_CTX_NONE},
	{"company", "defaultFields.company", QUO_TEXT, QUO_SRC_JSON, QUO_CTX_NONE},
	{"role", "defaultFields.role", QUO_TEXT, QUO_SRC_JSON, QUO_CTX_NONE},
	{"phone_numbers", "defaultFields.phoneNumbers[].value", QUO_TEXT_ARRAY, QUO_SRC_JSON, QUO_CTX_NONE},
	{"emails", "defaultFields.emails[].value", QUO_TEXT_ARRAY, QUO_SRC_JSON, QUO_CTX_NONE},
	{"custom_fields", "customFields", QUO_JSONB, QUO_SRC_JSON, QUO_CTX_NONE},
	{"created_by_user_id", "createdByUserId", QUO_TEXT, QUO_SRC_JSON, QUO_CTX_NONE},
	{"created_at", "createdAt", QUO_TIMESTAMPTZ, QUO_SRC_JSON, QUO_CTX_NONE},
	{"updated_at", "updatedAt", QUO_TIMESTAMPTZ, QUO_SRC_JSON, QUO_CTX_NONE},
	{"raw", NULL, QUO_JSONB, QUO_SRC_RAW, QUO_CTX_NONE},
};

/*
 * contacts: externalIds and sources take lists (repeated keys; 20 per
 * request here, to keep URLs short) of strings of 1 to 75 characters, the
 * bounds of the fields themselves.  How the API compares them (case,
 * spaces) is not documented: they are rechecked.
 */
static const QuoFilter contact_filters[] = {
	{"id", QUO_FILTER_ID, NULL, NULL, 0, 0, NULL, EXACT_EQ, false, 0},
	{"external_id", QUO_FILTER_EQ, "externalIds", NULL, 20, 0, NULL, 0, false, 75},
	{"source", QUO_FILTER_EQ, "sources", NULL, 20, 0, NULL, 0, false, 75},
};

/* GET /v1/contact-custom-fields: not paged, no filters */
static const QuoColumn contact_custom_field_columns[] = {
	{"key", "key", QUO_TEXT, QUO_SRC_JSON, QUO_CTX_NONE},
	{"name", "name", QUO_TEXT, QUO_SRC_JSON, QUO_CTX_NONE},
	{"type", "type", QUO_TEXT, QUO_SRC_JSON, QUO_CTX_NONE},
	{"raw", NULL, QUO_JSONB, QUO_SRC_RAW, QUO_CTX_NONE},
};

/*
 * The per-call tables have no list: each is read one call at a time, so
 * call_id is required (a value, or a join's parameter).  call_id is the
 * id the call was fetched by (summaries and transcripts also carry it as
 * callId, in raw): so "call_id = v" is exact by construction.
 */
static const QuoFilter per_call_filters[] = {
	{"call_id", QUO_FILTER_ID, NULL, NULL, 0, 0, "AC", EXACT_EQ, true, 0},
};

#define PER_CALL_HINT(t) \
	"WHERE call_id = 'AC123abc' (or IN, = ANY), or a join: FROM quo.calls c JOIN quo." t " x ON x.call_id = c.id"

/* GET /v1/call-summaries/{callId} */
static const QuoColumn call_summary_columns[] = {
	{"call_id", NULL, QUO_TEXT, QUO_SRC_CONTEXT, QUO_CTX_ITEM_ID},
	{"status", "status", QUO_TEXT, QUO_SRC_JSON, QUO_CTX_NONE},
	{"summary", "summary", QUO_TEXT_ARRAY, QUO_SRC_JSON, QUO_CTX_NONE},
	{"next_steps", "nextSteps", QUO_TEXT_ARRAY, QUO_SRC_JSON, QUO_CTX_NONE},
	{"jobs", "jobs", QUO_JSONB, QUO_SRC_JSON, QUO_CTX_NONE},
	{"raw", NULL, QUO_JSONB, QUO_SRC_RAW, QUO_CTX_NONE},
};

/* GET /v1/call-transcripts/{id} */
static const QuoColumn call_transcript_columns[] = {
	{"call_id", NULL, QUO_TEXT, QUO_SRC_CONTEXT, QUO_CTX_ITEM_ID},
	{"status", "status", QUO_TEXT, QUO_SRC_JSON, QUO_CTX_NONE},
	{"created_at", "createdAt", QUO_TIMESTAMPTZ, QUO_SRC_JSON, QUO_CTX_NONE},
	{"duration", "duration", QUO_FLOAT8, QUO_SRC_JSON, QUO_CTX_NONE},
	{"dialogue", "dialogue", QUO_JSONB, QUO_SRC_JSON, QUO_CTX_NONE},
	{"raw", NULL, QUO_JSONB, QUO_SRC_RAW, QUO_CTX_NONE},
};

/* GET /v1/call-recordings/{callId}: an array, one row per recording */
static const QuoColumn call_recording_columns[] = {
	{"call_id", NULL, QUO_TEXT, QUO_SRC_CONTEXT, QUO_CTX_ITEM_ID},
	{"id", "id", QUO_TEXT, QUO_SRC_JSON, QUO_CTX_NONE},
	{"status", "status", QUO_TEXT, QUO_SRC_JSON, QUO_CTX_NONE},
	{"type", "type", QUO_TEXT, QUO_SRC_JSON, QUO_CTX_NONE},
	{"url", "url", QUO_TEXT, QUO_SRC_JSON, QUO_CTX_NONE},
	{"duration", "duration", QUO_INT4, QUO_SRC_JSON, QUO_CTX_NONE},
	{"start_time", "startTime", QUO_TIMESTAMPTZ, QUO_SRC_JSON, QUO_CTX_NONE},
	{"raw", NULL, QUO_JSONB, QUO_SRC_RAW, QUO_CTX_NONE},
};

/* GET /v1/call-voicemails/{callId} */
static const QuoColumn call_voicemail_columns[] = {
	{"call_id", NULL, QUO_TEXT, QUO_SRC_CONTEXT, QUO_CTX_ITEM_ID},
	{"id", "id", QUO_TEXT, QUO_SRC_JSON, QUO_CTX_NONE},
	{"status", "status", QUO_TEXT, QUO_SRC_JSON, QUO_CTX_NONE},
	{"transcript", "transcript", QUO_TEXT, QUO_SRC_JSON, QUO_CTX_NONE},
	{"recording_url", "recordingUrl", QUO_TEXT, QUO_SRC_JSON, QUO_CTX_NONE},
	{"duration", "duration", QUO_INT4, QUO_SRC_JSON, QUO_CTX_NONE},
	{"raw", NULL, QUO_JSONB, QUO_SRC_RAW, QUO_CTX_NONE},
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
	&call_fanout, NULL,
	"0100404"},
	{"conversations", "/v1/conversations", NULL, &quo_paging_v1, 100, QUO_ITEM_OBJECT, NULL,
		conversation_columns, lengthof_(conversation_columns),
		conversation_filters, lengthof_(conversation_filters),
		conversation_options, lengthof_(conversation_options),
	NULL, NULL, NULL,
	"1000404"},
	{"messages", "/v1/messages", "/v1/messages/", &quo_paging_v1, 100, QUO_ITEM_OBJECT, NULL,
		message_columns, lengthof_(message_columns),
		message_filters, lengthof_(message_filters),
		NULL, 0,
	"WHERE phone_number_id = 'PN123abc' AND participants = ARRAY['+15555550123']",
	&message_fanout, NULL,
	"0200404"},
	/* maxResults 1..50 (the v1 document); the dated generation is live for
	 * users: moving is &quo_paging_dated, "/users", and "2026-03-30" */
	{"users", "/v1/users", "/v1/users/", &quo_paging_v1, 50, QUO_ITEM_OBJECT, NULL,
		user_columns, lengthof_(user_columns),
		user_filters, lengthof_(user_filters),
		NULL, 0,
		NULL, NULL,
	"The API key has no access to the workspace's users.",
	"1100404"},
	/* maxResults 1..100; the last page has no nextPageToken at all */
	{"tasks", "/v1/tasks", "/v1/tasks/", &quo_paging_v1, 100, QUO_ITEM_OBJECT, NULL,
		task_columns, lengthof_(task_columns),
		task_filters, lengthof_(task_filters),
		NULL, 0,
		NULL, NULL,
	"The API key has no access to the workspace's tasks.",
	"0600404"},
	/* not paged */
	{"phone_numbers", "/v1/phone-numbers", "/v1/phone-numbers/", &quo_paging_none, 0, QUO_ITEM_OBJECT, NULL,
		phone_number_columns, lengthof_(phone_number_columns),
		phone_number_filters, lengthof_(phone_number_filters),
		NULL, 0,
		NULL, NULL,
	"The API key has no access to the workspace's phone numbers.",
	"0400404"},
	/* maxResults 1..50 */
	{"contacts", "/v1/contacts", "/v1/contacts/", &quo_paging_v1, 50, QUO_ITEM_OBJECT, NULL,
		contact_columns, lengthof_(contact_columns),
		contact_filters, lengthof_(contact_filters),
		NULL, 0,
		NULL, NULL,
	"The API key has no access to the workspace's contacts.",
	"0800404"},
	{"contact_custom_fields", "/v1/contact-custom-fields", NULL, &quo_paging_none, 0, QUO_ITEM_OBJECT, NULL,
		contact_custom_field_columns, lengthof_(contact_custom_field_columns),
		NULL, 0,
		NULL, 0,
		NULL, NULL,
	"The API key has no access to the workspace's contact fields.",
	"0700404"},
	{"call_summaries", NULL, "/v1/call-summaries/", &quo_paging_none, 0, QUO_ITEM_OBJECT, NULL,
		call_summary_columns, lengthof_(call_summary_columns),
		per_call_filters, lengthof_(per_call_filters),
		NULL, 0,
		PER_CALL_HINT("call_summaries"), NULL,
	"The workspace's Quo plan may not include call summaries, or the API key has no access to the call's phone number.",
	"0500404"},
	{"call_transcripts", NULL, "/v1/call-transcripts/", &quo_paging_none, 0, QUO_ITEM_OBJECT, NULL,
		call_transcript_columns, lengthof_(call_transcript_columns),
		per_call_filters, lengthof_(per_call_filters),
		NULL, 0,
		PER_CALL_HINT("call_transcripts"), NULL,
	"The workspace's Quo plan may not include call transcripts, or the API key has no access to the call's phone number.",
	"0600404"},
	{"call_recordings", NULL, "/v1/call-recordings/", &quo_paging_none, 0, QUO_ITEM_ARRAY, NULL,
		call_recording_columns, lengthof_(call_recording_columns),
		per_call_filters, lengthof_(per_call_filters),
		NULL, 0,
		PER_CALL_HINT("call_recordings"), NULL,
	"The workspace's Quo plan may not include call recordings, or the API key has no access to the call's phone number.",
	"0900404"},
	{"call_voicemails", NULL, "/v1/call-voicemails/", &quo_paging_none, 0, QUO_ITEM_OBJECT, NULL,
		call_voicemail_columns, lengthof_(call_voicemail_columns),
		per_call_filters, lengthof_(per_call_filters),
		NULL, 0,
		PER_CALL_HINT("call_voicemails"), NULL,
	"The API key has no access to the call's voicemail (its phone number).",
	"1200404"},
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

/*
 * Whether the rows of ep's fan-out carry the participants of the parent
 * they were listed through (the column is the request's participants),
 * not their own: then a condition on them is decided on the parent.
 */
bool
quo_fanout_participants_from_parent(const QuoEndpoint *ep)
{
	int			col;

	if (ep->fanout == NULL)
		return false;
	col = quo_endpoint_column(ep, ep->fanout->participants_column);
	return col >= 0 && ep->columns[col].source == QUO_SRC_CONTEXT &&
		ep->columns[col].ctx == QUO_CTX_PARTICIPANTS;
}

/*
 * The endpoint a request target ("/v1/calls?..." or "/v1/calls/AC1")
 * belongs to: its list path exactly, or below its item path; NULL when
 * none (never for a target quo_fdw built).
 */
const QuoEndpoint *
quo_endpoint_of_target(const char *target)
{
	size_t		pathlen = strcspn(target, "?");

	for (int i = 0; i < lengthof_(endpoints); i++)
	{
		const QuoEndpoint *ep = &endpoints[i];

		if (ep->list_path && strlen(ep->list_path) == pathlen &&
			strncmp(target, ep->list_path, pathlen) == 0)
			return ep;
		if (ep->item_path && pathlen > strlen(ep->item_path) &&
			strncmp(target, ep->item_path, strlen(ep->item_path)) == 0)
			return ep;
	}
	return NULL;
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
		case QUO_FLOAT8:
			return FLOAT8OID;
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
		case QUO_FLOAT8:
			return "double precision";
	}
	return "?";
}
