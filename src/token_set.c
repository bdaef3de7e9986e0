/*-------------------------------------------------------------------------
 * token_set.c
 *		The page tokens one request series has returned, as a set: a token
 *		seen twice means the API's paging loops, and the scan stops with an
 *		ERROR instead of paging forever.
 *
 * Tokens are kept as 64-bit hashes in an open-addressing table at most
 * half full, so each page costs constant time however long the series (a
 * list of 20,000 pages costs 20,000 steps, not 200 million).  A collision
 * of two hashes would read as a loop: at 2^-64 per pair, it does not
 * happen.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/hashfn.h"

#include "quo_fdw.h"

/* Slots of a set at its start and after a clear: ample for most series. */
#define TOKEN_SET_MIN_SLOTS 64

struct QuoTokenSet
{
	MemoryContext cxt;			/* where the slots live */
	uint64	   *slots;			/* hashes, 0 for an empty slot */
	int			n;				/* hashes in the set */
	int			cap;			/* slots: a power of two */
};

/* An empty set, in cxt. */
QuoTokenSet *
quo_token_set_create(MemoryContext cxt)
{
	QuoTokenSet *set = MemoryContextAllocZero(cxt, sizeof(QuoTokenSet));

	set->cxt = cxt;
	set->cap = TOKEN_SET_MIN_SLOTS;
	set->slots = MemoryContextAllocZero(cxt, sizeof(uint64) * set->cap);
	return set;
}

/* Put h (never 0) into slots (cap of them, with room); false if it was there. */
static bool
insert(uint64 *slots, int cap, uint64 h)
{
	for (uint64 i = h & (uint64) (cap - 1);; i = (i + 1) & (uint64) (cap - 1))
	{
		if (slots[i] == h)
			return false;
		if (slots[i] == 0)
		{
			slots[i] = h;
			return true;
		}
	}
}

/* Add token; false if the set held it already. */
bool
quo_token_set_add(QuoTokenSet *set, const char *token)
{
	uint64		h = hash_bytes_extended((const unsigned char *) token, (int) strlen(token), 0);

	if (h == 0)
		h = 1;					/* 0 marks an empty slot */
	if (2 * (set->n + 1) > set->cap)
	{
		int			cap = set->cap * 2;
		uint64	   *slots = MemoryContextAllocZero(set->cxt, sizeof(uint64) * cap);

		for (int i = 0; i < set->cap; i++)
			if (set->slots[i] != 0)
				(void) insert(slots, cap, set->slots[i]);
		pfree(set->slots);
		set->slots = slots;
		set->cap = cap;
	}
	if (!insert(set->slots, set->cap, h))
		return false;
	set->n++;
	return true;
}

/*
 * Empty the set for the next series; a set that grew goes back to its
 * first size, so that many short series after a long one stay cheap.
 */
void
quo_token_set_clear(QuoTokenSet *set)
{
	if (set->cap > TOKEN_SET_MIN_SLOTS)
	{
		pfree(set->slots);
		set->cap = TOKEN_SET_MIN_SLOTS;
		set->slots = MemoryContextAllocZero(set->cxt, sizeof(uint64) * set->cap);
	}
	else if (set->n > 0)
		memset(set->slots, 0, sizeof(uint64) * set->cap);
	set->n = 0;
}
