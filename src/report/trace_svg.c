/* SPDX-License-Identifier: MIT */
/*
 * trace_svg.c - a counterexample's trace as a picture: the DOT of
 * report_trace.c laid out by Graphviz's `dot -Tsvg`. Graphviz is not a
 * dependency: without `dot` on PATH the callers say so and fall back to
 * DOT (`explore --dot`) or to the text trace (`check --html`).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include <pinmm/scenario_explore.h>

#include "report.h"

int pm_dot_to_svg(const char *dot_path, const char *svg_path)
{
	int status;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		if (null >= 0) {
			dup2(null, STDOUT_FILENO);
			dup2(null, STDERR_FILENO);
		}
		execlp("dot", "dot", "-Tsvg", dot_path, "-o", svg_path, (char *)NULL);
		_exit(127);	/* as a shell says "command not found" */
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -EIO;
	return WEXITSTATUS(status) == 0 ? 0 : WEXITSTATUS(status) == 127 ? -ENOENT : -EIO;
}

/* Every id="..." below node gets prefix: dot names its elements graph0,
 * node1, edge1 in every picture, and a page holds several. */
static void prefix_ids(xmlNodePtr node, const char *prefix)
{
	for (; node; node = node->next) {
		xmlChar *id;

		if (node->type != XML_ELEMENT_NODE)
			continue;
		id = xmlGetProp(node, BAD_CAST "id");
		if (id) {
			char buf[256];

			snprintf(buf, sizeof(buf), "%s%s", prefix, (const char *)id);
			xmlSetProp(node, BAD_CAST "id", BAD_CAST buf);
			xmlFree(id);
		}
		prefix_ids(node->children, prefix);
	}
}

/* The <svg> element of the file dot wrote, serialized by libxml2. */
static int read_svg(const char *path, const char *id_prefix, char **svg)
{
	xmlDocPtr doc = xmlReadFile(path, NULL, XML_PARSE_NONET | XML_PARSE_NOWARNING |
				    XML_PARSE_NOERROR);
	xmlNodePtr root = doc ? xmlDocGetRootElement(doc) : NULL;
	xmlBufferPtr buf = xmlBufferCreate();
	int ret = -EIO;

	if (root && buf && !xmlStrcmp(root->name, BAD_CAST "svg")) {
		prefix_ids(root, id_prefix);
		if (xmlNodeDump(buf, doc, root, 0, 0) > 0) {
			*svg = strdup((const char *)xmlBufferContent(buf));
			ret = *svg ? 0 : -ENOMEM;
		}
	}
	if (buf)
		xmlBufferFree(buf);
	if (doc)
		xmlFreeDoc(doc);
	return ret;
}

int pm_trace_svg(const struct pinmm_scenario *scn, const struct pinmm_scn_explore_result *r,
		 const char *id_prefix, char **svg)
{
	const char *tmp = getenv("TMPDIR");
	char dir[512], dot[600], out[600];
	FILE *f;
	int ret;

	/* scratch files in TMPDIR (else /tmp): only the page keeps the picture */
	snprintf(dir, sizeof(dir), "%.480s/pinmm-trace-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir))
		return -errno;
	snprintf(dot, sizeof(dot), "%s/trace.dot", dir);
	snprintf(out, sizeof(out), "%s/trace.svg", dir);
	f = fopen(dot, "w");
	if (!f) {
		ret = -errno;
	} else {
		pinmm_report_trace_dot(f, scn, r);
		ret = fclose(f) ? -EIO : pm_dot_to_svg(dot, out);
	}
	if (!ret)
		ret = read_svg(out, id_prefix, svg);
	unlink(out);
	unlink(dot);
	rmdir(dir);
	return ret;
}
