/*
 * The integration catalog: a state directory with one folder per integration
 * holding its definition (definition.json), checkpoint (checkpoint.json) and
 * status (status.json). Folders are 0700 and files 0600, because a definition
 * holds the source and target URIs with their passwords. Every file is
 * written atomically (fsutil.h): a crash leaves the old or the new version,
 * never a mixture.
 *
 * The state directory is --state-dir, else $ZETL_STATE_DIR, else
 * /var/lib/zetl for root and $XDG_STATE_HOME/zetl (~/.local/state/zetl) for
 * other users.
 */
#ifndef ZETL_CATALOG_H
#define ZETL_CATALOG_H

#include <stdbool.h>
#include <stdint.h>
#include <limits.h>

#include "zetl/config.h"
#include "zetl/err.h"
#include "zetl/position.h"
#include "zetl/schema.h"

#define ZETL_INTEGRATION_NAME_MAX 63

enum zetl_state {
        ZETL_STATE_CREATING = 0,
        ZETL_STATE_ACTIVE,
        ZETL_STATE_SYNCING,
        ZETL_STATE_MODIFYING,
        ZETL_STATE_NEEDS_ATTENTION,
        ZETL_STATE_FAILED,
        ZETL_STATE_DELETING,
};
const char *zetl_state_name(enum zetl_state s); /* "creating", "needs_attention", ... */
int zetl_state_parse(const char *s, enum zetl_state *out);

/* AWS's rule: a letter first, then letters, digits and single hyphens (no
 * trailing hyphen), at most 63 characters. Returns 0 or ZETL_EINVAL (config
 * class, the reason in err). */
int zetl_integration_name_check(const char *name, struct zetl_err *err);

struct zetl_definition {
        char name[ZETL_INTEGRATION_NAME_MAX + 1];
        char *description; /* may be NULL */
        char *source;      /* URI, secrets included */
        char *target;
        char *data_filter; /* may be NULL */
        char *filter_file; /* the path given, for messages; may be NULL */
        char *filter_text; /* the file's content when it was given; may be NULL */
        struct zetl_option *opts;
        int nopts;
        int64_t created_at; /* unix seconds */
};
void zetl_definition_free(struct zetl_definition *d);

struct zetl_checkpoint {
        struct zetl_position received;
        struct zetl_position written;
        struct zetl_position committed;
        struct zetl_position acked;
        bool snapshot_done;
        int64_t updated_at; /* unix µs */
};

enum zetl_table_state {
        ZETL_TABLE_SYNCING = 0, /* initial sync or resync in progress */
        ZETL_TABLE_ACTIVE,
        ZETL_TABLE_NEEDS_ATTENTION,
};
const char *zetl_table_state_name(enum zetl_table_state s);

struct zetl_table_status {
        struct zetl_table_id id;
        enum zetl_table_state state;
        int64_t rows_snapshot;
        int64_t rows_inserted;
        int64_t rows_updated;
        int64_t rows_deleted;
        int64_t bytes;
        char *last_error; /* may be NULL */
};

struct zetl_status {
        enum zetl_state state;
        char *last_error;   /* may be NULL */
        int64_t updated_at; /* unix µs */
        double lag_seconds; /* -1 when unknown */
        int64_t lag_bytes;  /* -1 when unknown */
        int pid;            /* of the running `zetl run`, 0 when none */
        int ntables;
        struct zetl_table_status *tables;
};
void zetl_status_free(struct zetl_status *s);
/* The table's entry, added (zeroed, state syncing) if absent; NULL when out of memory. */
struct zetl_table_status *zetl_status_table(struct zetl_status *s, const struct zetl_table_id *id);

struct zetl_catalog {
        char dir[PATH_MAX];
};

/* Resolve the state directory (cli_dir may be NULL) into cat->dir, create it
 * 0700 if missing, and refuse (config class) one that is group- or
 * world-accessible. */
int zetl_catalog_open(struct zetl_catalog *cat, const char *cli_dir, struct zetl_err *err);
/* The integration's folder: <dir>/<name>. */
void zetl_catalog_path(const struct zetl_catalog *cat, const char *name, char *buf, size_t len);
/* Create the folder and write definition.json and status.json (state
 * creating). ZETL_EEXIST if the integration exists. */
int zetl_catalog_create(const struct zetl_catalog *cat, const struct zetl_definition *d,
                        struct zetl_err *err);
int zetl_catalog_load(const struct zetl_catalog *cat, const char *name, struct zetl_definition *out,
                      struct zetl_err *err);
int zetl_catalog_save(const struct zetl_catalog *cat, const struct zetl_definition *d,
                      struct zetl_err *err);
/* Names of all integrations, sorted; free each and the array. */
int zetl_catalog_list(const struct zetl_catalog *cat, char ***names, int *n, struct zetl_err *err);
/* Remove the integration's folder and everything in it. */
int zetl_catalog_remove(const struct zetl_catalog *cat, const char *name, struct zetl_err *err);
/* Take the integration's run lock (flock on <folder>/lock, non-blocking):
 * ZETL_ESTATE when another process holds it. *fd is closed to release. */
int zetl_catalog_lock(const struct zetl_catalog *cat, const char *name, int *fd,
                      struct zetl_err *err);

/* Integration folder files. Missing files load as zeroed structures with
 * *found (if not NULL) false. */
int zetl_checkpoint_load(const char *idir, struct zetl_checkpoint *out, bool *found,
                         struct zetl_err *err);
int zetl_checkpoint_save(const char *idir, const struct zetl_checkpoint *ck, struct zetl_err *err);
int zetl_status_load(const char *idir, struct zetl_status *out, bool *found, struct zetl_err *err);
int zetl_status_save(const char *idir, const struct zetl_status *st, struct zetl_err *err);

#endif
