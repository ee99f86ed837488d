/* SPDX-License-Identifier: MIT */
/*
 * host_bench.c - `pinmm bench`: not built yet (the engine's own figures are
 * bench/pinmm-bench; docs/performance.md quotes HOST-FACTS for the kernel).
 */
#include <errno.h>

#include <pinmm/host.h>

int pinmm_host_bench(const struct pinmm_host_bench_options *opt, FILE *out)
{
	(void)opt;
	(void)out;
	fprintf(stderr, "pinmm bench: not built yet\n");
	return -ENOSYS;
}
