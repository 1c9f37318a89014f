/* node_member: raft's configuration as members, and changes to it (see
 * node.h; node_impl.h for why this is a separate file of the node module).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "node_impl.h"
#include "server.h"

/* --- Contact with peers --------------------------------------------------- */

void node_contact_note(struct node *n, raft_id id)
{
    uint64_t now = server_time_ms();
    size_t free_at = NODE_MAX_CONTACTS, oldest = 0;
    for (size_t i = 0; i < NODE_MAX_CONTACTS; i++) {
        if (n->contact[i].id == id) {
            n->contact[i].ms = now;
            return;
        }
        if (n->contact[i].id == 0 && free_at == NODE_MAX_CONTACTS) {
            free_at = i;
        }
        if (n->contact[i].ms < n->contact[oldest].ms) {
            oldest = i;
        }
    }
    size_t at = free_at < NODE_MAX_CONTACTS ? free_at : oldest;
    n->contact[at].id = id;
    n->contact[at].ms = now;
}

int64_t node_contact_age(const struct node *n, raft_id id)
{
    for (size_t i = 0; i < NODE_MAX_CONTACTS; i++) {
        if (n->contact[i].id == id && id != 0) {
            uint64_t now = server_time_ms();
            return now > n->contact[i].ms ? (int64_t)(now - n->contact[i].ms)
                                          : 0;
        }
    }
    return -1;
}

/* --- The member list ------------------------------------------------------ */

static void fill_member(struct node *n, const struct raft_server *sv,
                        raft_id leader, struct node_member *m)
{
    struct raft *r = &n->raft;
    memset(m, 0, sizeof *m);
    m->id = sv->id;
    m->role = sv->role;
    m->is_leader = sv->id == leader;
    m->is_self = sv->id == r->id;
    snprintf(m->address, sizeof m->address, "%s", sv->address);
    const char *at = strchr(sv->address, '@');
    size_t alen = at ? (size_t)(at - sv->address) : strlen(sv->address);
    const char *colon = memrchr(sv->address, ':', alen);
    if (colon != NULL) {
        snprintf(m->host, sizeof m->host, "%.*s", (int)(colon - sv->address),
                 sv->address);
        m->port = atoi(colon + 1);
    }
    m->raft_port = at ? atoi(at + 1) : m->port + 10000;
    m->match_index = -1;
    raft_index match = 0;
    if (m->is_self) {
        m->match_index = (int64_t)raft_last_index(r);
        m->last_contact_ms = 0;
    } else {
        if (raft_state(r) == RAFT_LEADER &&
            raft_match_index(r, sv->id, &match) == 0) {
            m->match_index = (int64_t)match;
        }
        m->last_contact_ms = node_contact_age(n, sv->id);
    }
    /* Connected: heard from within an election timeout (on the leader,
     * every replicating member answers each heartbeat; elsewhere only the
     * leader talks to us). */
    m->connected =
        m->is_self || (m->last_contact_ms >= 0 &&
                       m->last_contact_ms < (int64_t)r->election_timeout);
}

size_t node_members(struct node *n, struct node_member *out, size_t max)
{
    struct raft *r = &n->raft;
    raft_id leader = 0;
    const char *laddr = NULL;
    raft_leader(r, &leader, &laddr);
    size_t count = r->configuration.n < max ? r->configuration.n : max;
    for (size_t i = 0; i < count; i++) {
        fill_member(n, &r->configuration.servers[i], leader, &out[i]);
    }
    return count;
}

bool node_member_get(struct node *n, uint64_t id, struct node_member *out)
{
    struct raft *r = &n->raft;
    raft_id leader = 0;
    const char *laddr = NULL;
    raft_leader(r, &leader, &laddr);
    for (unsigned i = 0; i < r->configuration.n; i++) {
        if (r->configuration.servers[i].id == id) {
            fill_member(n, &r->configuration.servers[i], leader, out);
            return true;
        }
    }
    return false;
}

uint64_t node_member_by_address(struct node *n, const char *address)
{
    const struct raft_configuration *c = &n->raft.configuration;
    for (unsigned i = 0; i < c->n; i++) {
        if (strcmp(c->servers[i].address, address) == 0) {
            return c->servers[i].id;
        }
    }
    return 0;
}

uint64_t node_max_member_id(struct node *n)
{
    const struct raft_configuration *c = &n->raft.configuration;
    uint64_t max = 0;
    for (unsigned i = 0; i < c->n; i++) {
        if (c->servers[i].id > max) {
            max = c->servers[i].id;
        }
    }
    return max;
}

unsigned node_count_role(struct node *n, int role)
{
    const struct raft_configuration *c = &n->raft.configuration;
    unsigned count = 0;
    for (unsigned i = 0; i < c->n; i++) {
        count += c->servers[i].role == role;
    }
    return count;
}

bool node_config_pending(struct node *n)
{
    return n->raft.configuration_uncommitted_index != 0;
}

int node_member_status(struct node *n, uint64_t id, uint64_t seen_index)
{
    struct raft *r = &n->raft;
    /* Only a leader answers: its current configuration is the committed
     * one when no newer one waits, and its index is exact (a follower's
     * may lag in libraft 0.22, and a follower may roll back). */
    if (raft_state(r) != RAFT_LEADER ||
        r->configuration_uncommitted_index != 0 ||
        r->configuration_committed_index == 0) {
        return 0;
    }
    for (unsigned i = 0; i < r->configuration.n; i++) {
        if (r->configuration.servers[i].id == id) {
            return 1;
        }
    }
    /* Absent from a committed configuration newer than one that held it:
     * committed configurations form one history and ids are never reused,
     * so it was removed. */
    return r->configuration_committed_index > seen_index ? -1 : 0;
}

uint64_t node_member_since(struct node *n)
{
    struct raft *r = &n->raft;
    /* No newer configuration pending: the current one is applied, so its
     * index is at most last_applied. */
    if (r->configuration_uncommitted_index != 0) {
        return 0;
    }
    for (unsigned i = 0; i < r->configuration.n; i++) {
        if (r->configuration.servers[i].id == r->id) {
            return raft_last_applied(r);
        }
    }
    return 0;
}

bool node_self_member(struct node *n, int *role)
{
    const struct raft_configuration *c = &n->raft.configuration;
    for (unsigned i = 0; i < c->n; i++) {
        if (c->servers[i].id == n->raft.id) {
            if (role != NULL) {
                *role = c->servers[i].role;
            }
            return true;
        }
    }
    return false;
}

/* libraft 0.22.1 sometimes leaves an applied configuration marked
 * uncommitted (seen after back-to-back leadership changes: a node that took
 * the entry as a follower and then led kept configuration_uncommitted_index
 * forever, so every later change failed with RAFT_CANTCHANGE). An entry at
 * or below last_applied is committed: record it as such, as libraft's own
 * apply does (a committed entry is never truncated, so no rollback can
 * need the older configuration). */
void node_fix_configuration(struct node *n)
{
    struct raft *r = &n->raft;
    raft_index u = r->configuration_uncommitted_index;
    if (u == 0 || u > raft_last_applied(r)) {
        return;
    }
    struct raft_configuration copy;
    raft_configuration_init(&copy);
    for (unsigned i = 0; i < r->configuration.n; i++) {
        const struct raft_server *sv = &r->configuration.servers[i];
        if (raft_configuration_add(&copy, sv->id, sv->address, sv->role) != 0) {
            raft_configuration_close(&copy);
            return;
        }
    }
    raft_configuration_close(&r->configuration_committed);
    r->configuration_committed = copy;
    r->configuration_committed_index = u;
    r->configuration_uncommitted_index = 0;
    log_write(&n->srv->log, LOG_VERBOSE,
              "Configuration at index %llu is applied but was still marked "
              "uncommitted (libraft): marked committed",
              (unsigned long long)u);
}

/* --- Configuration changes ------------------------------------------------ */

struct node_change {
    struct raft_change req;
    struct node_change *next;
    struct node *node;
    void (*done)(void *arg, int status);
    void *arg;
};

static void change_cb(struct raft_change *req, int status)
{
    struct node_change *ch = req->data;
    struct node *n = ch->node;
    if (n != NULL) {
        for (struct node_change **p = &n->changes; *p != NULL;
             p = &(*p)->next) {
            if (*p == ch) {
                *p = ch->next;
                break;
            }
        }
        if (ch->done != NULL) {
            ch->done(ch->arg, status);
        }
    }
    free(ch);
}

static struct node_change *
change_new(struct node *n, void (*done)(void *arg, int status), void *arg)
{
    struct node_change *ch = xcalloc(1, sizeof *ch);
    ch->req.data = ch;
    ch->node = n;
    ch->done = done;
    ch->arg = arg;
    return ch;
}

static int change_started(struct node *n, struct node_change *ch, int rv)
{
    if (rv != 0) {
        free(ch);
        return rv;
    }
    ch->next = n->changes;
    n->changes = ch;
    return 0;
}

int node_add(struct node *n, uint64_t id, const char *address,
             void (*done)(void *arg, int status), void *arg)
{
    struct node_change *ch = change_new(n, done, arg);
    return change_started(
        n, ch, raft_add(&n->raft, &ch->req, (raft_id)id, address, change_cb));
}

int node_assign(struct node *n, uint64_t id, int role,
                void (*done)(void *arg, int status), void *arg)
{
    struct node_change *ch = change_new(n, done, arg);
    return change_started(
        n, ch, raft_assign(&n->raft, &ch->req, (raft_id)id, role, change_cb));
}

int node_remove(struct node *n, uint64_t id,
                void (*done)(void *arg, int status), void *arg)
{
    struct node_change *ch = change_new(n, done, arg);
    return change_started(
        n, ch, raft_remove(&n->raft, &ch->req, (raft_id)id, change_cb));
}

void node_changes_close(struct node *n)
{
    /* libraft fails pending requests while closing, after the node's
     * owners stopped caring: detach them (their memory is freed when
     * libraft calls back). */
    while (n->changes != NULL) {
        struct node_change *ch = n->changes;
        n->changes = ch->next;
        if (ch->done != NULL) {
            ch->done(ch->arg, RAFT_CANCELED);
        }
        ch->node = NULL;
        ch->done = NULL;
    }
}

/* --- INFO ----------------------------------------------------------------- */

const char *node_state_name(int state)
{
    switch (state) {
    case RAFT_LEADER:
        return "leader";
    case RAFT_CANDIDATE:
        return "candidate";
    case RAFT_FOLLOWER:
        return "follower";
    default:
        return "unavailable";
    }
}

const char *node_role_name(int role)
{
    return role == RAFT_VOTER     ? "voter"
           : role == RAFT_STANDBY ? "standby"
                                  : "spare";
}

void node_info(struct node *n, struct buf *out)
{
    struct raft *r = &n->raft;
    raft_id leader = 0;
    const char *laddr = NULL;
    raft_leader(r, &leader, &laddr);
    char lclient[160] = "";
    if (laddr != NULL) {
        node_client_address(laddr, lclient, sizeof lclient);
    }
    int self_role = -1;
    bool member = node_self_member(n, &self_role);
    buf_printf(out,
               "raft_node_id:%llu\r\n"
               "raft_role:%s\r\n"
               "raft_member_role:%s\r\n"
               "raft_leader_id:%llu\r\n"
               "raft_leader_addr:%s\r\n"
               "raft_term:%llu\r\n"
               "raft_commit_index:%llu\r\n"
               "raft_last_applied:%llu\r\n"
               "raft_last_index:%llu\r\n"
               "raft_num_nodes:%u\r\n"
               "raft_num_voters:%u\r\n"
               "raft_num_standbys:%u\r\n"
               "raft_num_spares:%u\r\n"
               "raft_configuration_index:%llu\r\n"
               "raft_configuration_pending_index:%llu\r\n",
               (unsigned long long)r->id, node_state_name(raft_state(r)),
               member ? node_role_name(self_role) : "none",
               (unsigned long long)leader, lclient,
               (unsigned long long)raft_current_term(r),
               (unsigned long long)raft_commit_index(r),
               (unsigned long long)raft_last_applied(r),
               (unsigned long long)raft_last_index(r), r->configuration.n,
               node_count_role(n, RAFT_VOTER), node_count_role(n, RAFT_STANDBY),
               node_count_role(n, RAFT_SPARE),
               (unsigned long long)r->configuration_committed_index,
               (unsigned long long)r->configuration_uncommitted_index);
    for (unsigned i = 0; i < r->configuration.n; i++) {
        struct node_member m;
        fill_member(n, &r->configuration.servers[i], leader, &m);
        buf_printf(out,
                   "raft_node%u:id=%llu,addr=%s:%d,role=%s,match_index=%lld,"
                   "last_contact=%lld,connected=%s\r\n",
                   i + 1, (unsigned long long)m.id, m.host, m.port,
                   node_role_name(m.role),
                   /* 0 when unknown here, as before RAFT.NODES said -1 */
                   m.match_index > 0 ? (long long)m.match_index : 0,
                   (long long)m.last_contact_ms, m.connected ? "yes" : "no");
    }
}

int64_t node_match_index(struct node *n, uint64_t id)
{
    raft_index match = 0;
    if (raft_state(&n->raft) != RAFT_LEADER ||
        raft_match_index(&n->raft, (raft_id)id, &match) != 0) {
        return -1;
    }
    return (int64_t)match;
}

uint64_t node_leading_for_ms(struct node *n)
{
    if (raft_state(&n->raft) != RAFT_LEADER || n->last_state != RAFT_LEADER) {
        return 0;
    }
    uint64_t now = server_time_ms();
    return now > n->state_since_ms ? now - n->state_since_ms : 0;
}
