/*
 * The PostgreSQL source's internals, shared by its files: pg_source.c (the
 * ops and the run loop), pg_setup.c (checks, publication and slot),
 * pg_snapshot.c (the initial sync with COPY in parallel workers) and
 * pg_stream.c (pgoutput streaming). Nothing outside connectors/postgres
 * includes this.
 */
#ifndef ZETL_PG_SOURCE_H
#define ZETL_PG_SOURCE_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "pg_repl.h"
#include "pg_types.h"
#include "zetl/config.h"
#include "zetl/emit.h"
#include "zetl/err.h"
#include "zetl/schema.h"
#include "zetl/source.h"

/* What create-integration set up, kept in <integration folder>/postgres.json
 * so delete-integration removes exactly that and nothing else. */
struct pg_setup_state {
        char slot[PG_REPL_NAME_MAX];
        char publication[PG_REPL_NAME_MAX];
        bool created_slot;
        bool created_publication;
};

/* A column as the catalog describes it. */
struct pg_coldesc {
        char name[ZETL_NAME_MAX];
        uint32_t typoid;
        int32_t typmod;
        int attnum;
        bool notnull;
        int key_pos;         /* 0, or position in the key */
        char type_text[128]; /* format_type() */
};

/* One table as zetl replicates it: its current schema and column decoders. */
struct pg_rel {
        uint32_t relid;
        struct zetl_schema *schema; /* current version (reference) */
        struct pg_col_decoder *dec; /* per column */
        bool text_only;             /* some column can only be read in text */
        bool excluded;              /* not selected by the table filter */
        bool no_key;                /* no primary key nor replica identity: needs attention */
        bool reported;              /* its needs_attention was emitted */
        int64_t reltuples;          /* estimate, for progress */
        int64_t relpages;
        struct pg_rel *next;
};

/* A pg_type row of a type that is not built in (cached per source). */
struct pg_type_node {
        struct pg_type_info info;
        struct pg_type_node *next;
};

struct pg_src {
        const struct zetl_conn_cfg *cfg;
        PGconn *conn; /* SQL: catalog queries */
        struct pg_repl *repl;
        struct pg_setup_state setup;
        char dbname[ZETL_NAME_MAX];
        int snapshot_workers;
        struct pg_rel *rels;
        struct pg_rel *last_rel;
        struct pg_type_node *types;
        bool binary;       /* stream columns in binary (false when a table has a text-only type) */
        int proto_version; /* pgoutput protocol: 2 streams large transactions; 0 chooses */
        bool apply_in_progress;        /* streamed transactions go to the sink as they arrive */
        const char *decoding_work_mem; /* --option logical-decoding-work-mem, or NULL */
};

/* The table of relid, or NULL. */
struct pg_rel *pg_rel_find(struct pg_src *s, uint32_t relid);
/* Describe table relid from the catalog (columns, key) into cols (at most
 * max); *n gets the count, nsp/rel the names. Runs on s->conn, inside
 * whatever transaction it is in (the snapshot's, for the initial sync). */
int pg_describe(struct pg_src *s, uint32_t relid, char *nsp, char *rel, struct pg_coldesc *cols,
                int max, int *n, struct zetl_err *err);
/* Make rel's schema the shape of cols (a new version when it differs) and
 * announce it; creates the rel when absent. *out: the rel. */
int pg_rel_update(struct pg_src *s, struct zetl_emitter *em, uint32_t relid, const char *nsp,
                  const char *relname, const struct pg_coldesc *cols, int n, struct pg_rel **out,
                  struct zetl_err *err);
/* What pg_rel_update with the same arguments would announce; changes
 * nothing. A streamed transaction applied while it runs must stop being so
 * before a change. */
enum pg_announce {
        PG_ANNOUNCE_NONE,   /* nothing: the shape this run has */
        PG_ANNOUNCE_KNOWN,  /* a table new to this run, in the shape the target has */
        PG_ANNOUNCE_CHANGE, /* a new table, shape or name, or one leaving the filter */
};
int pg_rel_would_announce(struct pg_src *s, struct zetl_emitter *em, uint32_t relid,
                          const char *nsp, const char *relname, const struct pg_coldesc *cols,
                          int n, enum pg_announce *out, struct zetl_err *err);
void pg_rels_free(struct pg_src *s);
/* Put every selected table without a usable key into needs_attention. */
int pg_report_keyless(struct pg_src *s, struct zetl_emitter *em, struct zetl_err *err);
/* Set *any when a selected table has a column only readable in text, so
 * the stream must be requested in text. */
int pg_tables_text_only(struct pg_src *s, struct zetl_emitter *em, bool *any, struct zetl_err *err);

/* The initial sync (pg_snapshot.c): a slot with an exported snapshot, the
 * tables copied by workers, then *start is where streaming begins. */
int pg_snapshot_run(struct pg_src *s, struct zetl_emitter *em, uint64_t *start,
                    struct zetl_err *err);
/* Streaming from start (pg_stream.c) until stopped, or caught up with --once. */
int pg_stream_run(struct pg_src *s, struct zetl_emitter *em, uint64_t start, struct zetl_err *err);
/* The largest number of columns a table can have. */
#define PG_MAX_COLS 1664

/* Connect for SQL with the session settings zetl's decoders rely on
 * (DateStyle ISO, TimeZone UTC, IntervalStyle iso_8601, extra_float_digits 3,
 * client_encoding UTF8). *out is closed with PQfinish. */
int pg_connect(const char *conninfo, PGconn **out, struct zetl_err *err);
/* Run a statement that returns no rows / one value; errors name the statement's purpose. */
int pg_exec(PGconn *c, const char *sql, const char *what, struct zetl_err *err);
/* First column of the first row as text into buf ("" for none). */
int pg_query_value(PGconn *c, const char *sql, const char *what, char *buf, size_t len,
                   struct zetl_err *err);
/* Slot and publication names for an integration: zetl_<name>, '-' as '_'. */
void pg_object_name(const char *integration, char *buf, size_t len);

int pg_setup_load(const char *idir, struct pg_setup_state *st, bool *found, struct zetl_err *err);
int pg_setup_save(const char *idir, const struct pg_setup_state *st, struct zetl_err *err);
/* create-integration: every check, then publication and slot. */
int pg_setup_run(struct pg_src *s, struct zetl_err *err);
/* zetl check: the prerequisites as a report (pg_check.c); with fix, REPLICA
 * IDENTITY FULL on selected tables without a key. */
int pg_check_run(struct pg_src *s, bool fix, struct zetl_check_report *rep, struct zetl_err *err);
/* delete-integration: drop what pg_setup_run created. */
int pg_teardown_run(struct pg_src *s, struct zetl_err *err);

#endif
