/* SPDX-License-Identifier: MIT */
/*
 * Depth-first search with a preemption bound (explore build only),
 * iterative: bound 0, 1, ... so the first failure has the fewest
 * preemptions. Backtracking re-runs the execution from scratch with a
 * forced prefix of decisions.
 *
 * Shards: at each bound the tree is cut at its first D branching decisions
 * (decisions with more than one choice within the bound), D the smallest
 * depth giving at least 4 prefixes per shard; shard K of N searches the
 * subtrees of prefixes K-1, K-1+N, ... in DFS order. Finding the prefixes
 * takes one probe execution each (not counted), the same in every shard,
 * so the shards' subtrees partition the search: their executions add up
 * to an unsharded run's, and a failure's (bound, prefix, index) is the
 * same in its shard as in one search.
 */
#ifdef PINMM_EXPLORE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "search.h"

/* prefixes per shard: more balances uneven subtrees, each costs a probe */
#define PREFIXES_PER_SHARD 8
#define MAX_PREFIX_DEPTH 64

/* Whether choosing t at d stays within the bound. */
static bool allowed(const struct pm_decision *d, int t, unsigned bound)
{
	int cur = d->current == 0xff ? -1 : d->current;
	bool preempts = cur >= 0 && (d->enabled & (1u << cur)) && t != cur;

	return d->preemptions + (unsigned)preempts <= bound;
}

/* The order in which a decision's alternatives are tried: the default
 * first, then the other runnable threads by number. */
static int next_alternative(const struct pm_decision *d, unsigned bound)
{
	int def = pm_sched_default(d->current == 0xff ? -1 : d->current, d->enabled);
	bool passed = d->chosen == def;

	for (int t = 0; t < PINMM_EXPLORE_MAX_THREADS; t++) {
		if (!(d->enabled & (1u << t)) || t == def)
			continue;
		if (!passed) {
			if (t == d->chosen)
				passed = true;
			continue;
		}
		if (allowed(d, t, bound))
			return t;
	}
	return -1;
}

/* How many choices d has within the bound, and the rank of the one made. */
static unsigned choices(const struct pm_decision *d, unsigned bound, unsigned *rank)
{
	int def = pm_sched_default(d->current == 0xff ? -1 : d->current, d->enabled);
	unsigned n = 1;

	*rank = 0;
	for (int t = 0; t < PINMM_EXPLORE_MAX_THREADS; t++) {
		if (!(d->enabled & (1u << t)) || t == def || !allowed(d, t, bound))
			continue;
		if (t == d->chosen)
			*rank = n;
		n++;
	}
	return n;
}

struct dfs {
	struct pm_search *s;
	unsigned bound;
	uint8_t *prefix;
	size_t nr_prefix;
};

/* Backtrack from run to the deepest decision in [floor, ceil] with an
 * untried alternative: the next prefix is set; false when there is none. */
static int backtrack(struct dfs *d, const struct pm_sched_run *run, size_t floor, size_t ceil,
		     bool *more)
{
	size_t j = ceil < run->nr_dec ? ceil + 1 : run->nr_dec;
	int alt = -1;

	while (j-- > floor && (alt = next_alternative(&run->dec[j], d->bound)) < 0)
		;
	*more = alt >= 0;
	if (!*more)
		return 0;
	uint8_t *np = realloc(d->prefix, j + 1);
	if (!np)
		return -ENOMEM;
	d->prefix = np;
	for (size_t k = 0; k < j; k++)
		d->prefix[k] = run->dec[k].chosen;
	d->prefix[j] = (uint8_t)alt;
	d->nr_prefix = j + 1;
	return 0;
}

/* Where run sits among the leaves under its first floor decisions, from 0
 * to 1, as if every subtree were the same size (an estimate). */
static double position(const struct pm_sched_run *run, size_t floor, unsigned bound)
{
	double pos = 0, weight = 1;

	for (size_t j = floor; j < run->nr_dec && weight > 1e-9; j++) {
		unsigned rank, n = choices(&run->dec[j], bound, &rank);

		pos += weight * rank / n;
		weight /= n;
	}
	return pos;
}

/* Every schedule under the current prefix (its first floor decisions
 * fixed); the subtree is number nr of this bound. *stop: the search ends
 * here (a failure without keep_going, the budget). share/base: the part
 * of the final bound's search this subtree is, and what came before. */
static int subtree(struct dfs *d, size_t floor, unsigned long nr, double base, double share,
		   bool *stop)
{
	struct pm_search *s = d->s;
	unsigned long index = 0;
	bool final = d->bound == s->cfg->bound;

	d->nr_prefix = floor;
	for (;;) {
		struct pm_sched_run run = { .prefix = d->prefix, .nr_prefix = d->nr_prefix,
					    .max_steps = s->cfg->max_steps };
		bool failed = false, more = false;
		char msg[256];
		int err = pm_search_execute(s, &run, &failed, msg, sizeof(msg));

		if (!err) {
			s->res->executions++;
			if (failed) {
				err = pm_search_failed(s, &run, msg, d->bound, nr, index);
				*stop = !s->cfg->keep_going;
			}
			index++;
		}
		if (!err && !*stop)
			err = backtrack(d, &run, floor, SIZE_MAX, &more);
		double pos = final ? base + share * position(&run, floor, d->bound) : -1;
		pm_sched_run_free(&run);
		if (err || *stop || !more)
			return err;
		if (pm_search_tick(s, d->bound, pos)) {
			*stop = true;	/* not exhausted */
			return 0;
		}
	}
}

struct prefixes {
	uint8_t **v;
	size_t *len;
	size_t nr;
};

static void prefixes_free(struct prefixes *p)
{
	for (size_t i = 0; i < p->nr; i++)
		free(p->v[i]);
	free(p->v);
	free(p->len);
	memset(p, 0, sizeof(*p));
}

/* The prefixes that end at the depth-th branching decision (or with the
 * execution, for one that branches less), in DFS order: one probe
 * execution each. *deeper: some execution branches beyond depth. */
static int enumerate(struct dfs *d, unsigned depth, struct prefixes *out, bool *deeper)
{
	int err = 0;

	*deeper = false;
	d->nr_prefix = 0;
	for (bool more = true; more && !err;) {
		struct pm_sched_run run = { .prefix = d->prefix, .nr_prefix = d->nr_prefix,
					    .max_steps = d->s->cfg->max_steps };
		bool failed;
		char msg[256];
		size_t end = 0;
		unsigned seen = 0, rank;

		err = pm_search_execute(d->s, &run, &failed, msg, sizeof(msg));
		for (size_t j = 0; !err && j < run.nr_dec; j++) {
			if (choices(&run.dec[j], d->bound, &rank) < 2)
				continue;
			if (seen++ == depth) {
				*deeper = true;
				break;
			}
			end = j + 1;
		}
		if (seen <= depth)
			end = run.nr_dec;	/* a leaf of its own */
		void *v = err ? NULL : realloc(out->v, (out->nr + 1) * sizeof(*out->v));
		if (v)
			out->v = v;
		void *l = v ? realloc(out->len, (out->nr + 1) * sizeof(*out->len)) : NULL;
		if (l)
			out->len = l;
		uint8_t *p = l ? malloc(end + 1) : NULL;
		if (!p && !err)
			err = -ENOMEM;
		if (!err) {
			for (size_t k = 0; k < end; k++)
				p[k] = run.dec[k].chosen;
			out->v[out->nr] = p;
			out->len[out->nr++] = end;
			err = end ? backtrack(d, &run, 0, end - 1, &more) : 0;
			more = more && end;
		}
		pm_sched_run_free(&run);
	}
	return err;
}

/* This shard's subtrees at the current bound. */
static int shard_pass(struct dfs *d, bool *stop)
{
	const struct pinmm_explore_cfg *cfg = d->s->cfg;
	struct prefixes p = { 0 };
	unsigned long own = 0, done = 0;
	bool deeper = true;
	int err = 0;

	for (unsigned depth = 1; !err && depth <= MAX_PREFIX_DEPTH; depth++) {
		prefixes_free(&p);
		err = enumerate(d, depth, &p, &deeper);
		if (p.nr >= (size_t)PREFIXES_PER_SHARD * cfg->nr_shards || !deeper)
			break;
	}
	for (size_t i = cfg->shard - 1; i < p.nr; i += cfg->nr_shards)
		own++;
	for (size_t i = cfg->shard - 1; !err && !*stop && i < p.nr; i += cfg->nr_shards) {
		uint8_t *np = realloc(d->prefix, p.len[i] + 1);

		if (!np) {
			err = -ENOMEM;
			break;
		}
		d->prefix = np;
		memcpy(d->prefix, p.v[i], p.len[i]);
		d->s->res->prefixes++;
		err = subtree(d, p.len[i], i, (double)done / own, 1.0 / own, stop);
		done++;
	}
	prefixes_free(&p);
	return err;
}

int pm_explore_dfs(struct pm_search *s)
{
	const struct pinmm_explore_cfg *cfg = s->cfg;
	struct dfs d = { .s = s };
	bool stop = false;
	int err = 0;

	for (unsigned bound = 0; !err && !stop && bound <= cfg->bound; bound++) {
		d.bound = bound;
		if (!s->res->found)	/* keep_going: where the first was found */
			s->res->bound_reached = bound;
		if (cfg->nr_shards > 1) {
			err = shard_pass(&d, &stop);
		} else {
			s->res->prefixes = 1;
			err = subtree(&d, 0, 0, 0, 1, &stop);
		}
	}
	s->res->exhausted = !err && !stop;
	free(d.prefix);
	return err;
}
#else
typedef int pm_dfs_unused_t;
#endif
