/* SPDX-License-Identifier: MIT */
/*
 * pinmm/host.h - the host backend: a parsed scenario run against the
 * running Linux kernel, and benchmarks of the engine and the kernel side by
 * side (docs/host-conformance.md, docs/performance.md).
 *
 * Library pinmm_scenario. Real mmap/munmap/mremap/mprotect/madvise/fork/
 * exit, one real process per scenario process (each a child driven over a
 * socket); a R/W pin is an io_uring fixed buffer (FOLL_PIN | FOLL_LONGTERM
 * | FOLL_WRITE), the device writes with READ_FIXED and reads with
 * WRITE_FIXED; a short-term R/O pin is an O_DIRECT write of the range (the
 * device reads it at pin time); a `get` is vmsplice into a pipe (FOLL_GET);
 * KSM through /sys/kernel/mm/ksm; MADV_COLLAPSE; pagemap and smaps for the
 * mapping expectations. What the kernel cannot express is skipped, with
 * the reason, never faked. Every sysfs setting changed is restored, also on
 * failure, SIGINT/SIGTERM/SIGALRM (timeout) and exit.
 */
#ifndef PINMM_HOST_H
#define PINMM_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <pinmm/scenario.h>

#ifdef __cplusplus
extern "C" {
#endif

enum pinmm_host_outcome {
	PINMM_HOST_PASS,	/* every expectation the kernel can express held */
	PINMM_HOST_FAIL,	/* an expectation or an action failed */
	PINMM_HOST_SKIP,	/* not run to the end: `skip` says why */
};

#define PINMM_HOST_MAX_NOTES 6

struct pinmm_host_result {
	enum pinmm_host_outcome outcome;
	/* failures as pinmm_scenario_run reports them (msgs, nr_failures) */
	struct pinmm_scn_result scn;
	/* SKIP: "STATEMENT (FILE:LINE): why", or the `host skip` text */
	char skip[PINMM_SCN_MSGLEN];
	/* expectations that cannot be observed on the kernel (pin counts,
	 * zones, invariants), skipped one by one while the rest ran */
	unsigned nr_skipped;
	/* how statements were expressed where it is not one to one, and the
	 * first skipped expectations */
	unsigned nr_notes;
	char notes[PINMM_HOST_MAX_NOTES][PINMM_SCN_MSGLEN];
};

struct pinmm_host_options {
	FILE *trace;		/* every statement and its result; NULL: none */
	unsigned timeout;	/* seconds; 0: none. On expiry the run restores
				 * everything and is reported as a failure */
	const char *tmpdir;	/* on a disk with O_DIRECT; NULL: $PINMM_HOST_TMPDIR,
				 * else /var/tmp */
};

/* Whether the host backend can run here at all: 0, or -errno with why
 * ("not root", "io_uring disabled (/proc/sys/kernel/io_uring_disabled=2)"). */
int pinmm_host_available(char *why, size_t len);

/* Run the scenario on the kernel. Returns 0 with *res filled; the process
 * must not be multi-threaded (it forks) and must not use SIGCHLD itself. */
int pinmm_host_run(const struct pinmm_scenario *scn,
		   const struct pinmm_host_options *opt,
		   struct pinmm_host_result *res);

/* Put back what a host run killed by SIGKILL, the OOM killer or a crash
 * left changed (its journal, /run/pinmm/journal: sysfs knobs, temp dir),
 * one line per knob on stderr. Every run does this first, under the lock;
 * this waits for the lock up to timeout seconds (0: for ever). The number
 * of knobs restored, or -errno (-EPERM: not root, -ETIMEDOUT). */
int pinmm_host_recover(unsigned timeout);

const char *pinmm_host_outcome_str(enum pinmm_host_outcome o);
int pinmm_host_report(FILE *out, const struct pinmm_scenario *scn,
		      const struct pinmm_host_result *res, bool json);

/* ------------------------------------------------------------ matrix --- */

/* The host column of `pinmm check`: one cell labelled "host" per row.
 * enabled false: each cell is n/a with why. Call after pinmm_matrix_plan,
 * before pinmm_matrix_run, which runs the cell (in its child process, with
 * the timeout) through pinmm_host_run_cell: the scenario runs on the kernel,
 * then on the engine under strict, and the cell says
 *   pass        both pass
 *   detected    both fail (the kernel agrees with the engine)
 *   skipped     the kernel cannot express a step (n/a, reason given)
 *   DISAGREES   one passes, the other fails (UNEXPECTED)          */
void pinmm_host_plan(struct pinmm_matrix *m, bool enabled, const char *why,
		     unsigned timeout);
bool pinmm_host_cell(const struct pinmm_cell *c);
void pinmm_host_run_cell(const struct pinmm_scenario *scn, struct pinmm_cell *c);
/* What a host cell shows: pass, detected, skipped, DISAGREES. */
const char *pinmm_host_cell_text(const struct pinmm_cell *c);

/* ------------------------------------------------------------- bench --- */

struct pinmm_host_bench_options {
	int reps;		/* repetitions per figure (median), default 5 */
	bool json;
	const char *plot;	/* an SVG bar chart of the per-page costs, engine
				 * vs host, via gnuplot; NULL: none */
	bool quick;		/* smaller sizes (tests) */
};

/* `pinmm bench`: engine and kernel side by side, ratios, goals
 * (src/host/host_bench.c, docs/performance.md). 0 when every goal is
 * met, 1 when one is missed, 4 when none is missed but one could not be
 * assessed (host side skipped: not root, no io_uring), -errno on error. */
int pinmm_host_bench(const struct pinmm_host_bench_options *opt, FILE *out);

/* -------------------------------------------------------------- CLI --- */

/* `pinmm host FILE...` and `pinmm bench` (argv[0] is the verb); exit
 * status as docs/pinmm.1 says. */
int pinmm_host_cmd(int argc, char **argv);
int pinmm_host_cmd_bench(int argc, char **argv);
/* The process `pinmm bench` execs to time the host's forks in an address
 * space that holds nothing but the region (argv: verb, length, reps, fd). */
int pinmm_host_bench_fork_child(int argc, char **argv);
/* `pinmm check`'s host column: mode 1 --host, 0 --no-host, -1 default
 * (included when the backend can run here, else skipped with the reason) */
void pinmm_host_check_plan(struct pinmm_matrix *m, int mode, unsigned timeout);

#ifdef __cplusplus
}
#endif
#endif
