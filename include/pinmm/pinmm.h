/* SPDX-License-Identifier: MIT */
/* pinmm/pinmm.h - everything of libpinmm's public API. */
#ifndef PINMM_PINMM_H
#define PINMM_PINMM_H
#include <pinmm/policy.h>
#include <pinmm/mm.h>
#include <pinmm/gup.h>
#include <pinmm/check.h>
#include <pinmm/daemons.h>
/* The API's version (these headers); pinmm_version() is the library's
 * (they differ when a program runs against another libpinmm). */
#define PINMM_VERSION_MAJOR 0
#define PINMM_VERSION_MINOR 1
#define PINMM_VERSION_PATCH 0
#define PINMM_VERSION "0.1.0"
const char *pinmm_version(void);
#endif
