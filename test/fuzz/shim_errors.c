/*-------------------------------------------------------------------------
 * shim_errors.c
 *		What errors.c needs of the backend beyond shim.c, for fuzz_headers:
 *		interrupts, the session's encodings, and one conversion (UTF-8 to
 *		LATIN1) so that quoting can be fuzzed for a LATIN1 server or client.
 *
 * The encodings are the target's to set (fuzz_server_encoding,
 * fuzz_client_encoding); UTF-8 validation is PostgreSQL's own, from
 * libpgcommon.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "catalog/namespace.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"

#include "quo_fdw.h"
#include "shim.h"

int			fuzz_server_encoding = PG_UTF8;
int			fuzz_client_encoding = PG_UTF8;

/* The one conversion the shim knows, as an Oid. */
#define FUZZ_UTF8_TO_LATIN1 ((Oid) 1)

/* InterruptPending and ProcessInterrupts come from shim.c. */

/* The server encoding the target chose. */
int
GetDatabaseEncoding(void)
{
	return fuzz_server_encoding;
}

/* The client encoding the target chose. */
int
pg_get_client_encoding(void)
{
	return fuzz_client_encoding;
}

/* UTF-8 to LATIN1 is the only conversion there is. */
Oid
FindDefaultConversionProc(int32 for_encoding, int32 to_encoding)
{
	if (for_encoding == PG_UTF8 && to_encoding == PG_LATIN1)
		return FUZZ_UTF8_TO_LATIN1;
	return InvalidOid;
}

/*
 * UTF-8 to LATIN1 like PostgreSQL's utf8_to_iso8859_1 with noError: stops
 * at the first character LATIN1 lacks and returns the bytes converted.
 * Anything else it is asked is a bug in the caller.
 */
int
pg_do_encoding_conversion_buf(Oid proc, int src_encoding, int dest_encoding,
							  unsigned char *src, int srclen,
							  unsigned char *dest, int destlen, bool noError)
{
	int			i = 0;
	int			o = 0;

	if (proc != FUZZ_UTF8_TO_LATIN1 || src_encoding != PG_UTF8 ||
		dest_encoding != PG_LATIN1 || !noError || destlen < srclen + 1)
		abort();
	while (i < srclen)
	{
		int			l = pg_utf_mblen(&src[i]);

		if (l > srclen - i || !pg_utf8_islegal(&src[i], l))
			abort();			/* quoting passes valid characters only */
		if (l == 1)
			dest[o++] = src[i];
		else if (l == 2 && src[i] <= 0xC3)
			dest[o++] = (unsigned char) (((src[i] & 0x1F) << 6) | (src[i + 1] & 0x3F));
		else
			break;
		i += l;
	}
	dest[o] = '\0';
	return i;
}

/* The statistics (stats.c) are not in the fuzz targets: an error is not recorded. */
void
quo_stats_error(const QuoFdwOptions *opts, MemoryContext cxt)
{
	(void) opts;
	(void) cxt;
}
