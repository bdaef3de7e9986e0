/*-------------------------------------------------------------------------
 * compat.h
 *		Every PostgreSQL and libcurl version shim of quo_fdw, in one place.
 *
 * Built and tested on PostgreSQL 15, 17 and 18 (make test-versions); no
 * Debian suite ships 16's headers, so 16 is covered by the same PG_VERSION_NUM
 * tests but not built here.  The shims keep 13 and 14 within reach.
 *-------------------------------------------------------------------------
 */
#ifndef QUO_COMPAT_H
#define QUO_COMPAT_H

#include "postgres.h"

#if PG_VERSION_NUM < 130000
#error "quo_fdw needs PostgreSQL 13 or later"
#endif

/* The user a foreign scan checks permissions as (ForeignScan.checkAsUser is PG16+). */
#if PG_VERSION_NUM >= 160000
#define QUO_SCAN_USERID(fsplan, estate, rtindex) \
	(OidIsValid((fsplan)->checkAsUser) ? (fsplan)->checkAsUser : GetUserId())
#else
#define QUO_SCAN_USERID(fsplan, estate, rtindex) \
	(OidIsValid(exec_rt_fetch((rtindex), (estate))->checkAsUser) ? \
	 exec_rt_fetch((rtindex), (estate))->checkAsUser : GetUserId())
#endif

/*
 * create_foreignscan_path grew fdw_restrictinfo in PG17 and disabled_nodes
 * (after rows) in PG18.
 */
#if PG_VERSION_NUM >= 180000
#define quo_create_foreignscan_path(root, rel, target, rows, startup, total, pathkeys, outer, epq, priv) \
	create_foreignscan_path((root), (rel), (target), (rows), 0, (startup), (total), (pathkeys), (outer), (epq), NIL, (priv))
#elif PG_VERSION_NUM >= 170000
#define quo_create_foreignscan_path(root, rel, target, rows, startup, total, pathkeys, outer, epq, priv) \
	create_foreignscan_path((root), (rel), (target), (rows), (startup), (total), (pathkeys), (outer), (epq), NIL, (priv))
#else
#define quo_create_foreignscan_path(root, rel, target, rows, startup, total, pathkeys, outer, epq, priv) \
	create_foreignscan_path((root), (rel), (target), (rows), (startup), (total), (pathkeys), (outer), (epq), (priv))
#endif

/*
 * create_foreign_join_path: the same changes (fdw_restrictinfo in PG17,
 * disabled_nodes in PG18, where a join path counts its outer path's).
 */
#if PG_VERSION_NUM >= 180000
#define quo_create_foreign_join_path(root, rel, target, rows, startup, total, pathkeys, outerpath, priv) \
	create_foreign_join_path((root), (rel), (target), (rows), (outerpath)->disabled_nodes, (startup), (total), (pathkeys), NULL, (outerpath), NIL, (priv))
#elif PG_VERSION_NUM >= 170000
#define quo_create_foreign_join_path(root, rel, target, rows, startup, total, pathkeys, outerpath, priv) \
	create_foreign_join_path((root), (rel), (target), (rows), (startup), (total), (pathkeys), NULL, (outerpath), NIL, (priv))
#else
#define quo_create_foreign_join_path(root, rel, target, rows, startup, total, pathkeys, outerpath, priv) \
	create_foreign_join_path((root), (rel), (target), (rows), (startup), (total), (pathkeys), NULL, (outerpath), (priv))
#endif

/*
 * Functions that do not return: PG18 replaced pg_attribute_noreturn(), put
 * after the declarator, with pg_noreturn, put first.  GCC and clang take the
 * attribute first as well.
 */
#ifndef pg_noreturn
#define pg_noreturn pg_attribute_noreturn()
#endif

/*
 * EXPLAIN: PG18 moved ExplainState to commands/explain_state.h and the
 * ExplainProperty functions to commands/explain_format.h.
 */
#if PG_VERSION_NUM >= 180000
#include "commands/explain_format.h"
#include "commands/explain_state.h"
#else
#include "commands/explain.h"
#endif

/* appendBinaryStringInfo's data became const void * in PG16 (the fuzz shim defines it). */
#if PG_VERSION_NUM >= 160000
typedef const void *quo_binary_data;
#else
typedef const char *quo_binary_data;
#endif

/* pull_varnos took the PlannerInfo in PG14. */
#if PG_VERSION_NUM >= 140000
#define quo_pull_varnos(root, node) pull_varnos((root), (node))
#else
#define quo_pull_varnos(root, node) pull_varnos(node)
#endif

/* String nodes: PG15 has String/strVal; earlier releases called it Value. */
#if PG_VERSION_NUM < 150000
#define makeBoolean(b) makeInteger((b) ? 1 : 0)
#define boolVal(v) (intVal(v) != 0)
#endif

/* A random number in [0, 1) for backoff jitter (pg_prng is PG15+). */
#if PG_VERSION_NUM >= 150000
#include "common/pg_prng.h"
#define quo_random_fraction() pg_prng_double(&pg_global_prng_state)
#else
#define quo_random_fraction() ((double) random() / ((double) MAX_RANDOM_VALUE + 1))
#endif

/*
 * A WaitEventSet kept for the backend's life (http.c frees it itself): no
 * resource owner from PG17 (which allocates it in TopMemoryContext), in
 * TopMemoryContext before.
 */
#if PG_VERSION_NUM >= 170000
#define quo_create_persistent_wait_event_set(n) CreateWaitEventSet(NULL, (n))
#else
#define quo_create_persistent_wait_event_set(n) CreateWaitEventSet(TopMemoryContext, (n))
#endif

/*
 * Wait events: named custom events from PG17 (WaitEventExtensionNew), the
 * one "Extension" event before.
 */
#if PG_VERSION_NUM >= 170000
#include "utils/wait_event.h"
#define quo_wait_event(name) WaitEventExtensionNew(name)
#else
#include "pgstat.h"
#define quo_wait_event(name) ((void) (name), (uint32) PG_WAIT_EXTENSION)
#endif

/*
 * Converting text without raising an error on a character the target
 * encoding lacks (pg_do_encoding_conversion_buf's noError) is PG14+; before
 * that, quoted API text keeps only ASCII in a non-UTF-8 encoding.
 */
#if PG_VERSION_NUM >= 140000
#define QUO_HAVE_NOERROR_CONVERSION 1
#endif

/* Reserving a GUC prefix: MarkGUCPrefixReserved from PG15. */
#if PG_VERSION_NUM >= 150000
#define quo_mark_guc_prefix_reserved(p) MarkGUCPrefixReserved(p)
#else
#define quo_mark_guc_prefix_reserved(p) EmitWarningsOnPlaceholders(p)
#endif

/*
 * Shared memory is asked for from a shmem_request_hook from PG15; before,
 * directly in _PG_init.
 */
#if PG_VERSION_NUM >= 150000
#define QUO_HAVE_SHMEM_REQUEST_HOOK 1
#endif

/* The module's magic block, with its name and version where the server has them (PG18). */
#ifdef PG_MODULE_MAGIC_EXT
#define QUO_MODULE_MAGIC PG_MODULE_MAGIC_EXT(.name = "quo_fdw", .version = QUO_FDW_VERSION)
#else
#define QUO_MODULE_MAGIC PG_MODULE_MAGIC
#endif

/* USAGE on a foreign server: object_aclcheck from PG16. */
#if PG_VERSION_NUM >= 160000
#define quo_server_usage_ok(serverid, roleid) \
	(object_aclcheck(ForeignServerRelationId, (serverid), (roleid), ACL_USAGE) == ACLCHECK_OK)
#else
#define quo_server_usage_ok(serverid, roleid) \
	(pg_foreign_server_aclcheck((serverid), (roleid), ACL_USAGE) == ACLCHECK_OK)
#endif

/* Ownership of a foreign server: object_ownercheck from PG16. */
#if PG_VERSION_NUM >= 160000
#define quo_server_owner_ok(serverid, roleid) \
	object_ownercheck(ForeignServerRelationId, (serverid), (roleid))
#else
#define quo_server_owner_ok(serverid, roleid) \
	pg_foreign_server_ownercheck((serverid), (roleid))
#endif

/*
 * json-c: the one difference between its versions that matters here (the
 * strict mode of 0.18 refuses strings with bytes beyond ASCII) is tested at
 * run time on the library loaded, in json_row.c (tokener_flags), not here
 * on the headers built against.
 */

#endif							/* QUO_COMPAT_H */
