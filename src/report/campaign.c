/* SPDX-License-Identifier: MIT */
/*
 * campaign.c - an exploration split into shards (`pinmm explore --shard
 * K/N --json`, one per core or host) and their results merged (`pinmm
 * explore --merge FILE...`): executions add up, the search is exhausted
 * when every shard's part is, and counterexamples are the union, each
 * failure (by message) with the schedule that comes first in the search
 * order, as one unsharded search would report it.
 *
 * A shard's JSON is explore's (report_explore.c) with these members:
 *   "schema_version": 1, "shard": { "index": K, "count": N },
 *   "keep_going", "max_executions", "failing_executions", "prefixes",
 *   "counterexamples": [ { "message", "schedule", "preemptions",
 *   "bound", "prefix", "index" } ]
 */
#include <errno.h>
#include <stdbool.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include <pinmm/scenario_explore.h>

#include "report.h"



/* digits only, 1..1000000 */
static bool shard_number(const char *s, size_t len, unsigned long *v)
{
	*v = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9' || *v > 1000000)
			return false;
		*v = *v * 10 + (unsigned long)(s[i] - '0');
	}
	return len && *v >= 1 && *v <= 1000000;
}

int pinmm_explore_parse_shard(const char *verb, const char *arg, unsigned *shard, unsigned *count)
{
	const char *slash = strchr(arg, '/');
	unsigned long k, n;

	if (slash && shard_number(arg, (size_t)(slash - arg), &k) &&
	    shard_number(slash + 1, strlen(slash + 1), &n) && k <= n) {
		*shard = (unsigned)k;
		*count = (unsigned)n;
		return 0;
	}
	fprintf(stderr, "pinmm %s: --shard: expected K/N with 1 <= K <= N <= 1000000, got '%s'\n",
		verb, arg);
	return -EINVAL;
}

json_object *pm_json_bound(unsigned bound)
{
	return bound == PINMM_EXPLORE_UNBOUNDED ? NULL : json_object_new_int((int)bound);
}

static json_object *failure_json(const struct pinmm_explore_failure *f)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "message", json_object_new_string(f->message));
	json_object_object_add(o, "schedule", json_object_new_string(f->schedule));
	json_object_object_add(o, "preemptions", json_object_new_int((int)f->preemptions));
	json_object_object_add(o, "bound", pm_json_bound(f->bound));
	json_object_object_add(o, "prefix", json_object_new_uint64(f->prefix));
	json_object_object_add(o, "index", json_object_new_uint64(f->index));
	return o;
}

void pm_json_explore_campaign(struct json_object *root, const struct pinmm_explore_cfg *cfg,
			      const struct pinmm_explore_result *ex)
{
	json_object *shard = json_object_new_object(), *list = json_object_new_array();

	json_object_object_add(root, "schema_version", json_object_new_int(PM_JSON_SCHEMA_VERSION));
	json_object_object_add(shard, "index", json_object_new_int(cfg->nr_shards > 1
							? (int)cfg->shard : 1));
	json_object_object_add(shard, "count", json_object_new_int(cfg->nr_shards > 1
							? (int)cfg->nr_shards : 1));
	json_object_object_add(root, "shard", shard);
	json_object_object_add(root, "keep_going", json_object_new_boolean(cfg->keep_going));
	json_object_object_add(root, "max_executions", json_object_new_uint64(cfg->max_executions));
	json_object_object_add(root, "failing_executions",
			       json_object_new_uint64(ex->failing_executions));
	json_object_object_add(root, "prefixes", json_object_new_uint64(ex->prefixes));
	for (size_t i = 0; i < ex->nr_failures; i++)
		json_object_array_add(list, failure_json(&ex->failures[i]));
	json_object_object_add(root, "counterexamples", list);
}

/* ------------------------------------------------------------ merge --- */

/* what every shard of one campaign must agree on */
static const char *const same[] = {
	"schema_version", "file", "policy", "strategy", "bound", "seed", "depth",
	"max_executions", "keep_going",
};

struct merged {
	json_object *first;		/* the first file's result */
	const char *first_path;
	unsigned count;			/* shards in the campaign */
	bool *seen;
	unsigned long executions, failing;
	bool exhausted;
	json_object *failures;		/* array, one per message */
};

static int bad(const char *path, const char *what)
{
	fprintf(stderr, "pinmm explore --merge: %s: %s\n", path, what);
	return -EINVAL;
}

/* json-c's reason, without its newline */
static int unreadable(const char *path)
{
	const char *why = json_util_get_last_err();
	char buf[512];

	snprintf(buf, sizeof(buf), "%s", why ? why : "not JSON");
	buf[strcspn(buf, "\n")] = 0;
	return bad(path, buf);
}

static json_object *member(json_object *o, const char *key)
{
	json_object *v = NULL;

	return json_object_object_get_ex(o, key, &v) ? v : NULL;
}

/* (bound, prefix, index): a's place in the search order before b's */
static bool earlier(json_object *a, json_object *b)
{
	static const char *const keys[] = { "bound", "prefix", "index" };

	for (size_t i = 0; i < 3; i++) {
		int64_t x = json_object_get_int64(member(a, keys[i]));
		int64_t y = json_object_get_int64(member(b, keys[i]));

		if (x != y)
			return x < y;
	}
	return false;
}

static void add_failure(struct merged *m, json_object *f)
{
	const char *msg = json_object_get_string(member(f, "message"));
	size_t n = json_object_array_length(m->failures);

	for (size_t i = 0; i < n; i++) {
		json_object *g = json_object_array_get_idx(m->failures, i);

		if (strcmp(msg, json_object_get_string(member(g, "message"))))
			continue;
		if (earlier(f, g))
			json_object_array_put_idx(m->failures, i, json_object_get(f));
		return;
	}
	json_object_array_add(m->failures, json_object_get(f));
}

static int merge_one(struct merged *m, const char *path, json_object *r)
{
	json_object *shard = member(r, "shard"), *list = member(r, "counterexamples");
	unsigned k, n;

	if (!shard || !list || !member(r, "executions") || !member(r, "exhausted") ||
	    !json_object_is_type(list, json_type_array))
		return bad(path, "not a result of pinmm explore --json (no shard, executions, "
			   "exhausted or counterexamples)");
	k = (unsigned)json_object_get_int(member(shard, "index"));
	n = (unsigned)json_object_get_int(member(shard, "count"));
	if (!m->first) {
		m->first = r;
		m->first_path = path;
		m->count = n;
		m->exhausted = true;
		m->seen = n ? calloc(n, sizeof(*m->seen)) : NULL;
		if (!m->seen)
			return bad(path, "shard count 0");
	}
	for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
		const char *a = json_object_to_json_string(member(m->first, same[i]));
		const char *b = json_object_to_json_string(member(r, same[i]));
		char why[600];

		if (strcmp(a, b)) {
			snprintf(why, sizeof(why), "%s %s differs from %s's %s: not one campaign",
				 same[i], b, m->first_path, a);
			return bad(path, why);
		}
	}
	if (n != m->count || k < 1 || k > n)
		return bad(path, "shard K/N does not fit the first file's N");
	if (m->seen[k - 1])
		return bad(path, "a shard given twice");
	m->seen[k - 1] = true;
	m->executions += (unsigned long)json_object_get_int64(member(r, "executions"));
	m->failing += (unsigned long)json_object_get_int64(member(r, "failing_executions"));
	m->exhausted &= json_object_get_boolean(member(r, "exhausted"));
	for (size_t i = 0; i < json_object_array_length(list); i++)
		add_failure(m, json_object_array_get_idx(list, i));
	return 0;
}

static int by_search_order(const void *a, const void *b)
{
	json_object *x = *(json_object *const *)a, *y = *(json_object *const *)b;

	return earlier(x, y) ? -1 : earlier(y, x) ? 1 : 0;
}

static void print_text(FILE *out, const struct merged *m, unsigned missing)
{
	const char *file = json_object_get_string(member(m->first, "file"));
	const char *policy = json_object_get_string(member(m->first, "policy"));
	size_t nf = json_object_array_length(m->failures);

	fprintf(out, "%s (%s): %u shard%s merged: %s\n", file, policy, m->count - missing,
		m->count - missing == 1 ? "" : "s",
		nf ? "counterexample found" : m->exhausted ? "exhausted, no counterexample"
		: "no counterexample, NOT exhausted");
	if (missing)
		fprintf(out, "  %u of %u shards missing\n", missing, m->count);
	fprintf(out, "  strategy %s, %s %s\n", json_object_get_string(member(m->first, "strategy")),
		member(m->first, "bound") ? "preemption bound" : "seed",
		json_object_to_json_string(member(m->first, member(m->first, "bound") ? "bound"
							  : "seed")));
	fprintf(out, "  %lu executions, %lu failing\n", m->executions, m->failing);
	for (size_t i = 0; i < nf; i++) {
		json_object *f = json_object_array_get_idx(m->failures, i);
		const char *sched = json_object_get_string(member(f, "schedule"));

		fprintf(out, "  %s\n    schedule: %s\n    replay: pinmm replay %s '%s' --policy %s\n",
			json_object_get_string(member(f, "message")), sched, file, sched, policy);
	}
}

static json_object *merged_json(const struct merged *m, unsigned missing)
{
	json_object *root = json_object_new_object();
	static const char *const copied[] = { "file", "title", "policy", "strategy", "bound",
					      "seed", "depth", "max_executions", "keep_going" };

	json_object_object_add(root, "schema_version", json_object_new_int(PM_JSON_SCHEMA_VERSION));
	json_object_object_add(root, "mode", json_object_new_string("merge"));
	for (size_t i = 0; i < sizeof(copied) / sizeof(copied[0]); i++)
		if (member(m->first, copied[i]))
			json_object_object_add(root, copied[i],
					       json_object_get(member(m->first, copied[i])));
	json_object_object_add(root, "shards", json_object_new_int((int)m->count));
	json_object_object_add(root, "shards_missing", json_object_new_int((int)missing));
	json_object_object_add(root, "executions", json_object_new_uint64(m->executions));
	json_object_object_add(root, "exhausted", json_object_new_boolean(m->exhausted && !missing));
	json_object_object_add(root, "found",
			       json_object_new_boolean(json_object_array_length(m->failures) > 0));
	json_object_object_add(root, "failing_executions", json_object_new_uint64(m->failing));
	json_object_object_add(root, "counterexamples", json_object_get(m->failures));
	return root;
}

int pinmm_explore_merge(FILE *out, char *const *paths, int nr, bool json)
{
	struct merged m = { .failures = json_object_new_array() };
	json_object **results = calloc((size_t)nr, sizeof(*results));
	unsigned missing = 0;
	int ret = results ? 0 : -ENOMEM;

	for (int i = 0; !ret && i < nr; i++) {
		results[i] = json_object_from_file(paths[i]);
		ret = results[i] ? merge_one(&m, paths[i], results[i]) : unreadable(paths[i]);
	}
	if (!ret) {
		for (unsigned k = 0; k < m.count; k++)
			missing += !m.seen[k];
		m.exhausted &= !missing;
		json_object_array_sort(m.failures, by_search_order);
		if (json) {
			json_object *root = merged_json(&m, missing);

			fprintf(out, "%s\n", json_object_to_json_string_ext(root,
				JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
			json_object_put(root);
		} else {
			print_text(out, &m, missing);
		}
		/* as explore's: a DFS not exhausted (or a shard missing) proved nothing */
		ret = json_object_array_length(m.failures) ? 1
		    : missing || (!m.exhausted && member(m.first, "bound")) ? 3 : 0;
	}
	for (int i = 0; results && i < nr; i++)
		json_object_put(results[i]);
	json_object_put(m.failures);
	free(results);
	free(m.seen);
	return ret;
}
