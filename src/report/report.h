/* SPDX-License-Identifier: MIT */
/* Shared by the reports: report.c (text), report_tap.c, report_json.c and the other
 * writers of JSON (explore, host, bench). */
#ifndef PM_SCN_REPORT_H
#define PM_SCN_REPORT_H

#include <stdio.h>

#include <pinmm/scenario.h>

/* The row's name: the file's base name without .pin. */
const char *pm_row_name(const struct pinmm_row *row, char *buf, size_t len);
/* What a cell shows: pass, detected, UNEXPECTED, n/a[-switch|-explorer],
 * (pass)/(fails) for informational cells. */
const char *pm_cell_text(const struct pinmm_cell *c);

/* Every JSON document pinmm writes carries "schema_version": the version of
 * its JSON Schema (docs/schema/, docs/output.md), raised when a field
 * changes meaning or goes away, not when one is added. */
#define PM_JSON_SCHEMA_VERSION 1
struct json_object;
/* A new JSON object with "schema_version" set: the root of a document. */
struct json_object *pm_json_document(void);

/* report_tap.c */
int pm_tap_matrix(FILE *out, const struct pinmm_matrix *m);
int pm_ktap_matrix(FILE *out, const struct pinmm_matrix *m);

/* report_trace.c: explorer thread t's name; a counterexample's trace as
 * text (pinmm_report_trace_dot: as DOT) */
struct pinmm_scn_explore_result;
const char *pm_explore_thread_name(const struct pinmm_scn_explore_result *r, unsigned t);
int pm_report_trace_text(FILE *out, const struct pinmm_scenario *scn,
			 const struct pinmm_scn_explore_result *r);

/* "pinmm replay FILE 'SCHEDULE' --policy P": what reproduces a
 * counterexample (report_trace.c) */
void pm_replay_command(char *buf, size_t len, const char *file, const char *schedule,
		       const char *policy);

/* trace_svg.c: `dot -Tsvg DOT -o SVG`: 0, -ENOENT when dot is not on PATH,
 * -EIO when it failed; a counterexample's trace as one <svg> element (a
 * malloc'd string, ids prefixed with id_prefix): 0, or as above */
int pm_dot_to_svg(const char *dot_path, const char *svg_path);
int pm_trace_svg(const struct pinmm_scenario *scn, const struct pinmm_scn_explore_result *r,
		 const char *id_prefix, char **svg);

/* campaign.c: a search's shard and counterexamples, into explore's JSON */
struct pinmm_explore_cfg;
struct pinmm_explore_result;
void pm_json_explore_campaign(struct json_object *root, const struct pinmm_explore_cfg *cfg,
			      const struct pinmm_explore_result *ex);
/* a preemption bound: its number, null for none */
struct json_object *pm_json_bound(unsigned bound);

int pm_json_matrix(FILE *out, const struct pinmm_matrix *m);
int pm_json_run(FILE *out, const struct pinmm_scenario *scn, const char *policy,
		const struct pinmm_scn_result *res);

#endif
