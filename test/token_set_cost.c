/*-------------------------------------------------------------------------
 * token_set_cost.c
 *		Adds N distinct page tokens (as a list of N pages returns them) to
 *		quo_fdw's real token set (src/token_set.c), then one seen before,
 *		which must be refused.  test/t_token_set.sh runs it under
 *		callgrind for two sizes: the instructions must grow linearly.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "quo_fdw.h"
#include "shim.h"

int
main(int argc, char **argv)
{
	int			n = argc > 1 ? atoi(argv[1]) : 1000;
	QuoTokenSet *set = quo_token_set_create(NULL);
	char		token[64];

	for (int round = 0; round < 2; round++)
	{
		for (int i = 0; i < n; i++)
		{
			snprintf(token, sizeof(token), "eyJvZmZzZXQiOi%08dQ==page", i);
			if (!quo_token_set_add(set, token))
			{
				fprintf(stderr, "token %d refused as seen before\n", i);
				return 1;
			}
		}
		snprintf(token, sizeof(token), "eyJvZmZzZXQiOi%08dQ==page", n / 2);
		if (quo_token_set_add(set, token))
		{
			fprintf(stderr, "a token seen before was taken as new\n");
			return 1;
		}
		quo_token_set_clear(set);
	}
	printf("ok %d\n", n);
	return 0;
}
