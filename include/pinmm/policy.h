/* SPDX-License-Identifier: MIT */
/*
 * pinmm/policy.h - the fix switches of GUARANTEE.md.
 *
 * Each switch closes one historical failure of Linux's GUP guarantee.
 * `strict` turns every switch on, `legacy` every switch off; any mix can be
 * written as "strict,-ksm_clear_then_check" or "legacy,+pin_accounting".
 */
#ifndef PINMM_POLICY_H
#define PINMM_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum pinmm_switch {
	PINMM_SW_PIN_ACCOUNTING,		/* pins counted apart from refs */
	PINMM_SW_ANON_EXCLUSIVE,		/* COW reuse by anon-exclusive bit */
	PINMM_SW_FORK_COPY_PINNED,		/* fork copies pinned pages early */
	PINMM_SW_GUP_FAST_RECHECK,		/* GUP-fast re-reads the entry */
	PINMM_SW_FORK_GUP_FAST_SEQ,		/* GUP-fast honours mm->write_protect_seq */
	PINMM_SW_GUP_FAST_PMD_RECHECK,		/* GUP-fast re-reads the PMD too */
	PINMM_SW_KSM_CLEAR_THEN_CHECK,
	PINMM_SW_KHUGEPAGED_CLEAR_THEN_CHECK,
	PINMM_SW_MIGRATE_REFUSES_PINNED,
	PINMM_SW_LONGTERM_UNMOVABLE,
	PINMM_SW_RECLAIM_SKIPS_PINNED,
	PINMM_SW_UPROBE_WRITE_IN_PLACE,
	PINMM_SW_RO_LONGTERM_COW_UNSHARE,	/* R/O longterm pins unshare non-anon pages of COW mappings */
	PINMM_SW_SWP_EXCLUSIVE,			/* swap entries remember PG_anon_exclusive */
	PINMM_SW_LARGE_COW_REUSE,		/* COW reuses a page of a large folio only this mm maps */
	PINMM_SW_NR
};

/* A policy: bit i set = switch i on. */
struct pinmm_policy {
	uint32_t on;
};

#define PINMM_POLICY_STRICT ((struct pinmm_policy){ .on = (1u << PINMM_SW_NR) - 1 })
#define PINMM_POLICY_LEGACY ((struct pinmm_policy){ .on = 0 })

static inline bool pinmm_policy_has(struct pinmm_policy p, enum pinmm_switch s)
{
	return (p.on >> s) & 1u;
}

/* "pin_accounting", ... ; NULL when out of range. */
const char *pinmm_switch_name(enum pinmm_switch s);

/* Switch by name (len bytes of name); -EINVAL when unknown or NULL. */
int pinmm_switch_lookup(const char *name, size_t len);

/* Whether the engine implements the switch yet (an unimplemented switch may
 * not be turned off: the engine would silently ignore it). */
bool pinmm_switch_implemented(enum pinmm_switch s);

/*
 * Parse "strict", "legacy", optionally followed by ",+name" / ",-name" items.
 * Returns 0, or -EINVAL with a message in err (if errlen > 0) naming the
 * offending item and its column (1-based) in text.
 */
int pinmm_policy_parse(const char *text, struct pinmm_policy *out,
		       char *err, size_t errlen);

/*
 * Canonical text of a policy: "strict", "legacy", or the nearer of the two
 * followed by its changes ("strict,-anon_exclusive"). Returns the length
 * that the full text needs (snprintf-style).
 */
int pinmm_policy_format(struct pinmm_policy p, char *buf, size_t len);

/* 0 when every switch turned off in p is implemented, else -EOPNOTSUPP and
 * *bad set to the first unimplemented switch that is off. */
int pinmm_policy_validate(struct pinmm_policy p, enum pinmm_switch *bad);

#ifdef __cplusplus
}
#endif
#endif
