/* SPDX-License-Identifier: MIT */
/*
 * parse_stmt.c - one function per statement of the language. Each starts
 * at its keyword and stops at the end of its line; options (`len=N`,
 * `populate`, ...) come after the positional arguments, in any order.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pinmm/gup.h>

#include "parser.h"
#include "suggest.h"

/* Bounds that keep a scenario's own allocations small (a fuzzer's input
 * may ask for anything); the engine refuses what its memory cannot hold. */
#define MAX_PIN_PAGES 65536ul
#define MAX_LEN (1ull << 30)
/* ksm-scan / khugepaged passes: a pass over an idle engine still costs
 * microseconds, so passes=1G ran for most of an hour without a word; a
 * scenario needs a handful (docs/scenario.md) */
#define MAX_PASSES 1000ul

typedef void (*parse_fn)(struct parser *p, struct stmt *st);

static _Noreturn void bad_option(struct parser *p, const struct token *key,
				 const char *allowed)
{
	char what[160];

	snprintf(what, sizeof(what), "%s or end of line", allowed);
	p_expected(p, key, what);
}

static uint64_t p_len(struct parser *p, const char *what)
{
	struct token at = p->tok;
	uint64_t v = p_number(p, what);

	if (v > MAX_LEN)
		p_fail(p, &at, "expected %s of at most 1G, got %llu", what,
		       (unsigned long long)v);
	return v;
}

static unsigned p_prot(struct parser *p)
{
	static const struct { const char *w; unsigned prot; } prots[] = {
		{ "none", PINMM_PROT_NONE }, { "r", PINMM_PROT_READ },
		{ "rw", PINMM_PROT_READ | PINMM_PROT_WRITE },
		{ "rx", PINMM_PROT_READ | PINMM_PROT_EXEC },
		{ "rwx", PINMM_PROT_READ | PINMM_PROT_WRITE | PINMM_PROT_EXEC },
	};

	for (size_t i = 0; i < sizeof(prots) / sizeof(prots[0]); i++) {
		if (p_is_word(p, prots[i].w)) {
			p_advance(p);
			return prots[i].prot;
		}
	}
	p_expected(p, &p->tok, "a protection (none, r, rw, rx or rwx)");
}

/* ------------------------------------------------- processes, memory --- */

/* thp=SIZE: an anonymous THP size, 16K .. 2M, a power of two (mTHP) */
static uint64_t p_thp_size(struct parser *p)
{
	struct token at = p->tok;
	uint64_t v = p_number(p, "a THP size");

	if (v < 4 * PINMM_PAGE_SIZE || v > PINMM_PMD_SIZE || (v & (v - 1)))
		p_fail(p, &at, "expected a THP size that is a power of two from 16K to 2M, got %llu",
		       (unsigned long long)v);
	return v;
}

static void parse_mmap(struct parser *p, struct stmt *st)
{
	struct token key, thp_at = { 0 };

	st->mmap.region = p_define(p, NS_REGION, true);
	st->mmap.file = -1;
	st->mmap.prot = PINMM_PROT_READ | PINMM_PROT_WRITE;
	if (p_is_word(p, "file")) {
		p_advance(p);
		p_want(p, T_COLON, "':' after 'file'");
		st->mmap.file = p_use(p, NS_FILE);
	} else if (p_is_word(p, "hugetlb")) {
		if (!p->scn->hugetlb_pages)
			p_fail(p, &p->tok, "expected a 'hugetlb pages=N' line before hugetlb memory "
			       "(the pool it comes from)");
		p_advance(p);
		st->mmap.hugetlb = true;
	} else {
		p_want_word(p, "anon");
	}
	if (p_is_word(p, "shared"))
		st->mmap.shared = true;
	else if (!p_is_word(p, "private"))
		p_expected(p, &p->tok, "'private' or 'shared'");
	p_advance(p);
	st->mmap.size = p_len(p, "a size");
	while (!p_at_end(p)) {
		bool eq = p_option(p, &key);

		if (!eq && (tok_is(&key, "thp") || tok_is(&key, "nothp"))) {
			st->mmap.thp = tok_is(&key, "thp") ? 1 : -1;
			thp_at = key;
			if (st->mmap.thp > 0)
				p->scn->thp_orders |= 1u << PINMM_HPAGE_ORDER;
		} else if (eq && tok_is(&key, "thp")) {
			thp_at = key;
			st->mmap.thp = 1;
			st->mmap.thp_size = p_thp_size(p);
			p->scn->thp_orders |= 1u << __builtin_ctzll(st->mmap.thp_size >>
								    PINMM_PAGE_SHIFT);
		} else if (!eq && tok_is(&key, "populate")) {
			st->mmap.populate = true;
		} else if (eq && tok_is(&key, "prot")) {
			st->mmap.prot = p_prot(p);
		} else if (eq && tok_is(&key, "off")) {
			st->mmap.off = p_number(p, "a file offset");
		} else if (eq && tok_is(&key, "align")) {
			struct token at = p->tok;
			uint64_t a = p_number(p, "an alignment");

			if (a < PINMM_PAGE_SIZE || (a & (a - 1)) || a > (1ull << 30))
				p_fail(p, &at, "expected an alignment that is a power of two from 4K to 1G, got %llu",
				       (unsigned long long)a);
			st->mmap.align = a;
		} else if (eq && tok_is(&key, "fixed")) {
			st->mmap.fixed = true;
			st->mmap.at = p_addr(p);
		} else {
			bad_option(p, &key, "thp, thp=, nothp, populate, prot=, off=, align= or fixed=");
		}
	}
	/* THPs are anonymous private memory (shmem THPs are not modelled) */
	if (st->mmap.thp > 0 && (st->mmap.file >= 0 || st->mmap.shared || st->mmap.hugetlb))
		p_fail(p, &thp_at, "expected thp only on an anonymous private region");
	if (st->mmap.thp < 0 && st->mmap.hugetlb)
		p_fail(p, &thp_at, "expected no thp or nothp on hugetlb memory");
}

static void parse_file_stmt(struct parser *p, struct stmt *st)
{
	struct token key;

	bool kind = false;

	st->file.file = p_define(p, NS_FILE, false);
	struct token size_at = p->tok;
	st->file.size = p_len(p, "a file size");
	while (!p_at_end(p)) {
		if (!kind && (p_is_word(p, "shmem") || p_is_word(p, "disk") ||
			      p_is_word(p, "hugetlb"))) {
			if (p_is_word(p, "hugetlb") && !p->scn->hugetlb_pages)
				p_fail(p, &p->tok, "expected a 'hugetlb pages=N' line before a hugetlb "
				       "file (the pool its pages come from)");
			st->file.disk = p_is_word(p, "disk");
			st->file.hugetlb = p_is_word(p, "hugetlb");
			kind = true;
			p_advance(p);
			continue;
		}
		if (!p_option(p, &key) || !tok_is(&key, "fill"))
			bad_option(p, &key, kind ? "fill=BYTE" : "fill=BYTE, shmem, disk or hugetlb");
		st->file.fill = p_byte(p);
	}
	/* hugetlbfs files are whole huge pages (ftruncate says EINVAL) */
	if (st->file.hugetlb && st->file.size % PINMM_PMD_SIZE)
		p_fail(p, &size_at, "expected a hugetlb file size that is a multiple of 2M, got %llu",
		       (unsigned long long)st->file.size);
}

static void parse_range(struct parser *p, struct stmt *st)
{
	st->range.a = p_addr(p);
	st->range.len = p_len(p, "a length");
}

static void parse_munmap(struct parser *p, struct stmt *st)
{
	parse_range(p, st);
}

static void parse_mprotect(struct parser *p, struct stmt *st)
{
	parse_range(p, st);
	st->range.prot = p_prot(p);
}

static void parse_madvise(struct parser *p, struct stmt *st)
{
	static const char *const advice[PINMM_MADV_NR] = {
		[PINMM_MADV_DONTNEED] = "dontneed", [PINMM_MADV_FREE] = "free",
		[PINMM_MADV_DONTFORK] = "dontfork", [PINMM_MADV_DOFORK] = "dofork",
		[PINMM_MADV_MERGEABLE] = "mergeable",
		[PINMM_MADV_UNMERGEABLE] = "unmergeable",
		[PINMM_MADV_HUGEPAGE] = "hugepage",
		[PINMM_MADV_NOHUGEPAGE] = "nohugepage",
		[PINMM_MADV_COLLAPSE] = "collapse", [PINMM_MADV_PAGEOUT] = "pageout",
	};

	parse_range(p, st);
	for (int i = 0; i < PINMM_MADV_NR; i++) {
		if (p_is_word(p, advice[i])) {
			st->range.advice = (enum pinmm_advice)i;
			p_advance(p);
			return;
		}
	}
	p_expected(p, &p->tok, "an advice (dontneed, free, dontfork, dofork, mergeable, unmergeable, hugepage, nohugepage, collapse or pageout)");
}

static void parse_mremap(struct parser *p, struct stmt *st)
{
	struct token key;
	struct scn_addr a = p_addr(p);

	if (a.off != 0 || p->tok.kind == T_NUM) {	/* ADDR LEN NEWNAME */
		st->kind = ST_MREMAP_PART;
		st->mremap_part.a = a;
		st->mremap_part.len = p_len(p, "a length");
		st->mremap_part.to = p_define(p, NS_REGION, true);
		while (!p_at_end(p)) {
			if (p_option(p, &key) || !tok_is(&key, "dontunmap"))
				bad_option(p, &key, "dontunmap");
			st->mremap_part.dontunmap = true;
		}
		return;
	}
	st->mremap.from = a.region;	/* NAME NEWNAME [size=SIZE] */
	st->mremap.to = p_define(p, NS_REGION, true);
	while (!p_at_end(p)) {
		if (!p_option(p, &key) || !tok_is(&key, "size"))
			bad_option(p, &key, "size=SIZE");
		st->mremap.has_size = true;
		st->mremap.size = p_len(p, "a size");
	}
}

static void parse_fork(struct parser *p, struct stmt *st)
{
	st->who.proc = p_define(p, NS_PROC, false);
}

static void parse_exit(struct parser *p, struct stmt *st)
{
	st->who.proc = p_use(p, NS_PROC);
}

/* ---------------------------------------------------- CPU and device --- */

static void parse_write(struct parser *p, struct stmt *st)
{
	struct token key;

	st->cpu.a = p_addr(p);
	st->cpu.byte = p_byte(p);
	st->cpu.len = 1;
	while (!p_at_end(p)) {
		if (p_is_word(p, "force") && !st->cpu.force) {
			st->cpu.force = true;
			p_advance(p);
			continue;
		}
		if (!p_option(p, &key) || !tok_is(&key, "len"))
			bad_option(p, &key, "len=N or force");
		st->cpu.len = p_len(p, "a length");
	}
}

static void parse_read(struct parser *p, struct stmt *st)
{
	struct token key;

	st->cpu.a = p_addr(p);
	st->cpu.len = 1;
	while (!p_at_end(p)) {
		if (!p_option(p, &key) || !tok_is(&key, "len"))
			bad_option(p, &key, "len=N");
		st->cpu.len = p_len(p, "a length");
	}
}

static unsigned long p_pages(struct parser *p)
{
	struct token at = p->tok;
	uint64_t n = p_number(p, "a page count");

	if (n < 1 || n > MAX_PIN_PAGES)
		p_fail(p, &at, "expected a page count in 1..%lu, got %llu",
		       MAX_PIN_PAGES, (unsigned long long)n);
	return (unsigned long)n;
}

/* pin PIN ADDR [pages=N] rw|ro [longterm] [fast] [force]; get likewise */
static void parse_pin(struct parser *p, struct stmt *st)
{
	struct token key, name = p->tok;
	bool access = false;
	unsigned *max;

	st->pin.pin = p_define(p, NS_PIN, true);
	p_pin_used(p, st->pin.pin, &name, true);
	st->pin.a = p_addr(p);
	st->pin.pages = 1;
	while (!p_at_end(p)) {
		bool eq = p_option(p, &key);

		if (eq && tok_is(&key, "pages")) {
			st->pin.pages = p_pages(p);
		} else if (!eq && (tok_is(&key, "rw") || tok_is(&key, "ro"))) {
			if (access)
				p_fail(p, &key, "expected one of rw or ro, got a second");
			access = true;
			if (tok_is(&key, "rw"))
				st->pin.flags |= PINMM_FOLL_WRITE;
		} else if (!eq && tok_is(&key, "longterm") && !st->pin.get) {
			st->pin.flags |= PINMM_FOLL_LONGTERM;
		} else if (!eq && tok_is(&key, "fast")) {
			st->pin.fast = true;
		} else if (!eq && tok_is(&key, "force")) {
			st->pin.flags |= PINMM_FOLL_FORCE;
		} else {
			bad_option(p, &key, st->pin.get ? "rw, ro, fast, force, pages=N"
					  : "rw, ro, longterm, fast, force, pages=N");
		}
	}
	if (!access)
		p_expected(p, &p->tok, "rw or ro");
	max = &p->scn->pin_max_pages[st->pin.pin];
	if (*max < st->pin.pages)
		*max = (unsigned)st->pin.pages;
}

static void parse_get(struct parser *p, struct stmt *st)
{
	st->pin.get = true;
	parse_pin(p, st);
}

static void parse_release(struct parser *p, struct stmt *st)
{
	st->dev.pin = p_use_pin(p, true);
}

/* [page=I] [off=O] [len=N] */
static void dev_options(struct parser *p, struct stmt *st, bool allow_len)
{
	struct token key;

	st->dev.len = 1;
	while (!p_at_end(p) && p->tok.kind != T_EQEQ) {
		if (!p_option(p, &key))
			bad_option(p, &key, "page=, off=, len=");
		if (tok_is(&key, "page"))
			st->dev.page = (unsigned long)p_number(p, "a page index");
		else if (tok_is(&key, "off"))
			st->dev.off = p_number(p, "an offset");
		else if (tok_is(&key, "len") && allow_len)
			st->dev.len = p_len(p, "a length");
		else
			bad_option(p, &key, allow_len ? "page=, off=, len=" : "page=, off=");
	}
}

static void parse_dev_write(struct parser *p, struct stmt *st)
{
	st->dev.pin = p_use_pin(p, false);
	st->dev.byte = p_byte(p);
	dev_options(p, st, true);
}

static void parse_dev_read(struct parser *p, struct stmt *st)
{
	st->dev.pin = p_use_pin(p, false);
	dev_options(p, st, true);
}

/* ------------------------------------------------ the system's activity --- */

static void parse_pass(struct parser *p, struct stmt *st)
{
	bool reclaim = st->kind == ST_RECLAIM;
	struct token key, at;

	st->pass.n = reclaim ? 0 : 1;	/* reclaim: all */
	while (!p_at_end(p)) {
		if (!p_option(p, &key) || !tok_is(&key, reclaim ? "pages" : "passes"))
			bad_option(p, &key, reclaim ? "pages=N" : "passes=N");
		at = p->tok;
		st->pass.n = (unsigned long)p_len(p, "a count");
		if (!reclaim && st->pass.n > MAX_PASSES)
			p_fail(p, &at, "expected a number of passes of at most %lu, got %lu",
			       MAX_PASSES, st->pass.n);
	}
}

static void parse_none(struct parser *p, struct stmt *st)
{
	(void)p;
	(void)st;
}

static void parse_at(struct parser *p, struct stmt *st)
{
	st->at.a = p_addr(p);
}

static void parse_uprobe(struct parser *p, struct stmt *st)
{
	st->uprobe.file = p_use(p, NS_FILE);
	st->uprobe.off = p_number(p, "a file offset");
}

static void parse_writeback(struct parser *p, struct stmt *st)
{
	st->uprobe.file = p_use(p, NS_FILE);
}

static void parse_run(struct parser *p, struct stmt *st)
{
	if (p->thread >= 0)
		p_fail(p, &(struct token){ .line = st->line, .col = st->col },
		       "expected a statement, got 'run' inside thread '%s'",
		       p->scn->names[NS_THREAD].v[p->thread]);
}

/* parse_expect.c */
void pm_parse_expect(struct parser *p, struct stmt *st);
void pm_parse_try(struct parser *p, struct stmt *st);

static const struct {
	const char *word;
	enum stmt_kind kind;
	parse_fn parse;
} keywords[] = {
	{ "mmap", ST_MMAP, parse_mmap },
	{ "file", ST_FILE, parse_file_stmt },
	{ "munmap", ST_MUNMAP, parse_munmap },
	{ "mremap", ST_MREMAP, parse_mremap },
	{ "mprotect", ST_MPROTECT, parse_mprotect },
	{ "madvise", ST_MADVISE, parse_madvise },
	{ "fork", ST_FORK, parse_fork },
	{ "exit", ST_EXIT, parse_exit },
	{ "write", ST_WRITE, parse_write },
	{ "read", ST_READ, parse_read },
	{ "pin", ST_PIN, parse_pin },
	{ "get", ST_PIN, parse_get },
	{ "unpin", ST_UNPIN, parse_release },
	{ "put", ST_PUT, parse_release },
	{ "dev-write", ST_DEV_WRITE, parse_dev_write },
	{ "dev-read", ST_DEV_READ, parse_dev_read },
	{ "ksm-scan", ST_KSM_SCAN, parse_pass },
	{ "khugepaged", ST_KHUGEPAGED, parse_pass },
	{ "compact", ST_COMPACT, parse_none },
	{ "reclaim", ST_RECLAIM, parse_pass },
	{ "migrate", ST_MIGRATE, parse_at },
	{ "numa-hint", ST_NUMA_HINT, parse_at },
	{ "split-pmd", ST_SPLIT_PMD, parse_at },
	{ "split-folio", ST_SPLIT_FOLIO, parse_at },
	{ "uprobe-register", ST_UPROBE_REGISTER, parse_uprobe },
	{ "uprobe-unregister", ST_UPROBE_UNREGISTER, parse_uprobe },
	{ "writeback", ST_WRITEBACK, parse_writeback },
	{ "expect", ST_EXPECT, pm_parse_expect },
	{ "try", ST_TRY, pm_parse_try },
	{ "run", ST_RUN, parse_run },
	/* handled by the file parser, reserved here */
	{ "thread", ST_THREAD, NULL },
	{ "end", ST_NR, NULL },
	{ "in", ST_NR, NULL },
};

bool p_is_statement_word(const struct token *t)
{
	for (size_t i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++)
		if (tok_is(t, keywords[i].word))
			return true;
	return false;
}

/* The statement's text as written: continuations and comments removed,
 * blanks collapsed. */
static char *stmt_text(struct parser *p, const char *s, const char *e)
{
	char *out = p_alloc(p, (size_t)(e - s) + 1);
	size_t o = 0;
	bool blank = false;

	for (; s < e; s++) {
		char c = *s;

		if (c == '#') {
			while (s + 1 < e && s[1] != '\n')
				s++;
			continue;
		}
		if (c == '\\' || c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			blank = true;
			continue;
		}
		if (blank && o)
			out[o++] = ' ';
		blank = false;
		out[o++] = c;
	}
	out[o] = '\0';
	return out;
}

/* Inside a guard (`expect error`, `try`) only actions are allowed. */
static struct stmt *statement(struct parser *p, struct stmt_list *list,
			      struct stmt **slot)
{
	struct token first = p->tok, kw;
	int saved = p->proc, proc = p->proc;
	bool explicit_proc = false, guarded;
	struct stmt *st;
	size_t i, n = sizeof(keywords) / sizeof(keywords[0]);

	if (p_is_word(p, "in")) {
		p_advance(p);
		proc = p_use(p, NS_PROC);
		p_want(p, T_COLON, "':' after 'in PROC'");
		explicit_proc = true;
	}
	kw = p->tok;
	guarded = slot != NULL;
	for (i = 0; i < n; i++)
		if (tok_is(&kw, keywords[i].word) && keywords[i].parse)
			break;
	if (i == n && kw.kind == T_WORD) {
		/* a mistyped keyword: name the nearest one */
		const char *words[sizeof(keywords) / sizeof(keywords[0])];
		size_t nw = 0;

		for (size_t k = 0; k < n; k++)
			if (keywords[k].parse)
				words[nw++] = keywords[k].word;
		const char *near = pm_nearest_word(kw.s, kw.len, words, nw);
		if (near)
			p_fail(p, &kw, "expected %s, got '%.*s' (did you mean '%s'?)",
			       guarded || explicit_proc ? "an action statement" : "a statement",
			       (int)kw.len, kw.s, near);
	}
	if (i == n || (guarded && (keywords[i].kind == ST_EXPECT ||
				   keywords[i].kind == ST_TRY ||
				   keywords[i].kind == ST_RUN)) ||
	    (explicit_proc && keywords[i].kind == ST_RUN))
		p_expected(p, &kw, guarded || explicit_proc ? "an action statement"
							  : "a statement");
	st = p_new_stmt(p, list, keywords[i].kind, &first);
	if (slot)
		*slot = st;	/* linked before it can fail: freed with the guard */
	p->proc = proc;
	st->proc = proc;
	st->proc_explicit = explicit_proc;
	p_advance(p);
	keywords[i].parse(p, st);
	p_want_end(p);
	p->proc = saved;
	st->text = stmt_text(p, first.s, p->tok.s);
	return st;
}

struct stmt *p_statement(struct parser *p, struct stmt_list *list)
{
	return statement(p, list, NULL);
}

/* The statement a guard covers (current token: its first word), stored in
 * *slot as soon as it exists. */
void pm_parse_guarded(struct parser *p, struct stmt **slot)
{
	statement(p, NULL, slot);
}
