/*-------------------------------------------------------------------------
 * rate.c
 *		The client-side rate limit: at most N requests in any window of a
 *		little over a second, per API key.
 *
 * Quo allows 10 requests per second per key, shared by every client of
 * that key, so the limit belongs to the key, not to the server that uses
 * it.  Each key (known only by a 64-bit hash, never the key itself) has one
 * ring holding the send times of its last QUO_RATE_MAX requests.  The limit
 * in force for a key is the smallest rate_limit any caller used with it in
 * the last 10 seconds: a lower rate takes effect at once, a higher one once
 * the lower has gone unused that long (so ALTER SERVER raising a rate takes
 * effect within 10 s).  At a limit of n, a request's slot is the latest of
 * now, the newest slot already reserved, and a window after the n-th most
 * recent slot: slots stay in order, so waiters are served in turn, and no
 * window ever holds more than n.  This is a token bucket whose tokens come
 * back one window after use, which, unlike a continuously refilled bucket,
 * never lets more than n requests into any one window.
 *
 * The table holds QUO_RATE_KEYS rings.  A new key takes a free ring or a
 * stale one (nothing in its window, its rate memory expired: taking it over
 * loses nothing).  When there is none, the key shares one overflow ring
 * with every other such key: they are limited together, at the smallest
 * rate among them, so each may get less than its own limit, never more.
 *
 * Every time is on CLOCK_MONOTONIC, which on Linux is one clock for the
 * whole system, so slots reserved by one backend compare with another's.
 * With quo_fdw in shared_preload_libraries the table lives in shared memory
 * and every backend shares it; otherwise each backend has its own.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"

#include "quo_fdw.h"

/* Send times a ring keeps, and the highest rate (the rate_limit option's maximum). */
#define QUO_RATE_MAX 100
/* Keys with a ring of their own at once; any more share the overflow ring. */
#define QUO_RATE_KEYS 32
/* The window: a second, plus a margin for network jitter. */
#define QUO_RATE_WINDOW_USECS 1050000
/* How long a rate keeps a key at or below it after its last use. */
#define QUO_RATE_MEMORY_USECS 10000000

/* One key's (or, for the overflow ring, several keys') recent requests. */
typedef struct QuoRateRing
{
	uint64		keyhash;		/* hash of the API key; 0 = free (and in the
								 * overflow ring, always 0) */
	int			count;			/* slots kept, up to QUO_RATE_MAX */
	int			head;			/* index of the oldest slot in stamps */
	int64		last_used;		/* when the latest reservation was made */
	int64		stamps[QUO_RATE_MAX];	/* reserved send times, oldest at head,
										 * in non-decreasing order */
	int64		rate_used[QUO_RATE_MAX + 1];	/* [r]: when a caller with rate r
												 * last reserved; 0 = never */
} QuoRateRing;

/* The rings of every key being limited. */
typedef struct QuoRateTable
{
	QuoRateRing rings[QUO_RATE_KEYS];	/* one per key */
	QuoRateRing overflow;		/* shared by the keys that found no ring */
} QuoRateTable;

/* The table as it lives in shared memory. */
typedef struct QuoRateShared
{
	LWLock	   *lock;			/* protects table */
	QuoRateTable table;			/* the rings */
} QuoRateShared;

static QuoRateShared *rate_shared = NULL;	/* in shared memory, if preloaded */
static QuoRateTable local_table;	/* otherwise, this backend's */

#ifdef QUO_HAVE_SHMEM_REQUEST_HOOK
static shmem_request_hook_type prev_shmem_request_hook = NULL;
#endif
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* Ask for the table's shared memory and its lock (shmem_request_hook). */
static void
rate_shmem_request(void)
{
#ifdef QUO_HAVE_SHMEM_REQUEST_HOOK
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
#endif
	RequestAddinShmemSpace(MAXALIGN(sizeof(QuoRateShared)));
	RequestNamedLWLockTranche("quo_fdw", 1);
}

/* Find or create the table in shared memory (shmem_startup_hook). */
static void
rate_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	rate_shared = ShmemInitStruct("quo_fdw rate limit", sizeof(QuoRateShared), &found);
	if (!found)
	{
		memset(rate_shared, 0, sizeof(QuoRateShared));
		rate_shared->lock = &(GetNamedLWLockTranche("quo_fdw"))->lock;
	}
	LWLockRelease(AddinShmemInitLock);
}

/* From _PG_init: ask for shared memory when loaded at server start. */
void
quo_rate_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		return;
#ifdef QUO_HAVE_SHMEM_REQUEST_HOOK
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = rate_shmem_request;
#else
	rate_shmem_request();
#endif
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = rate_shmem_startup;
}

/* The latest slot reserved in ring (0 when it holds none). */
static int64
newest_slot(const QuoRateRing *ring)
{
	if (ring->count == 0)
		return 0;
	return ring->stamps[(ring->head + ring->count - 1) % QUO_RATE_MAX];
}

/*
 * Whether taking ring over for another key loses nothing: no slot of it
 * falls in a window still to come and its rate memory has expired.
 */
static bool
ring_is_stale(const QuoRateRing *ring, int64 now)
{
	return now - ring->last_used >= QUO_RATE_MEMORY_USECS &&
		newest_slot(ring) <= now - QUO_RATE_WINDOW_USECS;
}

/*
 * The ring for keyhash: its own, else a free or stale ring taken over,
 * else the overflow ring.  A ring taken over starts as a copy of the
 * overflow ring, since the key may have been sharing it until now: the
 * copy carries the key's recent slots and rates (with those of the other
 * keys sharing it, which can only make the limit stricter for a while).
 */
static QuoRateRing *
find_ring(QuoRateTable *table, uint64 keyhash, int64 now)
{
	QuoRateRing *spare = NULL;

	for (int i = 0; i < QUO_RATE_KEYS; i++)
	{
		QuoRateRing *ring = &table->rings[i];

		if (ring->keyhash == keyhash)
			return ring;
		if (spare == NULL && (ring->keyhash == 0 || ring_is_stale(ring, now)))
			spare = ring;
	}
	if (spare == NULL)
		return &table->overflow;
	memcpy(spare, &table->overflow, sizeof(QuoRateRing));
	spare->keyhash = keyhash;
	return spare;
}

/*
 * The limit in force in ring for a caller with rate: the smallest rate used
 * with it in the last QUO_RATE_MEMORY_USECS, this caller's included.
 */
static int
limit_in_force(QuoRateRing *ring, int rate, int64 now)
{
	ring->rate_used[rate] = now;
	for (int r = 1; r < rate; r++)
	{
		if (ring->rate_used[r] != 0 && now - ring->rate_used[r] < QUO_RATE_MEMORY_USECS)
			return r;
	}
	return rate;
}

/*
 * Reserve the next send slot in ring for a caller with rate; returns it.
 * The slot is the latest of now, the newest slot reserved, and a window
 * after the n-th most recent slot (n the limit in force): then the window
 * ending at the new slot holds at most n slots, this one included.
 */
static int64
reserve(QuoRateRing *ring, int rate, int64 now)
{
	int			n = limit_in_force(ring, rate, now);
	int64		slot = Max(now, newest_slot(ring));

	if (ring->count >= n)
		slot = Max(slot, ring->stamps[(ring->head + ring->count - n) % QUO_RATE_MAX] +
				   QUO_RATE_WINDOW_USECS);
	if (ring->count < QUO_RATE_MAX)
		ring->stamps[(ring->head + ring->count++) % QUO_RATE_MAX] = slot;
	else
	{
		ring->stamps[ring->head] = slot;
		ring->head = (ring->head + 1) % QUO_RATE_MAX;
	}
	ring->last_used = now;
	return slot;
}

/* Microseconds on a clock that never steps back, shared by all backends. */
int64
quo_monotonic_usecs(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/*
 * Reserve the next send slot for a request with api_key under a limit of
 * rate requests per second (0: no limit).  Returns when the request may
 * be sent, on quo_monotonic_usecs()'s clock; the caller waits until then.
 * *wait_usecs is how long after the reservation that is (0: at once).
 */
int64
quo_rate_reserve(const char *api_key, int rate, int64 *wait_usecs)
{
	uint64		keyhash;
	int64		now = quo_monotonic_usecs();
	int64		slot;

	*wait_usecs = 0;
	if (rate <= 0 || api_key == NULL)
		return now;
	rate = Min(rate, QUO_RATE_MAX);
	keyhash = hash_bytes_extended((const unsigned char *) api_key, (int) strlen(api_key), 0x51f15e);
	if (keyhash == 0)
		keyhash = 1;

	if (rate_shared)
	{
		LWLockAcquire(rate_shared->lock, LW_EXCLUSIVE);
		now = quo_monotonic_usecs();	/* after any wait for the lock */
		slot = reserve(find_ring(&rate_shared->table, keyhash, now), rate, now);
		LWLockRelease(rate_shared->lock);
	}
	else
		slot = reserve(find_ring(&local_table, keyhash, now), rate, now);
	*wait_usecs = slot - now;
	return slot;
}
