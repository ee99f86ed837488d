/* SPDX-License-Identifier: MIT */
/*
 * report_json.c - `--json` for `pinmm check` and `pinmm run` (json-c).
 *
 * Every document starts with "schema_version" (docs/schema/pinmm-*.schema.json).
 * check: { "schema_version", "version", "as_declared", "summary": {...}, "scenarios": [
 *   { "file", "name", "title", "explore_bound", "cells": [ { "policy",
 *     "role", "expected", "verdict", "na", "result", "attempts", "ms",
 *     "reason", "messages": [...] } ] } ] }
 */
#include <errno.h>

#include <json-c/json.h>

#include <pinmm/pinmm.h>

#include "report.h"

json_object *pm_json_document(void)
{
	json_object *root = json_object_new_object();

	json_object_object_add(root, "schema_version",
			       json_object_new_int(PM_JSON_SCHEMA_VERSION));
	return root;
}

static json_object *result_json(const struct pinmm_scn_result *r,
				json_object *o)
{
	json_object *msgs = json_object_new_array();

	json_object_object_add(o, "result",
			       json_object_new_string(pinmm_scn_outcome_str(r->outcome)));
	json_object_object_add(o, "failures", json_object_new_int((int)r->nr_failures));
	for (unsigned i = 0; i < r->nr_msgs; i++)
		json_object_array_add(msgs, json_object_new_string(r->msgs[i]));
	json_object_object_add(o, "messages", msgs);
	if (r->outcome == PINMM_SCN_UNSUPPORTED)
		json_object_object_add(o, "unsupported",
				       json_object_new_string(r->unsupported));
	return o;
}

static const char *const na_str[] = {
	[PINMM_NA_NONE] = NULL, [PINMM_NA_UNBUILT] = "not-built",
	[PINMM_NA_NO_SWITCH] = "switch-not-implemented",
	[PINMM_NA_EXPLORER] = "needs-explorer", [PINMM_NA_HOST] = "host-skipped",
};

static json_object *cell_json(const struct pinmm_cell *c)
{
	json_object *o = json_object_new_object();
	const char *expected = c->expect == PINMM_EXPECT_PASS ? "pass"
			     : c->expect == PINMM_EXPECT_FAIL ? "fail" : "either";

	json_object_object_add(o, "policy", json_object_new_string(c->label));
	json_object_object_add(o, "role", json_object_new_string(pinmm_cell_role_str(c->role)));
	json_object_object_add(o, "expected", json_object_new_string(expected));
	json_object_object_add(o, "verdict", json_object_new_string(pinmm_verdict_str(c->verdict)));
	json_object_object_add(o, "na", na_str[c->na] ? json_object_new_string(na_str[c->na])
						       : NULL);
	json_object_object_add(o, "attempts", json_object_new_int((int)c->attempts));
	json_object_object_add(o, "ms", json_object_new_double(c->ms));
	json_object_object_add(o, "reason", json_object_new_string(c->reason));
	if (c->explored) {	/* a search by the explorer (matrix_explore.c) */
		json_object_object_add(o, "explored", json_object_new_boolean(true));
		json_object_object_add(o, "exhausted", json_object_new_boolean(c->exhausted));
		json_object_object_add(o, "bound", pm_json_bound(c->bound));
		json_object_object_add(o, "executions", json_object_new_uint64(c->executions));
		json_object_object_add(o, "seconds", json_object_new_double(c->seconds));
		if (c->result.outcome == PINMM_SCN_FAIL)
			json_object_object_add(o, "schedule", json_object_new_string(c->schedule));
	}
	if (c->ran)
		result_json(&c->result, o);
	else
		json_object_object_add(o, "result", json_object_new_string("not-run"));
	return o;
}

static int emit(FILE *out, json_object *root)
{
	int ret = fprintf(out, "%s\n", json_object_to_json_string_ext(root,
			  JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE)) < 0
		  ? -EIO : 0;

	json_object_put(root);
	return ret;
}

int pm_json_matrix(FILE *out, const struct pinmm_matrix *m)
{
	const struct pinmm_matrix_summary *s = &m->sum;
	json_object *root = pm_json_document();
	json_object *sum = json_object_new_object();
	json_object *rows = json_object_new_array();
	char name[128];

	json_object_object_add(root, "version", json_object_new_string(PINMM_VERSION));
	json_object_object_add(root, "as_declared",
			       json_object_new_boolean(pinmm_matrix_as_declared(m)));
	json_object_object_add(sum, "scenarios", json_object_new_int((int)s->rows));
	json_object_object_add(sum, "cells", json_object_new_int((int)s->cells));
	json_object_object_add(sum, "pass", json_object_new_int((int)s->pass));
	json_object_object_add(sum, "detected", json_object_new_int((int)s->detected));
	json_object_object_add(sum, "unexpected", json_object_new_int((int)s->unexpected));
	json_object_object_add(sum, "na", json_object_new_int((int)s->na));
	json_object_object_add(sum, "na_not_built", json_object_new_int((int)s->na_unsupported));
	json_object_object_add(sum, "na_switch_not_implemented",
			       json_object_new_int((int)s->na_not_implemented));
	json_object_object_add(sum, "na_needs_explorer",
			       json_object_new_int((int)s->na_needs_explorer));
	json_object_object_add(sum, "na_host_skipped", json_object_new_int((int)s->na_host));
	json_object_object_add(sum, "informational", json_object_new_int((int)s->info));
	json_object_object_add(root, "summary", sum);
	for (size_t i = 0; i < m->nr_rows; i++) {
		const struct pinmm_row *row = &m->rows[i];
		json_object *r = json_object_new_object(), *cells = json_object_new_array();

		json_object_object_add(r, "file",
				       json_object_new_string(pinmm_scenario_file(row->scn)));
		json_object_object_add(r, "name",
				       json_object_new_string(pm_row_name(row, name, sizeof(name))));
		json_object_object_add(r, "title",
				       json_object_new_string(pinmm_scenario_title(row->scn)));
		json_object_object_add(r, "explore_bound",
				       pm_json_bound(pinmm_scenario_explore_bound(row->scn)));
		for (unsigned k = 0; k < row->nr_cells; k++)
			json_object_array_add(cells, cell_json(&row->cells[k]));
		json_object_object_add(r, "cells", cells);
		json_object_array_add(rows, r);
	}
	json_object_object_add(root, "scenarios", rows);
	return emit(out, root);
}

int pm_json_run(FILE *out, const struct pinmm_scenario *scn, const char *policy,
		const struct pinmm_scn_result *res)
{
	json_object *root = pm_json_document();

	json_object_object_add(root, "file", json_object_new_string(pinmm_scenario_file(scn)));
	json_object_object_add(root, "title", json_object_new_string(pinmm_scenario_title(scn)));
	json_object_object_add(root, "policy", json_object_new_string(policy));
	result_json(res, root);
	return emit(out, root);
}
