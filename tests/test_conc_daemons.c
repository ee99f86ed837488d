/* SPDX-License-Identifier: MIT */
/*
 * tests/test_conc_daemons.c - real threads: GUP-fast pinners against the four
 * daemon threads (ksmd, khugepaged, kcompactd, kswapd) and a disturber.
 *
 * One mm holds three regions, each bait for some daemon:
 *   ksm   private anon, MADV_MERGEABLE, every page the same bytes (KSM wants
 *         to merge them all; a CPU store of the same byte breaks a merged
 *         page by COW and the next pass merges it again);
 *   thp   two 2 MiB-aligned ranges of small pages, then MADV_HUGEPAGE
 *         (khugepaged wants to collapse them; the disturber splits the THPs
 *         again so that it keeps wanting to);
 *   anon  ordinary private anon pages (kswapd reclaims the cold ones,
 *         kcompactd migrates them, MADV_PAGEOUT / NUMA hinting / migrate from
 *         the disturber too).
 *
 * Every pinner owns a few pages of each region; nothing of list E ever
 * touches them (fork is not in E for the parent). A pinner takes GUP-fast
 * pins (R/W, R/W longterm, R/O longterm) of 1-3 of its pages, holds them
 * for a while, and asserts G1 every time: a device write is seen by the next
 * CPU load at the address, a CPU store by the next device read, and
 * pinmm_check_coherent() answers PINMM_COHERENT. Each pinner uses bytes
 * [0, 64) of its own pages only (the oracle uses byte 0); the disturber
 * stores at [64, 4096) of every page (the ksm region's common byte there, so
 * the pages stay identical) and forks now and then. The main thread also
 * holds "anchor" pins for the whole run (checked by the disturber), so the
 * daemons meet pages that stay pinned across many of their passes.
 *
 * A second strict test forks much more often, pinners fork while holding
 * their pin: the parent's pins stay coherent, the child's stores stay in the
 * child's copy. A third runs the same in `legacy` for a short while: losing
 * coherence is allowed there (it is counted, not asserted), but the engine
 * must stay consistent: no unexpected errors, invariants hold, nothing
 * leaks.
 *
 * Worker threads never call cmocka: they record failures, and the test's
 * thread asserts after joining them.
 *
 * Length: rounds per pinner and a wall-clock budget, whichever ends first.
 * PINMM_STRESS_ROUNDS / PINMM_STRESS_SECONDS override them (SECONDS is the
 * main test's budget; the fork test gets half, legacy a third);
 * PINMM_STRESS_SEED fixes the pinners' random choices (printed at start;
 * the threads' interleaving is not reproducible anyway). Sanitizer builds
 * use less. To narrow a failure down: PINMM_DAEMON_MASK (bit d: start
 * daemon d of enum pinmm_daemon; default all) and PINMM_DISTURB_MASK (1
 * THP split, 2 THP warm-up loads, 4 MADV_PAGEOUT, 8 migrate / NUMA hint,
 * 16 fork; CPU stores, loads and anchor checks always run), and
 * PINMM_STRESS_POLICY (the policy of daemons_legacy_consistent, e.g.
 * "strict,-reclaim_skips_pinned": which switch a failure needs).
 */
#include "stress.h"

#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>

#include "engine.h"	/* the daemon threads' pass counts, for the report */
#include "mm/mm.h"	/* raw entries, for failure messages */

/* TSan costs 5-15x and serialises a lot, ASan about 2x */
#define DEFAULT_ROUNDS (SAN_THREAD ? 1500ul : SAN_ADDRESS ? 6000ul : 20000ul)
#define DEFAULT_SECONDS (SAN_THREAD ? 5.0 : 4.0)

static unsigned long cfg_rounds(void) { return stress_rounds(DEFAULT_ROUNDS); }
static double cfg_seconds(void) { return stress_seconds(DEFAULT_SECONDS); }

static uint64_t cfg_seed(void)
{
	const char *s = getenv("PINMM_STRESS_SEED");
	uint64_t v = s ? strtoull(s, NULL, 0) : 0;
	if (!v) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		v = (uint64_t)ts.tv_sec * 1000003u ^ (uint64_t)ts.tv_nsec;
	}
	return v ? v : 1;
}

/* debugging: which daemons run / which disturber ops happen (bit masks) */
static unsigned env_mask(const char *name)
{
	const char *s = getenv(name);
	return s && *s ? (unsigned)strtoul(s, NULL, 0) : ~0u;
}

/* ============================================================ layout === */

#define HP PINMM_PMD_SIZE
#define HP_PAGES (HP / PG)

enum {
	NPINNERS = 3,
	OWN = 8,			/* pages each pinner owns per region */
	KSM_PAGES = 2 * NPINNERS * OWN,	/* first half owned, rest disturbed */
	THP_RANGES = 2,
	THP_PAGES = THP_RANGES * HP_PAGES,
	ANON_PAGES = 256,
	ANON_STRIDE = 64,		/* pinner i owns [i*64, i*64+OWN) */
	THP_OWN_FIRST = 64,		/* in each range: 64 + i*128 */
	THP_STRIDE = 128,
	PIN_BYTES = 64,			/* pinners use [0, 64) of their pages */
	MAX_PIN = 3,
	NANCHORS = 4,
};

#define KSM_BYTE 0x77
#define THP_BYTE 0x5a
#define ANON_BYTE 0x33

enum region { R_KSM, R_THP, R_ANON, R_NR };
static const char *const region_name[R_NR] = { "ksm", "thp", "anon" };

/* the three kinds of pins the contract covers */
enum pin_kind { K_RW, K_RW_LONGTERM, K_RO_LONGTERM, K_NR };
static const unsigned kind_flags[K_NR] = {
	PINMM_FOLL_WRITE,
	PINMM_FOLL_WRITE | PINMM_FOLL_LONGTERM,
	PINMM_FOLL_LONGTERM,
};
static const char *const kind_name[K_NR] = { "rw", "rw-longterm", "ro-longterm" };

struct anchor {
	struct pinmm_pin pin;
	struct pinmm_page *pages[1];
	uint64_t addr;
	enum pin_kind kind;
};

struct shared {
	struct pinmm *eng;
	struct pinmm_mm *mm;
	bool strict;			/* assert G1 (else only count losses) */
	uint64_t base[R_NR];
	unsigned npages[R_NR];
	unsigned long rounds;
	double deadline;
	uint64_t seed;
	unsigned fork_every;		/* disturber: 1 in n ops forks (0: never) */
	unsigned child_ops;		/* disturber ops a child lives for */
	unsigned pinner_fork_every;	/* pinner: 1 in n rounds forks (0: never) */
	struct anchor anchors[NANCHORS];
	unsigned disturb_mask;
	uint8_t *warm_buf;		/* the disturber's, HP bytes */
	atomic_int pinners_left;
	struct failures fail;
	/* counters for the report */
	atomic_ulong pins[R_NR], pin_busy, pin_nomem, checks, coherence_lost,
		forks, pinner_forks, splits, pageouts, migrates, numa_hints,
		seen_ksm_shared, seen_huge, seen_swapped, anchor_checks,
		transient_unmapped;
};

static uint64_t page_addr(const struct shared *sh, enum region r, unsigned idx)
{
	return sh->base[r] + (uint64_t)idx * PG;
}

/* The index of the j-th page pinner p owns in region r (range t for thp). */
static unsigned owned_page(enum region r, unsigned p, unsigned t, unsigned j)
{
	switch (r) {
	case R_KSM:
		return p * OWN + j;
	case R_THP:
		return t * (unsigned)HP_PAGES + THP_OWN_FIRST + p * THP_STRIDE + j;
	default:
		return p * ANON_STRIDE + j;
	}
}

/* a byte pinners leave in a page they changed (ksm: the common byte) */
static bool restore_common(enum region r)
{
	return r == R_KSM;
}

/* The raw entry at va (PTE or PMD leaf), for a failure message. */
static void raw_entry(struct pinmm_mm *mm, uint64_t va, char *buf, size_t len)
{
	struct pt_table *t = pte_table_lock(mm, va);
	unsigned i = pt_index(va, PT_LEVEL_PTE);
	const char *lvl = "pte";

	if (!t) {
		t = pmd_leaf_lock(mm, va);
		i = pt_index(va, PT_LEVEL_PMD);
		lvl = "pmd";
	}
	if (!t) {
		snprintf(buf, len, "no table");
		return;
	}
	pte_t e = pt_read(t, i);
	pm_mutex_unlock(&t->ptl);
	if (is_migration_entry(e)) {
		struct pinmm_page *old = eng_pfn_page(mm->eng, pte_swp_offset(e));
		snprintf(buf, len, "%s migration entry for pfn %" PRIu64
			 " (folio locked %d, ref %d, map %d)", lvl,
			 (uint64_t)pte_swp_offset(e), page_test(old, PG_locked),
			 folio_ref_count(old), page_mapcount(old));
	} else {
		snprintf(buf, len, "%s 0x%" PRIx64, lvl, (uint64_t)e);
	}
}

/* What maps va now, in words, for a failure message. */
static void describe(struct pinmm_mm *mm, uint64_t va,
		     const struct pinmm_page *pinned, char *buf, size_t len)
{
	struct pinmm_mapping m;
	int e = pinmm_follow_page(mm, va, &m);

	if (e) {
		snprintf(buf, len, "follow_page %d", e);
		return;
	}
	if (!m.present) {
		snprintf(buf, len, "pinned pfn %" PRIu64 ", now not present%s",
			 pinmm_page_pfn(pinned), m.swapped ? " (swapped)" : "");
		return;
	}
	struct pinmm_folio_info fi, pfi;
	pinmm_folio_info(m.page, &fi);
	pinmm_folio_info(pinned, &pfi);
	snprintf(buf, len,
		 "pinned pfn %" PRIu64 " (ref %d pin %d ksm %d order %u zone %d), "
		 "now pfn %" PRIu64 " (ref %d map %d ksm %d order %u huge %d w %d)",
		 pinmm_page_pfn(pinned), pfi.refcount, pfi.pincount, pfi.ksm,
		 pfi.order, (int)pfi.zone, m.pfn, fi.refcount, fi.mapcount,
		 fi.ksm, m.order, m.huge, m.writable);
}

/* G1 for a held pin: pinmm_check_coherent plus what it says when not. */
static bool check_pin(struct shared *sh, struct pinmm_pin *pin, uint64_t addr,
		      const char *who, unsigned long round)
{
	unsigned long bad = 0;
	enum pinmm_coherence c = pinmm_check_coherent(pin, sh->mm, addr, &bad);

	atomic_fetch_add(&sh->checks, 1);
	/*
	 * The oracle's last step looks at the entry without faulting; a
	 * clear-then-check path that tries the pinned page (migration entry,
	 * swap entry, cleared KSM entry) and puts it back is visible there for
	 * an instant, while every CPU access waits it out and reaches the
	 * pinned page (the data round trips above passed). Only a "not mapped"
	 * that is still there when looked at again is a loss.
	 */
	for (int retry = 0; c == PINMM_NOT_MAPPED && retry < 4; retry++) {
		sched_yield();
		c = pinmm_check_coherent(pin, sh->mm, addr, &bad);
		if (c == PINMM_COHERENT)
			atomic_fetch_add(&sh->transient_unmapped, 1);
	}
	if (c == PINMM_COHERENT)
		return true;
	atomic_fetch_add(&sh->coherence_lost, 1);
	if (sh->strict) {
		char d[200];
		describe(sh->mm, addr + bad * PG, pin->pages[bad], d, sizeof(d));
		record(&sh->fail, "check_coherent: %s (%s round %lu) at 0x%" PRIx64
		       " (%lu pages, flags 0x%x) page %lu; %s", pinmm_coherence_str(c),
		       who, round, addr, pin->nr_pages, pin->gup_flags, bad, d);
	}
	return false;
}

/* pinmm_check_mapped, looking again after a transient clear (see above) */
static bool mapped_settled(struct shared *sh, const struct pinmm_pin *pin,
			   uint64_t addr)
{
	for (int retry = 0; retry < 5; retry++) {
		if (pinmm_check_mapped(pin, sh->mm, addr)) {
			if (retry)
				atomic_fetch_add(&sh->transient_unmapped, 1);
			return true;
		}
		sched_yield();
	}
	return false;
}

/* ========================================================== pinners === */

struct pinner_arg {
	struct shared *sh;
	unsigned idx;
};

/* One device write -> CPU load, CPU store -> device read round trip at
 * byte off of page pg of a held pin (R/O pins: only the second). */
static void round_trip(struct shared *sh, struct pinmm_pin *pin, uint64_t addr,
		       enum region r, unsigned pg, size_t off, uint64_t *seed,
		       const char *who, unsigned long round)
{
	struct pinmm_mm *mm = sh->mm;
	uint64_t va = addr + (uint64_t)pg * PG + off;
	uint8_t b = (uint8_t)xs(seed), got = 0;
	bool rw = (pin->gup_flags & PINMM_FOLL_WRITE) != 0;
	int e;

	if (rw) {
		e = pinmm_dev_write(pin, pg, off, &b, 1);
		if (e == 0)
			e = pinmm_load(mm, va, &got, 1);
		if (e != 0 || got != b) {
			if (e != 0)
				record(&sh->fail, "dev_write/load failed (%s round "
				       "%lu) at 0x%" PRIx64 ": %d", who, round, va, e);
			else
				atomic_fetch_add(&sh->coherence_lost, 1);
			if (e == 0 && sh->strict) {
				char d[200];
				describe(mm, va - off, pin->pages[pg], d, sizeof(d));
				record(&sh->fail, "device write not seen by the CPU "
				       "(%s round %lu): %s pin of %s page at "
				       "0x%" PRIx64 ": device wrote 0x%02x, CPU load "
				       "got 0x%02x; %s", who, round,
				       pin->gup_flags & PINMM_FOLL_LONGTERM ?
				       "rw-longterm" : "rw", region_name[r], va, b,
				       got, d);
			}
		}
	}
	b = (uint8_t)(b + 0x5b);
	got = (uint8_t)~b;
	e = pinmm_store(mm, va + 1, &b, 1);
	if (e == 0)
		e = pinmm_dev_read(pin, pg, off + 1, &got, 1);
	if (e != 0) {
		record(&sh->fail, "store/dev_read failed (%s round %lu) at 0x%"
		       PRIx64 ": %d", who, round, va + 1, e);
	} else if (got != b) {
		atomic_fetch_add(&sh->coherence_lost, 1);
		if (sh->strict) {
			char d[200];
			describe(mm, va - off, pin->pages[pg], d, sizeof(d));
			record(&sh->fail, "CPU store not seen by the device (%s "
			       "round %lu): flags 0x%x pin of %s page "
			       "at 0x%" PRIx64 ": CPU stored 0x%02x, device read "
			       "0x%02x; %s", who, round, pin->gup_flags,
			       region_name[r], va + 1, b, got, d);
		}
	}
	if (restore_common(r)) {
		uint8_t two[2] = { KSM_BYTE, KSM_BYTE };
		e = pinmm_store(mm, va, two, 2);
		if (e != 0)
			record(&sh->fail, "restoring store failed (%s): %d", who, e);
	}
}

/* With the pin held: fork, the child writes its copy, the parent's pin
 * still sees the parent's bytes only and stays coherent. */
static void fork_while_pinned(struct shared *sh, struct pinmm_pin *pin,
			      uint64_t addr, enum region r, uint64_t *seed,
			      const char *who, unsigned long round)
{
	struct pinmm_mm *mm = sh->mm, *child = NULL;
	uint64_t va = addr + 2;		/* page 0, byte 2: ours */
	uint8_t x = (uint8_t)(xs(seed) | 1), nx = (uint8_t)~x, got = 0;
	int e;

	if (pinmm_store(mm, va, &x, 1) != 0) {
		record(&sh->fail, "store before fork failed (%s)", who);
		return;
	}
	e = pinmm_fork(mm, &child);
	if (e != 0) {
		record(&sh->fail, "fork by a pinner failed (%s round %lu): %d", who, round, e);
		return;
	}
	atomic_fetch_add(&sh->pinner_forks, 1);
	/* the parent's pin right after fork, with the child alive */
	check_pin(sh, pin, addr, who, round);
	e = pinmm_store(child, va, &nx, 1);
	if (e != 0)
		record(&sh->fail, "child store failed (%s round %lu): %d", who,
		       round, e);
	e = pinmm_dev_read(pin, 0, 2, &got, 1);
	if (e != 0 || got != x) {
		if (e == 0)
			atomic_fetch_add(&sh->coherence_lost, 1);
		if (e != 0 || sh->strict)
			record(&sh->fail, "child store seen by the parent's pin (%s round %lu): the child stored "
			       "0x%02x, the parent's device reads 0x%02x (want "
			       "0x%02x, err %d, %s page)", who, round, nx, got, x, e,
			       region_name[r]);
	}
	e = pinmm_load(mm, va, &got, 1);
	if (e != 0 || got != x) {
		if (e == 0)
			atomic_fetch_add(&sh->coherence_lost, 1);
		if (e != 0 || sh->strict)
			record(&sh->fail, "parent lost its bytes after fork (%s round %lu): the parent loads "
			       "0x%02x, want 0x%02x (err %d)", who, round, got, x, e);
	}
	check_pin(sh, pin, addr, who, round);
	pinmm_mm_exit(child);
	check_pin(sh, pin, addr, who, round);
	if (restore_common(r)) {
		uint8_t k = KSM_BYTE;
		(void)pinmm_store(mm, va, &k, 1);
	}
}

static void *pinner(void *p)
{
	struct pinner_arg *arg = p;
	struct shared *sh = arg->sh;
	struct pinmm_mm *mm = sh->mm;
	uint64_t seed = sh->seed ^ (0x9E3779B97F4A7C15ull * (arg->idx + 1));
	struct pinmm_page *pages[MAX_PIN];
	struct pinmm_pin pin;
	char who[24];

	snprintf(who, sizeof(who), "pinner %u", arg->idx);
	xs(&seed);
	memset(&pin, 0, sizeof(pin));
	for (unsigned long round = 0; round < sh->rounds; round++) {
		if ((round & 15) == 0 && now_s() > sh->deadline)
			break;
		uint64_t rnd = xs(&seed);
		enum region r = (enum region)(rnd % R_NR);
		enum pin_kind k = (rnd >> 8) % 4 == 0 ? K_RO_LONGTERM :
				  (rnd >> 8) % 4 == 1 ? K_RW_LONGTERM : K_RW;
		unsigned n = 1 + (unsigned)((rnd >> 16) % MAX_PIN);
		unsigned j = (unsigned)((rnd >> 24) % (OWN - n + 1));
		unsigned t = (unsigned)((rnd >> 32) % THP_RANGES);
		bool fast = ((rnd >> 40) & 7) != 0;	/* 7/8 GUP-fast */
		uint64_t addr = page_addr(sh, r, owned_page(r, arg->idx, t, j));

		int e = pinmm_pin(mm, &pin, addr, n, kind_flags[k], fast, pages);
		if (e == -EBUSY && (kind_flags[k] & PINMM_FOLL_LONGTERM)) {
			/* a longterm pin could not move the page out of
			 * movable memory (a THP others pin cannot split) */
			atomic_fetch_add(&sh->pin_busy, 1);
			continue;
		}
		if (e == -ENOMEM && (kind_flags[k] & PINMM_FOLL_LONGTERM)) {
			atomic_fetch_add(&sh->pin_nomem, 1);
			continue;
		}
		if (e != 0) {
			char d[160] = "";
			if (e == -EAGAIN)	/* which entry the fault kept losing on */
				for (unsigned q = 0; q < n; q++) {
					raw_entry(mm, addr + q * PG, d, sizeof(d));
					if (strncmp(d, "pte 0x", 6) != 0)
						break;
				}
			record(&sh->fail, "pin failed (%s, round %lu): %s %s pin of %u "
			       "%s page(s) at 0x%" PRIx64 ": %d; %s", who, round,
			       fast ? "fast" : "slow", kind_name[k], n,
			       region_name[r], addr, e, d);
			continue;
		}
		atomic_fetch_add(&sh->pins[r], 1);

		/* hold it while the daemons run, checking all along */
		unsigned hold = 1 + (unsigned)((rnd >> 44) % 6);
		for (unsigned h = 0; h < hold; h++) {
			unsigned pg = (unsigned)(xs(&seed) % n);
			size_t off = 3 + (size_t)(xs(&seed) % (PIN_BYTES - 4));
			round_trip(sh, &pin, addr, r, pg, off, &seed, who, round);
			if ((xs(&seed) & 3) == 0)
				check_pin(sh, &pin, addr, who, round);
			if ((xs(&seed) & 7) == 0)
				sched_yield();
		}
		if (sh->pinner_fork_every && xs(&seed) % sh->pinner_fork_every == 0)
			fork_while_pinned(sh, &pin, addr, r, &seed, who, round);
		check_pin(sh, &pin, addr, who, round);
		if (!sh->strict || mapped_settled(sh, &pin, addr)) {
			/* (legacy: a page taken away is allowed) */
		} else {
			record(&sh->fail, "pin no longer mapped (%s round %lu) at 0x%" PRIx64
			       " at unpin", who, round, addr);
		}
		e = pinmm_unpin(&pin);
		if (e != 0)
			record(&sh->fail, "unpin failed (%s round %lu): %d", who,
			       round, e);
	}
	if (pinmm_pin_held(&pin))
		record(&sh->fail, "pin held at exit (%s)", who);
	atomic_fetch_sub(&sh->pinners_left, 1);
	return NULL;
}

/* ========================================================= disturber === */

static void check_anchors(struct shared *sh, unsigned long op)
{
	for (unsigned i = 0; i < NANCHORS; i++) {
		struct anchor *a = &sh->anchors[i];
		if (!pinmm_pin_held(&a->pin))
			continue;
		atomic_fetch_add(&sh->anchor_checks, 1);
		check_pin(sh, &a->pin, a->addr, "anchor", op);
		if ((op & 1) && sh->strict && !mapped_settled(sh, &a->pin, a->addr))
			record(&sh->fail, "anchor not mapped (anchor %u op %lu)", i, op);
	}
}

/* a store at [64, 4096) of some page, as any thread of the process would */
static void disturb_store(struct shared *sh, struct pinmm_mm *mm, uint64_t rnd,
			  const char *who)
{
	enum region r = (enum region)(rnd % R_NR);
	unsigned idx = (unsigned)((rnd >> 8) % sh->npages[r]);
	size_t off = PIN_BYTES + (size_t)((rnd >> 24) % (PG - PIN_BYTES - 8));
	uint8_t v[8];
	size_t len = 1 + (size_t)((rnd >> 40) % 8);

	memset(v, r == R_KSM ? KSM_BYTE : (uint8_t)(rnd >> 48), sizeof(v));
	int e = pinmm_store(mm, page_addr(sh, r, idx) + off, v, len);
	if (e != 0) {
		char d[160];
		raw_entry(mm, page_addr(sh, r, idx), d, sizeof(d));
		record(&sh->fail, "store by the %s failed: %s page %u: %d; %s", who,
		       region_name[r], idx, e, d);
	}
}

static void *disturber(void *p)
{
	struct shared *sh = p;
	struct pinmm_mm *mm = sh->mm, *child = NULL;
	uint64_t seed = sh->seed ^ 0xD1B54A32D192ED03ull;
	unsigned long op = 0, child_born = 0;
	int e;

	xs(&seed);
	while (atomic_load(&sh->pinners_left) > 0) {
		uint64_t rnd = xs(&seed);
		op++;
		unsigned what = (unsigned)((rnd >> 56) % 64);
		/* PINMM_DISTURB_MASK: 1 split, 2 warm, 4 pageout, 8 migrate/numa, 16 fork */
		if ((what == 48 && !(sh->disturb_mask & 1)) ||
		    (what == 49 && !(sh->disturb_mask & 2)) ||
		    ((what == 50 || what == 51) && !(sh->disturb_mask & 4)) ||
		    ((what == 52 || what == 53) && !(sh->disturb_mask & 8)) ||
		    (what == 55 && !(sh->disturb_mask & 16)))
			what = 54;
		switch (what) {
		default:	/* mostly CPU stores */
			disturb_store(sh, mm, xs(&seed), "disturber");
			break;
		case 40 ... 47: {	/* loads, and what the daemons did */
			enum region r = (enum region)(rnd % R_NR);
			unsigned idx = (unsigned)((rnd >> 8) % (sh->npages[r] - 1));
			struct pinmm_mapping m1, m2;
			uint8_t v;
			e = pinmm_load(mm, page_addr(sh, r, idx) + (rnd >> 40) % PG, &v, 1);
			if (e != 0) {
				char d[160];
				raw_entry(mm, page_addr(sh, r, idx), d, sizeof(d));
				record(&sh->fail, "load failed: %s page %u: %d; %s",
				       region_name[r], idx, e, d);
			}
			if (pinmm_follow_page(mm, page_addr(sh, r, idx), &m1) == 0 &&
			    pinmm_follow_page(mm, page_addr(sh, r, idx + 1), &m2) == 0) {
				if (r == R_KSM && m1.present && m2.present &&
				    !m1.zero_page &&
				    m1.pfn == m2.pfn)
					atomic_fetch_add(&sh->seen_ksm_shared, 1);
				if (m1.huge)
					atomic_fetch_add(&sh->seen_huge, 1);
				if (m1.swapped)
					atomic_fetch_add(&sh->seen_swapped, 1);
			}
			break;
		}
		case 48: {	/* a THP range back to small pages */
			unsigned t = (unsigned)(rnd % THP_RANGES);
			e = pinmm_split_folio(mm, page_addr(sh, R_THP, t * (unsigned)HP_PAGES));
			if (e == 0)
				atomic_fetch_add(&sh->splits, 1);
			else if (e != -EINVAL && e != -EBUSY && e != -EAGAIN)
				record(&sh->fail, "split_folio: %d", e);
			break;
		}
		case 49: {	/* warm a THP range: swap it all in, young again,
				 * so that khugepaged finds it whole */
			unsigned t = (unsigned)(rnd % THP_RANGES);
			e = pinmm_load(mm, page_addr(sh, R_THP, t * (unsigned)HP_PAGES),
				       sh->warm_buf, HP);
			if (e != 0)
				record(&sh->fail, "load of THP range %u: %d", t, e);
			break;
		}
		case 50 ... 51: {	/* MADV_PAGEOUT of a few anon pages */
			unsigned idx = (unsigned)(rnd % (ANON_PAGES - 8));
			e = pinmm_madvise(mm, page_addr(sh, R_ANON, idx), 8 * PG,
					  PINMM_MADV_PAGEOUT);
			if (e != 0)
				record(&sh->fail, "madvise PAGEOUT: %d", e);
			atomic_fetch_add(&sh->pageouts, 1);
			break;
		}
		case 52 ... 53: {	/* migrate / NUMA-hint a page (pinned or not) */
			enum region r = (rnd & 1) ? R_ANON : R_KSM;
			uint64_t a = page_addr(sh, r, (unsigned)((rnd >> 8) % sh->npages[r]));
			if (rnd & 2) {
				e = pinmm_migrate(mm, a);
				/* EFAULT: swapped out, nothing to move */
				if (e != 0 && e != -EBUSY && e != -EAGAIN &&
				    e != -EFAULT && e != -ENOMEM)
					record(&sh->fail, "migrate: %d", e);
				atomic_fetch_add(&sh->migrates, 1);
			} else {
				e = pinmm_numa_hint(mm, a);
				if (e != 0 && e != -ENOMEM && e != -EFAULT)
					record(&sh->fail, "numa_hint: %d", e);
				atomic_fetch_add(&sh->numa_hints, 1);
			}
			break;
		}
		case 54:
			check_anchors(sh, op);
			break;
		case 55:
			if (!sh->fork_every || child || rnd % sh->fork_every)
				break;
			e = pinmm_fork(mm, &child);
			if (e != 0) {
				record(&sh->fail, "fork: %d", e);
				child = NULL;
				break;
			}
			atomic_fetch_add(&sh->forks, 1);
			child_born = op;
			/* the parent's anchors right after fork */
			check_anchors(sh, op);
			break;
		}
		if ((op & 7) == 0)
			sched_yield();	/* two CPUs: let the pinners run */
		if (child) {
			/* the child lives a little and writes its copies */
			disturb_store(sh, child, xs(&seed), "child");
			if (op - child_born >= sh->child_ops) {
				pinmm_mm_exit(child);
				child = NULL;
				check_anchors(sh, op);
			}
		}
	}
	if (child)
		pinmm_mm_exit(child);
	return NULL;
}

/* ============================================================ driver === */

struct daemon_intervals {
	unsigned us[PINMM_DAEMON_NR];
};

static const char *const daemon_name[PINMM_DAEMON_NR] = {
	"ksmd", "khugepaged", "kcompactd", "kswapd",
};

static void setup_regions(struct shared *sh)
{
	struct pinmm_mm *mm = sh->mm;
	uint64_t a = 0;

	sh->npages[R_KSM] = KSM_PAGES;
	sh->base[R_KSM] = map_rw_populated(mm, KSM_PAGES);
	fill(mm, sh->base[R_KSM], KSM_BYTE, KSM_PAGES * PG);
	assert_int_equal(pinmm_madvise(mm, sh->base[R_KSM], KSM_PAGES * PG,
				       PINMM_MADV_MERGEABLE), 0);

	/* small pages first, then eligible for khugepaged */
	sh->npages[R_THP] = THP_PAGES;
	assert_int_equal(pinmm_mmap(mm, 0, THP_PAGES * PG, PROT_RW,
				    PINMM_MAP_PRIVATE | PINMM_MAP_NOHUGEPAGE |
				    PINMM_MAP_ALIGN_2M, &a), 0);
	assert_int_equal(a % HP, 0);
	sh->base[R_THP] = a;
	fill(mm, a, THP_BYTE, THP_PAGES * PG);
	assert_false(follow(mm, a).huge);
	assert_int_equal(pinmm_madvise(mm, a, THP_PAGES * PG, PINMM_MADV_HUGEPAGE), 0);

	sh->npages[R_ANON] = ANON_PAGES;
	sh->base[R_ANON] = map_rw_populated(mm, ANON_PAGES);
	fill(mm, sh->base[R_ANON], ANON_BYTE, ANON_PAGES * PG);
}

/* Pins the main thread holds for the whole run, on pages no pinner owns. */
static void take_anchors(struct shared *sh)
{
	static const struct { enum region r; unsigned idx; enum pin_kind k; } at[NANCHORS] = {
		{ R_KSM, NPINNERS * OWN + 1, K_RW },
		{ R_KSM, NPINNERS * OWN + 3, K_RO_LONGTERM },
		{ R_ANON, NPINNERS * ANON_STRIDE - 20, K_RW_LONGTERM },
		{ R_ANON, NPINNERS * ANON_STRIDE - 10, K_RW },
	};
	for (unsigned i = 0; i < NANCHORS; i++) {
		struct anchor *a = &sh->anchors[i];
		zero_pin(&a->pin);
		a->addr = page_addr(sh, at[i].r, at[i].idx);
		a->kind = at[i].k;
		pin_ok(sh->mm, &a->pin, a->addr, 1, kind_flags[a->kind], true, a->pages);
		assert_coherent(&a->pin, sh->mm, a->addr);
	}
}

static void run(struct shared *sh, struct pinmm_policy policy,
		struct daemon_intervals iv, double seconds)
{
	struct pinmm *eng = make_engine(policy);
	struct pinmm_mm *mm = make_mm(eng);
	pthread_t th[NPINNERS], dist;
	struct pinner_arg args[NPINNERS];

	sh->eng = eng;
	sh->mm = mm;
	sh->rounds = cfg_rounds();
	sh->seed = cfg_seed();
	sh->disturb_mask = env_mask("PINMM_DISTURB_MASK");
	init_failures(&sh->fail);
	atomic_init(&sh->pinners_left, NPINNERS);
	setup_regions(sh);
	take_anchors(sh);
	print_message("    seed 0x%" PRIx64 " (PINMM_STRESS_SEED), %lu rounds, %.1f s; "
		      "daemons every ksmd %u, khugepaged %u, kcompactd %u, "
		      "kswapd %u us\n", sh->seed, sh->rounds, seconds,
		      iv.us[PINMM_KSMD], iv.us[PINMM_KHUGEPAGED],
		      iv.us[PINMM_KCOMPACTD], iv.us[PINMM_KSWAPD]);

	unsigned dmask = env_mask("PINMM_DAEMON_MASK");
	for (int d = 0; d < PINMM_DAEMON_NR; d++)
		if (dmask & (1u << d))
			assert_int_equal(pinmm_daemon_start(eng, (enum pinmm_daemon)d,
							    iv.us[d]), 0);
	sh->deadline = now_s() + seconds;
	for (unsigned i = 0; i < NPINNERS; i++) {
		args[i].sh = sh;
		args[i].idx = i;
		assert_int_equal(pthread_create(&th[i], NULL, pinner, &args[i]), 0);
	}
	assert_int_equal(pthread_create(&dist, NULL, disturber, sh), 0);
	for (unsigned i = 0; i < NPINNERS; i++)
		pthread_join(th[i], NULL);
	pthread_join(dist, NULL);

	/* the anchors, once more with the daemons still running */
	check_anchors(sh, 0);
	unsigned long passes[PINMM_DAEMON_NR];
	for (int d = 0; d < PINMM_DAEMON_NR; d++)
		if (dmask & (1u << d))
			assert_int_equal(pinmm_daemon_stop(eng, (enum pinmm_daemon)d), 0);
	for (int d = 0; d < PINMM_DAEMON_NR; d++)
		passes[d] = atomic_load(&eng->kthreads[d].passes);

	print_message("    pins ksm %lu thp %lu anon %lu (longterm EBUSY %lu, ENOMEM "
		      "%lu), coherence checks %lu (anchors %lu, transiently unmapped %lu), "
		      "lost %lu; forks %lu + "
		      "%lu by pinners; splits %lu, pageouts %lu, migrates %lu, numa "
		      "%lu; seen: ksm-shared %lu, huge %lu, swapped %lu\n",
		      atomic_load(&sh->pins[R_KSM]), atomic_load(&sh->pins[R_THP]),
		      atomic_load(&sh->pins[R_ANON]), atomic_load(&sh->pin_busy),
		      atomic_load(&sh->pin_nomem), atomic_load(&sh->checks),
		      atomic_load(&sh->anchor_checks),
		      atomic_load(&sh->transient_unmapped),
		      atomic_load(&sh->coherence_lost), atomic_load(&sh->forks),
		      atomic_load(&sh->pinner_forks), atomic_load(&sh->splits),
		      atomic_load(&sh->pageouts), atomic_load(&sh->migrates),
		      atomic_load(&sh->numa_hints), atomic_load(&sh->seen_ksm_shared),
		      atomic_load(&sh->seen_huge), atomic_load(&sh->seen_swapped));
	print_message("    daemon passes: %s %lu, %s %lu, %s %lu, %s %lu\n",
		      daemon_name[0], passes[0], daemon_name[1], passes[1],
		      daemon_name[2], passes[2], daemon_name[3], passes[3]);

	assert_no_failures(&sh->fail);
	for (int d = 0; d < PINMM_DAEMON_NR; d++)
		assert_true(passes[d] > 0 || !(dmask & (1u << d)));
	/* quiescent: the invariants hold with the anchors and the mm alive */
	assert_invariants(eng);
	for (unsigned i = 0; i < NANCHORS; i++) {
		if (sh->strict)
			assert_coherent(&sh->anchors[i].pin, mm, sh->anchors[i].addr);
		unpin_ok(&sh->anchors[i].pin);
	}
	assert_invariants(eng);
	unsigned long total = 0;
	for (int r = 0; r < R_NR; r++)
		total += atomic_load(&sh->pins[r]);
	assert_true(total > 0);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static struct shared *new_shared(bool strict)
{
	struct shared *sh = calloc(1, sizeof(*sh));
	assert_non_null(sh);
	sh->strict = strict;
	sh->warm_buf = malloc(HP);
	assert_non_null(sh->warm_buf);
	return sh;
}

static void free_shared(struct shared *sh)
{
	free(sh->warm_buf);
	free(sh);
}

/* G1/G3 in strict: the four daemons never take a pinned page away */
static void daemons_strict(void **state)
{
	(void)state;
	struct shared *sh = new_shared(true);
	sh->fork_every = 64;	/* occasional fork + exit */
	sh->child_ops = 4;
	run(sh, policy_strict(),
	    (struct daemon_intervals){ .us = { [PINMM_KSMD] = 0,
					       [PINMM_KHUGEPAGED] = 200,
					       [PINMM_KCOMPACTD] = 100,
					       [PINMM_KSWAPD] = 20 } },
	    cfg_seconds());
	assert_int_equal(atomic_load(&sh->coherence_lost), 0);
	free_shared(sh);
}

/* the same with many forks, pinners forking while they hold their pin:
 * the parent's pins stay coherent, the child writes only its copy */
static void daemons_strict_fork(void **state)
{
	(void)state;
	struct shared *sh = new_shared(true);
	sh->fork_every = 4;
	sh->child_ops = 32;	/* children live across daemon passes */
	sh->pinner_fork_every = 8;
	run(sh, policy_strict(),
	    (struct daemon_intervals){ .us = { [PINMM_KSMD] = 50,
					       [PINMM_KHUGEPAGED] = 50,
					       [PINMM_KCOMPACTD] = 200,
					       [PINMM_KSWAPD] = 0 } },
	    cfg_seconds() / 2);
	assert_true(atomic_load(&sh->pinner_forks) > 0);
	assert_int_equal(atomic_load(&sh->coherence_lost), 0);
	free_shared(sh);
}

/*
 * legacy: coherence may be lost (counted), the engine must stay sound —
 * except for what no accounting survives: without its rechecks GUP-fast
 * takes references on frames that were freed and reused meanwhile (the
 * historical use-after-free the recheck closed), and drops them later on
 * whatever folio the frame belongs to then. Those two stay on here.
 */
static const char *legacy_policy(void)
{
	const char *p = getenv("PINMM_STRESS_POLICY");
	return p && *p ? p : "legacy,+gup_fast_recheck,+gup_fast_pmd_recheck";
}

static void daemons_legacy_consistent(void **state)
{
	(void)state;
	struct shared *sh = new_shared(false);
	sh->fork_every = 16;
	sh->child_ops = 8;
	sh->pinner_fork_every = 16;
	run(sh, policy_from_text(legacy_policy()),
	    (struct daemon_intervals){ .us = { [PINMM_KSMD] = 10,
					       [PINMM_KHUGEPAGED] = 100,
					       [PINMM_KCOMPACTD] = 50,
					       [PINMM_KSWAPD] = 10 } },
	    cfg_seconds() / 3);
	free_shared(sh);
}

int main(void)
{
	tests_filter_from_env();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(daemons_strict),
		cmocka_unit_test(daemons_strict_fork),
		cmocka_unit_test(daemons_legacy_consistent),
	};
	return cmocka_run_group_tests_name("conc_daemons", tests, NULL, NULL);
}
