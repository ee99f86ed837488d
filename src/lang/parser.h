/* SPDX-License-Identifier: MIT */
/*
 * The parser's state and helpers, shared by parser.c (file structure,
 * header, threads, names) and parse_stmt.c (one function per statement).
 *
 * Errors longjmp back to pinmm_scenario_parse(): every allocation is linked
 * into the scenario before it can fail, so freeing the scenario frees all.
 */
#ifndef PM_SCN_PARSER_H
#define PM_SCN_PARSER_H

#include <setjmp.h>

#include "ast.h"
#include "lexer.h"

/* Where a thread of the threads declared for one `run` names a pin. */
struct pin_use {
	int thread;			/* -1: none */
	unsigned line, col;
};

/* Per pin name, within one `run`'s threads: the first thread that takes or
 * releases it, the first that names it at all, and the first other thread
 * that names it (enough to find any two threads that clash). */
struct pin_users {
	unsigned run;			/* the `run` these are for */
	struct pin_use owner, user, other;
};

struct parser {
	struct lexer lx;
	struct token tok;		/* the current token */
	struct pinmm_scenario *scn;
	int thread;			/* inside `thread ... end`, else -1 */
	int proc;			/* default process of a statement */
	unsigned run;			/* `run`s so far: threads before the next
					 * one run together */
	struct pin_users *pin_users;	/* per pin name, nr_pin_users of them */
	unsigned nr_pin_users;
	jmp_buf fail;
};

/* "FILE:LINE:COL: error: expected WHAT, got <the token at t>" and out. */
_Noreturn void p_expected(struct parser *p, const struct token *t,
			  const char *what);
/* Any other message at t. */
_Noreturn __attribute__((format(printf, 3, 4)))
void p_fail(struct parser *p, const struct token *t, const char *fmt, ...);

void p_advance(struct parser *p);
bool p_is_word(const struct parser *p, const char *w);
/* Expect the word w and move past it. */
void p_want_word(struct parser *p, const char *w);
void p_want(struct parser *p, enum tok_kind k, const char *what);
/* Statement end: end of line or of file. */
bool p_at_end(const struct parser *p);
void p_want_end(struct parser *p);

/* NUM {(+|-) NUM}, folded; what names the value in messages. */
uint64_t p_number(struct parser *p, const char *what);
uint8_t p_byte(struct parser *p);
/* REGION [(+|-) expr], REGION defined before. */
struct scn_addr p_addr(struct parser *p);
/* A name being used: must exist in ns. */
int p_use(struct parser *p, enum scn_ns ns);
/* A name being defined: must be new unless redefinable. */
int p_define(struct parser *p, enum scn_ns ns, bool redefinable);
/* parse_file.c: a pin name used where the current token is (owns: taken
 * or released, else only read through); threads that run together may not
 * share a pin that one of them takes or releases. p_use_pin() is p_use()
 * of NS_PIN with that check. */
void p_pin_used(struct parser *p, int pin, const struct token *at, bool owns);
int p_use_pin(struct parser *p, bool owns);

/* An option `KEY[=VALUE]`: the key word is the current token; true when an
 * `=` follows (then the current token is the value). */
bool p_option(struct parser *p, struct token *key);
bool tok_is(const struct token *t, const char *w);

void *p_alloc(struct parser *p, size_t size);
/* A statement at token t, linked into list before it is filled. */
struct stmt *p_new_stmt(struct parser *p, struct stmt_list *list,
			enum stmt_kind kind, const struct token *t);

/* parse_stmt.c: one statement, the current token is its first word; it
 * ends at the end of its line (not consumed). allow_guard: `expect error`,
 * `try` and `in` are allowed (not inside another guard). */
struct stmt *p_statement(struct parser *p, struct stmt_list *list);
/* The keyword table: is this word a statement keyword? */
bool p_is_statement_word(const struct token *t);

#endif
