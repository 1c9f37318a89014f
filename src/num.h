/* num: strict number parsing and formatting, with Redis's rules (pure).
 *
 * num_parse_ll accepts exactly what Redis's string2ll accepts: an optional
 * '-', then digits with no leading zero (except "0" itself), no spaces, no
 * '+', and no overflow. */
#ifndef NUM_H
#define NUM_H

#include <stdbool.h>
#include <stddef.h>

bool num_parse_ll(const char *s, size_t len, long long *out);
/* Writes the decimal form of v into out (at least 21 bytes); returns the
 * length. */
int num_format_ll(char *out, long long v);

/* Redis's MAX_LONG_DOUBLE_CHARS: the longest float text parsed or made. */
#define NUM_LD_CHARS (5 * 1024)
/* Redis's string2ld: the whole of the len bytes at s (no leading space,
 * nothing after the number, strtold's syntax: "1e3", "0x10", "inf") is a
 * long double that is not NaN and did not overflow or underflow to 0. */
bool num_parse_ld(const char *s, size_t len, long double *out);
/* Redis's ld2string in LD_STR_HUMAN mode, as INCRBYFLOAT and HINCRBYFLOAT
 * store their result: "%.17Lf" with trailing zeros (and a trailing '.')
 * removed, "-0" written "0". v is finite; out has NUM_LD_CHARS bytes.
 * Returns the length, 0 when it does not fit. */
size_t num_format_ld(char *out, long double v);

#endif
