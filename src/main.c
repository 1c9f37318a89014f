/* main: command line and configuration -> server; run. */
#include <stdio.h>
#include <string.h>

#include <stdlib.h>

#include "config.h"
#include "mem.h"
#include "server.h"

static void usage(void)
{
    fprintf(stderr,
            "Usage: redis-raft [/path/to/redis-raft.conf] [--key value ...]\n"
            "       redis-raft -v | --version\n"
            "       redis-raft -h | --help\n"
            "Every configuration key of redis-raft.conf is accepted as "
            "--key value;\nlater values win over earlier ones and over the "
            "file.\n");
}

int main(int argc, char **argv)
{
    if (argc == 2 &&
        (!strcmp(argv[1], "-v") || !strcmp(argv[1], "--version"))) {
        printf("redis-raft v=0.1.0\n");
        return 0;
    }
    if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        usage();
        return 0;
    }
    struct config cfg;
    char err[512];
    config_init(&cfg);
    if (config_parse_argv(&cfg, argc - 1, argv + 1, err, sizeof err) != 0) {
        fprintf(stderr, "*** FATAL CONFIG ERROR ***\n%s\n", err);
        config_free(&cfg);
        return 1;
    }
    if (config_finish(&cfg, err, sizeof err) != 0) {
        fprintf(stderr, "*** FATAL CONFIG ERROR ***\n%s\n", err);
        config_free(&cfg);
        return 1;
    }
    struct server *srv = xcalloc(1, sizeof *srv);
    if (server_init(srv, &cfg) != 0) {
        free(srv);
        return 1;
    }
    int code = server_run(srv);
    free(srv);
    return code;
}
