/* SPDX-License-Identifier: MIT */
/*
 * pinmm-soak: pinners, CPU writers, forkers, mixers (every public
 * operation at random) and every daemon thread against
 * one strict engine for a set time, with quiescent invariant checks; prints
 * ops/s and the breaks (bench/soak.h says what is checked). Exit status 0
 * when nothing broke and nothing leaked.
 *
 *   pinmm-soak [--seconds S] [--pinners N] [--writers N] [--forkers N] [--mixers N]
 *              [--check-every S] [--interval-us U] [--no-daemons] [--seed N]
 *              [--daemon-mask M]   (1 ksmd, 2 khugepaged, 4 kcompactd, 8 kswapd)
 */
#include "soak.h"

static void usage(void)
{
	fprintf(stderr,
		"usage: pinmm-soak [--seconds S] [--pinners N] [--writers N] [--forkers N] [--mixers N]\n"
		"                  [--check-every S] [--interval-us U] [--no-daemons] [--seed N]\n"
		"                  [--daemon-mask M]  (1 ksmd, 2 khugepaged, 4 kcompactd, 8 kswapd)\n");
}

int main(int argc, char **argv)
{
	struct soak_cfg cfg;
	struct soak_result res;

	soak_cfg_default(&cfg);
	cfg.seconds = 10;
	cfg.check_every = 2;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--no-daemons")) {
			cfg.daemons = false;
			continue;
		}
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage();
			return 0;
		}
		if (!v) {
			usage();
			return 2;
		}
		if (!strcmp(a, "--seconds"))
			cfg.seconds = strtod(v, NULL);
		else if (!strcmp(a, "--pinners"))
			cfg.pinners = (unsigned)strtoul(v, NULL, 0);
		else if (!strcmp(a, "--writers"))
			cfg.writers = (unsigned)strtoul(v, NULL, 0);
		else if (!strcmp(a, "--forkers"))
			cfg.forkers = (unsigned)strtoul(v, NULL, 0);
		else if (!strcmp(a, "--mixers"))
			cfg.mixers = (unsigned)strtoul(v, NULL, 0);
		else if (!strcmp(a, "--check-every"))
			cfg.check_every = strtod(v, NULL);
		else if (!strcmp(a, "--interval-us"))
			cfg.daemon_interval_us = (unsigned)strtoul(v, NULL, 0);
		else if (!strcmp(a, "--daemon-mask"))	/* 1 ksmd 2 khugepaged 4 kcompactd 8 kswapd */
			cfg.daemon_mask = (unsigned)strtoul(v, NULL, 0);
		else if (!strcmp(a, "--seed"))
			cfg.seed = strtoull(v, NULL, 0);
		else {
			usage();
			return 2;
		}
		i++;
	}
	if (cfg.pinners + cfg.writers + cfg.forkers + cfg.mixers > SOAK_MAX_THREADS) {
		fprintf(stderr, "pinmm-soak: at most %d worker threads\n", SOAK_MAX_THREADS);
		return 2;
	}
	printf("pinmm-soak: %.0f s, %u pinners, %u writers, %u forkers, %u mixers, daemons %s "
	       "(every %u us+), invariants every %.1f s, seed %llu\n",
	       cfg.seconds, cfg.pinners, cfg.writers, cfg.forkers, cfg.mixers,
	       cfg.daemons ? "on" : "off",
	       cfg.daemon_interval_us, cfg.check_every, (unsigned long long)cfg.seed);
	fflush(stdout);
	int r = soak_run(&cfg, &res);
	if (r < 0) {
		fprintf(stderr, "pinmm-soak: setup failed\n");
		return 2;
	}
	double s = res.seconds > 0 ? res.seconds : 1;
	printf("ran %.1f s: %lu ops (%.0f ops/s), %lu pins (%.0f/s), %lu page fills, %lu checked loads, "
	       "%lu forks, %lu quiescent invariant checks\n",
	       res.seconds, res.ops, res.ops / s, res.pins, res.pins / s, res.stores, res.loads,
	       res.forks, res.invariant_checks);
	if (cfg.mixers)
		printf("mixer operations that succeeded: %u of %d kinds\n", res.mix_ops_done,
		       SOAK_MIX_OPS);
	printf("breaks: %lu%s\n", res.breaks, res.leak ? " (leak)" : "");
	for (unsigned i = 0; i < res.kept; i++)
		printf("  %s\n", res.first[i]);
	return r ? 1 : 0;
}
