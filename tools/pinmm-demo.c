/* SPDX-License-Identifier: MIT */
/*
 * pinmm-demo - the pin guarantee across fork, under strict and legacy.
 *
 * For each policy: a process maps one private anonymous page, stores a byte,
 * pins the page R/W FOLL_LONGTERM (as a device driver would), forks, and
 * then stores a new byte in the parent. The device reads through its pin:
 * if it sees the parent's new byte the pin "kept" the page (G1 of
 * docs/guarantee.md); if it sees the old one the parent's store went to a copy
 * and the device was "LOST".
 *
 * Exit status: 0 when strict keeps and legacy loses (the matrix is as
 * declared), 1 otherwise.
 *
 * Uses only the public API (include/pinmm/pinmm.h).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <pinmm/pinmm.h>

enum outcome { KEPT, LOST, FAILED };

static const char *const outcome_str[] = {
	[KEPT] = "kept", [LOST] = "LOST", [FAILED] = "error",
};

struct row {
	const char *policy;
	enum outcome want;
	enum outcome got;
	int seen;		/* byte the device read, -1 if none */
	char detail[160];	/* what went wrong, when got == FAILED */
};

#define BEFORE 0x11
#define AFTER 0x22

static enum outcome fail(struct row *r, const char *step, int err)
{
	snprintf(r->detail, sizeof(r->detail), "%s: %s", step, strerror(-err));
	return FAILED;
}

static enum outcome run(struct row *r)
{
	struct pinmm_config cfg;
	struct pinmm *eng = NULL;
	struct pinmm_mm *parent = NULL, *child = NULL;
	struct pinmm_pin pin;
	struct pinmm_page *pages[1];
	uint64_t addr;
	uint8_t byte = BEFORE, seen;
	enum outcome out;
	int ret;

	memset(&pin, 0, sizeof(pin));
	pinmm_config_default(&cfg);
	ret = pinmm_policy_parse(r->policy, &cfg.policy, NULL, 0);
	if (ret)
		return fail(r, "policy", ret);

	ret = pinmm_create(&cfg, &eng);
	if (ret)
		return fail(r, "create", ret);
	ret = pinmm_mm_create(eng, &parent);
	if (ret) {
		out = fail(r, "mm_create", ret);
		goto out_engine;
	}
	ret = pinmm_mmap(parent, 0, PINMM_PAGE_SIZE,
			 PINMM_PROT_READ | PINMM_PROT_WRITE, PINMM_MAP_PRIVATE,
			 &addr);
	if (ret) {
		out = fail(r, "mmap", ret);
		goto out_mm;
	}
	ret = pinmm_store(parent, addr, &byte, 1);
	if (ret) {
		out = fail(r, "store", ret);
		goto out_mm;
	}
	ret = pinmm_pin(parent, &pin, addr, 1,
			PINMM_FOLL_WRITE | PINMM_FOLL_LONGTERM, false, pages);
	if (ret) {
		out = fail(r, "pin", ret);
		goto out_mm;
	}
	ret = pinmm_fork(parent, &child);
	if (ret) {
		out = fail(r, "fork", ret);
		goto out_unpin;
	}
	byte = AFTER;
	ret = pinmm_store(parent, addr, &byte, 1);
	if (ret) {
		out = fail(r, "store after fork", ret);
		goto out_unpin;
	}
	ret = pinmm_dev_read(&pin, 0, 0, &seen, 1);
	if (ret) {
		out = fail(r, "dev_read", ret);
		goto out_unpin;
	}
	r->seen = seen;
	out = seen == AFTER ? KEPT : LOST;

out_unpin:
	ret = pinmm_unpin(&pin);
	if (ret && out != FAILED)
		out = fail(r, "unpin", ret);
out_mm:
	if (child)
		pinmm_mm_exit(child);
	pinmm_mm_exit(parent);
out_engine:
	ret = pinmm_destroy(eng);
	if (ret && out != FAILED)
		out = fail(r, "destroy (frames leaked)", ret);
	return out;
}

int main(void)
{
	struct row rows[] = {
		{ .policy = "strict", .want = KEPT, .seen = -1 },
		{ .policy = "legacy", .want = LOST, .seen = -1 },
	};
	const size_t nr = sizeof(rows) / sizeof(rows[0]);
	bool as_declared = true;

	printf("pinmm %s: a R/W longterm pin across fork; the parent stores 0x%02x "
	       "over 0x%02x,\nthen the device reads through its pin.\n\n",
	       PINMM_VERSION, AFTER, BEFORE);
	printf("%-8s  %-12s  %-8s  %-8s  %s\n", "policy", "device read",
	       "result", "declared", "");
	for (size_t i = 0; i < nr; i++) {
		struct row *r = &rows[i];
		char seen[16] = "-";
		bool ok;

		r->got = run(r);
		ok = r->got == r->want;
		as_declared &= ok;
		if (r->seen >= 0)
			snprintf(seen, sizeof(seen), "0x%02x", r->seen);
		printf("%-8s  %-12s  %-8s  %-8s  %s%s%s\n", r->policy, seen,
		       outcome_str[r->got], outcome_str[r->want],
		       ok ? "ok" : "NOT AS DECLARED",
		       r->got == FAILED ? ": " : "",
		       r->got == FAILED ? r->detail : "");
	}
	printf("\n%s\n", as_declared
	       ? "as declared: strict keeps the pinned page, legacy loses it"
	       : "NOT as declared");
	return as_declared ? 0 : 1;
}
