/* SPDX-License-Identifier: MIT */
/*
 * Large folios through the swap device under real threads: reader threads
 * fault pages of 64 KiB folios back in (a whole mTHP when their entries
 * allow, else small pages through the swap cache) and check their bytes,
 * while a pager thread swaps ranges out again (whole, or split when they
 * cover a folio in part), DONTNEEDs and rewrites a region of its own, and
 * runs reclaim (the deferred split shrinker first). Every page keeps the
 * byte it was written with; the invariants hold after.
 */
#include "stress.h"

#include <pthread.h>
#include <stdatomic.h>

#define K64 (64 * 1024ul)
#define DEFAULT_ROUNDS (SAN_THREAD ? 300ul : SAN_ADDRESS ? 1500ul : 4000ul)
#define DEFAULT_SECONDS (SAN_THREAD ? 6.0 : 3.0)

enum { NREADERS = 3, FOLIOS = 16, CHURN = 4 };

struct shared {
	struct pinmm_mm *mm;
	uint64_t a;		/* FOLIOS folios of pages, never rewritten */
	uint64_t churn;		/* CHURN folios the pager discards and rewrites */
	unsigned long rounds;
	double deadline;
	atomic_bool stop;
	struct failures fail;
};

static uint8_t value_of(unsigned long page)
{
	return (uint8_t)(0x20 + page % 200);
}

static void *reader(void *arg)
{
	struct shared *sh = arg;
	uint64_t seed = (uint64_t)(uintptr_t)arg ^ 0x9e3779b97f4a7c15ull;

	for (unsigned long r = 0; r < sh->rounds && !atomic_load(&sh->stop); r++) {
		unsigned long page = xs(&seed) % (FOLIOS * 16);
		uint8_t v = 0;
		int err = pinmm_load(sh->mm, sh->a + page * PG, &v, 1);

		if (err || v != value_of(page)) {
			record(&sh->fail, "page %lu: err %d, byte %#x, not %#x", page, err, v,
			       value_of(page));
			break;
		}
		if (now_s() > sh->deadline)
			break;
	}
	return NULL;
}

static void *pager(void *arg)
{
	struct shared *sh = arg;
	uint64_t seed = 12345;

	while (!atomic_load(&sh->stop) && now_s() < sh->deadline) {
		unsigned long f = xs(&seed) % FOLIOS, off = xs(&seed) % 16;
		int err;

		/* a whole folio, or a part of one, out */
		err = pinmm_madvise(sh->mm, sh->a + f * K64 + (off & 1 ? off * PG : 0),
				    off & 1 ? PG : K64, PINMM_MADV_PAGEOUT);
		/* a folio of its own discarded in part, rewritten */
		unsigned long c = xs(&seed) % CHURN;
		err = err ? err : pinmm_madvise(sh->mm, sh->churn + c * K64 + 4 * PG, 8 * PG,
						PINMM_MADV_DONTNEED);
		for (unsigned long p = 0; !err && p < 16; p++) {
			uint8_t v = 0x77;
			err = pinmm_store(sh->mm, sh->churn + c * K64 + p * PG, &v, 1);
		}
		if (!err && xs(&seed) % 8 == 0)
			err = pinmm_reclaim(pinmm_mm_engine(sh->mm), 16) < 0;
		if (err) {
			record(&sh->fail, "pager: %d", err);
			break;
		}
	}
	return NULL;
}

static void large_swap_under_threads(void **s)
{
	(void)s;
	struct pinmm *eng = make_engine(policy_strict());
	assert_int_equal(pinmm_thp_set_enabled(eng, PINMM_PMD_SIZE, PINMM_THP_NEVER), 0);
	assert_int_equal(pinmm_thp_set_enabled(eng, K64, PINMM_THP_MADVISE), 0);
	struct shared sh = { .mm = make_mm(eng), .rounds = stress_rounds(DEFAULT_ROUNDS),
			     .deadline = now_s() + stress_seconds(DEFAULT_SECONDS) };
	unsigned flags = PINMM_MAP_PRIVATE | PINMM_MAP_HUGEPAGE | PINMM_MAP_ALIGN_2M;
	pthread_t t[NREADERS + 1];

	init_failures(&sh.fail);
	sh.a = map_anon(sh.mm, FOLIOS * K64, PROT_RW, flags);
	sh.churn = map_anon(sh.mm, CHURN * K64, PROT_RW, flags);
	for (unsigned long p = 0; p < FOLIOS * 16; p++)
		fill(sh.mm, sh.a + p * PG, value_of(p), PG);
	fill(sh.mm, sh.churn, 0x77, CHURN * K64);
	for (int i = 0; i < NREADERS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, reader, &sh), 0);
	assert_int_equal(pthread_create(&t[NREADERS], NULL, pager, &sh), 0);
	for (int i = 0; i < NREADERS; i++)
		pthread_join(t[i], NULL);
	atomic_store(&sh.stop, true);
	pthread_join(t[NREADERS], NULL);
	assert_no_failures(&sh.fail);
	assert_invariants(eng);
	for (unsigned long p = 0; p < FOLIOS * 16; p++)
		assert_int_equal(load8(sh.mm, sh.a + p * PG), value_of(p));
	assert_invariants(eng);
	pinmm_mm_exit(sh.mm);
	finish_engine(eng);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(large_swap_under_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
