/* SPDX-License-Identifier: MIT */
/*
 * The explorer's strategies over the controlled scheduler: depth-first
 * search with a preemption bound (iterative: bound 0, 1, ... so the first
 * failure has the fewest preemptions), PCT, and replay of a schedule.
 *
 * A schedule string lists only the decisions that differ from the default
 * order (keep running the current thread, else the lowest runnable one):
 * "17:1,43:0" means "at decision 17 run thread 1, at 43 thread 0". The
 * empty string is the default order itself.
 */
#ifdef PINMM_EXPLORE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sched.h"

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* -------------------------------------------------- schedule strings --- */

static char *schedule_string(const struct pm_decision *dec, size_t n)
{
	size_t cap = 64, len = 0;
	char *s = malloc(cap);

	if (!s)
		return NULL;
	s[0] = 0;
	for (size_t i = 0; i < n; i++) {
		int def = pm_sched_default(dec[i].current == 0xff ? -1 : dec[i].current,
					   dec[i].enabled);
		char item[32];
		int l;

		if (dec[i].chosen == def)
			continue;
		l = snprintf(item, sizeof(item), "%s%zu:%u", len ? "," : "", i, dec[i].chosen);
		if (len + (size_t)l + 1 > cap) {
			cap = 2 * (len + (size_t)l + 1);
			char *ns = realloc(s, cap);
			if (!ns) {
				free(s);
				return NULL;
			}
			s = ns;
		}
		memcpy(s + len, item, (size_t)l + 1);
		len += (size_t)l;
	}
	return s;
}

struct deviation {
	unsigned long step;
	unsigned thread;
};

struct replay_strategy {
	struct pm_strategy base;
	struct deviation *dev;
	size_t nr, next;
	size_t applied;		/* deviations taken so far (in order) */
};

static int replay_choose(struct pm_strategy *st, unsigned i, int current, unsigned enabled)
{
	struct replay_strategy *r = (struct replay_strategy *)st;

	while (r->next < r->nr && r->dev[r->next].step < i)
		r->next++;
	if (r->next < r->nr && r->dev[r->next].step == i &&
	    (enabled & (1u << r->dev[r->next].thread))) {
		if (r->applied == r->next)
			r->applied++;	/* every one before it was taken too */
		return (int)r->dev[r->next].thread;
	}
	return pm_sched_default(current, enabled);
}

static int parse_schedule(const char *text, struct replay_strategy *r)
{
	const char *p = text;

	memset(r, 0, sizeof(*r));
	r->base.choose = replay_choose;
	while (p && *p) {
		char *end;
		unsigned long step = strtoul(p, &end, 10);
		unsigned long t;

		if (end == p || *end != ':')
			return -EINVAL;
		p = end + 1;
		t = strtoul(p, &end, 10);
		if (end == p || t >= PINMM_EXPLORE_MAX_THREADS || (*end && *end != ','))
			return -EINVAL;
		if (r->nr && step <= r->dev[r->nr - 1].step)
			return -EINVAL;	/* steps go up */
		struct deviation *d = realloc(r->dev, (r->nr + 1) * sizeof(*d));
		if (!d)
			return -ENOMEM;
		r->dev = d;
		r->dev[r->nr++] = (struct deviation){ step, (unsigned)t };
		p = *end ? end + 1 : end;
	}
	return 0;
}

/* --------------------------------------------------------- executions --- */

/* The scheduler of the exploration under way: one at a time per process,
 * since the preemption hook is process-wide. */
static struct pm_sched *sched;

/* Run one execution; *failed set when check() (or the scheduler) says so. */
static int execute(const struct pinmm_explore_ops *ops, void *ctx,
		   struct pm_sched_run *run, bool *failed, char *msg, size_t len)
{
	int err;

	run->ops = ops;
	run->state = ops->setup(ctx);
	if (!run->state)
		return -ENOMEM;
	err = pm_sched_execute(sched, run);
	if (!err) {
		if (run->aborted) {
			*failed = true;
			snprintf(msg, len, "%s", run->why);
		} else {
			*failed = ops->check(run->state, msg, len) != 0;
		}
	}
	ops->teardown(run->state);
	return err;
}

/* Fill the result with the failing schedule, replayed once more for its
 * trace (the same schedule gives the same execution). */
static int record_failure(const struct pinmm_explore_ops *ops, void *ctx,
			  struct pm_sched_run *run, struct pinmm_explore_result *res)
{
	struct replay_strategy r;
	struct pm_sched_run again = { .strategy = &r.base, .want_trace = true,
				      .max_steps = run->max_steps };
	bool failed = false;
	char msg[256];
	int err;

	res->found = true;
	res->preemptions = run->nr_dec ? run->dec[run->nr_dec - 1].preemptions : 0;
	res->schedule = schedule_string(run->dec, run->nr_dec);
	if (!res->schedule)
		return -ENOMEM;
	err = parse_schedule(res->schedule, &r);
	if (!err)
		err = execute(ops, ctx, &again, &failed, msg, sizeof(msg));
	free(r.dev);
	if (!err) {
		res->trace = again.trace;
		res->trace_len = again.nr_trace;
		again.trace = NULL;
	}
	pm_sched_run_free(&again);
	return err;
}

/* ------------------------------------------------------------- DFS --- */

/* The order in which a decision's alternatives are tried: the default
 * first, then the other runnable threads by number. */
static int next_alternative(const struct pm_decision *d, unsigned bound)
{
	int cur = d->current == 0xff ? -1 : d->current;
	int def = pm_sched_default(cur, d->enabled);
	bool passed = d->chosen == def;

	for (int t = 0; t < PINMM_EXPLORE_MAX_THREADS; t++) {
		if (!(d->enabled & (1u << t)) || t == def)
			continue;
		if (!passed) {
			if (t == d->chosen)
				passed = true;
			continue;
		}
		bool preempts = cur >= 0 && (d->enabled & (1u << cur)) && t != cur;
		if (d->preemptions + (unsigned)preempts <= bound)
			return t;
	}
	return -1;
}

static int explore_dfs(const struct pinmm_explore_ops *ops, void *ctx,
		       const struct pinmm_explore_cfg *cfg, struct pinmm_explore_result *res,
		       double start)
{
	uint8_t *prefix = NULL;
	size_t nr_prefix = 0;
	double last = start;
	int err = 0;

	for (unsigned bound = 0; bound <= cfg->bound; bound++) {
		nr_prefix = 0;
		for (;;) {
			struct pm_sched_run run = { .prefix = prefix, .nr_prefix = nr_prefix,
						    .max_steps = cfg->max_steps };
			bool failed = false;
			char msg[256];

			err = execute(ops, ctx, &run, &failed, msg, sizeof(msg));
			if (err)
				goto out;
			res->executions++;
			if (failed) {
				snprintf(res->message, sizeof(res->message), "%s", msg);
				res->aborted = run.aborted;
				res->bound_reached = bound;
				err = record_failure(ops, ctx, &run, res);
				pm_sched_run_free(&run);
				goto out;
			}
			/* backtrack to the deepest decision with an untried
			 * alternative within the bound */
			ssize_t j = (ssize_t)run.nr_dec - 1;
			int alt = -1;
			for (; j >= 0; j--) {
				alt = next_alternative(&run.dec[j], bound);
				if (alt >= 0)
					break;
			}
			if (j >= 0) {
				uint8_t *np = realloc(prefix, (size_t)j + 1);
				if (!np) {
					pm_sched_run_free(&run);
					err = -ENOMEM;
					goto out;
				}
				prefix = np;
				for (ssize_t k = 0; k < j; k++)
					prefix[k] = run.dec[k].chosen;
				prefix[j] = (uint8_t)alt;
				nr_prefix = (size_t)j + 1;
			}
			pm_sched_run_free(&run);
			double t = now_seconds();
			if (cfg->progress && t - last > 0.25) {
				cfg->progress(res->executions, t - start, bound, cfg->progress_arg);
				last = t;
			}
			if (j < 0)
				break;	/* this bound is exhausted */
			if ((cfg->budget_seconds > 0 && t - start > cfg->budget_seconds) ||
			    (cfg->max_executions && res->executions >= cfg->max_executions)) {
				res->bound_reached = bound;
				goto out;	/* not exhausted */
			}
		}
		res->bound_reached = bound;
	}
	res->exhausted = true;
out:
	free(prefix);
	return err;
}

/* ------------------------------------------------------------- PCT --- */

struct pct_strategy {
	struct pm_strategy base;
	int prio[PINMM_EXPLORE_MAX_THREADS];
	unsigned change_at[16];
	unsigned nr_change;
};

static uint64_t splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static int pct_choose(struct pm_strategy *st, unsigned i, int current, unsigned enabled)
{
	struct pct_strategy *p = (struct pct_strategy *)st;
	int best = -1;

	/* at a change point the running thread drops below everyone */
	for (unsigned c = 0; c < p->nr_change; c++)
		if (p->change_at[c] == i && current >= 0)
			p->prio[current] = -1 - (int)c;
	for (int t = 0; t < PINMM_EXPLORE_MAX_THREADS; t++)
		if ((enabled & (1u << t)) && (best < 0 || p->prio[t] > p->prio[best]))
			best = t;
	return best;
}

static int explore_pct(const struct pinmm_explore_ops *ops, void *ctx,
		       const struct pinmm_explore_cfg *cfg, struct pinmm_explore_result *res,
		       double start)
{
	uint64_t rng = cfg->seed;
	unsigned long steps = 64;	/* estimate of an execution's length */
	unsigned depth = cfg->depth ? cfg->depth : 3;
	double last = start;

	if (depth > 16)
		depth = 16;
	for (;;) {
		struct pct_strategy p = { .base.choose = pct_choose, .nr_change = depth - 1 };
		struct pm_sched_run run = { .strategy = &p.base, .max_steps = cfg->max_steps };
		bool failed = false;
		char msg[256];
		int err;

		for (unsigned t = 0; t < ops->nr_threads; t++)
			p.prio[t] = (int)(depth + splitmix(&rng) % 1000 * PINMM_EXPLORE_MAX_THREADS + t);
		for (unsigned c = 0; c < p.nr_change; c++)
			p.change_at[c] = (unsigned)(1 + splitmix(&rng) % steps);
		err = execute(ops, ctx, &run, &failed, msg, sizeof(msg));
		if (err)
			return err;
		res->executions++;
		if (run.nr_dec > steps)
			steps = run.nr_dec;
		if (failed) {
			snprintf(res->message, sizeof(res->message), "%s", msg);
			res->aborted = run.aborted;
			err = record_failure(ops, ctx, &run, res);
			pm_sched_run_free(&run);
			return err;
		}
		pm_sched_run_free(&run);
		double t = now_seconds();
		if (cfg->progress && t - last > 0.25) {
			cfg->progress(res->executions, t - start, depth, cfg->progress_arg);
			last = t;
		}
		if ((cfg->budget_seconds > 0 && t - start > cfg->budget_seconds) ||
		    (cfg->max_executions && res->executions >= cfg->max_executions) ||
		    (!cfg->budget_seconds && !cfg->max_executions && res->executions >= 1000))
			return 0;	/* PCT never exhausts a space */
	}
}

/* ------------------------------------------------------------ public --- */

static bool ops_ok(const struct pinmm_explore_ops *ops)
{
	return ops && ops->setup && ops->thread && ops->check && ops->teardown &&
	       ops->nr_threads >= 1 && ops->nr_threads <= PINMM_EXPLORE_MAX_THREADS;
}

int pinmm_explore(const struct pinmm_explore_ops *ops, void *ctx,
		  const struct pinmm_explore_cfg *cfg, struct pinmm_explore_result *res)
{
	double start = now_seconds();
	int err;

	if (!ops_ok(ops) || !cfg || !res || cfg->bound > PINMM_EXPLORE_MAX_BOUND)
		return -EINVAL;
	memset(res, 0, sizeof(*res));
	sched = pm_sched_new(ops->nr_threads);
	if (!sched)
		return -ENOMEM;
	err = cfg->strategy == PINMM_EXPLORE_PCT ? explore_pct(ops, ctx, cfg, res, start)
						 : explore_dfs(ops, ctx, cfg, res, start);
	pm_sched_free(sched);
	sched = NULL;
	res->seconds = now_seconds() - start;
	return err;
}

int pinmm_explore_replay(const struct pinmm_explore_ops *ops, void *ctx,
			 const char *schedule, struct pinmm_explore_result *res)
{
	struct replay_strategy r;
	struct pm_sched_run run = { .strategy = &r.base, .want_trace = true };
	bool failed = false;
	double start = now_seconds();
	int err;

	if (!ops_ok(ops) || !res || !schedule)
		return -EINVAL;
	memset(res, 0, sizeof(*res));
	err = parse_schedule(schedule, &r);
	if (!err) {
		sched = pm_sched_new(ops->nr_threads);
		if (!sched)
			err = -ENOMEM;
	}
	if (!err) {
		err = execute(ops, ctx, &run, &failed, res->message, sizeof(res->message));
		pm_sched_free(sched);
		sched = NULL;
	}
	if (!err && r.applied < r.nr) {
		/* a decision the execution never reached, or whose thread was
		 * not runnable there: the schedule is not this scenario's */
		run.aborted = true;
		failed = false;
		snprintf(res->message, sizeof(res->message),
			 "replay diverged: decision %lu:%u does not fit (no runnable thread %u "
			 "at step %lu)", r.dev[r.applied].step, r.dev[r.applied].thread,
			 r.dev[r.applied].thread, r.dev[r.applied].step);
	}
	free(r.dev);
	if (!err) {
		res->executions = 1;
		res->found = failed;
		res->aborted = run.aborted;
		res->preemptions = run.nr_dec ? run.dec[run.nr_dec - 1].preemptions : 0;
		res->schedule = schedule_string(run.dec, run.nr_dec);
		res->trace = run.trace;
		res->trace_len = run.nr_trace;
		run.trace = NULL;
	}
	pm_sched_run_free(&run);
	res->seconds = now_seconds() - start;
	return err;
}

void pinmm_explore_result_free(struct pinmm_explore_result *res)
{
	if (!res)
		return;
	free(res->schedule);
	free(res->trace);
	res->schedule = NULL;
	res->trace = NULL;
	res->trace_len = 0;
}

#else
typedef int pm_explore_unused_t;
#endif
