/*-------------------------------------------------------------------------
 * fuzz_json_row.c
 *		libFuzzer target: arbitrary bytes as an API response body, through
 *		quo_fdw's real JSON converter (json_row.c): parse, page, and every
 *		row of every endpoint with every column, in a UTF-8 and in a LATIN1
 *		session (the messages' quoting, the jsonb conversion).  A clean
 *		ereport(ERROR) is fine; a crash, a sanitizer report or an abort is
 *		a bug.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "mb/pg_wchar.h"

#include "quo_fdw.h"
#include "shim.h"

#include <json-c/json.h>

/* the session's encodings (shim_errors.c) */
extern int	fuzz_server_encoding;
extern int	fuzz_client_encoding;

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
convert_rows(const QuoEndpoint *ep, struct json_object *root, bool is_item)
{
	struct json_object *rows;
	int			nrows;
	const char *token = NULL;
	const char *error = NULL;
	int			colmap[64];
	const char *names[64];
	Datum		values[64];
	bool		nulls[64];
	QuoRowContext ctx;
	sigjmp_buf	jmp;

	if (!quo_json_page(root, ep, is_item, &rows, &nrows, &token, &error))
		return;
	for (int i = 0; i < ep->ncolumns; i++)
	{
		colmap[i] = i;
		names[i] = ep->columns[i].name;
	}
	memset(&ctx, 0, sizeof(ctx));
	ctx.endpoint = ep;
	ctx.relname = ep->name;
	ctx.api_key = "fuzz-key-0123456789abcdef";
	ctx.natts = ep->ncolumns;
	ctx.colmap = colmap;
	ctx.attnames = names;
	ctx.ctx[QUO_CTX_PHONE] = "PNfuzz";
	ctx.ctx[QUO_CTX_ITEM_ID] = "ACfuzz";
	ctx.ctx_participants_null = true;

	for (int r = 0; r < nrows && r < 200; r++)
	{
		if (sigsetjmp(jmp, 0) == 0)
		{
			fuzz_error_jmp = &jmp;
			quo_json_to_row(&ctx, quo_json_row(rows, r), values, nulls);
		}
		fuzz_error_jmp = NULL;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *error = NULL;
	struct json_object *root = quo_json_parse((const char *) data, size, &error);

	if (root != NULL)
	{
		for (int latin1 = 0; latin1 < 2; latin1++)
		{
			fuzz_server_encoding = fuzz_client_encoding = latin1 ? PG_LATIN1 : PG_UTF8;
			for (int e = 0; e < quo_endpoint_count(); e++)
			{
				convert_rows(quo_endpoint_at(e), root, false);
				convert_rows(quo_endpoint_at(e), root, true);
			}
		}
		fuzz_server_encoding = fuzz_client_encoding = PG_UTF8;
		quo_json_free(root);
	}
	else if (error == NULL)
		abort();				/* a failed parse must say why */

	/* the timestamp parser on its own, with the input as a string */
	if (size < 64)
	{
		char		buf[64];
		TimestampTz ts;

		memcpy(buf, data, size);
		buf[size] = '\0';
		(void) quo_parse_timestamp(buf, &ts);
	}
	fuzz_arena_reset();
	return 0;
}
