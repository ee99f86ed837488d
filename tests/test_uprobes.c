/* SPDX-License-Identifier: MIT */
/* uprobes: breakpoints in private text mappings, never over a pinned page. */
#include "helpers.h"

#define PROT_RX (PINMM_PROT_READ | PINMM_PROT_EXEC)

static uint64_t map_text(struct pinmm_mm *mm, struct pinmm_file *f)
{
	uint64_t a;

	assert_int_equal(pinmm_mmap_file(mm, 0, 2 * PG, PROT_RX, PINMM_MAP_PRIVATE, f, 0, &a), 0);
	assert_int_equal(load8(mm, a), 0x90);
	return a;
}

static void uprobe_register_and_unregister(void **s)
{
	(void)s;
	struct pinmm *eng = make_strict_engine();
	struct pinmm_mm *mm = make_mm(eng);
	struct pinmm_file *f;
	uint8_t b;

	assert_int_equal(pinmm_file_create(eng, 2 * PG, 0x90, &f), 0);
	uint64_t a = map_text(mm, f);
	struct pinmm_mm *child = fork_mm(mm);
	assert_int_equal(load8(mm, a + PG), 0x90);
	uint64_t cache_pfn = pfn_at(mm, a + PG);

	assert_int_equal(pinmm_uprobe_register(f, PG + 0x10), 0);
	assert_int_equal(load8(mm, a + PG + 0x10), 0xcc);
	assert_int_equal(load8(child, a + PG + 0x10), 0xcc);
	assert_int_equal(load8(mm, a + PG + 0x11), 0x90);
	assert_int_equal(load8(mm, a + 0x10), 0x90);		/* other page */
	assert_int_not_equal(pfn_at(mm, a + PG), cache_pfn);
	assert_int_equal(pinmm_file_read(f, PG + 0x10, &b, 1), 0);
	assert_int_equal(b, 0x90);				/* the file is untouched */
	assert_invariants(eng);
	assert_int_equal(pinmm_uprobe_unregister(f, PG + 0x10), 0);
	assert_int_equal(load8(mm, a + PG + 0x10), 0x90);
	assert_int_equal(load8(child, a + PG + 0x10), 0x90);
	assert_int_equal(pinmm_uprobe_register(f, 5 * PG), -EINVAL);
	assert_invariants(eng);
	pinmm_file_put(f);
	pinmm_mm_exit(child);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void uprobe_case(struct pinmm_policy p, bool detected)
{
	struct pinmm *eng = make_engine(p);
	struct pinmm_mm *mm = make_mm(eng);
	struct pinmm_file *f;
	struct pinmm_page *pages[1];
	struct pinmm_pin pin;

	zero_pin(&pin);
	assert_int_equal(pinmm_file_create(eng, 2 * PG, 0x90, &f), 0);
	uint64_t a = map_text(mm, f);
	/* a R/O pin of the text page (the page-cache page itself) */
	pin_ok(mm, &pin, a, 1, PINMM_FOLL_LONGTERM, false, pages);
	assert_true(pinmm_check_mapped(&pin, mm, a));
	if (!detected) {
		assert_int_equal(pinmm_uprobe_register(f, 0x20), -EBUSY);
		assert_int_equal(load8(mm, a + 0x20), 0x90);	/* nothing changed */
		assert_true(pinmm_check_mapped(&pin, mm, a));
	} else {
		assert_int_equal(pinmm_uprobe_register(f, 0x20), 0);
		assert_int_equal(load8(mm, a + 0x20), 0xcc);
		/* the process no longer maps the page the device holds */
		assert_false(pinmm_check_mapped(&pin, mm, a));
	}
	unpin_ok(&pin);
	assert_invariants(eng);
	pinmm_file_put(f);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void uprobe_refuses_pinned(void **s) { (void)s; uprobe_case(policy_strict(), false); }
static void uprobe_off_detected(void **s)
{
	(void)s;
	uprobe_case(policy_strict_without(PINMM_SW_UPROBE_CHECKS_PINS), true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(uprobe_register_and_unregister),
		cmocka_unit_test(uprobe_refuses_pinned),
		cmocka_unit_test(uprobe_off_detected),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
