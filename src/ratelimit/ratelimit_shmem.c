/*
 * ratelimit_shmem.c
 *		The shared-memory table of rate-limit states: one GCRA theoretical
 *		arrival time per (policy, key), plus per-policy counters.
 *
 * Layout and locking:
 *	- A fixed-size, partitioned dynahash table (apikit.ratelimit_max_keys
 *	  entries, all allocated at start) keyed by two 64-bit hashes of
 *	  (database, policy, key) with seeds chosen at random when the table is
 *	  created: a collision would need 128 bits to agree, and nobody can aim
 *	  for one.  Policies belong to a database, so states and counters do
 *	  too: "default" in one database is not "default" in another.
 *	- RL_PARTITIONS LWLocks, chosen by hash code as core's lock table does.
 *	  A check takes its partition's lock in SHARED mode and updates the
 *	  entry's TAT with a compare-and-swap loop, so checks of one hot key do
 *	  not queue behind each other; creating an entry takes the partition's
 *	  lock EXCLUSIVE; evicting takes every partition EXCLUSIVE, in order.
 *	- Counters are atomics, written without locks.  The slot table that maps
 *	  policy names to counters takes one extra LWLock, once per policy per
 *	  backend.
 *
 * Not transactional by design: a check done in a transaction that rolls
 * back still counts, and checks work in READ ONLY transactions and on hot
 * standbys (each node keeps its own table).
 *
 * A TAT at or before now means full capacity, so such entries can be
 * dropped without changing any answer: eviction reclaims all of them first,
 * and only when none exists drops the live entry closest to expiry (and
 * counts it as evicted).
 *
 * Times are nanoseconds of CLOCK_MONOTONIC, valid while the server runs.  A
 * clean shutdown writes the live entries to pg_stat/apikit_ratelimit.stat
 * with their remaining time, and start-up reads them back, as
 * pg_stat_statements does; after a crash the table starts empty.
 */
#include "postgres.h"

#include <time.h>
#include <unistd.h>

#include "common/hashfn.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "port/atomics.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/hsearch.h"
#include "utils/timestamp.h"

#include "apikit.h"
#include "guc.h"
#include "ratelimit.h"

#define RL_DUMP_FILE	"pg_stat/apikit_ratelimit.stat"
#define RL_DUMP_TMP		RL_DUMP_FILE ".tmp"
#define RL_DUMP_MAGIC	0x41504b52	/* "APKR" */
#define RL_DUMP_VERSION 2
#define RL_TRANCHE		"apikit ratelimit"

typedef struct RateLimitHashKey
{
	uint64		h1;
	uint64		h2;
} RateLimitHashKey;

typedef struct RateLimitEntry
{
	RateLimitHashKey key;		/* hash key: must be first */
	pg_atomic_uint64 tat;		/* theoretical arrival time, monotonic ns */
	Oid			dbid;			/* the database whose policy this is */
	int16		stats_slot;
	uint16		keylen;			/* of the whole key, capped at PG_UINT16_MAX */
	char		policy[NAMEDATALEN];
	char		key_shown[RL_KEY_SHOWN];	/* the key's first bytes, for people */
} RateLimitEntry;

typedef struct RateLimitStats
{
	Oid			dbid;
	char		policy[NAMEDATALEN];
	pg_atomic_uint64 allowed;
	pg_atomic_uint64 denied;
	pg_atomic_uint64 bypassed;
	pg_atomic_uint64 evicted;
} RateLimitStats;

typedef struct RateLimitShared
{
	LWLockPadded *locks;		/* RL_PARTITIONS partitions, then the slot lock */
	uint64		seed1;
	uint64		seed2;
	int			nstats;			/* slots in use; protected by the slot lock */
	RateLimitStats stats[RL_MAX_POLICY_STATS];
} RateLimitShared;

static RateLimitShared *rl = NULL;
static HTAB *rl_htab = NULL;

/*
 * The key is already two good hashes: dynahash takes its bucket hash from
 * the first instead of hashing the 16 bytes again.
 */
static uint32
rl_key_hash(const void *key, Size keysize pg_attribute_unused())
{
	return (uint32) ((const RateLimitHashKey *) key)->h1;
}

#define SLOT_LOCK() (&rl->locks[RL_PARTITIONS].lock)

int64
apikit_ratelimit_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

Size
apikit_ratelimit_shmem_size(void)
{
	return sizeof(RateLimitShared);
}

void
apikit_ratelimit_shmem_request(void)
{
	RequestAddinShmemSpace(hash_estimate_size(apikit_ratelimit_max_keys,
											  sizeof(RateLimitEntry)));
	RequestNamedLWLockTranche(RL_TRANCHE, RL_PARTITIONS + 1);
}

static void rl_load(void);
static void rl_dump(int code, Datum arg);

void
apikit_ratelimit_shmem_startup(void *ptr, bool found)
{
	HASHCTL		info;

	rl = (RateLimitShared *) ptr;
	if (!found)
	{
		memset(rl, 0, sizeof(RateLimitShared));
		rl->locks = GetNamedLWLockTranche(RL_TRANCHE);
		if (!pg_strong_random(&rl->seed1, sizeof(rl->seed1)) ||
			!pg_strong_random(&rl->seed2, sizeof(rl->seed2)))
			elog(FATAL, "could not generate random seeds for the rate-limit table");
		for (int i = 0; i < RL_MAX_POLICY_STATS; i++)
		{
			pg_atomic_init_u64(&rl->stats[i].allowed, 0);
			pg_atomic_init_u64(&rl->stats[i].denied, 0);
			pg_atomic_init_u64(&rl->stats[i].bypassed, 0);
			pg_atomic_init_u64(&rl->stats[i].evicted, 0);
		}
	}

	memset(&info, 0, sizeof(info));
	info.keysize = sizeof(RateLimitHashKey);
	info.entrysize = sizeof(RateLimitEntry);
	info.hash = rl_key_hash;
	info.num_partitions = RL_PARTITIONS;
	rl_htab = ShmemInitHash("apikit ratelimit table",
							apikit_ratelimit_max_keys, apikit_ratelimit_max_keys,
							&info,
							HASH_ELEM | HASH_FUNCTION | HASH_PARTITION | HASH_FIXED_SIZE);

	/* Only the postmaster reads and writes the file, as pgss does. */
	if (!IsUnderPostmaster)
	{
		if (!found)
			rl_load();
		on_shmem_exit(rl_dump, (Datum) 0);
	}
}

uint64
apikit_ratelimit_name_hash(const char *policy)
{
	return hash_bytes_extended((const unsigned char *) policy, strlen(policy), 0);
}

static void
rl_hash(uint64 p, const char *key, int keylen, RateLimitHashKey *hk)
{
	p ^= (uint64) MyDatabaseId * UINT64CONST(0xC2B2AE3D27D4EB4F);
	hk->h1 = hash_bytes_extended((const unsigned char *) key, keylen, rl->seed1 ^ p);
	hk->h2 = hash_bytes_extended((const unsigned char *) key, keylen,
								 rl->seed2 ^ (p * UINT64CONST(0x9E3779B97F4A7C15)));
}

/* Decide against the entry's state and store the new TAT atomically. */
static void
rl_decide(const RateLimitPolicy *policy, RateLimitEntry *entry, int64 now,
		  int32 cost, GcraResult *r)
{
	uint64		old = pg_atomic_read_u64(&entry->tat);

	for (;;)
	{
		gcra_apply(&policy->gcra, (int64) old, now, cost, r);
		if (!r->store)
			return;
		/* On failure "old" now holds the value another backend stored. */
		if (pg_atomic_compare_exchange_u64(&entry->tat, &old, (uint64) r->new_tat))
			return;
	}
}

static void
rl_entry_init(RateLimitEntry *entry, const RateLimitPolicy *policy,
			  const char *key, int keylen)
{
	int			shown = pg_mbcliplen(key, keylen, RL_KEY_SHOWN - 1);

	pg_atomic_init_u64(&entry->tat, 0);
	entry->dbid = MyDatabaseId;
	entry->stats_slot = policy->stats_slot;
	entry->keylen = Min(keylen, PG_UINT16_MAX);
	strlcpy(entry->policy, policy->name, NAMEDATALEN);
	memset(entry->key_shown, 0, RL_KEY_SHOWN);
	memcpy(entry->key_shown, key, shown);
}

/*
 * The table is full: with every partition locked, drop every entry whose
 * TAT has passed (they change no answer); if there is none, drop the live
 * entry closest to expiry and count it.  Then insert the caller's entry
 * before letting go of the locks, so that no one else takes the room.
 * Returns the entry, with every partition lock still held.
 */
/* Every partition, in order (so two backends doing this cannot deadlock). */
static void
rl_lock_all(LWLockMode mode)
{
	for (int i = 0; i < RL_PARTITIONS; i++)
		LWLockAcquire(&rl->locks[i].lock, mode);
}

static void
rl_release_all(void)
{
	for (int i = RL_PARTITIONS - 1; i >= 0; i--)
		LWLockRelease(&rl->locks[i].lock);
}

static RateLimitEntry *
rl_evict_and_enter(const RateLimitHashKey *hk, uint32 hashcode, int64 now,
				   bool *found)
{
	HASH_SEQ_STATUS status;
	RateLimitEntry *entry;
	RateLimitHashKey victim;
	int64		victim_tat = PG_INT64_MAX;
	int			victim_slot = -1;
	int			reclaimed = 0;

	rl_lock_all(LW_EXCLUSIVE);

	/* Someone may have made room, or entered this very key, meanwhile. */
	entry = hash_search_with_hash_value(rl_htab, hk, hashcode, HASH_ENTER_NULL, found);
	if (entry != NULL)
		return entry;

	hash_seq_init(&status, rl_htab);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		int64		tat = (int64) pg_atomic_read_u64(&entry->tat);

		if (tat <= now)
		{
			hash_search(rl_htab, &entry->key, HASH_REMOVE, NULL);
			reclaimed++;
		}
		else if (tat < victim_tat)
		{
			victim_tat = tat;
			victim = entry->key;
			victim_slot = entry->stats_slot;
		}
	}
	if (reclaimed == 0 && victim_slot >= 0)
	{
		hash_search(rl_htab, &victim, HASH_REMOVE, NULL);
		pg_atomic_fetch_add_u64(&rl->stats[victim_slot].evicted, 1);
	}

	entry = hash_search_with_hash_value(rl_htab, hk, hashcode, HASH_ENTER_NULL, found);
	if (entry == NULL)
		elog(ERROR, "no room in the rate-limit table after eviction");
	return entry;
}

void
apikit_ratelimit_consume(RateLimitPolicy *policy, const char *key, int keylen,
						 int32 cost, RateLimitAnswer *answer)
{
	RateLimitHashKey hk;
	uint32		hashcode;
	LWLock	   *lock;
	RateLimitEntry *entry;
	GcraResult	r;
	int64		now;

	rl_hash(policy->name_hash, key, keylen, &hk);
	hashcode = get_hash_value(rl_htab, &hk);
	lock = &rl->locks[hashcode % RL_PARTITIONS].lock;

	LWLockAcquire(lock, LW_SHARED);
	entry = hash_search_with_hash_value(rl_htab, &hk, hashcode, HASH_FIND, NULL);
	now = apikit_ratelimit_now_ns();
	if (entry != NULL)
		rl_decide(policy, entry, now, cost, &r);
	LWLockRelease(lock);

	if (entry == NULL)
	{
		/* A new key: only an admitted request with a cost needs an entry. */
		gcra_apply(&policy->gcra, 0, now, cost, &r);
		if (r.store)
		{
			bool		found;
			bool		all_locks = false;

			LWLockAcquire(lock, LW_EXCLUSIVE);
			entry = hash_search_with_hash_value(rl_htab, &hk, hashcode,
												HASH_ENTER_NULL, &found);
			if (entry == NULL)
			{
				LWLockRelease(lock);
				entry = rl_evict_and_enter(&hk, hashcode, now, &found);
				all_locks = true;
			}
			if (!found)
				rl_entry_init(entry, policy, key, keylen);
			/* Decide again: another backend may have got here first. */
			now = apikit_ratelimit_now_ns();
			rl_decide(policy, entry, now, cost, &r);
			if (all_locks)
				rl_release_all();
			else
				LWLockRelease(lock);
		}
	}

	answer->allowed = r.allowed;
	answer->bypassed = false;
	answer->limit = r.limit;
	answer->remaining = r.remaining;
	answer->retry_after_ns = r.retry_after_ns;
	answer->reset_after_ns = r.reset_after_ns;
	answer->refill_ns = gcra_refill_ns(&policy->gcra, r.new_tat, now);
}

/* Remove one (policy, key) state; returns 1 if there was one. */
int
apikit_ratelimit_reset_key(const char *policy, const char *key, int keylen)
{
	RateLimitHashKey hk;
	uint32		hashcode;
	LWLock	   *lock;
	bool		found;

	rl_hash(apikit_ratelimit_name_hash(policy), key, keylen, &hk);	/* this database's */
	hashcode = get_hash_value(rl_htab, &hk);
	lock = &rl->locks[hashcode % RL_PARTITIONS].lock;
	LWLockAcquire(lock, LW_EXCLUSIVE);
	hash_search_with_hash_value(rl_htab, &hk, hashcode, HASH_REMOVE, &found);
	LWLockRelease(lock);
	return found ? 1 : 0;
}

/* The counters slot of a database's policy, created on first use. */
int
apikit_ratelimit_stats_slot(Oid dbid, const char *policy)
{
	int			slot = -1;

	LWLockAcquire(SLOT_LOCK(), LW_EXCLUSIVE);
	for (int i = 0; i < rl->nstats; i++)
		if (rl->stats[i].dbid == dbid && strcmp(rl->stats[i].policy, policy) == 0)
			slot = i;
	if (slot < 0 && rl->nstats < RL_MAX_POLICY_STATS)
	{
		slot = rl->nstats++;
		/* The last slot, once reached, counts every further policy. */
		rl->stats[slot].dbid = slot == RL_MAX_POLICY_STATS - 1 ? InvalidOid : dbid;
		strlcpy(rl->stats[slot].policy,
				slot == RL_MAX_POLICY_STATS - 1 ? "(other)" : policy, NAMEDATALEN);
	}
	if (slot < 0)
		slot = RL_MAX_POLICY_STATS - 1;
	LWLockRelease(SLOT_LOCK());
	return slot;
}

void
apikit_ratelimit_count(int slot, bool allowed, bool bypassed)
{
	RateLimitStats *st = &rl->stats[slot];

	if (bypassed)
		pg_atomic_fetch_add_u64(&st->bypassed, 1);
	else if (allowed)
		pg_atomic_fetch_add_u64(&st->allowed, 1);
	else
		pg_atomic_fetch_add_u64(&st->denied, 1);
}

/* ---- views ------------------------------------------------------------ */

/*
 * Copy the live entries out (every partition held SHARED while copying), so
 * that the caller can build tuples without holding any lock.
 */
int
apikit_ratelimit_snapshot(RateLimitStateRow **rows)
{
	HASH_SEQ_STATUS status;
	RateLimitEntry *entry;
	int64		now = apikit_ratelimit_now_ns();
	int			n = 0;
	int			cap;

	rl_lock_all(LW_SHARED);
	cap = Max(hash_get_num_entries(rl_htab), 1);
	*rows = palloc(sizeof(RateLimitStateRow) * cap);
	hash_seq_init(&status, rl_htab);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		int64		tat = (int64) pg_atomic_read_u64(&entry->tat);

		if (tat <= now || n >= cap || entry->dbid != MyDatabaseId)
			continue;
		strlcpy((*rows)[n].policy, entry->policy, NAMEDATALEN);
		memcpy((*rows)[n].key, entry->key_shown, RL_KEY_SHOWN);
		(*rows)[n].truncated = entry->keylen >= RL_KEY_SHOWN;
		(*rows)[n].tat = tat;
		n++;
	}
	rl_release_all();
	return n;
}

int
apikit_ratelimit_stats_rows(RateLimitStatsRow *rows)
{
	int			n;

	LWLockAcquire(SLOT_LOCK(), LW_SHARED);
	n = 0;
	for (int i = 0; i < rl->nstats; i++)
	{
		/* This database's policies, and the shared overflow slot. */
		if (rl->stats[i].dbid != MyDatabaseId && rl->stats[i].dbid != InvalidOid)
			continue;
		strlcpy(rows[n].policy, rl->stats[i].policy, NAMEDATALEN);
		rows[n].allowed = pg_atomic_read_u64(&rl->stats[i].allowed);
		rows[n].denied = pg_atomic_read_u64(&rl->stats[i].denied);
		rows[n].bypassed = pg_atomic_read_u64(&rl->stats[i].bypassed);
		rows[n].evicted = pg_atomic_read_u64(&rl->stats[i].evicted);
		n++;
	}
	LWLockRelease(SLOT_LOCK());
	return n;
}

/* ---- keeping state across a clean restart ------------------------------ */

/*
 * The file holds the seeds (so the hashes stay valid), and for each live
 * entry its key hashes, display fields and the time it has left, measured
 * against the wall clock at dump time: the monotonic clock does not survive
 * a reboot, and the time the server was down counts as time passed.
 */
typedef struct RateLimitDumpHeader
{
	uint32		magic;
	uint32		version;
	uint32		entry_size;		/* sizeof(RateLimitDumpEntry): the layout */
	uint64		seed1;
	uint64		seed2;
	TimestampTz dumped_at;
	int64		count;
} RateLimitDumpHeader;

typedef struct RateLimitDumpEntry
{
	RateLimitHashKey key;
	Oid			dbid;
	int64		left_ns;
	uint16		keylen;
	char		policy[NAMEDATALEN];
	char		key_shown[RL_KEY_SHOWN];
} RateLimitDumpEntry;

static void
rl_dump(int code, Datum arg pg_attribute_unused())
{
	RateLimitDumpHeader header;
	HASH_SEQ_STATUS status;
	RateLimitEntry *entry;
	int64		now = apikit_ratelimit_now_ns();
	FILE	   *file;

	/* A crash, or a start-up that failed: start empty next time. */
	if (code != 0 || rl == NULL || rl_htab == NULL)
		return;

	file = AllocateFile(RL_DUMP_TMP, PG_BINARY_W);
	if (file == NULL)
		goto error;

	memset(&header, 0, sizeof(header));
	header.magic = RL_DUMP_MAGIC;
	header.version = RL_DUMP_VERSION;
	header.entry_size = sizeof(RateLimitDumpEntry);
	header.seed1 = rl->seed1;
	header.seed2 = rl->seed2;
	header.dumped_at = GetCurrentTimestamp();
	header.count = 0;
	hash_seq_init(&status, rl_htab);
	while ((entry = hash_seq_search(&status)) != NULL)
		if ((int64) pg_atomic_read_u64(&entry->tat) > now)
			header.count++;
	if (fwrite(&header, sizeof(header), 1, file) != 1)
		goto error;

	hash_seq_init(&status, rl_htab);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		RateLimitDumpEntry out;
		int64		tat = (int64) pg_atomic_read_u64(&entry->tat);

		if (tat <= now)
			continue;
		memset(&out, 0, sizeof(out));
		out.key = entry->key;
		out.dbid = entry->dbid;
		out.left_ns = tat - now;
		out.keylen = entry->keylen;
		memcpy(out.policy, entry->policy, NAMEDATALEN);
		memcpy(out.key_shown, entry->key_shown, RL_KEY_SHOWN);
		if (fwrite(&out, sizeof(out), 1, file) != 1)
		{
			hash_seq_term(&status);
			goto error;
		}
	}

	if (FreeFile(file))
	{
		file = NULL;
		goto error;
	}
	(void) durable_rename(RL_DUMP_TMP, RL_DUMP_FILE, LOG);
	return;

error:
	ereport(LOG,
			(errcode_for_file_access(),
			 errmsg("could not write file \"%s\": %m", RL_DUMP_TMP)));
	if (file)
		FreeFile(file);
	unlink(RL_DUMP_TMP);
}

static void
rl_load(void)
{
	RateLimitDumpHeader header;
	FILE	   *file;
	int64		now = apikit_ratelimit_now_ns();
	int64		down_ns;
	int64		loaded = 0;

	file = AllocateFile(RL_DUMP_FILE, PG_BINARY_R);
	if (file == NULL)
	{
		if (errno != ENOENT)
			ereport(LOG,
					(errcode_for_file_access(),
					 errmsg("could not read file \"%s\": %m", RL_DUMP_FILE)));
		return;
	}

	if (fread(&header, sizeof(header), 1, file) != 1 ||
		header.magic != RL_DUMP_MAGIC || header.version != RL_DUMP_VERSION ||
		header.entry_size != sizeof(RateLimitDumpEntry) || header.count < 0)
	{
		ereport(LOG,
				(errmsg("ignoring file \"%s\": not a rate-limit state file of this version",
						RL_DUMP_FILE)));
		goto done;
	}

	rl->seed1 = header.seed1;
	rl->seed2 = header.seed2;
	down_ns = GetCurrentTimestamp() - header.dumped_at;
	if (down_ns < 0)
		down_ns = 0;			/* the clock went back: count no time */
	else if (down_ns > GCRA_MAX_TAU_NS / 1000)
		down_ns = GCRA_MAX_TAU_NS;	/* down for over a year: nothing is left */
	else
		down_ns *= 1000;

	for (int64 i = 0; i < header.count; i++)
	{
		RateLimitDumpEntry in;
		RateLimitEntry *entry;
		bool		found;

		if (fread(&in, sizeof(in), 1, file) != 1)
		{
			ereport(LOG,
					(errmsg("file \"%s\" is truncated; kept %lld of its entries",
							RL_DUMP_FILE, (long long) loaded)));
			break;
		}
		/* A damaged file must not pin a key for longer than any policy can. */
		if (in.left_ns <= down_ns || in.left_ns > GCRA_MAX_TAU_NS)
			continue;			/* recovered while the server was down, or nonsense */
		entry = hash_search(rl_htab, &in.key, HASH_ENTER_NULL, &found);
		if (entry == NULL)
			break;				/* apikit.ratelimit_max_keys was lowered */
		pg_atomic_init_u64(&entry->tat, (uint64) (now + in.left_ns - down_ns));
		in.policy[NAMEDATALEN - 1] = '\0';
		in.key_shown[RL_KEY_SHOWN - 1] = '\0';
		strlcpy(entry->policy, in.policy, NAMEDATALEN);
		memcpy(entry->key_shown, in.key_shown, RL_KEY_SHOWN);
		entry->keylen = in.keylen;
		entry->dbid = in.dbid;
		/* Counters are "since start"; slots are assigned again on use. */
		entry->stats_slot = apikit_ratelimit_stats_slot(entry->dbid, entry->policy);
		loaded++;
	}
	ereport(LOG,
			(errmsg("apikit restored %lld rate-limit states from the last shutdown",
					(long long) loaded)));

done:
	FreeFile(file);
	/* Never reuse the file: after a crash the table must start empty. */
	unlink(RL_DUMP_FILE);
}
