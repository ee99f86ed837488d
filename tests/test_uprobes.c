/* SPDX-License-Identifier: MIT */
/* uprobes: breakpoints in private text mappings; a pinned page keeps its place. */
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
	/* the copy was the file's page again: the page cache maps once more */
	assert_int_equal(pfn_at(mm, a + PG), cache_pfn);
	assert_int_equal(pinmm_uprobe_register(f, 5 * PG), -EINVAL);
	assert_invariants(eng);
	pinmm_file_put(f);
	pinmm_mm_exit(child);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

/*
 * A R/O longterm pin of the text page (which unshares it: an anonymous
 * exclusive copy), then a uprobe over it. Linux 6.18 writes the breakpoint
 * into the pinned page in place: still mapped, and the device sees the
 * breakpoint as the CPU does; unregistering writes the byte back into the
 * same page, which stays (it may be pinned). The former __replace_page()
 * (uprobe_write_in_place off) maps a new copy instead: the process no
 * longer maps the page the device holds.
 */
static void uprobe_case(struct pinmm_policy p, bool detected)
{
	struct pinmm *eng = make_engine(p);
	struct pinmm_mm *mm = make_mm(eng);
	struct pinmm_file *f;
	struct pinmm_page *pages[1];
	struct pinmm_pin pin;
	uint8_t b = 0;

	zero_pin(&pin);
	assert_int_equal(pinmm_file_create(eng, 2 * PG, 0x90, &f), 0);
	uint64_t a = map_text(mm, f);
	pin_ok(mm, &pin, a, 1, PINMM_FOLL_LONGTERM, false, pages);
	assert_true(pinmm_check_mapped(&pin, mm, a));
	assert_int_equal(pinmm_uprobe_register(f, 0x20), 0);
	assert_int_equal(load8(mm, a + 0x20), 0xcc);
	assert_int_equal(pinmm_check_mapped(&pin, mm, a), !detected);
	assert_int_equal(pinmm_dev_read(&pin, 0, 0x20, &b, 1), 0);
	assert_int_equal(b, detected ? 0x90 : 0xcc);
	assert_int_equal(pinmm_uprobe_unregister(f, 0x20), 0);
	assert_int_equal(load8(mm, a + 0x20), 0x90);
	assert_int_equal(pinmm_check_mapped(&pin, mm, a), !detected);
	unpin_ok(&pin);
	assert_invariants(eng);
	pinmm_file_put(f);
	pinmm_mm_exit(mm);
	finish_engine(eng);
}

static void uprobe_writes_into_pinned_page(void **s)
{
	(void)s;
	uprobe_case(policy_strict(), false);
}

static void uprobe_off_detected(void **s)
{
	(void)s;
	uprobe_case(policy_strict_without(PINMM_SW_UPROBE_WRITE_IN_PLACE), true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(uprobe_register_and_unregister),
		cmocka_unit_test(uprobe_writes_into_pinned_page),
		cmocka_unit_test(uprobe_off_detected),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
