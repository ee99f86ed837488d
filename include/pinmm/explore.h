/* SPDX-License-Identifier: MIT */
/*
 * pinmm/explore.h - the deterministic explorer.
 *
 * Runs a set of threads against the engine one step at a time under a
 * controlled scheduler: a step ends at every preemption point of the
 * engine (entry reads and writes, count updates, the write-protect
 * sequence, lock acquire and release). The same schedule gives the same
 * execution, byte for byte, so a failing interleaving is found once and
 * replayed at will.
 *
 * Strategies: depth-first search of every schedule with at most `bound`
 * preemptions (CHESS: a preemption is a switch away from a thread that
 * could have gone on), in order of increasing bound, so the first failure
 * found has the fewest preemptions — by default with partial-order
 * reduction (one schedule of each class that differ only in the order of
 * independent steps), or plain; and randomised priority scheduling (PCT)
 * with a seed and a depth, for larger scenarios.
 *
 * These functions exist in the explore build of the engine (the
 * libpinmm_explore archive, built with PINMM_EXPLORE), where preemption
 * points are compiled in; the normal library has none.
 */
#ifndef PINMM_EXPLORE_H
#define PINMM_EXPLORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The explorer's limits, checked here and by every front end that feeds
 * it (the scenario parser refuses `explore bound=` and `run`s beyond them):
 * threads per execution, and preemptions per schedule for DFS (the number
 * of schedules grows exponentially with the bound). */
#define PINMM_EXPLORE_MAX_THREADS 8
#define PINMM_EXPLORE_MAX_BOUND 16
/* cfg.bound: no bound, every interleaving (DFS strategies only) */
#define PINMM_EXPLORE_UNBOUNDED 0xffffffffu

/* One step of a trace. Nothing in it is an address: the same schedule
 * gives the same trace, byte for byte, in every process. */
struct pinmm_trace_event {
	unsigned step;		/* decision index */
	unsigned thread;
	const char *point;	/* "pte-read", "ref-get", "lock", ... */
	unsigned object;	/* small id, in order of first appearance */
	uint64_t value;		/* an entry pointing to a table: its flags only */
	unsigned line;		/* the source line the thread was at (0: unknown) */
	char what[64];		/* the object: "pte buf+4K", "mmap_lock main", ... */
	char value_text[40];	/* the value in words: "pfn 0x601 write,dirty", "2" */
};

/* What one execution runs. setup() builds fresh state (an engine, its
 * mms...) for each execution; thread(state, i) is thread i's work;
 * check() judges the finished execution: 0 as expected, else a failure
 * described in msg; teardown() frees the state. */
struct pinmm_explore_ops {
	unsigned nr_threads;
	void *(*setup)(void *ctx);
	void (*thread)(void *state, unsigned tid);
	int (*check)(void *state, char *msg, size_t len);
	void (*teardown)(void *state);
	/* optional: name a traced step's object (e->what) and the source line
	 * thread tid is at (e->line), as the caller knows them; called on that
	 * thread at the preemption point, every other thread stopped. Without
	 * it (or when it leaves e->what empty) the object is "object #N". */
	void (*describe)(void *state, unsigned tid, const void *obj,
			 struct pinmm_trace_event *e);
	/* optional: a fingerprint of the state the threads left (before
	 * check()), for cfg.outcomes */
	uint64_t (*outcome)(void *state);
};

/* DFS: depth-first search with partial-order reduction (one schedule of
 * each class of schedules that differ only in the order of independent
 * steps); DFS_PLAIN: every schedule; PCT: random priorities. */
enum pinmm_explore_strategy { PINMM_EXPLORE_DFS, PINMM_EXPLORE_PCT, PINMM_EXPLORE_DFS_PLAIN };

struct pinmm_explore_progress {
	unsigned long executions;
	double seconds;
	unsigned bound;		/* DFS: the bound being searched; PCT: the depth */
	double fraction;	/* of the whole search done (DFS: an estimate,
				 * from the final bound's tree); < 0: unknown */
};

struct pinmm_explore_cfg {
	enum pinmm_explore_strategy strategy;
	unsigned bound;		/* DFS: most preemptions per schedule (<= MAX_BOUND),
				 * or PINMM_EXPLORE_UNBOUNDED */
	uint64_t seed;		/* PCT */
	unsigned depth;		/* PCT: priority change points + 1 */
	double budget_seconds;	/* 0: none */
	unsigned long max_executions;	/* 0: none */
	unsigned long max_steps;	/* per execution (livelock guard); 0: 100000 */
	/* one shard of a campaign: shard (1..nr_shards) runs its part of the
	 * search, the same whatever the machine (DFS: the subtrees under every
	 * nr_shards-th schedule prefix; PCT: every nr_shards-th execution
	 * index); nr_shards 0 or 1: the whole search */
	unsigned shard, nr_shards;
	/* after a failure, go on to the end of the search, keeping each
	 * distinct failure (its first schedule) in result.failures */
	bool keep_going;
	/* where executions start: NEVER (the default) runs set-up for each
	 * in the explorer's process; ALWAYS forks each one from a set-up run
	 * once (a template); AUTO times a few executions each way and goes
	 * on the faster. A forked execution's threads and check() run in the
	 * child: only what check() answers (and ops->outcome) comes back, so
	 * ops that keep results in ctx need NEVER. Traces and replays always
	 * run at home. A ThreadSanitizer build runs every execution at home
	 * (ALWAYS: -EOPNOTSUPP). */
	enum pinmm_explore_fork { PINMM_EXPLORE_FORK_NEVER, PINMM_EXPLORE_FORK_AUTO,
				  PINMM_EXPLORE_FORK_ALWAYS } fork;
	/* collect the distinct end states (ops->outcome) into result.outcomes:
	 * equivalent schedules end alike, so the reduced search must reach
	 * every end state the plain one reaches */
	bool outcomes;
	/* called about every 0.25 s with the running totals (may be NULL) */
	void (*progress)(const struct pinmm_explore_progress *p, void *arg);
	void *progress_arg;
};


/* A failure and where the search met it first: in the order of the
 * search, (bound, prefix, index) is the same in a shard as in the whole
 * search, so merged shards agree with one run on which came first. */
struct pinmm_explore_failure {
	char message[256];
	char *schedule;		/* malloc'd */
	unsigned preemptions;
	unsigned bound;		/* DFS: the bound of the pass; PCT: 0 */
	unsigned long prefix;	/* DFS: the prefix's number; PCT: the execution's */
	unsigned long index;	/* DFS: executions before it under its prefix */
};

struct pinmm_explore_result {
	unsigned long executions;
	bool exhausted;		/* every schedule within the bound was run */
	bool found;		/* a failing schedule */
	bool aborted;		/* an execution deadlocked or exceeded max_steps */
	double seconds;
	unsigned preemptions;	/* of the failing schedule */
	unsigned bound_reached;	/* DFS: the bound the search finished */
	char message[256];	/* check()'s words, or why it aborted */
	char *schedule;		/* replayable, malloc'd ("" = default order) */
	struct pinmm_trace_event *trace;	/* of the failing schedule */
	size_t trace_len;
	/* each distinct failure (by message) with its first schedule in the
	 * search order, the first found first; with keep_going all of them
	 * (up to 100; failing_executions counts every one) */
	struct pinmm_explore_failure *failures;
	size_t nr_failures;
	unsigned long failing_executions;
	unsigned long prefixes;		/* DFS: schedule prefixes this shard ran */
	bool forked;			/* the search went on forking from a template */
	double setup_seconds;		/* the template's set-up, when one was made */
	/* with cfg.outcomes: the distinct end states, sorted (malloc'd) */
	uint64_t *outcomes;
	size_t nr_outcomes;
};

/* Search. 0 (see result), -EINVAL (bad ops/cfg: no threads or more than
 * PINMM_EXPLORE_MAX_THREADS, a bound above PINMM_EXPLORE_MAX_BOUND other
 * than PINMM_EXPLORE_UNBOUNDED, an unknown strategy),
 * -ENOMEM. While it runs, the calling thread and the explorer's threads
 * are bound to the CPU the caller was on (only one of them runs at a
 * time); the caller's CPU affinity is restored before it returns. */
int pinmm_explore(const struct pinmm_explore_ops *ops, void *ctx,
		  const struct pinmm_explore_cfg *cfg,
		  struct pinmm_explore_result *result);
/* Run exactly one schedule (a string from a result) and judge it. */
int pinmm_explore_replay(const struct pinmm_explore_ops *ops, void *ctx,
			 const char *schedule, struct pinmm_explore_result *result);
void pinmm_explore_result_free(struct pinmm_explore_result *result);

/*
 * What an engine object met at a preemption point is, for a describe() op
 * that knows what its mms' addresses mean (the scenario interpreter: its
 * regions). Called on an explorer thread at a preemption point, every
 * other thread stopped: the walks take no lock (page tables are read in an
 * RCU read section), and call no preemption point.
 */
struct pinmm;
struct pinmm_mm;
struct pinmm_file;
struct pinmm_page;

struct pinmm_explore_where {
	const char *what;	/* "pte", "pmd", "pud", "pgd", "ptl", "pmd ptl",
				 * "folio of", "anon_vma lock", "mapping lock" */
	uint64_t addr;		/* where in the range it sits (its first address) */
};
/* obj is an entry, a table lock or a mapped folio (or its anon_vma's or
 * file's lock) of [start, end) in mm: true, *w filled */
bool pinmm_explore_find_in_range(struct pinmm_mm *mm, uint64_t start, uint64_t end,
				 const void *obj, struct pinmm_explore_where *w);
/* obj is another entry of the table that holds entry, the level's entry
 * for addr ("pte": level 1 ... "pgd": 4): true, *obj_addr the first
 * address obj maps (how a table nothing reaches any more, one khugepaged
 * has just detached, is still named) */
bool pinmm_explore_same_table(const void *entry, uint64_t addr, int level, const void *obj,
			      uint64_t *obj_addr);
/* obj is mm's "mmap_lock" or "write_protect_seq"; else NULL */
const char *pinmm_explore_find_in_mm(struct pinmm_mm *mm, const void *obj);
/* obj is file f's "mapping lock", or the "folio of" its page *index */
const char *pinmm_explore_find_in_file(struct pinmm_file *f, const void *obj,
				       uint64_t *index);
/* obj is page's folio (or page itself) */
bool pinmm_explore_is_folio_of(const struct pinmm_page *page, const void *obj);
/* obj is one of the engine's own locks ("mmlist_lock", "ksm_thread_mutex",
 * "zone normal lock", ...) or the zero page; or a frame's descriptor:
 * "folio pfn", *pfn set (frame numbers are the same every run); else NULL */
const char *pinmm_explore_find_in_engine(struct pinmm *eng, const void *obj,
					 uint64_t *pfn);
/* The engine's live mms, oldest first (one a fork is creating included):
 * how many there are; the first max of them in mms */
size_t pinmm_explore_mms(struct pinmm *eng, struct pinmm_mm **mms, size_t max);

#ifdef __cplusplus
}
#endif
#endif
