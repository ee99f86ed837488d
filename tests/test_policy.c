/* SPDX-License-Identifier: MIT */
/*
 * test_policy.c - the policy API (include/pinmm/policy.h): switch names,
 * parsing with its error messages and columns, canonical formatting and
 * validation.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <pinmm/policy.h>

/* GUARANTEE.md's switch table, in enum order. */
static const char *const names[PINMM_SW_NR] = {
	"pin_accounting",
	"anon_exclusive",
	"fork_copy_pinned",
	"gup_fast_recheck",
	"fork_gup_fast_seq",
	"gup_fast_pmd_recheck",
	"ksm_clear_then_check",
	"khugepaged_clear_then_check",
	"migrate_refuses_pinned",
	"longterm_unmovable",
	"reclaim_skips_pinned",
	"uprobe_write_in_place",
	"ro_longterm_cow_unshare",
	"swp_exclusive",
	"large_cow_reuse",
};

#define ALL ((1u << PINMM_SW_NR) - 1)

/* ------------------------------------------------------------ names --- */

static void test_switch_names(void **state)
{
	(void)state;
	for (int i = 0; i < PINMM_SW_NR; i++)
		assert_string_equal(pinmm_switch_name(i), names[i]);
	assert_null(pinmm_switch_name(PINMM_SW_NR));
	assert_null(pinmm_switch_name(PINMM_SW_NR + 7));
	assert_null(pinmm_switch_name((enum pinmm_switch)-1));
}

static void test_switch_lookup(void **state)
{
	(void)state;
	for (int i = 0; i < PINMM_SW_NR; i++)
		assert_int_equal(pinmm_switch_lookup(names[i], strlen(names[i])), i);

	/* the length counts, not a NUL */
	assert_int_equal(pinmm_switch_lookup("pin_accountingXYZ", 14),
			 PINMM_SW_PIN_ACCOUNTING);
	assert_int_equal(pinmm_switch_lookup("anon_exclusive,+x", 14),
			 PINMM_SW_ANON_EXCLUSIVE);
	/* prefixes and extensions are not names */
	assert_int_equal(pinmm_switch_lookup("pin_accounting", 13), -EINVAL);
	assert_int_equal(pinmm_switch_lookup("pin_accounting_", 15), -EINVAL);
	assert_int_equal(pinmm_switch_lookup("gup_fast", 8), -EINVAL);
	/* case matters */
	assert_int_equal(pinmm_switch_lookup("PIN_ACCOUNTING", 14), -EINVAL);
	/* nothing */
	assert_int_equal(pinmm_switch_lookup("", 0), -EINVAL);
	assert_int_equal(pinmm_switch_lookup(NULL, 0), -EINVAL);
	assert_int_equal(pinmm_switch_lookup("strict", 6), -EINVAL);
}

static void test_switch_implemented(void **state)
{
	(void)state;
	/* the first five are implemented and stay so */
	for (int i = PINMM_SW_PIN_ACCOUNTING; i <= PINMM_SW_FORK_GUP_FAST_SEQ; i++)
		assert_true(pinmm_switch_implemented(i));
	assert_false(pinmm_switch_implemented(PINMM_SW_NR));
	assert_false(pinmm_switch_implemented((enum pinmm_switch)-1));
}

/* ----------------------------------------------------------- parse --- */

static struct pinmm_policy parse_ok(const char *text)
{
	struct pinmm_policy p = { .on = 0xdeadbeef };
	char err[256] = "untouched";

	int ret = pinmm_policy_parse(text, &p, err, sizeof(err));
	if (ret != 0)
		fail_msg("parse(\"%s\") = %d: %s", text, ret, err);
	assert_int_equal(p.on & ~ALL, 0);
	return p;
}

/* Parsing text fails with -EINVAL, leaves the output alone, and the message
 * names the item and the column. */
static void parse_bad(const char *text, const char *item, unsigned col)
{
	struct pinmm_policy p = { .on = 0x5a5a };
	char err[256] = "";
	char colstr[32];

	int ret = pinmm_policy_parse(text, &p, err, sizeof(err));
	if (ret != -EINVAL)
		fail_msg("parse(\"%s\") = %d, expected -EINVAL", text, ret);
	assert_int_equal(p.on, 0x5a5a);
	if (item && !strstr(err, item))
		fail_msg("parse(\"%s\"): message \"%s\" does not name \"%s\"",
			 text, err, item);
	snprintf(colstr, sizeof(colstr), "column %u:", col);
	if (!strstr(err, colstr))
		fail_msg("parse(\"%s\"): message \"%s\" lacks \"%s\"", text,
			 err, colstr);
}

static void test_parse_bases(void **state)
{
	(void)state;
	assert_int_equal(parse_ok("strict").on, ALL);
	assert_int_equal(parse_ok("legacy").on, 0);
	assert_int_equal(parse_ok("strict").on, PINMM_POLICY_STRICT.on);
	assert_int_equal(parse_ok("legacy").on, PINMM_POLICY_LEGACY.on);
}

static void test_parse_every_switch(void **state)
{
	(void)state;
	for (int i = 0; i < PINMM_SW_NR; i++) {
		char text[128];
		struct pinmm_policy p;

		snprintf(text, sizeof(text), "strict,-%s", names[i]);
		p = parse_ok(text);
		assert_int_equal(p.on, ALL & ~(1u << i));
		assert_false(pinmm_policy_has(p, i));

		snprintf(text, sizeof(text), "legacy,+%s", names[i]);
		p = parse_ok(text);
		assert_int_equal(p.on, 1u << i);
		assert_true(pinmm_policy_has(p, i));

		/* no-op changes are allowed */
		snprintf(text, sizeof(text), "strict,+%s", names[i]);
		assert_int_equal(parse_ok(text).on, ALL);
		snprintf(text, sizeof(text), "legacy,-%s", names[i]);
		assert_int_equal(parse_ok(text).on, 0);
	}
}

static void test_parse_changes_in_order(void **state)
{
	(void)state;
	/* later items win */
	assert_int_equal(parse_ok("strict,-anon_exclusive,+anon_exclusive").on, ALL);
	assert_int_equal(parse_ok("legacy,+anon_exclusive,-anon_exclusive").on, 0);
	assert_int_equal(parse_ok("strict,-ksm_clear_then_check,-anon_exclusive").on,
			 ALL & ~(1u << PINMM_SW_KSM_CLEAR_THEN_CHECK) &
				 ~(1u << PINMM_SW_ANON_EXCLUSIVE));
	assert_int_equal(parse_ok("legacy,+pin_accounting,+uprobe_write_in_place").on,
			 (1u << PINMM_SW_PIN_ACCOUNTING) |
				 (1u << PINMM_SW_UPROBE_WRITE_IN_PLACE));

	/* every switch turned off one by one from strict ends as legacy */
	char text[1024] = "strict";
	for (int i = 0; i < PINMM_SW_NR; i++) {
		strcat(text, ",-");
		strcat(text, names[i]);
	}
	assert_int_equal(parse_ok(text).on, 0);
}

static void test_parse_out_optional(void **state)
{
	(void)state;
	char err[64];

	assert_int_equal(pinmm_policy_parse("strict", NULL, NULL, 0), 0);
	assert_int_equal(pinmm_policy_parse("bogus", NULL, NULL, 0), -EINVAL);
	/* errlen 0: err is not written */
	err[0] = 'X';
	assert_int_equal(pinmm_policy_parse("bogus", NULL, err, 0), -EINVAL);
	assert_int_equal(err[0], 'X');
	/* success clears the message */
	strcpy(err, "stale");
	assert_int_equal(pinmm_policy_parse("legacy", NULL, err, sizeof(err)), 0);
	assert_string_equal(err, "");
}

static void test_parse_errors(void **state)
{
	(void)state;
	/* the base */
	parse_bad("", NULL, 1);
	parse_bad(",+anon_exclusive", NULL, 1);
	parse_bad("Strict", "'Strict'", 1);
	parse_bad("STRICT", "'STRICT'", 1);
	parse_bad("stric", "'stric'", 1);
	parse_bad("strictly", "'strictly'", 1);
	parse_bad("legacy2", "'legacy2'", 1);
	parse_bad("+anon_exclusive", "'+anon_exclusive'", 1);
	parse_bad("anon_exclusive", "'anon_exclusive'", 1);
	parse_bad("strict;-anon_exclusive", "'strict;-anon_exclusive'", 1);

	/* empty items */
	parse_bad("strict,", NULL, 8);
	parse_bad("legacy,,+pin_accounting", NULL, 8);
	parse_bad("strict,-anon_exclusive,", NULL, 24);
	parse_bad("strict,-anon_exclusive,,-pin_accounting", NULL, 24);

	/* missing sign */
	parse_bad("strict,anon_exclusive", "'anon_exclusive'", 8);
	parse_bad("legacy,+pin_accounting,anon_exclusive", "'anon_exclusive'", 24);
	parse_bad("strict,!anon_exclusive", "'!anon_exclusive'", 8);
	parse_bad("strict,strict", "'strict'", 8);

	/* sign without a name */
	parse_bad("strict,+", "'+'", 8);
	parse_bad("strict,-", "'-'", 8);
	parse_bad("strict,-,+anon_exclusive", "'-'", 8);

	/* unknown switch */
	parse_bad("strict,-nope", "'-nope'", 8);
	parse_bad("strict,-nope", "'nope'", 8);
	parse_bad("legacy,+Pin_accounting", "'+Pin_accounting'", 8);
	parse_bad("strict,-anon_exclusive,+bogus", "'+bogus'", 24);
	parse_bad("strict,--anon_exclusive", "'--anon_exclusive'", 8);
	parse_bad("strict,+-anon_exclusive", "'+-anon_exclusive'", 8);
	parse_bad("strict,-anon_exclusiv", "'-anon_exclusiv'", 8);
	parse_bad("strict,-anon_exclusivee", "'-anon_exclusivee'", 8);
	parse_bad("strict,-legacy", "'-legacy'", 8);

	/* whitespace anywhere */
	parse_bad(" strict", "' strict'", 1);
	parse_bad("strict ", "'strict '", 1);
	parse_bad("strict\n", NULL, 1);
	parse_bad("strict, -anon_exclusive", "' -anon_exclusive'", 8);
	parse_bad("strict,- anon_exclusive", "'- anon_exclusive'", 8);
	parse_bad("strict,-anon_exclusive ", "'-anon_exclusive '", 8);
	parse_bad("strict,-anon_exclusive,\t+x", NULL, 24);
	parse_bad("strict,-anon_exclusive ,-pin_accounting", "'-anon_exclusive '", 8);

	/* the first bad item is the one reported */
	parse_bad("strict,-nope,-also_nope", "'-nope'", 8);
	parse_bad("strict,-anon_exclusive,-nope,", "'-nope'", 24);
}

static void test_parse_error_messages(void **state)
{
	(void)state;
	char err[256];
	struct pinmm_policy p;

	assert_int_equal(pinmm_policy_parse(NULL, &p, err, sizeof(err)), -EINVAL);
	assert_true(strlen(err) > 0);

	assert_int_equal(pinmm_policy_parse("strict,-nope", &p, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "policy item '-nope' at column 8: unknown switch 'nope'");

	assert_int_equal(pinmm_policy_parse("normal", &p, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "unknown policy base 'normal' at column 1: "
				 "expected 'strict' or 'legacy'");

	/* a small buffer truncates and stays terminated */
	char small[12];
	memset(small, 'X', sizeof(small));
	assert_int_equal(pinmm_policy_parse("strict,-nope", &p, small, sizeof(small)),
			 -EINVAL);
	assert_int_equal(strlen(small), sizeof(small) - 1);

	/* a long item is quoted in part */
	char longtext[400] = "strict,-";
	memset(longtext + 8, 'z', 300);
	longtext[308] = '\0';
	assert_int_equal(pinmm_policy_parse(longtext, &p, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "column 8:"));
	assert_non_null(strstr(err, "..."));
	assert_true(strlen(err) < sizeof(err) - 1);
}

/* ---------------------------------------------------------- format --- */

static void format_is(struct pinmm_policy p, const char *want)
{
	char buf[512];
	int n = pinmm_policy_format(p, buf, sizeof(buf));

	assert_string_equal(buf, want);
	assert_int_equal(n, (int)strlen(want));
}

static void test_format_bases(void **state)
{
	(void)state;
	format_is(PINMM_POLICY_STRICT, "strict");
	format_is(PINMM_POLICY_LEGACY, "legacy");
	/* bits beyond the known switches are not policy */
	format_is((struct pinmm_policy){ .on = ~0u }, "strict");
	format_is((struct pinmm_policy){ .on = ~ALL }, "legacy");
}

static void test_format_every_switch(void **state)
{
	(void)state;
	for (int i = 0; i < PINMM_SW_NR; i++) {
		char want[128];

		snprintf(want, sizeof(want), "strict,-%s", names[i]);
		format_is((struct pinmm_policy){ .on = ALL & ~(1u << i) }, want);
		snprintf(want, sizeof(want), "legacy,+%s", names[i]);
		format_is((struct pinmm_policy){ .on = 1u << i }, want);
	}
}

static void test_format_nearer_base(void **state)
{
	(void)state;
	/* changes listed in enum order, whatever order they were parsed in */
	format_is(parse_ok("strict,-ksm_clear_then_check,-anon_exclusive"),
		  "strict,-anon_exclusive,-ksm_clear_then_check");
	format_is(parse_ok("legacy,+uprobe_write_in_place,+pin_accounting"),
		  "legacy,+pin_accounting,+uprobe_write_in_place");

	/* 5 on, 9 off: legacy is nearer */
	format_is((struct pinmm_policy){ .on = 0x1f },
		  "legacy,+pin_accounting,+anon_exclusive,+fork_copy_pinned,"
		  "+gup_fast_recheck,+fork_gup_fast_seq");
	/* 9 on, 5 off: strict is nearer */
	format_is((struct pinmm_policy){ .on = ALL & ~0x1fu },
		  "strict,-pin_accounting,-anon_exclusive,-fork_copy_pinned,"
		  "-gup_fast_recheck,-fork_gup_fast_seq");
	/* 6 on, 8 off: legacy by two */
	format_is((struct pinmm_policy){ .on = 0x3f },
		  "legacy,+pin_accounting,+anon_exclusive,+fork_copy_pinned,"
		  "+gup_fast_recheck,+fork_gup_fast_seq,+gup_fast_pmd_recheck");
	/* 8 on, 7 off: strict is nearer */
	format_is((struct pinmm_policy){ .on = 0xff },
		  "strict,-migrate_refuses_pinned,"
		  "-longterm_unmovable,-reclaim_skips_pinned,-uprobe_write_in_place,"
		  "-ro_longterm_cow_unshare,-swp_exclusive,-large_cow_reuse");
	/* 7 on, 8 off: legacy is nearer */
	format_is((struct pinmm_policy){ .on = 0x7f },
		  "legacy,+pin_accounting,+anon_exclusive,+fork_copy_pinned,"
		  "+gup_fast_recheck,+fork_gup_fast_seq,+gup_fast_pmd_recheck,"
		  "+ksm_clear_then_check");
}

/* Every one of the 32768 policies: format, parse back, same policy; the text
 * never has more changes than the other base would need. */
static void test_format_round_trip_all(void **state)
{
	(void)state;
	for (uint32_t on = 0; on <= ALL; on++) {
		struct pinmm_policy p = { .on = on }, q;
		char buf[512], err[256];
		int n = pinmm_policy_format(p, buf, sizeof(buf));
		int nr_on = __builtin_popcount(on);
		int changes = 0;

		assert_true(n > 0 && n < (int)sizeof(buf));
		assert_int_equal(n, (int)strlen(buf));
		for (const char *c = buf; *c; c++)
			changes += *c == ',';
		assert_int_equal(changes, nr_on * 2 >= PINMM_SW_NR
					  ? PINMM_SW_NR - nr_on : nr_on);
		if (pinmm_policy_parse(buf, &q, err, sizeof(err)) != 0)
			fail_msg("format(%#x) = \"%s\" does not parse: %s", on, buf, err);
		assert_int_equal(q.on, on);

		/* and the canonical text is a fixed point */
		char again[512];
		pinmm_policy_format(q, again, sizeof(again));
		assert_string_equal(again, buf);
	}
}

static void test_format_snprintf(void **state)
{
	(void)state;
	struct pinmm_policy p = parse_ok("strict,-anon_exclusive");
	const char *full = "strict,-anon_exclusive";
	int need = (int)strlen(full);
	char buf[64];

	/* size query */
	assert_int_equal(pinmm_policy_format(p, NULL, 0), need);
	memset(buf, 'X', sizeof(buf));
	assert_int_equal(pinmm_policy_format(p, buf, 0), need);
	assert_int_equal(buf[0], 'X');

	/* every truncation keeps a terminated prefix and reports the need */
	for (size_t len = 1; len <= (size_t)need + 1; len++) {
		memset(buf, 'X', sizeof(buf));
		assert_int_equal(pinmm_policy_format(p, buf, len), need);
		assert_int_equal(strlen(buf), len - 1);
		assert_memory_equal(buf, full, len - 1);
		assert_int_equal(buf[len], 'X');	/* nothing past len */
	}

	/* a base alone, in a buffer too small for it */
	memset(buf, 'X', sizeof(buf));
	assert_int_equal(pinmm_policy_format(PINMM_POLICY_LEGACY, buf, 4), 6);
	assert_string_equal(buf, "leg");
}

/* -------------------------------------------------------- validate --- */

static void test_validate_bases(void **state)
{
	(void)state;
	enum pinmm_switch bad = PINMM_SW_NR;
	int first_unimpl = -1;

	for (int i = 0; i < PINMM_SW_NR && first_unimpl < 0; i++)
		if (!pinmm_switch_implemented(i))
			first_unimpl = i;

	assert_int_equal(pinmm_policy_validate(PINMM_POLICY_STRICT, &bad), 0);
	assert_int_equal(bad, PINMM_SW_NR);	/* untouched on success */
	assert_int_equal(pinmm_policy_validate(PINMM_POLICY_STRICT, NULL), 0);

	if (first_unimpl < 0) {
		assert_int_equal(pinmm_policy_validate(PINMM_POLICY_LEGACY, &bad), 0);
	} else {
		assert_int_equal(pinmm_policy_validate(PINMM_POLICY_LEGACY, &bad),
				 -EOPNOTSUPP);
		assert_int_equal(bad, first_unimpl);
		assert_int_equal(pinmm_policy_validate(PINMM_POLICY_LEGACY, NULL),
				 -EOPNOTSUPP);
	}
}

static void test_validate_each_switch(void **state)
{
	(void)state;
	for (int i = 0; i < PINMM_SW_NR; i++) {
		struct pinmm_policy off = { .on = ALL & ~(1u << i) };
		enum pinmm_switch bad = PINMM_SW_NR;

		if (pinmm_switch_implemented(i)) {
			assert_int_equal(pinmm_policy_validate(off, &bad), 0);
		} else {
			assert_int_equal(pinmm_policy_validate(off, &bad), -EOPNOTSUPP);
			assert_int_equal(bad, i);
		}
	}
}

static void test_validate_first_bad(void **state)
{
	(void)state;
	/* with several unimplemented switches off, the first in enum order */
	for (uint32_t on = 0; on <= ALL; on++) {
		struct pinmm_policy p = { .on = on };
		enum pinmm_switch bad = PINMM_SW_NR;
		int want = -1;

		for (int i = 0; i < PINMM_SW_NR && want < 0; i++)
			if (!pinmm_switch_implemented(i) && !pinmm_policy_has(p, i))
				want = i;
		if (want < 0) {
			assert_int_equal(pinmm_policy_validate(p, &bad), 0);
		} else {
			assert_int_equal(pinmm_policy_validate(p, &bad), -EOPNOTSUPP);
			assert_int_equal(bad, want);
		}
	}
}

static void test_validate_implemented_mix(void **state)
{
	(void)state;
	/* only implemented switches off: valid */
	struct pinmm_policy p = parse_ok("strict,-pin_accounting,-anon_exclusive,"
					 "-fork_copy_pinned,-gup_fast_recheck,"
					 "-fork_gup_fast_seq");
	assert_int_equal(pinmm_policy_validate(p, NULL), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_switch_names),
		cmocka_unit_test(test_switch_lookup),
		cmocka_unit_test(test_switch_implemented),
		cmocka_unit_test(test_parse_bases),
		cmocka_unit_test(test_parse_every_switch),
		cmocka_unit_test(test_parse_changes_in_order),
		cmocka_unit_test(test_parse_out_optional),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_parse_error_messages),
		cmocka_unit_test(test_format_bases),
		cmocka_unit_test(test_format_every_switch),
		cmocka_unit_test(test_format_nearer_base),
		cmocka_unit_test(test_format_round_trip_all),
		cmocka_unit_test(test_format_snprintf),
		cmocka_unit_test(test_validate_bases),
		cmocka_unit_test(test_validate_each_switch),
		cmocka_unit_test(test_validate_first_bad),
		cmocka_unit_test(test_validate_implemented_mix),
	};
	return cmocka_run_group_tests_name("policy", tests, NULL, NULL);
}
