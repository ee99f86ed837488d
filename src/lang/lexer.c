/* SPDX-License-Identifier: MIT */
/*
 * lexer.c - tokens of the scenario language (lexer.h).
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lexer.h"

void lex_init(struct lexer *lx, const char *file, const char *src, size_t len,
	      char *err, size_t errlen)
{
	memset(lx, 0, sizeof(*lx));
	lx->file = file;
	lx->src = lx->p = lx->line_start = src;
	lx->end = src + len;
	lx->line = 1;
	lx->err = err;
	lx->errlen = errlen;
	if (err && errlen)
		err[0] = '\0';
}

static unsigned col_of(const struct lexer *lx, const char *at)
{
	return (unsigned)(at - lx->line_start) + 1;
}

/* Printable quote of [s, s+len) for messages: at most 32 bytes, anything
 * unprintable as \xNN, so a binary file cannot garble the terminal. */
static void quote(char *buf, size_t size, const char *s, size_t len)
{
	size_t o = 0;

	if (size < 8)
		return;
	buf[o++] = '\'';
	for (size_t i = 0; i < len && i < 32 && o + 6 < size; i++) {
		unsigned char c = (unsigned char)s[i];

		if (isprint(c))
			buf[o++] = (char)c;
		else
			o += (size_t)snprintf(buf + o, size - o, "\\x%02x", c);
	}
	if (len > 32 && o + 5 < size)
		o += (size_t)snprintf(buf + o, size - o, "...");
	buf[o++] = '\'';
	buf[o] = '\0';
}

__attribute__((format(printf, 3, 4)))
static bool lex_error(struct lexer *lx, const char *at, const char *fmt, ...)
{
	size_t n;
	va_list ap;

	lx->failed = true;
	if (!lx->err || !lx->errlen)
		return false;
	n = (size_t)snprintf(lx->err, lx->errlen, "%s:%u:%u: error: ", lx->file,
			     lx->line, col_of(lx, at));
	if (n < lx->errlen) {
		va_start(ap, fmt);
		vsnprintf(lx->err + n, lx->errlen - n, fmt, ap);
		va_end(ap);
	}
	return false;
}

static bool is_word_start(int c) { return isalpha(c) || c == '_'; }
static bool is_word_char(int c) { return isalnum(c) || c == '_' || c == '-'; }
static bool is_blank(int c) { return c == ' ' || c == '\t' || c == '\r'; }

/* Skip blanks, comments and `\` line continuations. */
static bool skip_blanks(struct lexer *lx)
{
	while (lx->p < lx->end) {
		char c = *lx->p;

		if (is_blank(c)) {
			lx->p++;
		} else if (c == '#') {
			while (lx->p < lx->end && *lx->p != '\n')
				lx->p++;
		} else if (c == '\\') {
			const char *q = lx->p + 1;

			while (q < lx->end && is_blank(*q))
				q++;
			if (q < lx->end && *q != '\n')
				return lex_error(lx, lx->p,
						 "expected end of line after '\\', got '%c'",
						 isprint((unsigned char)*q) ? *q : '?');
			if (q < lx->end) {	/* join the next line */
				lx->p = q + 1;
				lx->line++;
				lx->line_start = lx->p;
			} else {
				lx->p = q;
			}
		} else {
			break;
		}
	}
	return true;
}

static void start(struct lexer *lx, struct token *t, enum tok_kind k)
{
	memset(t, 0, sizeof(*t));
	t->kind = k;
	t->line = lx->line;
	t->col = col_of(lx, lx->p);
	t->s = lx->p;
}

/* A newline ends the statement; the next token is on the next line. */
static bool lex_eol_or_eof(struct lexer *lx, struct token *t)
{
	if (lx->p >= lx->end) {
		start(lx, t, T_EOF);
		return true;
	}
	start(lx, t, T_EOL);
	lx->p++;
	t->len = 1;
	lx->line++;
	lx->line_start = lx->p;
	return true;
}

static bool lex_number(struct lexer *lx, struct token *t)
{
	const char *q = lx->p;
	unsigned base = 10;
	uint64_t v = 0;
	bool overflow = false, digits = false;

	start(lx, t, T_NUM);
	if (q + 1 < lx->end && q[0] == '0' && (q[1] == 'x' || q[1] == 'X')) {
		base = 16;
		q += 2;
	}
	for (; q < lx->end; q++) {
		int c = (unsigned char)*q, d;

		if (isdigit(c))
			d = c - '0';
		else if (base == 16 && isxdigit(c))
			d = tolower(c) - 'a' + 10;
		else
			break;
		if (v > (UINT64_MAX - (unsigned)d) / base)
			overflow = true;
		v = v * base + (unsigned)d;
		digits = true;
	}
	if (q < lx->end && (*q == 'K' || *q == 'M' || *q == 'G')) {
		unsigned shift = *q == 'K' ? 10 : *q == 'M' ? 20 : 30;

		if (v > (UINT64_MAX >> shift))
			overflow = true;
		v <<= shift;
		q++;
	}
	/* a '-' right after a number is arithmetic (2M-4K), not a name */
	if (!digits || (q < lx->end && (isalnum((unsigned char)*q) || *q == '_'))) {
		const char *e = q;
		char got[64];

		while (e < lx->end && is_word_char((unsigned char)*e))
			e++;
		quote(got, sizeof(got), lx->p, (size_t)(e - lx->p));
		return lex_error(lx, lx->p,
				 "expected a number (decimal or 0x hex, optional K, M or G), got %s",
				 got);
	}
	t->num = v;
	t->num_overflow = overflow;
	t->len = (size_t)(q - lx->p);
	lx->p = q;
	return true;
}

static bool lex_string(struct lexer *lx, struct token *t)
{
	const char *q = lx->p + 1;

	start(lx, t, T_STRING);
	while (q < lx->end && *q != '"' && *q != '\n') {
		if (*q == '\\' && q + 1 < lx->end && (q[1] == '"' || q[1] == '\\'))
			q++;
		q++;
	}
	if (q >= lx->end || *q != '"') {
		lx->p = q;
		return lex_error(lx, q, "expected '\"' to close the string, got %s",
				 q >= lx->end ? "end of file" : "end of line");
	}
	t->s = lx->p + 1;
	t->len = (size_t)(q - t->s);
	lx->p = q + 1;
	return true;
}

bool lex_next(struct lexer *lx, struct token *t)
{
	char c;

	if (!skip_blanks(lx))
		return false;
	if (lx->p >= lx->end || *lx->p == '\n')
		return lex_eol_or_eof(lx, t);
	c = *lx->p;
	if (isdigit((unsigned char)c))
		return lex_number(lx, t);
	if (c == '"')
		return lex_string(lx, t);
	if (is_word_start((unsigned char)c)) {
		start(lx, t, T_WORD);
		while (lx->p < lx->end && is_word_char((unsigned char)*lx->p))
			lx->p++;
		t->len = (size_t)(lx->p - t->s);
		return true;
	}
	start(lx, t, T_PLUS);
	t->len = 1;
	switch (c) {
	case '+': t->kind = T_PLUS; break;
	case '-': t->kind = T_MINUS; break;
	case ':': t->kind = T_COLON; break;
	case ',': t->kind = T_COMMA; break;
	case '=':
		t->kind = T_EQ;
		if (lx->p + 1 < lx->end && lx->p[1] == '=') {
			t->kind = T_EQEQ;
			t->len = 2;
		}
		break;
	default: {
		char got[64];

		quote(got, sizeof(got), lx->p, 1);
		return lex_error(lx, lx->p,
				 "expected a name, number, string or one of + - = == : ,, got %s",
				 got);
	}
	}
	lx->p += t->len;
	return true;
}

bool lex_raw(struct lexer *lx, struct token *t)
{
	if (!skip_blanks(lx))
		return false;
	if (lx->p >= lx->end || *lx->p == '\n')
		return lex_eol_or_eof(lx, t);
	start(lx, t, T_RAW);
	while (lx->p < lx->end && !is_blank(*lx->p) && *lx->p != '\n' &&
	       *lx->p != '#')
		lx->p++;
	t->len = (size_t)(lx->p - t->s);
	return true;
}

void tok_describe(const struct token *t, char *buf, size_t len)
{
	switch (t->kind) {
	case T_EOF:
		snprintf(buf, len, "end of file");
		break;
	case T_EOL:
		snprintf(buf, len, "end of line");
		break;
	case T_STRING:
		snprintf(buf, len, "a string");
		break;
	default:
		quote(buf, len, t->s, t->len);
		break;
	}
}
