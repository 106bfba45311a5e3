/*
 * ice_compact: compaction and maintenance of zetl's Iceberg tables.
 *
 * The sink (ice_sink.c) turns every commit into a snapshot that adds an
 * equality-delete file and a data file, so a busy table soon has many small
 * files and many deletes, which every reader must join against every data
 * file, and which readers without equality-delete support cannot read at
 * all. Compaction rewrites the current snapshot's live rows into data files
 * of the target size with no delete file left; maintenance expires old
 * snapshots and deletes the files nothing references any more.
 *
 * The rule applied when rewriting: an equality delete with data sequence
 * number S removes the rows whose equality-field values equal its row's
 * from every data file with a data sequence number below S. Keys are
 * compared as the exact cell bytes of the decoded values, read through the
 * table's current schema (ints widened to the current type, decimals as
 * canonical text at the column's fixed scale, which is equality of the
 * unscaled integers Parquet stores), never through a lossy conversion.
 *
 * Concurrency: compaction runs beside `zetl run` without any lock. It reads
 * the snapshot it loaded (the "base"), writes new files, and commits through
 * ice_meta's link() race. When a sink commit lands first (ZETL_EEXIST) and
 * the table only grew since the base (every manifest of the base is still
 * listed), the new snapshot is rebased: its manifest list becomes the
 * compacted manifest plus the manifests added meanwhile, and the compacted
 * files keep the base's sequence number as their data sequence number, so
 * deletes committed meanwhile still apply to them. Otherwise (a truncate,
 * another compaction) the new files are deleted and the compaction starts
 * again from a fresh load; both retries are bounded.
 *
 * Memory: the deleted keys (a hash set of key bytes, holding the highest
 * delete sequence number of each key) plus one data file being read and
 * one being written, a batch at a time.
 */
#ifndef ZETL_ICE_COMPACT_H
#define ZETL_ICE_COMPACT_H

#include <stdbool.h>
#include <stdint.h>

#include "ice_meta.h"
#include "zetl/err.h"

#define ICE_COMPACT_TARGET_DEFAULT    (INT64_C(128) << 20)
#define ICE_COMPACT_ROW_GROUP_DEFAULT (INT64_C(32) << 20)
#define ICE_COMPACT_MAX_DELETES       16 /* due past this many delete files */
#define ICE_COMPACT_MAX_SMALL         16 /* due past this many data files... */
/* ...when their average size is below target / ICE_COMPACT_SMALL_DIV */
#define ICE_COMPACT_SMALL_DIV         8
#define ICE_COMPACT_RETENTION_DEFAULT INT64_C(3600000) /* 1 h, the sink's default */
/* Ceiling of the deleted-key set (key bytes), so a pathological table fails
 * with ZETL_ELIMIT rather than exhausting memory. */
#define ICE_COMPACT_MAX_KEY_BYTES ((size_t)2 << 30)

/* Zero means the default throughout. */
struct ice_compact_opts {
        int64_t target_file_bytes; /* roll output files at this size (128 MiB) */
        int64_t row_group_bytes;   /* Parquet row groups (32 MiB, as the sink) */
        int max_delete_files;      /* ice_compact_due: more delete files than this (16) */
        int max_small_files;       /* ice_compact_due: more data files than this (16)... */
                                   /* ...averaging under target / 8 */
        int commit_retries;        /* rebased commits per attempt (8) */
        int attempts;              /* full attempts from a fresh load (3) */
        bool dry_run;              /* read the metadata, report, change nothing */
        bool force;                /* compact even one data file without deletes */
        /* ice_maintain_table: expire snapshots older than now - this (1 h);
         * negative: expire every snapshot but the kept ancestors */
        int64_t retention_ms;
        int keep_ancestors; /* ancestors of the current snapshot kept (1; -1: none) */
        /* Called before each commit try with its number (0, 1, ...), after the
         * new files are written: tests commit something of their own here to
         * make the race happen. NULL: none. */
        void (*before_commit)(void *arg, int try_no);
        void *hook_arg;
};

struct ice_compact_result {
        bool compacted;          /* a snapshot was committed (or, dry run, would be) */
        int data_files_before;   /* live data files of the base snapshot */
        int delete_files_before; /* live equality-delete files */
        int data_files_after;    /* files written */
        int64_t rows_before;     /* records of the live data files */
        int64_t delete_rows;     /* records of the live delete files */
        int64_t rows_deleted;    /* data rows the deletes removed */
        int64_t rows_after;      /* rows written */
        int64_t bytes_before;    /* data + delete file sizes */
        int64_t bytes_after;     /* sizes of the files written */
        int commit_retries;      /* rebases and restarts it took */
        int64_t snapshot_id;     /* the new snapshot, 0 when none */
        /* ice_maintain_table */
        int snapshots_expired;
        int files_removed; /* unreferenced files deleted (or, dry run, found) */
};

/* Is compaction due for the table's current snapshot? Cheap: reads only the
 * snapshot summary (total-delete-files, total-data-files, total-files-size)
 * already in memory. True when there are more than max_delete_files delete
 * files, or more than max_small_files data files whose average size is
 * below target_file_bytes / 8. o may be NULL (defaults). */
bool ice_compact_due(const struct ice_meta *m, const struct ice_compact_opts *o);

/* Compact the table in table_dir (see the top of this file). Nothing to do
 * (no snapshot, or one data file and no delete unless o->force) is success
 * with r->compacted false. r is filled (zeroed first); o may be NULL.
 * Returns 0; ZETL_EEXIST (transient) when every retry lost the race;
 * ZETL_ENOTFOUND (no table); ZETL_EPROTO (a file that is not what its
 * metadata says, or not one zetl could have written); ZETL_EUNSUPPORTED
 * (position deletes, a partitioned table); ZETL_EIO; ZETL_ENOMEM;
 * ZETL_ELIMIT. On failure no new file is left behind (best effort: the
 * orphan sweep catches the rest). */
int ice_compact_table(const char *table_dir, const struct ice_compact_opts *o,
                      struct ice_compact_result *r, struct zetl_err *err);

/* Expire the snapshots older than the retention (keeping the current one
 * and its keep_ancestors nearest ancestors), commit that, then delete every
 * file zetl wrote under data/ and metadata/ (zetl-*.parquet, zetl-*.avro,
 * snap-*-zetl-*.avro) that no remaining snapshot reaches and that is older
 * than the newest metadata file, and the metadata files the log no longer
 * lists. Files other tools wrote are never deleted: a writer that retries
 * its commit with files it already wrote (Java's) would lose them. With
 * o->dry_run nothing is changed and r counts what would go. Fills
 * r->snapshots_expired and r->files_removed. Returns 0, ZETL_EEXIST (every
 * retry of the expiry commit lost the race), ZETL_ENOTFOUND, ZETL_EPROTO,
 * ZETL_EIO or ZETL_ENOMEM. */
int ice_maintain_table(const char *table_dir, const struct ice_compact_opts *o,
                       struct ice_compact_result *r, struct zetl_err *err);

#endif
