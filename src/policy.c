/* SPDX-License-Identifier: MIT */
/*
 * policy.c - the fix switches of GUARANTEE.md: names, parsing, canonical
 * text and validation (include/pinmm/policy.h).
 *
 * Grammar (no whitespace anywhere):
 *	policy := base { "," change }
 *	base   := "strict" | "legacy"
 *	change := ("+" | "-") switch-name
 * Later changes override earlier ones ("strict,-ksm_clear_then_check,
 * +ksm_clear_then_check" is strict).
 */
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <pinmm/policy.h>

/*
 * One row per switch, in enum order. `implemented` says whether the engine
 * honours the switch being off yet; flip it when the engine learns it.
 */
static const struct {
	const char *name;
	bool implemented;
} switches[] = {
	[PINMM_SW_PIN_ACCOUNTING]		= { "pin_accounting",		  true  },
	[PINMM_SW_ANON_EXCLUSIVE]		= { "anon_exclusive",		  true  },
	[PINMM_SW_FORK_COPY_PINNED]		= { "fork_copy_pinned",		  true  },
	[PINMM_SW_GUP_FAST_RECHECK]		= { "gup_fast_recheck",		  true  },
	[PINMM_SW_FORK_GUP_FAST_SEQ]		= { "fork_gup_fast_seq",	  true  },
	[PINMM_SW_GUP_FAST_PMD_RECHECK]		= { "gup_fast_pmd_recheck",	  true  },
	[PINMM_SW_KSM_CLEAR_THEN_CHECK]		= { "ksm_clear_then_check",	  true  },
	[PINMM_SW_KHUGEPAGED_CLEAR_THEN_CHECK]	= { "khugepaged_clear_then_check", true  },
	[PINMM_SW_MIGRATE_REFUSES_PINNED]	= { "migrate_refuses_pinned",	  true  },
	[PINMM_SW_LONGTERM_UNMOVABLE]		= { "longterm_unmovable",	  true  },
	[PINMM_SW_RECLAIM_SKIPS_PINNED]		= { "reclaim_skips_pinned",	  true  },
	[PINMM_SW_UPROBE_WRITE_IN_PLACE]		= { "uprobe_write_in_place",	  true  },
	[PINMM_SW_RO_LONGTERM_COW_UNSHARE]	= { "ro_longterm_cow_unshare",	  true  },
	[PINMM_SW_SWP_EXCLUSIVE]		= { "swp_exclusive",		  true  },
	[PINMM_SW_LARGE_COW_REUSE]		= { "large_cow_reuse",		  true  },
};

static_assert(sizeof(switches) / sizeof(switches[0]) == PINMM_SW_NR,
	      "one row per enum pinmm_switch");
static_assert(PINMM_SW_NR < 32, "struct pinmm_policy holds 32 switches");

#define ALL_SWITCHES ((1u << PINMM_SW_NR) - 1)

static bool switch_valid(enum pinmm_switch s)
{
	return (unsigned)s < PINMM_SW_NR;
}

const char *pinmm_switch_name(enum pinmm_switch s)
{
	return switch_valid(s) ? switches[s].name : NULL;
}

int pinmm_switch_lookup(const char *name, size_t len)
{
	if (!name)
		return -EINVAL;
	for (int i = 0; i < PINMM_SW_NR; i++) {
		if (strlen(switches[i].name) == len &&
		    memcmp(switches[i].name, name, len) == 0)
			return i;
	}
	return -EINVAL;
}

bool pinmm_switch_implemented(enum pinmm_switch s)
{
	return switch_valid(s) && switches[s].implemented;
}

/* ------------------------------------------------------------ parse --- */

/* Longest part of an offending item quoted in a message. */
#define ITEM_QUOTE_MAX 64

__attribute__((format(printf, 3, 4)))
static int parse_error(char *err, size_t errlen, const char *fmt, ...)
{
	if (err && errlen > 0) {
		va_list ap;

		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
	       c == '\f';
}

/*
 * Check one item [item, item+len) starting at 1-based column col; shared by
 * the base and the changes so that both report the same way.
 */
static int check_item(const char *item, size_t len, size_t col, bool base,
		      char *err, size_t errlen)
{
	const char *what = base ? "policy base" : "policy item";
	int shown = len > ITEM_QUOTE_MAX ? ITEM_QUOTE_MAX : (int)len;
	const char *dots = len > ITEM_QUOTE_MAX ? "..." : "";

	if (len == 0)
		return parse_error(err, errlen,
				   "empty %s at column %zu: expected %s", what,
				   col,
				   base ? "'strict' or 'legacy'"
					: "'+name' or '-name'");
	for (size_t i = 0; i < len; i++) {
		if (is_space(item[i]))
			return parse_error(err, errlen,
					   "%s '%.*s%s' at column %zu: whitespace is not allowed",
					   what, shown, item, dots, col);
	}
	return 0;
}

int pinmm_policy_parse(const char *text, struct pinmm_policy *out,
		       char *err, size_t errlen)
{
	struct pinmm_policy p;
	const char *s, *end;
	size_t len;
	int ret;

	if (err && errlen > 0)
		err[0] = '\0';
	if (!text)
		return parse_error(err, errlen, "no policy given");

	/* the base: up to the first ',' */
	end = strchr(text, ',');
	len = end ? (size_t)(end - text) : strlen(text);
	ret = check_item(text, len, 1, true, err, errlen);
	if (ret)
		return ret;
	if (len == 6 && memcmp(text, "strict", 6) == 0) {
		p = PINMM_POLICY_STRICT;
	} else if (len == 6 && memcmp(text, "legacy", 6) == 0) {
		p = PINMM_POLICY_LEGACY;
	} else {
		int shown = len > ITEM_QUOTE_MAX ? ITEM_QUOTE_MAX : (int)len;

		return parse_error(err, errlen,
				   "unknown policy base '%.*s%s' at column 1: expected 'strict' or 'legacy'",
				   shown, text, len > ITEM_QUOTE_MAX ? "..." : "");
	}

	/* the changes */
	while (end) {
		int shown, sw;
		size_t col;
		const char *dots;

		s = end + 1;
		col = (size_t)(s - text) + 1;
		end = strchr(s, ',');
		len = end ? (size_t)(end - s) : strlen(s);
		ret = check_item(s, len, col, false, err, errlen);
		if (ret)
			return ret;
		shown = len > ITEM_QUOTE_MAX ? ITEM_QUOTE_MAX : (int)len;
		dots = len > ITEM_QUOTE_MAX ? "..." : "";
		if (s[0] != '+' && s[0] != '-')
			return parse_error(err, errlen,
					   "policy item '%.*s%s' at column %zu: expected '+' or '-' before the switch name",
					   shown, s, dots, col);
		if (len == 1)
			return parse_error(err, errlen,
					   "policy item '%c' at column %zu: expected a switch name after '%c'",
					   s[0], col, s[0]);
		sw = pinmm_switch_lookup(s + 1, len - 1);
		if (sw < 0)
			return parse_error(err, errlen,
					   "policy item '%.*s%s' at column %zu: unknown switch '%.*s%s'",
					   shown, s, dots, col,
					   len - 1 > ITEM_QUOTE_MAX ? ITEM_QUOTE_MAX : (int)(len - 1),
					   s + 1, len - 1 > ITEM_QUOTE_MAX ? "..." : "");
		if (s[0] == '+')
			p.on |= 1u << sw;
		else
			p.on &= ~(1u << sw);
	}

	if (out)
		*out = p;
	return 0;
}

/* ----------------------------------------------------------- format --- */

/* Append like snprintf: *pos counts every byte the full text needs. */
static void append(char *buf, size_t len, size_t *pos, const char *s)
{
	size_t n = strlen(s);

	if (*pos < len) {
		size_t room = len - 1 - *pos;	/* keep one byte for the NUL */
		size_t copy = n < room ? n : room;

		memcpy(buf + *pos, s, copy);
		buf[*pos + copy] = '\0';
	}
	*pos += n;
}

int pinmm_policy_format(struct pinmm_policy p, char *buf, size_t len)
{
	unsigned on = p.on & ALL_SWITCHES;
	unsigned nr_on = (unsigned)__builtin_popcount(on);
	/* the nearer base; a tie goes to strict */
	bool strict = PINMM_SW_NR - nr_on <= nr_on;
	size_t pos = 0;

	if (!buf)
		len = 0;
	if (len > 0)
		buf[0] = '\0';
	append(buf, len, &pos, strict ? "strict" : "legacy");
	for (int i = 0; i < PINMM_SW_NR; i++) {
		bool is_on = (on >> i) & 1u;

		if (is_on == strict)
			continue;
		append(buf, len, &pos, is_on ? ",+" : ",-");
		append(buf, len, &pos, switches[i].name);
	}
	return (int)pos;
}

/* --------------------------------------------------------- validate --- */

int pinmm_policy_validate(struct pinmm_policy p, enum pinmm_switch *bad)
{
	for (int i = 0; i < PINMM_SW_NR; i++) {
		if (!switches[i].implemented && !pinmm_policy_has(p, i)) {
			if (bad)
				*bad = i;
			return -EOPNOTSUPP;
		}
	}
	return 0;
}
