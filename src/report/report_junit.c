/* SPDX-License-Identifier: MIT */
/*
 * report_junit.c - `pinmm check --junit FILE`: the matrix as JUnit XML, the
 * format CI servers read (Jenkins, GitLab, GitHub actions), in its common
 * Ant/Jenkins form (docs/schema/junit.xsd):
 *
 *   <testsuites name="pinmm check" tests= failures= errors= skipped= time=>
 *     <testsuite name=SCENARIO tests= failures= errors= skipped= time=>
 *       <properties> file, title </properties>
 *       <testcase name="SCENARIO CELL" classname=SCENARIO time=>
 *         <failure message= type="UNEXPECTED">messages</failure>  UNEXPECTED
 *         <skipped message=/>                                      n/a
 *         <system-out>the cell's result</system-out>
 *
 * Written with libxml2's xmlTextWriter: scenario titles and failure
 * messages are free text, and escaping them is the library's business.
 * Times are seconds, from each cell's ms.
 */
#include <errno.h>
#include <stdio.h>

#include <libxml/xmlwriter.h>

#include <pinmm/scenario.h>

#include "report.h"

/* every writer call returns < 0 on error: keep going, remember it in ret */
#define W(call) do { if ((call) < 0) ret = -EIO; } while (0)

static int attr(xmlTextWriterPtr w, const char *name, const char *v)
{
	return xmlTextWriterWriteAttribute(w, BAD_CAST name, BAD_CAST v);
}

static int attr_uint(xmlTextWriterPtr w, const char *name, unsigned v)
{
	return xmlTextWriterWriteFormatAttribute(w, BAD_CAST name, "%u", v);
}

static int attr_time(xmlTextWriterPtr w, double ms)
{
	return xmlTextWriterWriteFormatAttribute(w, BAD_CAST "time", "%.3f", ms / 1e3);
}

static int property(xmlTextWriterPtr w, const char *name, const char *v)
{
	int ret = 0;

	W(xmlTextWriterStartElement(w, BAD_CAST "property"));
	W(attr(w, "name", name));
	W(attr(w, "value", v));
	W(xmlTextWriterEndElement(w));
	return ret;
}

struct counts {
	unsigned tests, failures, skipped;
	double ms;
};

static void count(struct counts *t, const struct pinmm_cell *c)
{
	t->tests++;
	t->failures += c->verdict == PINMM_VERDICT_UNEXPECTED;
	t->skipped += c->verdict == PINMM_VERDICT_NA;
	t->ms += c->ms;
}

/* tests, failures, errors (none: a cell that could not run is a failure),
 * skipped, time */
static int counts_attrs(xmlTextWriterPtr w, const struct counts *t)
{
	int ret = 0;

	W(attr_uint(w, "tests", t->tests));
	W(attr_uint(w, "failures", t->failures));
	W(attr_uint(w, "errors", 0));
	W(attr_uint(w, "skipped", t->skipped));
	W(attr_time(w, t->ms));
	return ret;
}

static int testcase(xmlTextWriterPtr w, const char *scn, const struct pinmm_cell *c)
{
	int ret = 0;

	W(xmlTextWriterStartElement(w, BAD_CAST "testcase"));
	W(xmlTextWriterWriteFormatAttribute(w, BAD_CAST "name", "%s %s", scn, c->label));
	W(attr(w, "classname", scn));
	W(attr_time(w, c->ms));
	if (c->verdict == PINMM_VERDICT_UNEXPECTED) {
		W(xmlTextWriterStartElement(w, BAD_CAST "failure"));
		W(attr(w, "message", c->reason));
		W(attr(w, "type", pinmm_verdict_str(c->verdict)));
		for (unsigned i = 0; c->ran && i < c->result.nr_msgs; i++)
			W(xmlTextWriterWriteFormatString(w, "%s\n", c->result.msgs[i]));
		W(xmlTextWriterEndElement(w));
	} else if (c->verdict == PINMM_VERDICT_NA) {
		W(xmlTextWriterStartElement(w, BAD_CAST "skipped"));
		W(attr(w, "message", c->reason));
		W(xmlTextWriterEndElement(w));
	}
	W(xmlTextWriterWriteElement(w, BAD_CAST "system-out", BAD_CAST pm_cell_text(c)));
	W(xmlTextWriterEndElement(w));
	return ret;
}

static int testsuite(xmlTextWriterPtr w, const struct pinmm_row *row)
{
	struct counts t = { 0 };
	char name[128];
	int ret = 0;

	pm_row_name(row, name, sizeof(name));
	for (unsigned k = 0; k < row->nr_cells; k++)
		count(&t, &row->cells[k]);
	W(xmlTextWriterStartElement(w, BAD_CAST "testsuite"));
	W(attr(w, "name", name));
	W(counts_attrs(w, &t));
	W(xmlTextWriterStartElement(w, BAD_CAST "properties"));
	W(property(w, "file", pinmm_scenario_file(row->scn)));
	W(property(w, "title", pinmm_scenario_title(row->scn)));
	W(xmlTextWriterEndElement(w));
	for (unsigned k = 0; k < row->nr_cells; k++)
		W(testcase(w, name, &row->cells[k]));
	W(xmlTextWriterEndElement(w));
	return ret;
}

int pinmm_report_junit(FILE *out, const struct pinmm_matrix *m)
{
	xmlOutputBufferPtr buf = xmlOutputBufferCreateFile(out, NULL);
	xmlTextWriterPtr w = buf ? xmlNewTextWriter(buf) : NULL;
	struct counts all = { 0 };
	int ret = 0;

	if (!w) {
		if (buf)
			xmlOutputBufferClose(buf);
		return -ENOMEM;
	}
	for (size_t i = 0; i < m->nr_rows; i++)
		for (unsigned k = 0; k < m->rows[i].nr_cells; k++)
			count(&all, &m->rows[i].cells[k]);
	W(xmlTextWriterSetIndent(w, 1));
	W(xmlTextWriterSetIndentString(w, BAD_CAST "  "));
	W(xmlTextWriterStartDocument(w, NULL, "UTF-8", NULL));
	W(xmlTextWriterStartElement(w, BAD_CAST "testsuites"));
	W(attr(w, "name", "pinmm check"));
	W(counts_attrs(w, &all));
	for (size_t i = 0; i < m->nr_rows; i++)
		W(testsuite(w, &m->rows[i]));
	W(xmlTextWriterEndDocument(w));	/* closes every open element */
	xmlFreeTextWriter(w);	/* flushes; the FILE stays the caller's */
	return ret || ferror(out) ? -EIO : 0;
}
