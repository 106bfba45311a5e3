/*
 * Iceberg v2 manifests and manifest lists: the Avro files that list a
 * snapshot's data and delete files. Written with the spec's v2 schemas
 * (every field carries its field-id, primitives as plain strings) and the
 * header keys readers expect; read back by the sink to carry files forward,
 * compact and find orphans. The reader only accepts files with exactly the
 * schema written here (files zetl wrote), and fails with ZETL_EPROTO on
 * anything malformed.
 *
 * Tables are unpartitioned: the partition tuple is an empty struct, the
 * partition spec "[]" with id 0, and a manifest list's partition summaries
 * an empty list.
 *
 * Sequence numbers and snapshot ids of manifest entries: the spec lets an
 * ADDED entry leave them null, to be inherited from its manifest's
 * manifest-list entry (sequence_number, added_snapshot_id) — which is how
 * writers that may retry a commit under another sequence number work. zetl
 * is the only writer of its tables and knows the numbers it commits, so the
 * sink should set them explicitly (has_* = true) for every entry: then an
 * entry means the same thing wherever it is copied. EXISTING and DELETED
 * entries must carry all three (the writer refuses them otherwise).
 *
 * Memory: structs given to the writers are borrowed. What the readers
 * return is one allocation tree owned by the returned struct, freed by its
 * _free function; its strings are NUL-terminated.
 */
#ifndef ZETL_ICE_MANIFEST_H
#define ZETL_ICE_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "avro.h"
#include "zetl/err.h"

/* Files larger than this are refused by the readers (ZETL_ELIMIT). */
#define ICE_MANIFEST_MAX_FILE ((size_t)1 << 30)

enum ice_file_content {
        ICE_CONTENT_DATA = 0,
        ICE_CONTENT_POSITION_DELETES = 1,
        ICE_CONTENT_EQUALITY_DELETES = 2,
};

enum ice_entry_status {
        ICE_STATUS_EXISTING = 0,
        ICE_STATUS_ADDED = 1,
        ICE_STATUS_DELETED = 2,
};

/* A manifest holds data files or delete files, never both. */
enum ice_manifest_content {
        ICE_MANIFEST_DATA = 0,
        ICE_MANIFEST_DELETES = 1,
};

/* One entry of a (field id -> long) metric map. */
struct ice_id_long {
        int32_t id;
        int64_t value;
};

/* One entry of a (field id -> bytes) bound map (Iceberg's single-value
 * binary serialisation of the bound, made by the caller). */
struct ice_id_bytes {
        int32_t id;
        const uint8_t *data;
        size_t len;
};

/* data_file (field 2). A list with n == 0 is written as null. */
struct ice_data_file {
        int32_t content;            /* enum ice_file_content (134) */
        const char *file_path;      /* 100: the full path; position deletes name it exactly */
        const char *file_format;    /* 101: NULL means "PARQUET" */
        int64_t record_count;       /* 103 */
        int64_t file_size_in_bytes; /* 104 */
        const struct ice_id_long *column_sizes; /* 108: key 117, value 118 */
        size_t n_column_sizes;
        const struct ice_id_long *value_counts; /* 109: 119, 120 */
        size_t n_value_counts;
        const struct ice_id_long *null_value_counts; /* 110: 121, 122 */
        size_t n_null_value_counts;
        const struct ice_id_long *nan_value_counts; /* 137: 138, 139 */
        size_t n_nan_value_counts;
        const struct ice_id_bytes *lower_bounds; /* 125: 126, 127 */
        size_t n_lower_bounds;
        const struct ice_id_bytes *upper_bounds; /* 128: 129, 130 */
        size_t n_upper_bounds;
        const int64_t *split_offsets; /* 132: element 133, ascending */
        size_t n_split_offsets;
        const int32_t *equality_ids; /* 135: element 136; required iff content == 2 */
        size_t n_equality_ids;
        bool has_sort_order_id; /* 140 */
        int32_t sort_order_id;
        /* 143: for position deletes that all target one data file; NULL: null */
        const char *referenced_data_file;
};

/* manifest_entry. */
struct ice_manifest_entry {
        int32_t status; /* enum ice_entry_status (0) */
        bool has_snapshot_id;
        int64_t snapshot_id; /* 1 */
        bool has_sequence_number;
        int64_t sequence_number; /* 3: data sequence number */
        bool has_file_sequence_number;
        int64_t file_sequence_number; /* 4 */
        struct ice_data_file file;    /* 2 */
};

struct ice_manifest_arena;

/* A manifest file: header values and entries. */
struct ice_manifest {
        const char *schema_json; /* header "schema": the table schema as Iceberg JSON */
        int32_t schema_id;       /* header "schema-id" */
        int32_t content;         /* enum ice_manifest_content (header "content") */
        struct ice_manifest_entry *entries;
        size_t n_entries;
        struct ice_manifest_arena *arena; /* readers only; ignored by writers */
};

/* manifest_file: one entry of a manifest list. */
struct ice_manifest_file {
        const char *manifest_path;    /* 500 */
        int64_t manifest_length;      /* 501 */
        int32_t partition_spec_id;    /* 502: 0 */
        int32_t content;              /* 517: enum ice_manifest_content */
        int64_t sequence_number;      /* 515: when the manifest was added */
        int64_t min_sequence_number;  /* 516: lowest data sequence number of its live files */
        int64_t added_snapshot_id;    /* 503 */
        int32_t added_files_count;    /* 504 */
        int32_t existing_files_count; /* 505 */
        int32_t deleted_files_count;  /* 506 */
        int64_t added_rows_count;     /* 512 */
        int64_t existing_rows_count;  /* 513 */
        int64_t deleted_rows_count;   /* 514 */
        /* 507 partitions: always an empty list; 519 key_metadata: always null */
};

/* A manifest list: header values and entries. */
struct ice_manifest_list {
        int64_t snapshot_id;         /* header "snapshot-id" */
        bool has_parent_snapshot_id; /* header "parent-snapshot-id" ("null" when none) */
        int64_t parent_snapshot_id;
        int64_t sequence_number; /* header "sequence-number" */
        struct ice_manifest_file *files;
        size_t n_files;
        struct ice_manifest_arena *arena; /* readers only; ignored by writers */
};

/* The Avro writer schemas (JSON), for tests and readers. */
extern const char ice_manifest_entry_schema[];
extern const char ice_manifest_file_schema[];

/*
 * Write m to a new file at path (never overwriting: ZETL_EEXIST), fsynced;
 * *length (may be NULL) gets its size, the manifest_length of its list
 * entry. Errors: ZETL_EINVAL for an entry the spec forbids (bad status or
 * content, content not matching the manifest's, missing sequence numbers
 * on a non-ADDED entry, equality_ids on the wrong content), ZETL_EEXIST,
 * ZETL_EIO (transient), ZETL_ENOMEM, ZETL_ELIMIT. On failure no file is left.
 */
int ice_manifest_write(const char *path, const struct ice_manifest *m, enum ice_avro_codec codec,
                       int64_t *length, struct zetl_err *err);
/* The same into memory (*data malloc'd, caller frees). */
int ice_manifest_encode(const struct ice_manifest *m, enum ice_avro_codec codec, uint8_t **data,
                        size_t *len, struct zetl_err *err);
/* Read a manifest (file or bytes); *out freed by ice_manifest_free. Errors:
 * ZETL_ENOTFOUND, ZETL_EIO, ZETL_EPROTO (corrupt or not written by zetl),
 * ZETL_EUNSUPPORTED (another format version or codec), ZETL_ENOMEM, ZETL_ELIMIT. */
int ice_manifest_read(const char *path, struct ice_manifest **out, struct zetl_err *err);
int ice_manifest_decode(const uint8_t *data, size_t len, struct ice_manifest **out,
                        struct zetl_err *err);
void ice_manifest_free(struct ice_manifest *m);

/* Manifest lists: the same contract. */
int ice_manifest_list_write(const char *path, const struct ice_manifest_list *l,
                            enum ice_avro_codec codec, int64_t *length, struct zetl_err *err);
int ice_manifest_list_encode(const struct ice_manifest_list *l, enum ice_avro_codec codec,
                             uint8_t **data, size_t *len, struct zetl_err *err);
int ice_manifest_list_read(const char *path, struct ice_manifest_list **out, struct zetl_err *err);
int ice_manifest_list_decode(const uint8_t *data, size_t len, struct ice_manifest_list **out,
                             struct zetl_err *err);
void ice_manifest_list_free(struct ice_manifest_list *l);

/*
 * The data_file of a Parquet file zetl wrote: its path, content, counts and
 * per-column metrics (sizes, value/null/NaN counts, bounds) from the
 * writer's metrics. The metric lists live in *a (free with
 * ice_file_lists_free) and point into m: both must outlive out.
 * equality_ids are the caller's. Returns 0 or ZETL_ENOMEM.
 */
struct pq_file_metrics;
struct ice_file_lists {
        struct ice_id_long *sizes, *values, *nulls, *nans;
        struct ice_id_bytes *lower, *upper;
};
int ice_data_file_from_parquet(const struct pq_file_metrics *m, int32_t content, const char *path,
                               struct ice_file_lists *a, struct ice_data_file *out);
void ice_file_lists_free(struct ice_file_lists *a);

#endif
