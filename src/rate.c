/*-------------------------------------------------------------------------
 * rate.c
 *		The client-side rate limit: at most N requests in any window of a
 *		little over a second, per API key.
 *
 * Quo allows 10 requests per second per key, shared by every client of
 * that key.  Each key (known only by a 64-bit hash, never the key itself)
 * has a ring of the send times of its last N requests; a request may go
 * when the oldest of those is a window old.  A caller that must wait
 * reserves its future slot before sleeping, so waiters are served in turn.
 * This is a token bucket with a bucket of N tokens refilled as each token
 * turns one window old, which, unlike a continuously refilled bucket, never
 * lets more than N requests into any one-second window.
 *
 * With quo_fdw in shared_preload_libraries the rings live in shared memory
 * and every backend shares them; otherwise each backend has its own.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/timestamp.h"

#include "quo_fdw.h"

/* Most requests per window a ring can hold (the rate_limit option's maximum). */
#define QUO_RATE_MAX 100
/* Keys tracked at once; the least recently used ring is reused. */
#define QUO_RATE_KEYS 32
/* The window: a second, plus a margin for network jitter. */
#define QUO_RATE_WINDOW_USECS 1050000

/* The send times of one key's last requests. */
typedef struct QuoRateRing
{
	uint64		keyhash;		/* hash of the API key; 0 = unused */
	int			rate;			/* N for this ring */
	int			count;			/* stamps in use, up to rate */
	int			head;			/* index of the oldest stamp */
	int64		last_used;		/* for reuse of the least recently used */
	int64		stamps[QUO_RATE_MAX];	/* send times, oldest at head */
} QuoRateRing;

typedef struct QuoRateShared
{
	LWLock	   *lock;			/* protects rings */
	QuoRateRing rings[QUO_RATE_KEYS];
} QuoRateShared;

static QuoRateShared *rate_shared = NULL;	/* in shared memory, if preloaded */
static QuoRateRing local_rings[QUO_RATE_KEYS];	/* otherwise, this backend's */

#if PG_VERSION_NUM >= 150000
static shmem_request_hook_type prev_shmem_request_hook = NULL;
#endif
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void
rate_shmem_request(void)
{
#if PG_VERSION_NUM >= 150000
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
#endif
	RequestAddinShmemSpace(MAXALIGN(sizeof(QuoRateShared)));
	RequestNamedLWLockTranche("quo_fdw", 1);
}

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
#if PG_VERSION_NUM >= 150000
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = rate_shmem_request;
#else
	rate_shmem_request();
#endif
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = rate_shmem_startup;
}

/* The ring for keyhash in rings, taken over from the least recent key if new. */
static QuoRateRing *
find_ring(QuoRateRing *rings, uint64 keyhash, int rate, int64 now)
{
	QuoRateRing *lru = &rings[0];

	for (int i = 0; i < QUO_RATE_KEYS; i++)
	{
		if (rings[i].keyhash == keyhash)
		{
			if (rings[i].rate != rate)
			{
				/* the rate changed: start over, keeping the key */
				rings[i].rate = rate;
				rings[i].count = rings[i].head = 0;
			}
			return &rings[i];
		}
		if (rings[i].last_used < lru->last_used)
			lru = &rings[i];
	}
	memset(lru, 0, sizeof(QuoRateRing));
	lru->keyhash = keyhash;
	lru->rate = rate;
	(void) now;
	return lru;
}

/*
 * Reserve the next send slot in ring; returns how long to wait for it
 * (microseconds, 0 when it may go now).
 */
static int64
reserve(QuoRateRing *ring, int64 now)
{
	int64		slot = now;

	ring->last_used = now;
	if (ring->count < ring->rate)
	{
		ring->stamps[(ring->head + ring->count) % ring->rate] = now;
		ring->count++;
		return 0;
	}
	/* full: the slot is a window after the oldest stamp */
	if (ring->stamps[ring->head] + QUO_RATE_WINDOW_USECS > now)
		slot = ring->stamps[ring->head] + QUO_RATE_WINDOW_USECS;
	ring->stamps[ring->head] = slot;
	ring->head = (ring->head + 1) % ring->rate;
	return slot - now;
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
 */
int64
quo_rate_reserve(const char *api_key, int rate)
{
	uint64		keyhash;
	int64		now = quo_monotonic_usecs();
	int64		wait;

	if (rate <= 0 || api_key == NULL)
		return now;
	rate = Min(rate, QUO_RATE_MAX);
	keyhash = hash_bytes_extended((const unsigned char *) api_key, (int) strlen(api_key), 0x51f15e);
	if (keyhash == 0)
		keyhash = 1;

	if (rate_shared)
	{
		LWLockAcquire(rate_shared->lock, LW_EXCLUSIVE);
		wait = reserve(find_ring(rate_shared->rings, keyhash, rate, now), now);
		LWLockRelease(rate_shared->lock);
	}
	else
		wait = reserve(find_ring(local_rings, keyhash, rate, now), now);
	return now + wait;
}

/* Reserve a slot and sleep until it comes (to be replaced by the scan's wait loop). */
void
quo_rate_acquire(const char *api_key, int rate, int64 *waited_usecs)
{
	int64		wait = quo_rate_reserve(api_key, rate) - quo_monotonic_usecs();

	if (wait <= 0)
		return;
	if (waited_usecs)
		*waited_usecs += wait;
	quo_sleep_usecs(wait);
}

/* Sleep for usecs, waking at least every 100 ms to honour interrupts. */
void
quo_sleep_usecs(int64 usecs)
{
	int64		until = quo_monotonic_usecs() + usecs;

	for (;;)
	{
		long		left_ms;

		CHECK_FOR_INTERRUPTS();
		left_ms = (long) ((until - quo_monotonic_usecs() + 999) / 1000);
		if (left_ms <= 0)
			return;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 Min(left_ms, 100), PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}
