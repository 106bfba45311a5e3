/*
 * The MySQL/MariaDB source's internals shared by my_source.c (the ops),
 * my_stream.c (binlog streaming) and the snapshot. Nothing outside
 * connectors/mysql includes this.
 */
#ifndef ZETL_MY_SOURCE_H
#define ZETL_MY_SOURCE_H

#include <stdbool.h>
#include <stdint.h>

#include "my_binlog.h"
#include "my_conn.h"
#include "my_rows.h"
#include "zetl/config.h"
#include "zetl/emit.h"
#include "zetl/schema.h"

/* A table id no event carries (ids are 6 bytes): a TABLE_MAP that is no
 * longer the table's, or one built from information_schema. */
#define MY_NO_TABLE_ID UINT64_MAX

/* One table as the stream knows it: its last TABLE_MAP and schema. */
struct my_tbl {
        struct zetl_table_id id;
        struct my_table_map tm;
        /* information_schema's description, when the binlog does not name the
         * columns (binlog_row_metadata not FULL), for the TABLE_MAPs of
         * cat_table_id. */
        struct my_table_map cat;
        uint64_t cat_table_id;
        bool cat_ok;
        struct zetl_schema *schema; /* reference; NULL when it could not be built */
        bool excluded;              /* not selected by the table filter */
        bool failed;                /* needs_attention: its rows are skipped */
        /* Column identities (source_id) by name, kept through RENAME/CHANGE
         * COLUMN statements so the core tells a rename from a drop and add. */
        char **colnames;
        uint32_t *colids;
        int ncolids;
        uint32_t next_id;
        struct my_tbl *next;
};

/* The identity of column name of t (a new one the first time a name is seen). */
uint32_t my_colid(struct my_tbl *t, const char *name);

#define MY_GTID_DOMAINS 16

struct my_stream {
        struct zetl_emitter *em;
        struct my_rows_fmt fmt;
        bool in_txn;
        /* The last GTID per replication domain: the GTID part of positions. */
        struct {
                uint32_t domain, server;
                uint64_t seq;
        } gtid[MY_GTID_DOMAINS];
        int ngtid;
        /* MySQL's last GTID ("uuid:gno"), "" until one is seen. */
        char mysql_gtid[64];
};

struct my_src {
        const struct zetl_conn_cfg *cfg;
        struct my_conn_params params;
        struct st_mysql *conn;
        struct my_binlog *bl;
        enum my_flavor flavor;
        struct my_tbl *tables;
};

void my_tables_free(struct my_src *s);
/* Describe a table from information_schema now (for a statement that names a
 * table the stream has not mapped yet, e.g. TRUNCATE) and announce it. *out
 * is NULL when the filter excludes it, it is gone, or it has no key. */
int my_table_from_catalog(struct my_src *s, struct zetl_emitter *em, const char *db,
                          const char *table, struct my_tbl **out, struct zetl_err *err);
/* Stream from start until stopped, or (cfg->once) caught up. */
int my_stream_run(struct my_src *s, struct zetl_emitter *em, const struct my_binlog_pos *start,
                  struct zetl_err *err);

#endif
