/* SPDX-License-Identifier: MIT */
/*
 * collect.c - FILES|DIRS to the sorted list of .pin files `pinmm check`
 * runs. A directory gives its own *.pin files only: subdirectories such as
 * scenarios/bad/ (files that must not parse) stay out.
 */
#define _GNU_SOURCE	/* asprintf */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <pinmm/scenario.h>

struct paths {
	char **v;
	size_t nr, cap;
};

static int add(struct paths *p, char *s)
{
	if (!s)
		return -ENOMEM;
	if (p->nr == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 64;
		char **v = realloc(p->v, cap * sizeof(*v));

		if (!v) {
			free(s);
			return -ENOMEM;
		}
		p->v = v;
		p->cap = cap;
	}
	p->v[p->nr++] = s;
	return 0;
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_pin(const char *name)
{
	size_t n = strlen(name);

	return n > 4 && strcmp(name + n - 4, ".pin") == 0 && name[0] != '.';
}

static int add_dir(struct paths *p, const char *dir)
{
	size_t first = p->nr, dl = strlen(dir);
	struct dirent *de;
	DIR *d = opendir(dir);
	int ret = 0;

	if (!d)
		return -errno;
	while (!ret && (de = readdir(d))) {
		struct stat st;
		char *path;

		if (!is_pin(de->d_name))
			continue;
		if (asprintf(&path, "%s%s%s", dir, dl && dir[dl - 1] == '/' ? "" : "/",
			     de->d_name) < 0)
			ret = -ENOMEM;
		else if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
			ret = add(p, path);
		else
			free(path);
	}
	closedir(d);
	if (p->nr > first)	/* an empty directory has no array to sort */
		qsort(p->v + first, p->nr - first, sizeof(*p->v), cmp);
	return ret;
}

int pinmm_scenario_collect(const char *const *args, size_t nargs,
			   char ***paths, size_t *npaths, char *err,
			   size_t errlen)
{
	struct paths p = { 0 };
	int ret = 0;

	for (size_t i = 0; !ret && i < nargs; i++) {
		struct stat st;

		if (stat(args[i], &st))
			ret = -errno;
		else if (S_ISDIR(st.st_mode)) {
			size_t before = p.nr;

			ret = add_dir(&p, args[i]);
			if (!ret && p.nr == before) {
				/* a directory that holds nothing to check is bad
				 * input, never a green "0 scenarios" */
				snprintf(err, errlen, "%s: no .pin files in this directory", args[i]);
				ret = -ENOENT;
				break;
			}
		} else {
			ret = add(&p, strdup(args[i]));
		}
		if (ret)
			snprintf(err, errlen, "%s: %s", args[i], strerror(-ret));
	}
	if (ret) {
		pinmm_scenario_paths_free(p.v, p.nr);
		return ret;
	}
	*paths = p.v;
	*npaths = p.nr;
	return 0;
}

void pinmm_scenario_paths_free(char **paths, size_t npaths)
{
	for (size_t i = 0; i < npaths; i++)
		free(paths[i]);
	free(paths);
}
