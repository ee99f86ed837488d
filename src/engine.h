/* SPDX-License-Identifier: MIT */
/*
 * struct pinmm: the machine. Physical memory, the policy, the list of live
 * address spaces and shmem objects (for the checker), statistics and the
 * allocation-failure injector.
 */
#ifndef PM_ENGINE_H
#define PM_ENGINE_H

#include <stdatomic.h>
#include <stdbool.h>

#include <pinmm/check.h>
#include <pinmm/daemons.h>
#include <pinmm/policy.h>

#include "base/lock.h"
#include "base/rcu.h"
#include "mem/mem.h"

struct pm_list {
	struct pm_list *next, *prev;
};

static inline void pm_list_init(struct pm_list *h) { h->next = h->prev = h; }
static inline void pm_list_add(struct pm_list *n, struct pm_list *h)
{
	n->next = h->next;
	n->prev = h;
	h->next->prev = n;
	h->next = n;
}
static inline void pm_list_add_tail(struct pm_list *n, struct pm_list *h)
{
	pm_list_add(n, h->prev);
}
static inline void pm_list_del(struct pm_list *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->next = n->prev = n;
}
#define pm_list_for_each(pos, head) \
	for ((pos) = (head)->next; (pos) != (head); (pos) = (pos)->next)

/* The in-memory swap device and its swap cache (mm/swap.c). */
struct pm_swap {
	pm_mutex_t lock;
	uint8_t **data;		/* slot contents, NULL when free */
	int *count;		/* swap entries referring to each slot */
	struct pinmm_page **cache;	/* the folio cached for each slot, or NULL */
	bool *zeromap;		/* written from a folio of zeros (swap_zeromap) */
	size_t nr, cap;
	size_t free_hint;	/* no free slot below it */
	/* per cluster of SWAP_CLUSTER slots: the order its slots are
	 * allocated for plus one (0: free), and how many are in use */
	unsigned char *cl_order;
	unsigned short *cl_used;
	size_t nr_cl;
};

/* A daemon thread (daemons/kthread.c). */
struct pm_kthread {
	pthread_t tid;
	struct pinmm *eng;
	int which;		/* enum pinmm_daemon */
	unsigned interval_us;
	bool running;
	_Atomic bool stop;
	_Atomic unsigned long passes;
};

struct ksm_checksum;

#define PM_DEFAULT_MAX_MAP_COUNT 65530
#define PM_DEFAULT_MAX_MMS 32768

struct pinmm {
	struct pinmm_config cfg;
	struct pinmm_policy policy;
	struct pm_mem mem;
	struct pinmm_page *zero_page;
	/* the huge zero page: allocated on first use (NULL until then), kept
	 * until the engine goes; thp_use_zero_page is Linux's use_zero_page */
	struct pinmm_page *_Atomic huge_zero;
	atomic_bool thp_use_zero_page;
	/* per folio order, as /sys/kernel/mm/transparent_hugepage/
	 * hugepages-<size>kB/enabled: an enum pinmm_thp_mode (orders 2..9;
	 * PMD order madvise, the others never, as this host's defaults) */
	_Atomic unsigned char thp_enabled[PINMM_HPAGE_ORDER + 1];
	struct pm_swap swap;
	/* large anon folios partly unmapped, split later by the shrinker
	 * (Linux's deferred_split_queue): linked through their second page's
	 * next/prev, as _deferred_list (mem/folio.c) */
	struct pm_split_queue {
		pm_mutex_t lock;
		struct pinmm_page *first, *last;
		size_t len;
	} split_queue;
	/* the hugetlb pool (hugetlb.c) */
	struct pm_hugetlb {
		pm_mutex_t lock;
		struct pinmm_page **free;	/* free pages, a stack */
		unsigned long nr_total, nr_free, nr_resv, cap;
		/* where a freed hugetlb folio goes (hugetlb_free_folio; the
		 * folio code below mm/ calls it through this, as Linux's
		 * free_huge_folio is a folio's destructor) */
		void (*free_folio)(struct pinmm *eng, struct pinmm_page *folio);
	} hugetlb;
	pm_mutex_t kthread_lock;
	struct pm_kthread kthreads[PINMM_DAEMON_NR];

	pm_mutex_t objects_lock;	/* mms and shmem objects lists */
	struct pm_list mms;
	struct pm_list files;
	unsigned next_mm_id;

	/* outstanding references handed out by GUP (for the checker) */
	_Atomic long nr_pins;		/* FOLL_PIN pins held */
	_Atomic long nr_gets;		/* FOLL_GET references held */
	_Atomic long nr_page_tables;
	struct pm_rcu_domain *rcu_dom;	/* outlives the engine while callbacks pend */
	_Atomic long nr_mms;

	/* ksmd's memory between passes: each scanned page's checksum (a page
	 * enters the unstable tree once it held for a pass); one pass at a
	 * time (ksm_thread_mutex) */
	struct {
		pm_mutex_t lock;
		struct ksm_checksum *checksums;	/* sorted by (mm id, address) */
		size_t nr_checksums;
	} ksm;

	/* khugepaged's sysfs knobs (MADV_COLLAPSE ignores them, as Linux) */
	struct pinmm_khugepaged_tunables khugepaged;

	struct {
		_Atomic unsigned long gup_fast_fallbacks;
		_Atomic unsigned long cow_copies, cow_reuses, fork_early_copies;
	} stats;

	/*
	 * Records of held pin handles, so that a release through a stale copy
	 * of a handle is refused: a slot's generation is odd while held and
	 * moves on when released. Slots are never freed (only grown).
	 */
	struct {
		pm_mutex_t lock;
		uint32_t *gen;
		uint8_t *kind;		/* enum pinmm_pin_kind of each record */
		/* the caller's page array of each held record: another
		 * handle may not use it while it is held */
		struct pinmm_page ***arr;
		unsigned long *nr_pages;
		uint32_t nr, cap, free_hint;
	} pin_records;

	/* allocation-failure injection */
	_Atomic unsigned long alloc_calls;
	_Atomic unsigned long fail_at;	/* 0: off; fail when alloc_calls == */
	bool fail_sticky;
};

static inline bool pm_policy(const struct pinmm *eng, enum pinmm_switch s)
{
	return pinmm_policy_has(eng->policy, s);
}

/*
 * The live mms now, for a pass over all of them (caller frees the array).
 * mm structs stay allocated until the engine goes (exited ones as
 * zombies), so the pointers stay valid; taking the list lock only for the
 * copy keeps it out of the mmap_lock -> list lock order that munmap uses.
 */
struct pinmm_mm **pm_snapshot_mms(struct pinmm *eng, size_t *nr);

void pm_kthreads_stop_all(struct pinmm *eng);
/* ksm.c: frees ksmd's state at engine teardown */
void ksm_state_destroy(struct pinmm *eng);

/* Injection point: true when this allocation must fail. */
bool pm_should_fail_alloc(struct pinmm *eng, enum pinmm_alloc_kind kind);

/* hugetlb.c: a freed hugetlb folio goes back to the pool; the pool's
 * pages go back to the buddy allocator when the engine does */
void hugetlb_free_folio(struct pinmm *eng, struct pinmm_page *folio);
void hugetlb_pool_destroy(struct pinmm *eng);

#endif
