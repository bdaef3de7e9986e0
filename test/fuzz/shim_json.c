/* shim_json.c: the json-c half of the fuzz shim (kept apart from PostgreSQL's json_object()) */
#include <stdbool.h>
#include <json-c/json.h>

#include "shim.h"

bool
fuzz_json_valid(const char *s)
{
	struct json_object *o = json_tokener_parse(s);
	bool		ok = (o != NULL) || (s[0] == 'n');	/* "null" parses to NULL */

	json_object_put(o);
	return ok;
}
