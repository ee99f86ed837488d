/* SPDX-License-Identifier: MIT */
/*
 * Depth-first search with a preemption bound (explore build only),
 * iterative: bound 0, 1, ... so the first failure has the fewest
 * preemptions. Backtracking re-runs the execution from scratch with a
 * forced prefix of decisions.
 *
 * Shards: at each bound the tree is cut into prefixes (forced choices),
 * the heaviest split first (by an estimate from its first schedule), until
 * there are at least 4 per shard and none weighs more than half a shard's
 * share, or 32 per shard; numbered in DFS order, they go to the shards
 * heaviest first, each to the least loaded one. Finding them takes one
 * probe execution each (not counted), the same in every shard, so the
 * shards' subtrees partition the search: their executions add up to an
 * unsharded run's, and a failure's (bound, prefix, index) is the same in
 * its shard as in one search.
 */
#ifdef PINMM_EXPLORE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "search.h"

/* prefixes per shard: more balance uneven subtrees, each costs a probe */
#define MIN_PREFIXES_PER_SHARD 4
#define MAX_PREFIXES_PER_SHARD 32


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
		if (pm_search_allowed(d, t, bound))
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
		if (!(d->enabled & (1u << t)) || t == def || !pm_search_allowed(d, t, bound))
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
	bool final = d->bound == s->cfg->bound || s->cfg->bound == PINMM_EXPLORE_UNBOUNDED;

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

/*
 * Shards. A node is a prefix of forced choices and its first leaf (the
 * probe execution: default choices after the prefix), from which its
 * subtree's size is estimated: with r preemptions left and L branching
 * decisions ahead, about sum(k <= r) C(L, k) schedules.
 */
struct node {
	uint8_t *prefix;
	size_t len;
	struct pm_decision *dec;	/* the probe's decisions */
	size_t nr_dec;
	double weight;			/* 0: a single schedule, never split */
};

struct nodes {
	struct node *v;
	size_t nr;
};

static void nodes_free(struct nodes *n)
{
	for (size_t i = 0; i < n->nr; i++) {
		free(n->v[i].prefix);
		free(n->v[i].dec);
	}
	free(n->v);
	memset(n, 0, sizeof(*n));
}

static double estimate(const struct node *n, unsigned bound)
{
	unsigned used = n->len < n->nr_dec ? n->dec[n->len].preemptions : bound, rank;
	double sum = 0, c = 1;
	size_t branching = 0;

	for (size_t j = n->len; j < n->nr_dec; j++)
		branching += choices(&n->dec[j], bound, &rank) > 1;
	if (!branching)
		return 0;
	for (unsigned k = 0; k <= bound - used && k <= branching; k++) {
		sum += c;	/* C(branching, k) */
		c = c * (double)(branching - k) / (k + 1);
	}
	return sum;
}

/* Run the probe of a node whose prefix is set: its decisions, its weight. */
static int probe(struct dfs *d, struct node *n)
{
	struct pm_sched_run run = { .prefix = n->prefix, .nr_prefix = n->len,
				    .max_steps = d->s->cfg->max_steps };
	bool failed;
	char msg[256];
	int err = pm_search_execute(d->s, &run, &failed, msg, sizeof(msg));

	if (!err) {
		n->dec = run.dec;
		n->nr_dec = run.nr_dec;
		run.dec = NULL;
		n->weight = estimate(n, d->bound);
	}
	pm_sched_run_free(&run);
	return err;
}

/* Replace node i by its children at its next branching decision, in the
 * order DFS visits them: the first keeps the probe, the others get one. */
static int split(struct dfs *d, struct nodes *ns, size_t i)
{
	struct node *n = &ns->v[i];
	size_t j = n->len;
	unsigned rank;
	int alt, err = 0;

	while (j < n->nr_dec && choices(&n->dec[j], d->bound, &rank) < 2)
		j++;
	struct pm_decision at = n->dec[j];
	size_t nr = 1;
	for (struct pm_decision t = at; (alt = next_alternative(&t, d->bound)) >= 0; t.chosen = (uint8_t)alt)
		nr++;
	struct node *v = realloc(ns->v, (ns->nr + nr - 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	ns->v = v;
	n = &v[i];
	memmove(&v[i + nr], &v[i + 1], (ns->nr - i - 1) * sizeof(*v));
	memset(&v[i + 1], 0, (nr - 1) * sizeof(*v));
	ns->nr += nr - 1;
	/* the default child is the probe's own path */
	uint8_t *p = realloc(n->prefix, j + 1);
	if (!p)
		return -ENOMEM;
	for (size_t k = n->len; k <= j; k++)
		p[k] = n->dec[k].chosen;
	n->prefix = p;
	n->len = j + 1;
	n->weight = estimate(n, d->bound);
	alt = at.chosen;
	for (size_t c = 1; !err && c < nr; c++) {
		struct node *m = &v[i + c];

		at.chosen = (uint8_t)alt;
		alt = next_alternative(&at, d->bound);
		m->prefix = malloc(j + 1);
		if (!m->prefix)
			return -ENOMEM;
		memcpy(m->prefix, n->prefix, j);
		m->prefix[j] = (uint8_t)alt;
		m->len = j + 1;
		err = probe(d, m);
	}
	return err;
}

/* The bound's tree cut into prefixes in DFS order, the heaviest split
 * first, until there are enough and none weighs more than half a shard's
 * share (or nothing is left to split). */
static int partition(struct dfs *d, struct nodes *ns)
{
	unsigned shards = d->s->cfg->nr_shards;
	int err;

	ns->v = calloc(1, sizeof(*ns->v));
	if (!ns->v)
		return -ENOMEM;
	ns->nr = 1;
	err = probe(d, &ns->v[0]);
	while (!err && ns->nr < (size_t)MAX_PREFIXES_PER_SHARD * shards) {
		double total = 0, max = 0;
		size_t heaviest = 0;

		for (size_t i = 0; i < ns->nr; i++) {
			total += ns->v[i].weight;
			if (ns->v[i].weight > max) {
				max = ns->v[i].weight;
				heaviest = i;
			}
		}
		if (!max || (ns->nr >= (size_t)MIN_PREFIXES_PER_SHARD * shards &&
			     max <= total / (2.0 * shards)))
			break;
		err = split(d, ns, heaviest);
	}
	return err;
}

/* Which shard searches each prefix: the heaviest first, each to the least
 * loaded shard so far (ties: the lowest number) — the same everywhere. */
static unsigned *assign(const struct nodes *ns, unsigned shards)
{
	unsigned *owner = calloc(ns->nr, sizeof(*owner));
	bool *done = calloc(ns->nr, sizeof(*done));
	double *load = calloc(shards, sizeof(*load));

	for (size_t k = 0; owner && done && load && k < ns->nr; k++) {
		size_t best = SIZE_MAX;
		unsigned to = 0;

		for (size_t i = 0; i < ns->nr; i++)
			if (!done[i] && (best == SIZE_MAX || ns->v[i].weight > ns->v[best].weight))
				best = i;
		for (unsigned sh = 1; sh < shards; sh++)
			if (load[sh] < load[to])
				to = sh;
		done[best] = true;
		owner[best] = to;
		/* a single schedule still costs an execution */
		load[to] += ns->v[best].weight + 1;
	}
	free(done);
	if (!load) {
		free(owner);
		return NULL;
	}
	free(load);
	return owner;
}

/* This shard's subtrees at the current bound. */
static int shard_pass(struct dfs *d, bool *stop)
{
	const struct pinmm_explore_cfg *cfg = d->s->cfg;
	struct nodes ns = { 0 };
	unsigned *owner = NULL;
	unsigned long own = 0, done = 0;
	int err = partition(d, &ns);

	if (!err && !(owner = assign(&ns, cfg->nr_shards)))
		err = -ENOMEM;
	for (size_t i = 0; !err && i < ns.nr; i++)
		own += owner[i] == cfg->shard - 1;
	for (size_t i = 0; !err && !*stop && i < ns.nr; i++) {
		if (owner[i] != cfg->shard - 1)
			continue;
		uint8_t *np = realloc(d->prefix, ns.v[i].len + 1);
		if (!np) {
			err = -ENOMEM;
			break;
		}
		d->prefix = np;
		memcpy(d->prefix, ns.v[i].prefix, ns.v[i].len);
		d->s->res->prefixes++;
		err = subtree(d, ns.v[i].len, i, (double)done / own, 1.0 / own, stop);
		done++;
	}
	free(owner);
	nodes_free(&ns);
	return err;
}

int pm_explore_dfs(struct pm_search *s)
{
	const struct pinmm_explore_cfg *cfg = s->cfg;
	struct dfs d = { .s = s };
	bool stop = false;
	int err = 0;

	/* without a bound: one pass over every schedule */
	bool unbounded = cfg->bound == PINMM_EXPLORE_UNBOUNDED;

	for (unsigned bound = 0; !err && !stop && (unbounded || bound <= cfg->bound); bound++) {
		d.bound = unbounded ? PINMM_EXPLORE_UNBOUNDED : bound;
		if (!s->res->found)	/* keep_going: where the first was found */
			s->res->bound_reached = bound;
		if (cfg->nr_shards > 1) {
			err = shard_pass(&d, &stop);
		} else {
			s->res->prefixes = 1;
			err = subtree(&d, 0, 0, 0, 1, &stop);
		}
		if (unbounded)
			break;
	}
	s->res->exhausted = !err && !stop;
	free(d.prefix);
	return err;
}
#else
typedef int pm_dfs_unused_t;
#endif
