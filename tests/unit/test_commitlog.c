/* Unit tests for commitlog: the audit file of committed write commands.
 * The line format and quoting, finding the last index of an existing file
 * (comments, snapshot comments, lines longer than a read chunk), cutting a
 * partial last entry, refusing a file that is not a commit log or is in use,
 * and a write error that warns once and leaves a comment when writes work
 * again. Every test works in its own temporary directory. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <hiredis/sds.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "commitlog.h"
#include "log.h"

struct fixture {
    char dir[64];
    char path[128];
    char logpath[128];
    struct log log;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    strcpy(f->dir, "/tmp/rr-commitlog-XXXXXX");
    if (mkdtemp(f->dir) == NULL) {
        return -1;
    }
    snprintf(f->path, sizeof f->path, "%s/commit.log", f->dir);
    snprintf(f->logpath, sizeof f->logpath, "%s/server.log", f->dir);
    if (log_open(&f->log, LOG_NOTICE, f->logpath) != 0) {
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    log_close(&f->log);
    unlink(f->path);
    unlink(f->logpath);
    rmdir(f->dir);
    free(f);
    return 0;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *p = malloc((size_t)n + 1);
    assert_int_equal(fread(p, 1, (size_t)n, fp), (size_t)n);
    p[n] = '\0';
    fclose(fp);
    if (len != NULL) {
        *len = (size_t)n;
    }
    return p;
}

static void expect_file(const char *path, const char *want)
{
    char *got = slurp(path, NULL);
    assert_string_equal(got, want);
    free(got);
}

static void put_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

/* How many times the server log holds needle. */
static int log_count(struct fixture *f, const char *needle)
{
    fflush(f->log.fp);
    char *text = slurp(f->logpath, NULL);
    int n = 0;
    for (const char *p = text; (p = strstr(p, needle)) != NULL; p++) {
        n++;
    }
    free(text);
    return n;
}

/* Log one entry of NUL-terminated commands (argv lists end with NULL). */
static bool log_entry(struct commitlog *cl, uint64_t index, uint64_t term,
                      const char *const *cmds[])
{
    if (!commitlog_begin(cl, index, term)) {
        return false;
    }
    for (int c = 0; cmds[c] != NULL; c++) {
        size_t lens[8];
        int argc = 0;
        while (cmds[c][argc] != NULL) {
            lens[argc] = strlen(cmds[c][argc]);
            argc++;
        }
        commitlog_add(cl, argc, cmds[c], lens);
    }
    commitlog_end(cl);
    return true;
}

static const char *const set_kv[] = {"SET", "k", "v", NULL};
static const char *const incr_n[] = {"INCR", "n", NULL};
static const char *const *one_set[] = {set_kv, NULL};
static const char *const *set_incr[] = {set_kv, incr_n, NULL};

static void test_closed_ignores_everything(void **state)
{
    (void)state;
    struct commitlog cl;
    memset(&cl, 0, sizeof cl);
    assert_false(commitlog_enabled(&cl));
    assert_false(commitlog_begin(&cl, 1, 1));
    commitlog_snapshot(&cl, 10, false);
    commitlog_close(&cl);
}

/* Lines as redis-cli quotes arguments (sdscatrepr), one per command; an
 * entry's commands share its index. */
static void test_format(void **state)
{
    struct fixture *f = *state;
    struct commitlog cl;
    assert_int_equal(commitlog_open(&cl, f->path, &f->log), 0);
    assert_true(commitlog_enabled(&cl));
    assert_true(log_entry(&cl, 3, 2, set_incr));
    const char *argv[] = {"SET", "a b\"c\\", "\x00\xff\n\r\t"};
    size_t lens[] = {3, 6, 5};
    assert_true(commitlog_begin(&cl, 7, 2));
    commitlog_add(&cl, 3, argv, lens);
    commitlog_end(&cl);
    /* An entry with nothing logged (reads only) writes nothing. */
    assert_true(commitlog_begin(&cl, 8, 2));
    commitlog_end(&cl);
    assert_true(log_entry(&cl, 12345678901234ull, 17, one_set));
    commitlog_close(&cl);
    expect_file(f->path,
                "3 2 \"SET\" \"k\" \"v\"\n"
                "3 2 \"INCR\" \"n\"\n"
                "7 2 \"SET\" \"a b\\\"c\\\\\" \"\\x00\\xff\\n\\r\\t\"\n"
                "12345678901234 17 \"SET\" \"k\" \"v\"\n");
}

/* The quoting is sdscatrepr's (redis-cli's), byte for byte: every byte
 * value alone, and all of them in one argument between plain runs. */
static void test_quoting_matches_sdscatrepr(void **state)
{
    struct fixture *f = *state;
    struct commitlog cl;
    char all[256 * 3];
    size_t n = 0;
    for (int c = 0; c < 256; c++) {
        all[n++] = 'a';
        all[n++] = (char)c;
        all[n++] = 'z';
    }
    assert_int_equal(commitlog_open(&cl, f->path, &f->log), 0);
    sds want = sdsempty();
    for (int c = 0; c < 256; c++) {
        char one = (char)c;
        const char *argv[] = {"SET", &one};
        size_t lens[] = {3, 1};
        assert_true(commitlog_begin(&cl, (uint64_t)c + 1, 1));
        commitlog_add(&cl, 2, argv, lens);
        commitlog_end(&cl);
        want = sdscatfmt(want, "%i 1 \"SET\" ", c + 1);
        want = sdscatrepr(want, &one, 1);
        want = sdscatlen(want, "\n", 1);
    }
    const char *argv[] = {all, ""};
    size_t lens[] = {n, 0};
    assert_true(commitlog_begin(&cl, 300, 2));
    commitlog_add(&cl, 2, argv, lens);
    commitlog_end(&cl);
    want = sdscat(want, "300 2 ");
    want = sdscatrepr(want, all, n);
    want = sdscat(want, " \"\"\n");
    commitlog_close(&cl);
    expect_file(f->path, want);
    sdsfree(want);
}

/* Reopened, the file's last index is found: re-applied entries are
 * skipped, later ones appended. */
static void test_reopen_skips_what_the_file_has(void **state)
{
    struct fixture *f = *state;
    struct commitlog cl;
    assert_int_equal(commitlog_open(&cl, f->path, &f->log), 0);
    assert_true(log_entry(&cl, 2, 1, one_set));
    assert_true(log_entry(&cl, 4, 1, set_incr));
    commitlog_close(&cl);

    assert_int_equal(commitlog_open(&cl, f->path, &f->log), 0);
    assert_int_equal(cl.last, 4);
    assert_false(log_entry(&cl, 2, 1, one_set));
    assert_false(log_entry(&cl, 4, 1, set_incr));
    assert_true(log_entry(&cl, 5, 2, one_set));
    commitlog_close(&cl);
    expect_file(f->path, "2 1 \"SET\" \"k\" \"v\"\n"
                         "4 1 \"SET\" \"k\" \"v\"\n"
                         "4 1 \"INCR\" \"n\"\n"
                         "5 2 \"SET\" \"k\" \"v\"\n");
}

/* Comment lines and empty lines are passed over; a snapshot comment counts
 * as its index. */
static void test_comments_and_snapshot_lines(void **state)
{
    struct fixture *f = *state;
    struct commitlog cl;
    put_file(f->path, "# written by hand\n"
                      "9 1 \"SET\" \"k\" \"v\"\n"
                      "# an index here: 5 1 \"SET\"\n"
                      "\n");
    assert_int_equal(commitlog_open(&cl, f->path, &f->log), 0);
    assert_int_equal(cl.last, 9);
    /* A snapshot at or before the file's end needs no comment. */
    commitlog_snapshot(&cl, 9, false);
    commitlog_snapshot(&cl, 3, true);
    commitlog_snapshot(&cl, 20, false);
    assert_int_equal(cl.last, 20);
    assert_false(log_entry(&cl, 20, 2, one_set));
    commitlog_close(&cl);

    assert_int_equal(commitlog_open(&cl, f->path, &f->log), 0);
    assert_int_equal(cl.last, 20);
    commitlog_snapshot(&cl, 30, true);
    assert_true(log_entry(&cl, 31, 3, one_set));
    commitlog_close(&cl);
    expect_file(f->path,
                "# written by hand\n"
                "9 1 \"SET\" \"k\" \"v\"\n"
                "# an index here: 5 1 \"SET\"\n"
                "\n"
                "# snapshot installed at index 20: commands up to it are "
                "not in this file\n"
                "# snapshot loaded at start at index 30: commands up to it "
                "are not in this file\n"
                "31 3 \"SET\" \"k\" \"v\"\n");
}

/* A line longer than the backwards read chunk (64 KiB), last or not. */
static void test_long_lines(void **state)
{
    struct fixture *f = *state;
    struct commitlog cl;
    size_t n = 200000;
    char *big = malloc(n + 1);
    memset(big, 'x', n);
    big[n] = '\0';
    const char *argv[] = {"SET", "k", big};
    size_t lens[] = {3, 1, n};
    assert_int_equal(commitlog_open(&cl, f->path, &f->log), 0);
    assert_true(commitlog_begin(&cl, 6, 1));
    commitlog_add(&cl, 3, argv, lens);
    commitlog_end(&cl);
    commitlog_close(&cl);
    assert_int_equal(commitlog_open(&cl, f->path, &f->log), 0);
    assert_int_equal(cl.last, 6);
    assert_true(log_entry(&cl, 7, 1, one_set));
    assert_true(commitlog_begin(&cl, 8, 1));
    commitlog_add(&cl, 3, argv, lens);
    commitlog_end(&cl);
    commitlog_close(&cl);
    assert_int_equal(commitlog_open(&cl, f->path, &f->log), 0);
    assert_int_equal(cl.last, 8);
    commitlog_close(&cl);
    free(big);
}

/* A partial last line (the process died mid-write) is cut with the rest of
 * its entry, whatever byte it stopped at. */
static void test_partial_entry_is_cut(void **state)
{
    struct fixture *f = *state;
    static const char *const head = "1 1 \"SET\" \"a\" \"1\"\n"
                                    "# snapshot installed at index 2: x\n"
                                    "3 1 \"SET\" \"b\" \"2\"\n";
    static const char *const entry4 = "4 2 \"SET\" \"c\" \"3\"\n"
                                      "4 2 \"INCR\" \"n\"\n";
    static const char *const next = "5 2 \"DEL\" \"c\"\n";
    char text[512];
    struct commitlog cl;
    /* Cut inside entry 4 (after its first line, at every byte of the
     * second): entry 4 goes whole. */
    size_t first = strlen("4 2 \"SET\" \"c\" \"3\"\n");
    for (size_t k = 0; k < strlen(entry4) - first - 1; k++) {
        snprintf(text, sizeof text, "%s%.*s", head, (int)(first + k + 1),
                 entry4);
        put_file(f->path, text);
        assert_int_equal(commitlog_open(&cl, f->path, &f->log), 0);
        assert_int_equal(cl.last, 3);
        commitlog_close(&cl);
        expect_file(f->path, head);
    }
    /* Cut inside the first line of entry 5: entry 4 is complete, but the
     * partial line might have been its own: it goes too (a re-applied
     * entry is written again). */
    snprintf(text, sizeof text, "%s%s%.6s", head, entry4, next);
    put_file(f->path, text);
    assert_int_equal(commitlog_open(&cl, f->path, &f->log), 0);
    assert_int_equal(cl.last, 3);
    assert_true(log_entry(&cl, 4, 2, one_set));
    commitlog_close(&cl);
    snprintf(text, sizeof text, "%s4 2 \"SET\" \"k\" \"v\"\n", head);
    expect_file(f->path, text);
    /* Comment lines in between are passed over (and cut): the last entry
     * before the partial line goes whatever comes between. */
    snprintf(text, sizeof text, "%s# a comment\n3 1 \"SE", head);
    put_file(f->path, text);
    assert_int_equal(commitlog_open(&cl, f->path, &f->log), 0);
    assert_int_equal(cl.last, 2); /* the snapshot comment's index */
    commitlog_close(&cl);
    expect_file(f->path, "1 1 \"SET\" \"a\" \"1\"\n"
                         "# snapshot installed at index 2: x\n");
    /* A file of one partial line becomes empty. */
    put_file(f->path, "1 1 \"SET");
    assert_int_equal(commitlog_open(&cl, f->path, &f->log), 0);
    assert_int_equal(cl.last, 0);
    commitlog_close(&cl);
    expect_file(f->path, "");
    assert_true(log_count(f, "ended in a partial line") >= 4);
}

/* Not a commit log (say, the server's own log given by mistake): refused,
 * and the file is left alone. */
static void test_refuses_other_files(void **state)
{
    struct fixture *f = *state;
    struct commitlog cl;
    static const char *const other = "1 1 \"SET\" \"k\" \"v\"\n"
                                     "12:M 01 Jan 2024 00:00:00.000 * hi\n";
    put_file(f->path, other);
    assert_int_equal(commitlog_open(&cl, f->path, &f->log), -1);
    assert_false(commitlog_enabled(&cl));
    expect_file(f->path, other);
    assert_int_equal(log_count(f, "is not a commit log line"), 1);
    /* Not ending in a newline does not make it ours to cut. */
    static const char *const partial = "1 1 \"SET\" \"k\" \"v\"\n"
                                       "hello, no newline";
    put_file(f->path, partial);
    assert_int_equal(commitlog_open(&cl, f->path, &f->log), -1);
    expect_file(f->path, partial);
    static const char *const partial2 = "some text\n"
                                        "1 1 \"SET";
    put_file(f->path, partial2);
    assert_int_equal(commitlog_open(&cl, f->path, &f->log), -1);
    expect_file(f->path, partial2);
    assert_int_equal(log_count(f, "is not a commit log line"), 3);
    assert_int_equal(log_count(f, "partial line"), 0);
    /* A directory, or a path that can't be created. */
    assert_int_equal(commitlog_open(&cl, f->dir, &f->log), -1);
    assert_int_equal(commitlog_open(&cl, "/nonexistent/dir/x", &f->log), -1);
}

/* One writer per file. */
static void test_locked_while_open(void **state)
{
    struct fixture *f = *state;
    struct commitlog a, b;
    assert_int_equal(commitlog_open(&a, f->path, &f->log), 0);
    assert_int_equal(commitlog_open(&b, f->path, &f->log), -1);
    assert_int_equal(log_count(f, "in use by another process"), 1);
    commitlog_close(&a);
    assert_int_equal(commitlog_open(&b, f->path, &f->log), 0);
    commitlog_close(&b);
}

/* A write that fails (here: past RLIMIT_FSIZE) warns once, drops lines,
 * and when writes work again a comment names what is missing. Nothing
 * partial is left behind. */
static void test_write_error(void **state)
{
    struct fixture *f = *state;
    struct commitlog cl;
    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(commitlog_open(&cl, f->path, &f->log), 0);
    /* The limit holds for every file: the server log, a few short lines,
     * stays below it, the commit log reaches it. */
    char big[2001];
    memset(big, 'x', 2000);
    big[2000] = '\0';
    const char *const set_big[] = {"SET", "k", big, NULL};
    const char *const *one_big[] = {set_big, NULL};
    assert_true(log_entry(&cl, 1, 1, one_big)); /* 2018 bytes */
    lim = old;
    lim.rlim_cur = 2030;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    assert_true(log_entry(&cl, 2, 1, set_incr)); /* would pass the limit */
    assert_true(log_entry(&cl, 3, 1, set_incr));
    commitlog_snapshot(&cl, 9, false);
    assert_true(log_entry(&cl, 10, 1, set_incr));
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, prev);
    assert_int_equal(log_count(f, "write failed at index 2"), 1);
    assert_int_equal(log_count(f, "write failed"), 1);
    char want[2200];
    snprintf(want, sizeof want, "1 1 \"SET\" \"k\" \"%s\"\n", big);
    expect_file(f->path, want);
    /* Reads only: no line, so the comment waits too. */
    assert_true(commitlog_begin(&cl, 11, 1));
    commitlog_end(&cl);
    assert_true(log_entry(&cl, 12, 2, one_set));
    commitlog_close(&cl);
    snprintf(want, sizeof want,
             "1 1 \"SET\" \"k\" \"%s\"\n"
             "# write error: commands of indexes 2 to 11 are not in this "
             "file\n"
             "12 2 \"SET\" \"k\" \"v\"\n",
             big);
    expect_file(f->path, want);
    assert_int_equal(log_count(f, "writing again from index 12"), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_closed_ignores_everything),
        cmocka_unit_test_setup_teardown(test_format, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quoting_matches_sdscatrepr, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reopen_skips_what_the_file_has,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_comments_and_snapshot_lines, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_long_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_partial_entry_is_cut, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_refuses_other_files, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_locked_while_open, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_write_error, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
