/* SPDX-License-Identifier: MIT */
/*
 * The interpreter's run-time state (internal to src/scenario/): what each
 * name of the scenario stands for on one engine.
 *
 * Names are global to the run: a region's address is the same in every
 * process (fork keeps addresses), a pin remembers the process it was taken
 * in and where in which region, so that after mremap it follows the pages
 * to the region they moved to. The tables are read and written under
 * rt->lock; engine calls are made outside it (the engine is thread-safe,
 * and a scenario thread may block in it).
 */
#ifndef PM_SCN_INTERP_H
#define PM_SCN_INTERP_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <pinmm/pinmm.h>

#include "../lang/ast.h"
#include "observe.h"

struct rt_region {
	uint64_t addr, len;
};

struct rt_pin {
	struct pinmm_pin h;
	struct pinmm_page **pages;	/* the largest pages= of this name */
	int region;			/* where it was taken ... */
	int64_t off;			/* ... moved along by mremap */
	int proc;
	unsigned line;
	bool taken;			/* ever taken: pages[] means something */
};

struct rt_proc {
	struct pinmm_mm *mm;		/* NULL until forked */
	bool exited;
};

/* The value a `read` / `dev-read` left for a following `expect read ==`. */

/* One flow of statements: main or a scenario thread. */
struct rt_ctx {
	struct rt *rt;
	const char *name;		/* "main" or the thread's name */
	struct rt_last read, dev_read;
	const struct stmt *cur;		/* the statement it is running */
	pthread_t tid;
	bool started;
};

struct rt {
	const struct pinmm_scenario *scn;
	struct pinmm *eng;
	FILE *trace;
	pthread_mutex_t lock;
	struct rt_region *regions;
	struct rt_pin *pins;
	struct rt_proc *procs;
	struct pinmm_file **files;
	struct rt_ctx main;
	struct rt_ctx *threads;
	bool *pending;			/* declared, not yet run */
	struct pinmm_scn_result *res;
	/* set once: a statement was unsupported, or an action failed; every
	 * flow stops at its next statement */
	_Atomic bool stop;
	bool unsupported;
	/* explore traces: the page-table entries named so far (interp_objects.c) */
	struct rt_entry_name *entries;
	unsigned nr_entries;
};

/* interp.c */
__attribute__((format(printf, 3, 4)))
void rt_fail(struct rt *rt, const struct stmt *st, const char *fmt, ...);
void rt_trace(struct rt_ctx *ctx, const struct stmt *st, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
struct pinmm_mm *rt_mm(struct rt *rt, int proc);
uint64_t rt_addr(struct rt *rt, struct scn_addr a);
const char *rt_errstr(int err);

/* The engine a scenario boots: the default one, with the movable zone its
 * `movablecore` line asks for (none without it). */
void scn_engine_config(const struct pinmm_scenario *scn, struct pinmm_config *cfg);

/* interp.c, for the explorer (scn_explore.c): a run in pieces. rt_start()
 * creates the engine (engine: its configuration, NULL the default) and
 * `main` (0 or -errno; nothing to release on error); rt_run_range() runs
 * statements [from, to) of a list in a flow (false: the flow stopped);
 * rt_end() is the end of the scenario (exits,
 * held pins, invariants, leaks; the engine is destroyed) and sets the
 * outcome; rt_release() frees the tables. */
int rt_start(struct rt *rt, const struct pinmm_scenario *scn,
	     const struct pinmm_scn_options *opt, struct pinmm_scn_result *res,
	     const struct pinmm_config *engine);
bool rt_run_range(struct rt_ctx *ctx, const struct stmt_list *list,
		  unsigned from, unsigned to);
void rt_end(struct rt *rt, bool completed);
void rt_release(struct rt *rt);

/* interp_objects.c (explore build): what an engine object met at a
 * preemption point is, named as the scenario knows it ("pte buf+4K",
 * "mmap_lock child", ...); "" when nothing names it */
void rt_name_object(struct rt *rt, const void *obj, char *buf, size_t len);

/* interp_ops.c: an action; 0 or a negative errno from the engine */
int rt_action(struct rt_ctx *ctx, const struct stmt *st);
/* interp_expect.c: an expectation, failures recorded with rt_fail() */
void rt_expect(struct rt_ctx *ctx, const struct stmt *st);

/* A chunked CPU load of [addr, addr+len): 0 or -errno; *last describes the
 * bytes (shared by `read` and `expect read`). */
int rt_load_range(struct pinmm_mm *mm, uint64_t addr, uint64_t len,
		  struct rt_last *last);
int rt_dev_read_range(const struct pinmm_pin *pin, unsigned long page,
		      uint64_t off, uint64_t len, struct rt_last *last);

#endif
