/* SPDX-License-Identifier: MIT */
/*
 * THP migration against everything that meets a PMD migration entry, under
 * the explorer (DFS, preemption bound 2, every schedule): one thread
 * migrates a PMD-mapped THP, the other pins a page of it with GUP-fast,
 * forks, unmaps it, writes into it, or write-protects it. A walker that
 * needs the leaf waits for the migrator to put one back; GUP-fast falls
 * back to the slow path, which faults and waits. Each schedule must leave
 * a coherent pin, a correct COW split, no leaked or lost page, and no
 * writable entry in a read-only VMA. With migrate_refuses_pinned off, the
 * pin race is found.
 */
#include "explore_case.h"

enum race { RACE_PIN, RACE_FORK, RACE_UNMAP, RACE_WRITE, RACE_MPROTECT };

struct world {
	enum race race;
	struct pinmm *eng;
	struct pinmm_mm *mm, *child;
	uint64_t a;
	struct pinmm_pin pin;
	struct pinmm_page *pages[1];
	int err;		/* of the other thread's operation */
};

struct race_ctx {
	enum race race;
	struct pinmm_policy policy;
};

static void *setup(void *arg)
{
	struct race_ctx *c = arg;
	struct world *w = calloc(1, sizeof(*w));
	struct pinmm_config cfg;

	if (!w)
		abort();
	pinmm_config_default(&cfg);
	cfg.normal_frames = 2048;
	cfg.policy = c->policy;
	w->race = c->race;
	if (pinmm_create(&cfg, &w->eng) || pinmm_mm_create(w->eng, &w->mm) ||
	    pinmm_mmap(w->mm, 0, PINMM_PMD_SIZE, PROT_RW,
		       PINMM_MAP_PRIVATE | PINMM_MAP_HUGEPAGE, &w->a) ||
	    pinmm_store_fill(w->mm, w->a, 0x5a, PINMM_PMD_SIZE))
		abort();
	return w;
}

static void thread(void *state, unsigned tid)
{
	struct world *w = state;

	if (tid == 0) {
		(void)pinmm_migrate(w->mm, w->a);
		return;
	}
	switch (w->race) {
	case RACE_PIN:
		w->err = pinmm_pin(w->mm, &w->pin, w->a + 3 * PG, 1, PINMM_FOLL_WRITE, true,
				   w->pages);
		break;
	case RACE_FORK:
		w->err = pinmm_fork(w->mm, &w->child);
		break;
	case RACE_UNMAP:
		w->err = pinmm_munmap(w->mm, w->a, PINMM_PMD_SIZE);
		break;
	case RACE_WRITE:
		w->err = pinmm_store_fill(w->mm, w->a + 3 * PG, 0x77, 1);
		break;
	case RACE_MPROTECT:
		w->err = pinmm_mprotect(w->mm, w->a, PINMM_PMD_SIZE, PROT_R);
		break;
	}
}

static int check(void *state, char *msg, size_t len)
{
	struct world *w = state;
	uint8_t v = 0;
	struct pinmm_stats st;

	if (w->err) {
		snprintf(msg, len, "operation failed: %d", w->err);
		return 1;
	}
	if (pinmm_check_invariants(w->eng, NULL)) {
		snprintf(msg, len, "invariants broken");
		return 1;
	}
	switch (w->race) {
	case RACE_PIN: {
		enum pinmm_coherence c = pinmm_check_coherent(&w->pin, w->mm, w->a + 3 * PG, NULL);
		if (c != PINMM_COHERENT) {
			snprintf(msg, len, "pin not coherent: %s", pinmm_coherence_str(c));
			return 1;
		}
		break;
	}
	case RACE_FORK:
		/* the child has the data, and a COW break of its own */
		pinmm_load(w->child, w->a + 5 * PG, &v, 1);
		if (v != 0x5a) {
			snprintf(msg, len, "the child lost the data (0x%02x)", v);
			return 1;
		}
		pinmm_store_fill(w->child, w->a + 5 * PG, 0x66, 1);
		pinmm_load(w->mm, w->a + 5 * PG, &v, 1);
		if (v != 0x5a) {
			snprintf(msg, len, "the child's store reached the parent");
			return 1;
		}
		break;
	case RACE_UNMAP:
		pinmm_get_stats(w->eng, &st);
		if (st.frames_used) {
			snprintf(msg, len, "%zu frames left after the unmap", st.frames_used);
			return 1;
		}
		break;
	case RACE_WRITE:
		pinmm_load(w->mm, w->a + 3 * PG, &v, 1);
		if (v != 0x77) {
			snprintf(msg, len, "the store was lost (0x%02x)", v);
			return 1;
		}
		break;
	case RACE_MPROTECT: {
		/* the entry itself: a store checks the VMA first */
		struct pinmm_mapping m;
		if (pinmm_follow_page(w->mm, w->a, &m) || m.writable) {
			snprintf(msg, len, "a writable entry in a read-only VMA");
			return 1;
		}
		break;
	}
	}
	return 0;
}

static void teardown(void *state)
{
	struct world *w = state;

	if (pinmm_pin_held(&w->pin))
		pinmm_unpin(&w->pin);
	if (w->child)
		pinmm_mm_exit(w->child);
	pinmm_mm_exit(w->mm);
	if (pinmm_check_invariants(w->eng, NULL) || pinmm_destroy(w->eng))
		abort();
	free(w);
}

static const struct pinmm_explore_ops ops = {
	.nr_threads = 2, .setup = setup, .thread = thread, .check = check,
	.teardown = teardown,
};

static void explore_case(enum race race, struct pinmm_policy p, bool expect_found)
{
	static const char *const names[] = { "pin", "fork", "unmap", "write", "mprotect" };
	struct race_ctx c = { race, p };

	explore_expect(&ops, &c, names[race], expect_found, 300);
}

static void pin_strict(void **s) { (void)s; explore_case(RACE_PIN, policy_strict(), false); }
static void pin_off(void **s)
{
	(void)s;
	explore_case(RACE_PIN, policy_strict_without(PINMM_SW_MIGRATE_REFUSES_PINNED), true);
}
static void fork_strict(void **s) { (void)s; explore_case(RACE_FORK, policy_strict(), false); }
static void unmap_strict(void **s) { (void)s; explore_case(RACE_UNMAP, policy_strict(), false); }
static void write_strict(void **s) { (void)s; explore_case(RACE_WRITE, policy_strict(), false); }
static void mprotect_strict(void **s)
{
	(void)s;
	explore_case(RACE_MPROTECT, policy_strict(), false);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(pin_strict),
		cmocka_unit_test(pin_off),
		cmocka_unit_test(fork_strict),
		cmocka_unit_test(unmap_strict),
		cmocka_unit_test(write_strict),
		cmocka_unit_test(mprotect_strict),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
