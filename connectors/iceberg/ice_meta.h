/*
 * ice_meta: one Iceberg v2 table's metadata (vN.metadata.json) in memory,
 * loaded from and committed to a Hadoop-catalog layout on a local disk:
 *
 *   <dir>/data/                         data and delete files (the sink's)
 *   <dir>/metadata/vN.metadata.json     one file per table version
 *   <dir>/metadata/version-hint.text    "N", no newline: a hint for readers
 *
 * A commit writes the next version to a temporary file, fsyncs it and hard
 * links it to v(N+1).metadata.json: link() fails if that name exists, so of
 * two writers exactly one wins and the other gets ZETL_EEXIST (reload,
 * redo, retry). The hint is written last and only ever trails; loading
 * follows v(N+1), v(N+2)... past it, so a crash between the link and the
 * hint loses nothing.
 *
 * Locations: the table's location is "file://" + its absolute directory
 * ("file:///srv/lake/db/t"), and every path the table records (manifest
 * lists, manifests, data files, the metadata log) is that location plus a
 * relative path (ice_meta_location_of). The spec calls them URIs; DuckDB
 * reads file:// paths as they are and icebird (which fetches every path)
 * can be served from a file:// URL by a fetch shim, which a bare path would
 * not survive (fetch rejects it as an invalid URL). Paths are not
 * percent-encoded, as Java's Hadoop catalog does not encode them either,
 * so a directory containing '%', '?', '#' or a control character is
 * refused.
 *
 * No snapshot: "current-snapshot-id" is written as -1, Java's convention
 * (pyiceberg and Java read -1, null and absence alike; icebird refuses all
 * three alike since it has nothing to read), and the "main" ref is absent.
 *
 * Snapshot summaries carry the source position of the data they commit:
 * "zetl.position.order" (decimal), "zetl.position.token",
 * "zetl.position.time-us", and "zetl.integration". A snapshot committed
 * without a position (the initial sync, compaction, expiry) copies its
 * parent's, so the current snapshot always tells where the table is.
 *
 * Not thread-safe: one struct ice_meta belongs to one sink thread.
 */
#ifndef ZETL_ICE_META_H
#define ZETL_ICE_META_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ice_schema.h"
#include "zetl/err.h"
#include "zetl/position.h"

#define ICE_SUMMARY_POS_ORDER   "zetl.position.order"
#define ICE_SUMMARY_POS_TOKEN   "zetl.position.token"
#define ICE_SUMMARY_POS_TIME    "zetl.position.time-us"
#define ICE_SUMMARY_INTEGRATION "zetl.integration"

/* Kept metadata files: Java's property and default. */
#define ICE_PROP_PREVIOUS_VERSIONS_MAX "write.metadata.previous-versions-max"
#define ICE_PROP_DELETE_AFTER_COMMIT   "write.metadata.delete-after-commit.enabled"
#define ICE_PREVIOUS_VERSIONS_DEFAULT  100

/* The largest metadata file loaded (a ceiling, not an expectation). */
#define ICE_META_MAX_BYTES (256u << 20)

struct ice_kv {
        char *key;
        char *value;
};

struct ice_snapshot {
        int64_t snapshot_id;
        int64_t parent_id; /* -1: none */
        int64_t sequence_number;
        int64_t timestamp_ms;
        char *manifest_list; /* location, as recorded */
        int schema_id;       /* -1: not recorded */
        int nsummary;
        struct ice_kv *summary; /* includes "operation" */
};

struct ice_snapshot_log {
        int64_t timestamp_ms;
        int64_t snapshot_id;
};

struct ice_metadata_log {
        int64_t timestamp_ms;
        char *file; /* location of an earlier vN.metadata.json */
};

struct ice_meta {
        char *dir;                  /* the table's directory, absolute */
        char *location;             /* "location" as recorded (file://...) */
        int version;                /* N of the vN.metadata.json this is (0: not committed yet) */
        bool hint_stale;            /* the last commit succeeded but version-hint.text lags */
        int64_t version_updated_ms; /* last-updated-ms of vN as written (for the metadata log) */
        char table_uuid[40];
        int64_t last_sequence_number;
        int64_t last_updated_ms;
        int last_column_id;
        int current_schema_id;
        int nschemas;
        struct ice_schema **schemas;
        int64_t current_snapshot_id; /* -1: none */
        int nsnapshots;
        struct ice_snapshot *snapshots;
        int nsnapshot_log;
        struct ice_snapshot_log *snapshot_log;
        int nmetadata_log;
        struct ice_metadata_log *metadata_log;
        int nprops;
        struct ice_kv *props;
        json_t *other_refs; /* refs other than "main", kept as read (an object) */
        json_t *extra;      /* every other key (partition-specs, sort-orders,
                               statistics, ...), written back as read */
};

/* Create a table in dir (made with its data/ and metadata/ subdirectories if
 * needed): v1 with schema as schema 0 (its schema_id is ignored), no
 * snapshot, an unpartitioned spec and an unsorted order, and the
 * properties write.format.default=parquet,
 * write.parquet.compression-codec=zstd, delete-after-commit true and
 * previous-versions-max 100, then props (may override them; NULL if
 * nprops is 0). last_column_id below the schema's highest id is raised to
 * it. Returns 0 and *out (free with ice_meta_free), ZETL_EEXIST when the
 * table already has a v1 (load it instead), ZETL_EINVAL (dir not absolute
 * or not representable as a location) or ZETL_EIO (transient). */
int ice_meta_create(const char *dir, const struct ice_schema *schema, int last_column_id,
                    const struct ice_kv *props, int nprops, struct ice_meta **out,
                    struct zetl_err *err);

/* Load the newest version of the table in dir: the hint's vN, then any
 * later version that exists; without a usable hint, the highest vN in
 * metadata/. Returns 0 and *out, ZETL_ENOTFOUND (no metadata file at all),
 * ZETL_EPROTO (malformed file: the message names the file and the problem),
 * ZETL_EUNSUPPORTED (format version other than 2, nested types, v1-style
 * snapshots), ZETL_EIO or ZETL_ENOMEM. */
int ice_meta_load(const char *dir, struct ice_meta **out, struct zetl_err *err);
void ice_meta_free(struct ice_meta *m);

/* The schema with that id (-1: the current one), NULL if none. Borrowed. */
const struct ice_schema *ice_meta_schema(const struct ice_meta *m, int schema_id);
/* Make s (copied) the current schema: an equal schema already in the table
 * is reused (its id), otherwise s is added under the highest id + 1.
 * last-column-id becomes the larger of its value, last_column_id and s's
 * highest field id. Returns 0 or ZETL_ENOMEM; the change is in memory
 * until ice_meta_commit. */
int ice_meta_set_schema(struct ice_meta *m, const struct ice_schema *s, int last_column_id,
                        struct zetl_err *err);

/* The snapshot with that id (-1: the current one), NULL if none. Borrowed. */
const struct ice_snapshot *ice_meta_snapshot(const struct ice_meta *m, int64_t snapshot_id);
/* The summary value of key, NULL if absent. */
const char *ice_snapshot_get(const struct ice_snapshot *s, const char *key);

/* A fresh snapshot id: 52 random bits from getrandom(), never 0, never one
 * the table has (JavaScript readers lose ids of 2^53 and more). Returns 0
 * or ZETL_EIO. */
int ice_meta_new_snapshot_id(const struct ice_meta *m, int64_t *out, struct zetl_err *err);
/* The sequence number the next snapshot gets (for the manifest list). */
int64_t ice_meta_next_sequence(const struct ice_meta *m);

struct ice_snapshot_new {
        int64_t snapshot_id;          /* from ice_meta_new_snapshot_id */
        const char *operation;        /* "append", "overwrite", "delete" or "replace" */
        const char *manifest_list;    /* its location (ice_meta_location_of) */
        const struct ice_kv *summary; /* further entries (added-data-files, ...), may be NULL */
        int nsummary;
        const struct zetl_position *pos; /* NULL or unset: the parent's position */
        const char *integration;         /* NULL: the parent's */
};

/* Add a snapshot on top of the current one and make it current (in memory
 * until ice_meta_commit): parent = the current snapshot, sequence number =
 * ice_meta_next_sequence(), timestamp = now (never before the table's
 * last-updated-ms), schema = the current schema; updates the main ref, the
 * snapshot log, last-sequence-number and last-updated-ms. The summary gets
 * the operation, then ns->summary, then the position entries (which win
 * over ns->summary's). Returns 0, ZETL_EINVAL (unknown operation, no
 * manifest list, an id the table already has) or ZETL_ENOMEM. */
int ice_meta_add_snapshot(struct ice_meta *m, const struct ice_snapshot_new *ns,
                          struct zetl_err *err);

/* The source position recorded by the current snapshot, or by its nearest
 * ancestor that has one (a snapshot written by another tool carries none).
 * *out is cleared (order 0, empty token) when there is none. Returns 0 or
 * ZETL_EPROTO (an order that is not a decimal uint64). */
int ice_meta_position(const struct ice_meta *m, struct zetl_position *out, struct zetl_err *err);

/* Write the model as version N+1 (see the top of this file), with this
 * commit's predecessor appended to the metadata log and the log trimmed to
 * write.metadata.previous-versions-max entries. On success m->version is
 * N+1; when write.metadata.delete-after-commit.enabled is true, metadata
 * files that left the log are deleted (best effort); if only the hint
 * failed, the commit stands and m->hint_stale is set (the next commit
 * rewrites the hint). Returns 0;
 *   ZETL_EEXIST (transient): another writer made v(N+1) first; nothing of
 *     ours was written; load the table again and redo the change;
 *   ZETL_EIO (transient): a write, fsync or link failed; if it was the
 *     directory fsync after the link, v(N+1) may survive: load again and
 *     look at its position before redoing anything;
 *   ZETL_ENOMEM. */
int ice_meta_commit(struct ice_meta *m, struct zetl_err *err);

/* Expire (in memory) the snapshots taken before older_than_ms, except the
 * current one, its keep_ancestors nearest ancestors and those another ref
 * points at; their snapshot log entries go too. *lists receives the
 * manifest list locations no remaining snapshot uses (owned: free with
 * ice_strings_free); delete them, and the manifests and files only they
 * reached, after ice_meta_commit succeeds. Returns 0 or ZETL_ENOMEM. */
int ice_meta_expire_snapshots(struct ice_meta *m, int64_t older_than_ms, int keep_ancestors,
                              char ***lists, int *nlists, struct zetl_err *err);
void ice_strings_free(char **v, int n);

/* Delete metadata/vK.metadata.json for every K below m->version that the
 * metadata log no longer lists (ice_meta_commit does it itself when the
 * table asks for it). Returns 0 or ZETL_EIO (the first failure; the others
 * are still tried). */
int ice_meta_clean_metadata(const struct ice_meta *m, struct zetl_err *err);

/* Table properties (in memory until ice_meta_commit). get: NULL if unset. */
const char *ice_meta_prop(const struct ice_meta *m, const char *key);
int ice_meta_set_prop(struct ice_meta *m, const char *key, const char *value, struct zetl_err *err);

/* location + "/" + rel into buf ("file:///t" + "data/a.parquet"). Returns 0
 * or ZETL_ELIMIT when buf is too small. */
int ice_meta_location_of(const struct ice_meta *m, const char *rel, char *buf, size_t len);
/* "file:///abs" and "file:/abs" (Java's form) and "/abs" to "/abs". Returns
 * 0, ZETL_EINVAL (another scheme, or not absolute) or ZETL_ELIMIT. */
int ice_location_to_path(const char *location, char *buf, size_t len);
/* "/abs" to "file:///abs". Returns 0, ZETL_EINVAL (not absolute, or '%',
 * '?', '#', control characters) or ZETL_ELIMIT. */
int ice_path_to_location(const char *path, char *buf, size_t len);

#endif
