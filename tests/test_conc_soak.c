/* SPDX-License-Identifier: MIT */
/*
 * tests/test_conc_soak.c - the soak loop of bench/pinmm-soak (bench/soak.h)
 * for a few seconds: pinners, CPU writers, forkers and every daemon thread
 * against one strict engine, quiescent invariant checks on the way, zero
 * breaks and zero leaked frames at the end. Labelled concurrency, so the
 * TSan build runs it too. PINMM_SOAK_SECONDS overrides the length.
 */
#include "helpers.h"

#include "../bench/soak.h"

static void report(const struct soak_result *res)
{
	double s = res->seconds > 0 ? res->seconds : 1;
	print_message("    %.1f s: %lu ops (%.0f/s), %lu pins, %lu forks, %lu invariant checks, "
		      "%lu breaks%s\n",
		      res->seconds, res->ops, res->ops / s, res->pins, res->forks,
		      res->invariant_checks, res->breaks, res->leak ? ", LEAK" : "");
	for (unsigned i = 0; i < res->kept; i++)
		print_error("    break: %s\n", res->first[i]);
}

static double cfg_seconds(double def)
{
	const char *e = getenv("PINMM_SOAK_SECONDS");
	double v = e ? strtod(e, NULL) : 0;
	return v > 0 ? v : def;
}

static void soak_everything(void **state)
{
	(void)state;
	struct soak_cfg cfg;
	struct soak_result res;

	soak_cfg_default(&cfg);
	cfg.seconds = cfg_seconds(3.0);
	cfg.check_every = cfg.seconds / 6;
	int r = soak_run(&cfg, &res);
	report(&res);
	assert_true(r >= 0);
	assert_int_equal(res.breaks, 0);
	assert_false(res.leak);
	assert_true(res.pins > 0);
	assert_true(res.invariant_checks >= 3);
}

/* the same without daemons: pins against forks and writers alone */
static void soak_without_daemons(void **state)
{
	(void)state;
	struct soak_cfg cfg;
	struct soak_result res;

	soak_cfg_default(&cfg);
	cfg.seconds = cfg_seconds(3.0) / 3;
	cfg.check_every = cfg.seconds / 3;
	cfg.daemons = false;
	cfg.seed = 7;
	int r = soak_run(&cfg, &res);
	report(&res);
	assert_true(r >= 0);
	assert_int_equal(res.breaks, 0);
	assert_false(res.leak);
}

/*
 * The random-operation test: mixers alone, every public operation at
 * random with pins held across them, every daemon thread; each kind of
 * operation must have succeeded at least once.
 */
static void soak_mixers(void **state)
{
	(void)state;
	struct soak_cfg cfg;
	struct soak_result res;

	soak_cfg_default(&cfg);
	cfg.seconds = cfg_seconds(3.0);
	cfg.check_every = cfg.seconds / 4;
	cfg.pinners = cfg.writers = cfg.forkers = 0;
	cfg.mixers = 4;
	cfg.seed = 11;
	/* a sanitizer build may need longer for every kind to succeed */
	cfg.mix_ops_deadline = 10 * cfg.seconds;
	int r = soak_run(&cfg, &res);
	report(&res);
	print_message("    mixer operations that succeeded: %u of %d kinds\n", res.mix_ops_done,
		      SOAK_MIX_OPS);
	assert_true(r >= 0);
	assert_int_equal(res.breaks, 0);
	assert_false(res.leak);
	assert_int_equal(res.mix_ops_done, SOAK_MIX_OPS);
}

int main(void)
{
	tests_filter_from_env();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(soak_everything),
		cmocka_unit_test(soak_without_daemons),
		cmocka_unit_test(soak_mixers),
	};
	return cmocka_run_group_tests_name("conc_soak", tests, NULL, NULL);
}
