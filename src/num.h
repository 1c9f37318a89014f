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

#endif
