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
 *	  not queue behind each other.  Creating, removing or evicting an entry
 *	  takes its partition's lock EXCLUSIVE, and never two locks at once.
 *	  apikit.rate_limit_check_all() takes the partitions of all its pairs
 *	  EXCLUSIVE in ascending order, so that its decision is atomic and two
 *	  such calls cannot deadlock (SHARED when it can store nothing: cost 0,
 *	  or limiting switched off).  The views and apikit.rate_limit_usage()
 *	  read one partition at a time, SHARED, having allocated beforehand.
 *	- Each partition keeps its entries on a list, under its lock.  To make
 *	  room, a full table examines RL_EXAMINE entries from the front of the
 *	  list of the partition a clock hand names (and of the next ones while a
 *	  partition has fewer), one lock at a time; entries that stay move to
 *	  the back, so successive searches look at different ones.
 *	- Places are counted apart from dynahash, in one atomic: only a backend
 *	  holding a place enters an entry, and a backend that removes an entry
 *	  to make room keeps its place.  So the room made for a key cannot be
 *	  taken by another backend between the removal and the insertion,
 *	  although no lock is held in between.  A place held is owed to the
 *	  table until it is entered or given back: from the first place taken
 *	  until then, interrupts are held (HOLD_INTERRUPTS) and nothing can
 *	  raise an error, so that no cancel, statement_timeout or termination
 *	  can lose one.  The "table is full" log line, whose ereport() would
 *	  act on a pending interrupt, is written after the places are settled.
 *	  apikit.rate_limit_usage() shows places used beside entries.
 *	- Each database's entries are counted (an atomic per database, in a
 *	  slot table like the counters'), so that apikit.ratelimit_database_share
 *	  can keep one database from taking more than its share of the table:
 *	  a database at its share makes room only from its own states, or is
 *	  refused.  The table is the cluster's, and a database's keys are
 *	  chosen by whoever may call its checks.  The count is read before
 *	  places are taken, so sessions adding keys at the same moment can
 *	  overshoot the share by one key each.
 *	- Counters are atomics, written without locks.  The slot table that maps
 *	  policy names to counters takes one extra LWLock, once per policy per
 *	  backend.
 *
 * Not transactional by design: a check done in a transaction that rolls
 * back still counts, and checks work in READ ONLY transactions and on hot
 * standbys (each node keeps its own table).
 *
 * A TAT at or before now means full capacity, so such entries can be
 * dropped without changing any answer: a full table reclaims every expired
 * entry it examines.  When none has, apikit.ratelimit_when_full decides:
 * "evict" drops the examined entry using the smallest share of its policy's
 * capacity, (tat - now) / tau, and counts it as evicted, so a flood of
 * barely used keys evicts its own kind rather than exhausted buckets that
 * merely expire sooner; "deny" refuses the new key (counted in denied_full)
 * and never drops a live state.  Either way the work is bounded: RL_EXAMINE
 * entries, under one partition lock at a time.
 *
 * Times are nanoseconds of CLOCK_MONOTONIC, valid while the server runs.  A
 * clean shutdown writes the live entries to pg_stat/apikit_ratelimit.stat
 * with their remaining time, and start-up reads them back, as
 * pg_stat_statements does; after a crash the table starts empty.
 */
#include "postgres.h"

#include <time.h>
#include <unistd.h>

#include "commands/dbcommands.h"
#include "common/hashfn.h"
#include "lib/ilist.h"
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
#define RL_DUMP_VERSION 3
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
	pg_atomic_uint64 tau;		/* the policy's tau when last stored, for eviction */
	dlist_node	node;			/* in its partition's list */
	Oid			dbid;			/* the database whose policy this is */
	int16		stats_slot;
	int16		db_slot;		/* its entry count in rl->dbs */
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
	pg_atomic_uint64 denied_full;
} RateLimitStats;

typedef struct RateLimitDatabase
{
	Oid			dbid;			/* InvalidOid: shared by databases beyond the others */
	pg_atomic_uint32 entries;	/* entries of this database's policies */
	pg_atomic_uint64 full_logged;	/* when its share was last logged full, monotonic ns */
} RateLimitDatabase;

typedef struct RateLimitShared
{
	LWLockPadded *locks;		/* RL_PARTITIONS partitions, then the slot lock */
	uint64		seed1;
	uint64		seed2;
	pg_atomic_uint32 used;		/* places taken: entries, and ones being entered */
	pg_atomic_uint32 hand;		/* where the next search for room starts */
	pg_atomic_uint64 full_logged;	/* when "full" was last logged, monotonic ns */
	dlist_head	entries[RL_PARTITIONS]; /* each under its partition's lock */
	uint32		count[RL_PARTITIONS];	/* the lists' lengths, likewise */
	int			nstats;			/* slots in use; protected by the slot lock */
	RateLimitStats stats[RL_MAX_POLICY_STATS];
	int			ndbs;			/* likewise */
	RateLimitDatabase dbs[RL_MAX_DATABASES];
} RateLimitShared;

static RateLimitShared *rl = NULL;
static HTAB *rl_htab = NULL;
static int	rl_my_db = -1;		/* this backend's database's slot in rl->dbs */

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
			pg_atomic_init_u64(&rl->stats[i].denied_full, 0);
		}
		for (int i = 0; i < RL_MAX_DATABASES; i++)
		{
			pg_atomic_init_u32(&rl->dbs[i].entries, 0);
			pg_atomic_init_u64(&rl->dbs[i].full_logged, 0);
		}
		pg_atomic_init_u32(&rl->used, 0);
		pg_atomic_init_u32(&rl->hand, 0);
		pg_atomic_init_u64(&rl->full_logged, 0);
		for (int i = 0; i < RL_PARTITIONS; i++)
			dlist_init(&rl->entries[i]);
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
			break;
	}
	/* Eviction weighs the state by its policy's tau; keep it current. */
	if (pg_atomic_read_u64(&entry->tau) != (uint64) policy->gcra.tau_ns)
		pg_atomic_write_u64(&entry->tau, (uint64) policy->gcra.tau_ns);
}

static inline int
rl_partition(uint32 hashcode)
{
	return hashcode % RL_PARTITIONS;
}

static inline LWLock *
rl_partition_lock(int partition)
{
	return &rl->locks[partition].lock;
}

/* ---- places: how many entries the table may hold ----------------------- */

/*
 * Take up to n places; returns how many were free.  A place is what lets a
 * backend enter an entry; it goes back when the entry is removed, or passes
 * to the backend that removed it to make room.
 */
static int
rl_take_places(int n)
{
	uint32		used = pg_atomic_read_u32(&rl->used);

	for (;;)
	{
		uint32		room = (uint32) apikit_ratelimit_max_keys > used ?
			(uint32) apikit_ratelimit_max_keys - used : 0;
		uint32		take = Min(room, (uint32) n);

		if (take == 0)
			return 0;
		if (pg_atomic_compare_exchange_u32(&rl->used, &used, used + take))
			return (int) take;
	}
}

static void
rl_give_back(int n)
{
	if (n > 0)
		pg_atomic_fetch_sub_u32(&rl->used, (uint32) n);
}

/*
 * The slot counting a database's entries, created on first use, under the
 * slot lock (never held with a partition lock).  The last slot, once
 * reached, counts every further database: those share one share.
 */
static int
rl_db_slot_of(Oid dbid)
{
	int			slot = -1;

	LWLockAcquire(SLOT_LOCK(), LW_EXCLUSIVE);
	for (int i = 0; i < rl->ndbs; i++)
		if (rl->dbs[i].dbid == dbid)
			slot = i;
	if (slot < 0 && rl->ndbs < RL_MAX_DATABASES)
	{
		slot = rl->ndbs++;
		rl->dbs[slot].dbid = slot == RL_MAX_DATABASES - 1 ? InvalidOid : dbid;
	}
	if (slot < 0)
		slot = RL_MAX_DATABASES - 1;
	LWLockRelease(SLOT_LOCK());
	return slot;
}

/* This backend's database's slot: called before any partition lock. */
static void
rl_my_db_slot(void)
{
	if (rl_my_db < 0)
		rl_my_db = rl_db_slot_of(MyDatabaseId);
}

/* The most entries one database may hold; PG_UINT32_MAX for no limit. */
static uint32
rl_db_cap(void)
{
	if (apikit_ratelimit_database_share >= 100)
		return PG_UINT32_MAX;
	return Max(1, (uint32) ((uint64) apikit_ratelimit_max_keys *
							apikit_ratelimit_database_share / 100));
}

/*
 * How many of n more new entries this database may add within its share,
 * besides the "held" places it holds for entries not yet entered.
 */
static int
rl_db_room(int n, int held)
{
	uint32		cap = rl_db_cap();
	uint64		have;

	if (cap == PG_UINT32_MAX)
		return n;
	have = (uint64) pg_atomic_read_u32(&rl->dbs[rl_my_db].entries) + held;
	return have >= cap ? 0 : (int) Min((uint64) n, cap - have);
}

/*
 * Enter a key the caller holds a place for, with its partition lock held
 * EXCLUSIVE.  *found says whether it was there already (then the place is
 * the caller's to give back).  Holding a place guarantees a free element,
 * but dynahash can miss one that another backend frees into a freelist it
 * has already searched: try again, a bounded number of times.  NULL if it
 * never found one: the caller still holds its place and gives it back, and
 * answers as for a full table.  (No error is raised while places are held,
 * so that none is ever lost.)
 */
static RateLimitEntry *
rl_enter(const RateLimitHashKey *hk, uint32 hashcode, bool *found)
{
	for (int attempt = 0; attempt < 1000; attempt++)
	{
		RateLimitEntry *entry;

		entry = hash_search_with_hash_value(rl_htab, hk, hashcode,
											HASH_ENTER_NULL, found);
		if (entry != NULL)
			return entry;
		pg_spin_delay();
	}
	return NULL;
}

static void
rl_entry_init(RateLimitEntry *entry, const RateLimitPolicy *policy,
			  const char *key, int keylen, int shown, uint32 hashcode)
{
	int			partition = rl_partition(hashcode);

	pg_atomic_init_u64(&entry->tat, 0);
	pg_atomic_init_u64(&entry->tau, (uint64) policy->gcra.tau_ns);
	entry->dbid = MyDatabaseId;
	entry->stats_slot = policy->stats_slot;
	entry->db_slot = rl_my_db;
	pg_atomic_fetch_add_u32(&rl->dbs[rl_my_db].entries, 1);
	entry->keylen = Min(keylen, PG_UINT16_MAX);
	strlcpy(entry->policy, policy->name, NAMEDATALEN);
	memset(entry->key_shown, 0, RL_KEY_SHOWN);
	memcpy(entry->key_shown, key, shown);
	dlist_push_tail(&rl->entries[partition], &entry->node);
	rl->count[partition]++;
}

/*
 * How much of a key apikit.rate_limit_state shows: its first bytes, cut at
 * a character boundary.  Computed before any place is taken.
 */
static int
rl_key_shown_len(const char *key, int keylen)
{
	return Min(pg_mbcliplen(key, keylen, RL_KEY_SHOWN - 1), keylen);
}

/* Remove an entry, its partition lock held EXCLUSIVE; its place stays taken. */
static void
rl_remove(RateLimitEntry *entry)
{
	RateLimitHashKey key = entry->key;
	uint32		hashcode = rl_key_hash(&key, 0);

	dlist_delete(&entry->node);
	rl->count[rl_partition(hashcode)]--;
	pg_atomic_fetch_sub_u32(&rl->dbs[entry->db_slot].entries, 1);
	hash_search_with_hash_value(rl_htab, &key, hashcode, HASH_REMOVE, NULL);
}

/*
 * What searches for room found, for the answer to a refused key and for the
 * log line written once the places are settled.
 */
typedef struct RoomSearch
{
	int64		soonest;		/* how long the first examined live state has left; -1 */
	bool		table_full;		/* a search found only live states */
	bool		share_full;		/* a search of this database's states found only live ones */
} RoomSearch;

#define ROOM_SEARCH_INIT {-1, false, false}

/* The same, at most once a minute per database, for its share. */
static void
rl_log_share_full(void)
{
	RateLimitDatabase *db = &rl->dbs[rl_my_db];
	int64		now = apikit_ratelimit_now_ns();
	uint64		last = pg_atomic_read_u64(&db->full_logged);
	char	   *name;

	if (last != 0 && now - (int64) last < INT64CONST(60000000000))
		return;
	if (!pg_atomic_compare_exchange_u64(&db->full_logged, &last, (uint64) now))
		return;
	name = get_database_name(MyDatabaseId);
	ereport(LOG,
			(errmsg("database \"%s\" holds its whole share of the rate-limit table: %u of %d places",
					name ? name : "?", rl_db_cap(), apikit_ratelimit_max_keys),
			 apikit_ratelimit_when_full == APIKIT_RL_FULL_EVICT ?
			 errdetail("apikit.ratelimit_database_share is %d%%: its new keys replace its own states that use the least of their capacity.",
					   apikit_ratelimit_database_share) :
			 errdetail("apikit.ratelimit_database_share is %d%%: its new keys are refused until its own states expire.",
					   apikit_ratelimit_database_share),
			 errhint("Raise apikit.ratelimit_database_share if this database's clients are real.")));
}

/*
 * Say in the server log, at most once a minute, that the table is full.
 * Called with no place held: the ereport() acts on pending interrupts.
 */
static void
rl_log_full(const RoomSearch *rs)
{
	int64		now = apikit_ratelimit_now_ns();
	uint64		last = pg_atomic_read_u64(&rl->full_logged);
	bool		evict = apikit_ratelimit_when_full == APIKIT_RL_FULL_EVICT;

	if (rs->share_full)
		rl_log_share_full();
	if (!rs->table_full)
		return;
	if (last != 0 && now - (int64) last < INT64CONST(60000000000))
		return;
	if (!pg_atomic_compare_exchange_u64(&rl->full_logged, &last, (uint64) now))
		return;					/* another backend says it */
	ereport(LOG,
			(errmsg("the rate-limit table is full: all %d places hold live states",
					apikit_ratelimit_max_keys),
			 evict ?
			 errdetail("apikit.ratelimit_when_full is evict: new keys replace the states that use the least of their capacity, which are counted in apikit.rate_limit_stats.evicted.") :
			 errdetail("apikit.ratelimit_when_full is deny: new keys are refused, and counted in apikit.rate_limit_stats.denied_full."),
			 errhint("Raise apikit.ratelimit_max_keys if this many clients are real.")));
}

/*
 * Evict the state chosen by rl_make_room, which examined it under its
 * partition's lock, since released.  Returns the places gained (0 or 1).
 *
 * Between the two, the state may have been used, or removed and entered
 * again: then it is no longer what was chosen (its share has grown; a
 * use just admitted would be lost with it), so it stays, and this search
 * gains nothing.  Its TAT says so exactly: every stored use raises it, and
 * a state entered again has a TAT of its own.  A function of its own so
 * that a test can stop a backend between the examination and the eviction.
 */
static pg_noinline int
rl_evict_victim(const RateLimitHashKey *victim, int partition, int64 examined_tat)
{
	uint32		hashcode = rl_key_hash(victim, 0);
	RateLimitEntry *entry;
	int			got = 0;

	LWLockAcquire(rl_partition_lock(partition), LW_EXCLUSIVE);
	entry = hash_search_with_hash_value(rl_htab, victim, hashcode, HASH_FIND, NULL);
	if (entry != NULL && (int64) pg_atomic_read_u64(&entry->tat) == examined_tat)
	{
		pg_atomic_fetch_add_u64(&rl->stats[entry->stats_slot].evicted, 1);
		rl_remove(entry);
		got = 1;
	}
	LWLockRelease(rl_partition_lock(partition));
	return got;
}

/*
 * Make room in a full table for up to "want" new entries, holding one
 * partition lock at a time: examine up to RL_EXAMINE entries, oldest first,
 * starting in the partition the clock hand names and going on to the next
 * ones while a partition has fewer; reclaim every expired one examined
 * (that changes no answer); if none was, and "evict", drop the examined
 * entry that uses the smallest share of its policy's capacity.  Entries
 * that stay move to the back of their list, so the next search looks at
 * others.
 *
 * With "own", this database is at its share: only its own states make
 * room for it (others' expired states are still reclaimed, and their
 * places go back to the table), and it is its own victim.
 *
 * Returns the places gained; the caller holds them now.  rs->soonest is set
 * to how long the first examined live entry has left (a retry time for a
 * refused key), if that is sooner than what it holds; rs->table_full (or
 * share_full) when nothing had expired.  Raises no error and writes no log
 * line (either could lose the places the caller holds).
 */
static int
rl_make_room(int want, bool evict, bool own, RoomSearch *rs)
{
	uint32		start = pg_atomic_fetch_add_u32(&rl->hand, 1);
	int			got = 0;
	int			examined = 0;
	bool		have_victim = false;
	double		victim_share = 0;
	RateLimitHashKey victim = {0, 0};
	int			victim_partition = 0;
	int64		victim_tat = 0;

	for (int visited = 0;
		 visited < RL_PARTITIONS && examined < RL_EXAMINE && got < want;
		 visited++)
	{
		int			partition = (start + visited) % RL_PARTITIONS;
		dlist_head *list = &rl->entries[partition];
		RateLimitEntry *first_kept = NULL;
		int64		now;

		LWLockAcquire(rl_partition_lock(partition), LW_EXCLUSIVE);
		now = apikit_ratelimit_now_ns();
		while (examined < RL_EXAMINE && got < want && !dlist_is_empty(list))
		{
			RateLimitEntry *entry = dlist_head_element(RateLimitEntry, node, list);
			int64		tat;
			double		share;

			if (entry == first_kept)
				break;			/* round the whole list */
			examined++;
			tat = (int64) pg_atomic_read_u64(&entry->tat);
			if (tat <= now)
			{
				bool		mine = entry->db_slot == rl_my_db;

				rl_remove(entry);
				if (own && !mine)
					rl_give_back(1);	/* room for others, not for this database */
				else
					got++;
				continue;
			}
			if (own && entry->db_slot != rl_my_db)
			{
				dlist_move_tail(list, &entry->node);
				if (first_kept == NULL)
					first_kept = entry;
				continue;
			}
			if (rs->soonest < 0 || tat - now < rs->soonest)
				rs->soonest = tat - now;
			share = gcra_used_share(tat, now, (int64) pg_atomic_read_u64(&entry->tau));
			if (!have_victim || share < victim_share)
			{
				have_victim = true;
				victim_share = share;
				victim = entry->key;
				victim_partition = partition;
				victim_tat = tat;
			}
			dlist_move_tail(list, &entry->node);
			if (first_kept == NULL)
				first_kept = entry;
		}
		LWLockRelease(rl_partition_lock(partition));
	}

	/* Nothing had expired: evict (if the victim is as it was). */
	if (got == 0)
	{
		if (own)
			rs->share_full = true;
		else
			rs->table_full = true;
		if (evict && have_victim)
			got += rl_evict_victim(&victim, victim_partition, victim_tat);
	}

	if (got > want)
	{
		rl_give_back(got - want);
		got = want;
	}
	return got;
}

/*
 * Places for "want" new entries, the caller holding "held" places for
 * entries it has not entered yet, when free places do not suffice: in
 * evict mode a few searches (each may find its victim gone or used
 * since), in deny mode one search that only reclaims.  What this database
 * may still add within its share takes free places or room made anywhere;
 * the rest only room made from its own states.  Returns how many it got.
 */
static int
rl_find_room(int want, int held, RoomSearch *rs)
{
	bool		evict = apikit_ratelimit_when_full == APIKIT_RL_FULL_EVICT;
	int			got = 0;

	for (int round = 0; got < want && round < want + 4; round++)
	{
		int			grow = rl_db_room(want - got, held + got);
		int			gained;

		if (grow > 0)
		{
			/* Places may have come back meanwhile (a reset, a reclaim elsewhere). */
			gained = rl_take_places(grow);
			if (gained == 0)
				gained = rl_make_room(grow, evict, false, rs);
		}
		else
			gained = rl_make_room(want - got, evict, true, rs);
		got += gained;
		if (gained == 0 && !evict)
			break;
	}
	return got;
}

/* The answer to a new key refused because the table is full. */
static void
rl_full_answer(const RateLimitPolicy *policy, int64 soonest, RateLimitAnswer *answer)
{
	answer->allowed = false;
	answer->bypassed = false;
	answer->full = true;
	answer->limit = policy->gcra.limit;
	answer->remaining = 0;
	/* Room comes back at the earliest when an examined state expires. */
	answer->retry_after_ns = soonest > 0 ? soonest : policy->gcra.emission_ns;
	answer->reset_after_ns = 0;
	answer->refill_ns = answer->retry_after_ns;
}

static void
rl_answer(const RateLimitPolicy *policy, const GcraResult *r, int64 now,
		  RateLimitAnswer *answer)
{
	answer->allowed = r->allowed;
	answer->bypassed = false;
	answer->full = false;
	answer->limit = r->limit;
	answer->remaining = r->remaining;
	answer->retry_after_ns = r->retry_after_ns;
	answer->reset_after_ns = r->reset_after_ns;
	answer->refill_ns = gcra_refill_ns(&policy->gcra, r->new_tat, now);
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
	lock = rl_partition_lock(rl_partition(hashcode));

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
			RoomSearch	rs = ROOM_SEARCH_INIT;
			int			shown = rl_key_shown_len(key, keylen);
			bool		found;
			bool		refused = false;

			rl_my_db_slot();
			/* From the place taken until it is entered or given back. */
			HOLD_INTERRUPTS();
			if ((rl_db_room(1, 0) == 0 || rl_take_places(1) == 0) &&
				rl_find_room(1, 0, &rs) == 0)
				refused = true;
			else
			{
				LWLockAcquire(lock, LW_EXCLUSIVE);
				entry = rl_enter(&hk, hashcode, &found);
				if (entry == NULL)
				{
					LWLockRelease(lock);
					rl_give_back(1);
					refused = true;
				}
				else
				{
					if (found)
						rl_give_back(1);	/* another backend entered it meanwhile */
					else
						rl_entry_init(entry, policy, key, keylen, shown, hashcode);
					/* Decide again: another backend may have got here first. */
					now = apikit_ratelimit_now_ns();
					rl_decide(policy, entry, now, cost, &r);
					LWLockRelease(lock);
				}
			}
			RESUME_INTERRUPTS();
			rl_log_full(&rs);
			if (refused)
			{
				rl_full_answer(policy, rs.soonest, answer);
				return;
			}
		}
	}
	rl_answer(policy, &r, now, answer);
}

/*
 * Decide n (policy, key) pairs as one request: every pair consumes "cost",
 * or, if any pair refuses, none consumes anything.  The partitions of all
 * pairs are held EXCLUSIVE, in ascending order, from reading the states to
 * storing them, so no check can slip in between (single checks take SHARED)
 * and two such calls cannot deadlock.  A pair named twice consumes twice.
 * With cost 0 (which the caller also passes when limiting is switched off)
 * nothing is stored and no entry is made: the locks are taken SHARED, and
 * each state is read as a single check reads it.
 *
 * New keys need places; when the table has none, the locks are let go,
 * room is made one partition at a time, and the decision is taken again
 * from scratch.  When no room can be had, the pairs needing it are refused
 * (answer->full) and so is the request.  Returns whether it was admitted.
 */
bool
apikit_ratelimit_consume_all(RateLimitRequest *requests, int n, int32 cost)
{
	RateLimitHashKey *keys = palloc(sizeof(RateLimitHashKey) * n);
	uint32	   *hashcodes = palloc(sizeof(uint32) * n);
	int		   *state = palloc(sizeof(int) * n);
	int		   *first = palloc(sizeof(int) * n);	/* a request naming each state */
	int		   *shown = palloc(sizeof(int) * n);
	RateLimitEntry **entries = palloc(sizeof(RateLimitEntry *) * n);
	int64	   *tat = palloc(sizeof(int64) * n);
	int64	   *new_tat = palloc(sizeof(int64) * n);
	const GcraPolicy **policies = palloc(sizeof(GcraPolicy *) * n);
	GcraResult *results = palloc(sizeof(GcraResult) * n);
	uint32		partitions = 0;
	int			nstates = 0;
	int			held = 0;
	LWLockMode	mode = cost > 0 ? LW_EXCLUSIVE : LW_SHARED;
	RoomSearch	rs = ROOM_SEARCH_INIT;
	int64		now = 0;
	bool		admitted = false;

	StaticAssertStmt(RL_PARTITIONS <= 32, "partitions are a 32-bit mask");

	for (int i = 0; i < n; i++)
	{
		RateLimitRequest *req = &requests[i];
		int			s;

		req->answer.full = false;
		rl_hash(req->policy.name_hash, req->key, req->keylen, &keys[i]);
		hashcodes[i] = get_hash_value(rl_htab, &keys[i]);
		partitions |= UINT32_C(1) << rl_partition(hashcodes[i]);
		policies[i] = &req->policy.gcra;
		shown[i] = rl_key_shown_len(req->key, req->keylen);
		for (s = 0; s < nstates; s++)
			if (memcmp(&keys[first[s]], &keys[i], sizeof(RateLimitHashKey)) == 0)
				break;
		if (s == nstates)
			first[nstates++] = i;
		state[i] = s;
	}

	rl_my_db_slot();

	/*
	 * From the first place taken until every place is entered or given
	 * back, nothing may act on an interrupt.  The loop is bounded: at most
	 * n + 2 decisions, each making room with bounded work.
	 */
	HOLD_INTERRUPTS();
	for (int attempt = 0;; attempt++)
	{
		int			need = 0;

		for (int p = 0; p < RL_PARTITIONS; p++)
			if (partitions & (UINT32_C(1) << p))
				LWLockAcquire(rl_partition_lock(p), mode);
		now = apikit_ratelimit_now_ns();
		for (int s = 0; s < nstates; s++)
		{
			entries[s] = hash_search_with_hash_value(rl_htab, &keys[first[s]],
													 hashcodes[first[s]], HASH_FIND, NULL);
			tat[s] = entries[s] ? (int64) pg_atomic_read_u64(&entries[s]->tat) : 0;
		}
		admitted = gcra_apply_all(policies, state, n, tat, new_tat, nstates,
								  now, cost, results);
		/* Cost 0 changes no state: nothing to enter or store under SHARED. */
		Assert(cost > 0 || memcmp(tat, new_tat, sizeof(int64) * nstates) == 0);
		if (admitted)
		{
			for (int s = 0; s < nstates; s++)
				if (entries[s] == NULL && new_tat[s] != tat[s])
					need++;
			if (need > held)
				held += rl_take_places(rl_db_room(need - held, held));
		}
		/* Enter the new states first (at full capacity), then store. */
		for (int s = 0; admitted && need <= held && s < nstates; s++)
		{
			RateLimitRequest *req = &requests[first[s]];
			bool		found;

			if (entries[s] != NULL || new_tat[s] == tat[s])
				continue;
			entries[s] = rl_enter(&keys[first[s]], hashcodes[first[s]], &found);
			if (entries[s] == NULL)
			{
				need = held + 1;	/* no element after all: as if full */
				attempt = n + 2;
				break;
			}
			Assert(!found);		/* the partition has been locked since */
			rl_entry_init(entries[s], &req->policy, req->key, req->keylen,
						  shown[first[s]], hashcodes[first[s]]);
			held--;
			need--;
		}
		if (!admitted || need <= held)
		{
			/* Decided: store every changed state. */
			for (int s = 0; admitted && s < nstates; s++)
			{
				RateLimitRequest *req = &requests[first[s]];

				if (new_tat[s] == tat[s])
					continue;
				/* The lock is EXCLUSIVE: no compare-and-swap can interleave. */
				pg_atomic_write_u64(&entries[s]->tat, (uint64) new_tat[s]);
				if (pg_atomic_read_u64(&entries[s]->tau) != (uint64) req->policy.gcra.tau_ns)
					pg_atomic_write_u64(&entries[s]->tau, (uint64) req->policy.gcra.tau_ns);
			}
			for (int p = RL_PARTITIONS - 1; p >= 0; p--)
				if (partitions & (UINT32_C(1) << p))
					LWLockRelease(rl_partition_lock(p));
			break;
		}
		for (int p = RL_PARTITIONS - 1; p >= 0; p--)
			if (partitions & (UINT32_C(1) << p))
				LWLockRelease(rl_partition_lock(p));

		/* Short of room: make some without a lock held, then decide again. */
		if (attempt <= n + 1)
			held += rl_find_room(need - held, held, &rs);
		if (held < need)
		{
			/*
			 * No room: refuse the pairs that needed a new entry, and with
			 * them the request.  The states read last are the ones answered.
			 */
			for (int i = 0; i < n; i++)
				if (entries[state[i]] == NULL && new_tat[state[i]] != tat[state[i]])
				{
					results[i].allowed = false;
					requests[i].answer.full = true;
				}
			gcra_refuse_all(policies, state, n, tat, now, results);
			admitted = false;
			break;
		}
	}
	rl_give_back(held);
	RESUME_INTERRUPTS();
	rl_log_full(&rs);

	for (int i = 0; i < n; i++)
	{
		RateLimitAnswer *answer = &requests[i].answer;

		if (answer->full)
			rl_full_answer(&requests[i].policy, rs.soonest, answer);
		else
			rl_answer(&requests[i].policy, &results[i], now, answer);
	}
	return admitted;
}

/* Remove one (policy, key) state; returns 1 if there was one. */
int
apikit_ratelimit_reset_key(const char *policy, const char *key, int keylen)
{
	RateLimitHashKey hk;
	uint32		hashcode;
	LWLock	   *lock;
	RateLimitEntry *entry;

	rl_hash(apikit_ratelimit_name_hash(policy), key, keylen, &hk);	/* this database's */
	hashcode = get_hash_value(rl_htab, &hk);
	lock = rl_partition_lock(rl_partition(hashcode));
	LWLockAcquire(lock, LW_EXCLUSIVE);
	entry = hash_search_with_hash_value(rl_htab, &hk, hashcode, HASH_FIND, NULL);
	if (entry != NULL)
		rl_remove(entry);
	LWLockRelease(lock);
	if (entry == NULL)
		return 0;
	rl_give_back(1);
	return 1;
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

/* Count one answer: a refusal for want of room counts as denied too. */
void
apikit_ratelimit_count(int slot, const RateLimitAnswer *answer)
{
	RateLimitStats *st = &rl->stats[slot];

	if (answer->bypassed)
		pg_atomic_fetch_add_u64(&st->bypassed, 1);
	else if (answer->allowed)
		pg_atomic_fetch_add_u64(&st->allowed, 1);
	else
	{
		pg_atomic_fetch_add_u64(&st->denied, 1);
		if (answer->full)
			pg_atomic_fetch_add_u64(&st->denied_full, 1);
	}
}

/* ---- views ------------------------------------------------------------ */

/*
 * Copy this database's live entries of one partition, its lock held SHARED,
 * into rows[n..cap-1].  Returns the new n.  A function of its own so that a
 * test can stop a backend while it holds the lock.
 */
static pg_noinline int
rl_copy_partition(int partition, RateLimitStateRow *rows, int n, int cap, int64 now)
{
	dlist_iter	iter;

	dlist_foreach(iter, &rl->entries[partition])
	{
		RateLimitEntry *entry = dlist_container(RateLimitEntry, node, iter.cur);
		int64		tat = (int64) pg_atomic_read_u64(&entry->tat);

		if (n >= cap)
			break;
		if (tat <= now || entry->dbid != MyDatabaseId)
			continue;
		strlcpy(rows[n].policy, entry->policy, NAMEDATALEN);
		memcpy(rows[n].key, entry->key_shown, RL_KEY_SHOWN);
		rows[n].truncated = entry->keylen >= RL_KEY_SHOWN;
		rows[n].tat = tat;
		n++;
	}
	return n;
}

/*
 * Copy the live entries out, so that the caller can build tuples without
 * holding any lock.  One partition at a time, SHARED: a state is read
 * atomically, and the view needs no moment at which all of them were as
 * shown.  Memory is allocated with no lock held, for as many entries as
 * the partitions' counts say, and grown (the lock let go first) when a
 * partition has gained more meanwhile, up to the table's size.  (Entries
 * that moved between partitions while they were read could then be cut: a
 * view of a table in motion.)
 */
int
apikit_ratelimit_snapshot(RateLimitStateRow **rows)
{
	int64		now = apikit_ratelimit_now_ns();
	int			n = 0;
	int			cap = 0;

	for (int p = 0; p < RL_PARTITIONS; p++)
		cap += rl->count[p];	/* a hint, read without the locks */
	cap = Min(Max(cap + 64, 1), apikit_ratelimit_max_keys);
	*rows = palloc(sizeof(RateLimitStateRow) * cap);
	for (int p = 0; p < RL_PARTITIONS; p++)
	{
		for (;;)
		{
			int			need;

			LWLockAcquire(rl_partition_lock(p), LW_SHARED);
			need = n + (int) rl->count[p];
			if (need <= cap || cap >= apikit_ratelimit_max_keys)
				break;
			LWLockRelease(rl_partition_lock(p));
			cap = Min(Max(need, cap * 2), apikit_ratelimit_max_keys);
			*rows = repalloc(*rows, sizeof(RateLimitStateRow) * cap);
		}
		n = rl_copy_partition(p, *rows, n, cap, now);
		LWLockRelease(rl_partition_lock(p));
	}
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
		rows[n].denied_full = pg_atomic_read_u64(&rl->stats[i].denied_full);
		n++;
	}
	LWLockRelease(SLOT_LOCK());
	return n;
}

/*
 * How full the table is, for apikit.rate_limit_usage(): the places used
 * beside the entries that hold them (the two agree, but for the places a
 * backend holds for the moment it takes to enter new keys), and how many
 * entries are live, in the whole table and in this database.  One
 * partition lock at a time, SHARED.
 */
void
apikit_ratelimit_usage(RateLimitUsage *usage)
{
	int64		now = apikit_ratelimit_now_ns();

	memset(usage, 0, sizeof(RateLimitUsage));
	usage->max_keys = apikit_ratelimit_max_keys;
	usage->database_max_keys = Min(rl_db_cap(), (uint32) apikit_ratelimit_max_keys);
	for (int p = 0; p < RL_PARTITIONS; p++)
	{
		dlist_iter	iter;

		LWLockAcquire(rl_partition_lock(p), LW_SHARED);
		usage->entries += rl->count[p];
		dlist_foreach(iter, &rl->entries[p])
		{
			RateLimitEntry *entry = dlist_container(RateLimitEntry, node, iter.cur);
			bool		live = (int64) pg_atomic_read_u64(&entry->tat) > now;
			bool		mine = entry->dbid == MyDatabaseId;

			usage->live += live;
			usage->database_entries += mine;
			usage->database_live += live && mine;
		}
		LWLockRelease(rl_partition_lock(p));
	}
	/* Read last: a place is taken before its entry is entered. */
	usage->places_used = pg_atomic_read_u32(&rl->used);
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
	int64		tau_ns;
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
		out.tau_ns = (int64) pg_atomic_read_u64(&entry->tau);
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
		/* No room: apikit.ratelimit_max_keys was lowered. */
		if (rl_take_places(1) == 0)
			break;
		entry = hash_search(rl_htab, &in.key, HASH_ENTER_NULL, &found);
		if (entry == NULL || found)
		{
			rl_give_back(1);
			if (entry == NULL)
				break;
			continue;			/* the same key twice: a damaged file */
		}
		pg_atomic_init_u64(&entry->tat, (uint64) (now + in.left_ns - down_ns));
		pg_atomic_init_u64(&entry->tau, (uint64) Max(in.tau_ns, 0));
		dlist_push_tail(&rl->entries[rl_partition(rl_key_hash(&in.key, 0))], &entry->node);
		rl->count[rl_partition(rl_key_hash(&in.key, 0))]++;
		in.policy[NAMEDATALEN - 1] = '\0';
		in.key_shown[RL_KEY_SHOWN - 1] = '\0';
		strlcpy(entry->policy, in.policy, NAMEDATALEN);
		memcpy(entry->key_shown, in.key_shown, RL_KEY_SHOWN);
		entry->keylen = in.keylen;
		entry->dbid = in.dbid;
		entry->db_slot = rl_db_slot_of(in.dbid);
		pg_atomic_fetch_add_u32(&rl->dbs[entry->db_slot].entries, 1);
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
