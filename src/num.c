/* num: strict number parsing and formatting as Redis does it. */
#include "num.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool num_parse_ll(const char *s, size_t len, long long *out)
{
    size_t i = 0;
    bool neg = false;
    unsigned long long v = 0;
    if (len == 0 || len > 20) {
        return false;
    }
    if (len == 1 && s[0] == '0') {
        *out = 0;
        return true;
    }
    if (s[0] == '-') {
        neg = true;
        i++;
        if (i == len) {
            return false;
        }
    }
    if (s[i] < '1' || s[i] > '9') {
        return false;
    }
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (ULLONG_MAX - d) / 10) {
            return false;
        }
        v = v * 10 + d;
    }
    if (neg) {
        if (v > (unsigned long long)LLONG_MAX + 1) {
            return false;
        }
        *out = (long long)(0 - v);
    } else {
        if (v > (unsigned long long)LLONG_MAX) {
            return false;
        }
        *out = (long long)v;
    }
    return true;
}

int num_format_ll(char *out, long long v)
{
    /* Digits backwards into a scratch buffer, then copied: no printf on
     * the hot path (every integer reply and INCR goes through here). */
    char tmp[24];
    unsigned long long u =
        v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
    int n = 0;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    int len = 0;
    if (v < 0) {
        out[len++] = '-';
    }
    while (n > 0) {
        out[len++] = tmp[--n];
    }
    out[len] = '\0';
    return len;
}

bool num_parse_ld(const char *s, size_t len, long double *out)
{
    char buf[NUM_LD_CHARS];
    if (len == 0 || len >= sizeof buf) {
        return false;
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *end;
    errno = 0;
    long double v = strtold(buf, &end);
    if (isspace((unsigned char)buf[0]) || *end != '\0' ||
        (size_t)(end - buf) != len ||
        (errno == ERANGE &&
         (v == HUGE_VALL || v == -HUGE_VALL || fpclassify(v) == FP_ZERO)) ||
        errno == EINVAL || isnan(v)) {
        return false;
    }
    *out = v;
    return true;
}

size_t num_format_ld(char *out, long double v)
{
    int n = snprintf(out, NUM_LD_CHARS, "%.17Lf", v);
    if (n < 0 || n + 1 > NUM_LD_CHARS) {
        return 0;
    }
    size_t l = (size_t)n;
    if (strchr(out, '.') != NULL) {
        while (out[l - 1] == '0') {
            l--;
        }
        if (out[l - 1] == '.') {
            l--;
        }
    }
    if (l == 2 && out[0] == '-' && out[1] == '0') {
        out[0] = '0';
        l = 1;
    }
    out[l] = '\0';
    return l;
}
