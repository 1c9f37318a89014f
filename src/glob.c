/* glob: pattern matching (see glob.h). */
#include "glob.h"

#include <ctype.h>

static int fold(int ch, bool nocase)
{
    return nocase ? tolower(ch) : ch;
}

/* Range bounds and the subject byte compare as (signed) chars, as Redis's
 * "int start = pattern[0]" does; nocase lowers ASCII letters only. */
static int range_fold(int ch, bool nocase)
{
    return nocase && ch >= 'A' && ch <= 'Z' ? ch + ('a' - 'A') : ch;
}

/* Match one class "[...]" starting after the '['; *pp, *pn advance past
 * the closing ']' (or to the end of an unterminated class). */
static bool match_class(const unsigned char **pp, size_t *pn, int ch,
                        bool nocase)
{
    const unsigned char *p = *pp;
    size_t n = *pn;
    bool negate = false, hit = false;
    if (n > 0 && *p == '^') {
        negate = true;
        p++;
        n--;
    }
    while (n > 0 && *p != ']') {
        if (*p == '\\' && n >= 2) {
            p++;
            n--;
            hit |= *p == ch; /* case-sensitive even with nocase, as Redis */
        } else if (n >= 3 && p[1] == '-') {
            /* Swap first, lower after, as Redis does. */
            int lo = (signed char)p[0], hi = (signed char)p[2];
            if (lo > hi) {
                int t = lo;
                lo = hi;
                hi = t;
            }
            lo = range_fold(lo, nocase);
            hi = range_fold(hi, nocase);
            int c = range_fold((signed char)ch, nocase);
            hit |= c >= lo && c <= hi;
            p += 2;
            n -= 2;
        } else {
            hit |= fold(*p, nocase) == fold(ch, nocase);
        }
        p++;
        n--;
    }
    if (n > 0) { /* the ']' */
        p++;
        n--;
    }
    *pp = p;
    *pn = n;
    return hit != negate;
}

/* *skip (Redis's skipLongerMatches): once a '*' has tried every suffix of
 * the subject without a match, no longer one can match either, so every
 * enclosing '*' gives up at once (no exponential backtracking). */
static bool match(const unsigned char *p, size_t pn, const unsigned char *s,
                  size_t sn, bool nocase, int depth, bool *skip)
{
    if (depth > 1000) {
        return false; /* pathological pattern: refuse rather than recurse */
    }
    while (pn > 0) {
        switch (*p) {
        case '*':
            while (pn > 1 && p[1] == '*') {
                p++;
                pn--;
            }
            if (pn == 1) {
                return true;
            }
            for (size_t i = 0; i <= sn; i++) {
                if (match(p + 1, pn - 1, s + i, sn - i, nocase, depth + 1,
                          skip)) {
                    return true;
                }
                if (*skip) {
                    return false;
                }
            }
            *skip = true;
            return false;
        case '?':
            if (sn == 0) {
                return false;
            }
            s++;
            sn--;
            p++;
            pn--;
            break;
        case '[': {
            if (sn == 0) {
                return false;
            }
            p++;
            pn--;
            if (!match_class(&p, &pn, *s, nocase)) {
                return false;
            }
            s++;
            sn--;
            break;
        }
        case '\\':
            if (pn >= 2) {
                p++;
                pn--;
            }
            __attribute__((fallthrough)); /* match it literally */
        default:
            if (sn == 0 || fold(*p, nocase) != fold(*s, nocase)) {
                return false;
            }
            s++;
            sn--;
            p++;
            pn--;
            break;
        }
    }
    return sn == 0;
}

bool glob_match(const char *pat, size_t plen, const char *s, size_t slen,
                bool nocase)
{
    if (slen == 0) {
        return plen == 0; /* as Redis's stringmatchlen: even "*" fails */
    }
    bool skip = false;
    return match((const unsigned char *)pat, plen, (const unsigned char *)s,
                 slen, nocase, 0, &skip);
}
