/* SPDX-License-Identifier: MIT */
/*
 * A THP split against the folio's other mappings, staged with the explore
 * build's preemption-point hook.
 *
 * split_folio() unmaps every page into migration entries, rewrites the
 * descriptors as small folios and maps each page again. A page only
 * another process maps comes back with that mapping's reference alone;
 * if that process zaps it before the split has unlocked the pages, the
 * last reference goes while the split still owns the page. The split must
 * hold each new small folio itself until it lets go of it (Linux's
 * __split_huge_page() does the same); before it did, the zap freed the
 * frame and the split's own cleanup freed it a second time (found by
 * test_conc_daemons: frames on the free lists twice, mappings of free
 * frames, stale migration entries).
 */
#include "helpers.h"

#include <pthread.h>
#include <semaphore.h>

#include "base/preempt.h"
#include "mm/mm.h"

#define HP (2ul << 20)
#define VICTIM 5	/* the page only the child maps */

enum role { NONE, SPLITTER };
static __thread enum role my_role;

struct stage {
	uint64_t victim_pfn;
	bool remapped;		/* the child's entry of the victim is back */
	bool fired;
	sem_t go, done;
	struct pinmm_mm *child;
	uint64_t addr;
	int zap_err;
};

/* In the splitter: once the child's entry for the victim is mapped again,
 * at the next lock release, let the child zap it and wait for that. */
static void hook(enum pm_point pt, const void *obj, uint64_t val, void *arg)
{
	struct stage *st = arg;

	(void)obj;
	if (my_role != SPLITTER || st->fired)
		return;
	if (pt == PM_PT_PTE_WRITE && pte_present(val) && pte_pfn(val) == st->victim_pfn) {
		st->remapped = true;
	} else if (pt == PM_PT_UNLOCK && st->remapped) {
		st->fired = true;
		sem_post(&st->go);
		sem_wait(&st->done);
	}
}

static void *zapper(void *arg)
{
	struct stage *st = arg;

	sem_wait(&st->go);
	st->zap_err = pinmm_madvise(st->child, st->addr, PG, PINMM_MADV_DONTNEED);
	sem_post(&st->done);
	return NULL;
}

static void split_vs_zap(void **state)
{
	(void)state;
	struct pinmm *eng = make_engine(policy_strict());
	struct pinmm_mm *mm = make_mm(eng), *child = NULL;
	uint64_t a = map_anon(mm, HP, PROT_RW,
			      PINMM_MAP_PRIVATE | PINMM_MAP_HUGEPAGE | PINMM_MAP_ALIGN_2M);
	struct stage st = { .addr = a + VICTIM * PG };
	pthread_t t;

	fill(mm, a, 0x5a, HP);
	assert_true(follow(mm, a).huge);
	assert_int_equal(pinmm_fork(mm, &child), 0);
	st.child = child;
	/* PTE-map it on both sides, then the parent lets go of the victim */
	assert_int_equal(pinmm_split_pmd(mm, a), 0);
	assert_int_equal(pinmm_split_pmd(child, a), 0);
	assert_int_equal(pinmm_madvise(mm, st.addr, PG, PINMM_MADV_DONTNEED), 0);
	st.victim_pfn = pfn_at(child, st.addr);
	assert_int_equal(finfo_at(child, st.addr).order, PINMM_HPAGE_ORDER);

	assert_int_equal(sem_init(&st.go, 0, 0), 0);
	assert_int_equal(sem_init(&st.done, 0, 0), 0);
	assert_int_equal(pthread_create(&t, NULL, zapper, &st), 0);
	my_role = SPLITTER;
	pm_preempt_set_hook(hook, &st);
	int r = pinmm_split_folio(mm, a);
	pm_preempt_set_hook(NULL, NULL);
	my_role = NONE;
	if (!st.fired)
		sem_post(&st.go);	/* let the zapper finish anyway */
	pthread_join(t, NULL);
	assert_true(st.fired);
	assert_int_equal(r, 0);
	assert_int_equal(st.zap_err, 0);

	/* the victim's frame was freed once, and everything else is intact */
	assert_invariants(eng);
	assert_int_equal(finfo_at(mm, a).order, 0);
	assert_bytes(mm, a, 0x5a, VICTIM * PG);
	assert_bytes(child, a, 0x5a, VICTIM * PG);
	assert_bytes(mm, st.addr, 0, PG);	/* DONTNEED: zero-filled */
	assert_bytes(child, st.addr, 0, PG);
	assert_bytes(child, st.addr + PG, 0x5a, HP - (VICTIM + 1) * PG);
	pinmm_mm_exit(child);
	pinmm_mm_exit(mm);
	finish_engine(eng);
	sem_destroy(&st.go);
	sem_destroy(&st.done);
}

int main(void)
{
	tests_filter_from_env();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(split_vs_zap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
