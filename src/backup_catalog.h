/*
 * backup_catalog.h - what a backup asks the catalogue, and the SQL it becomes.
 *
 * Owns: the catalogue queries a dump runs (most answer one finished
 * statement per row, deparsed by the server), which objects they leave out
 * (initdb's, system schemas', an extension's members, as pg_dump does), the
 * table list with each table's run of rows in catalog_columns, the CREATE
 * TABLE statement built from them, and the order views are created in.
 * Nothing here talks to the server or writes output: backup.c runs the
 * queries, in its own transaction, and writes what these functions build.
 * Calls: util (and libpq, only to read results).
 */
#ifndef AUZDB_BACKUP_CATALOG_H
#define AUZDB_BACKUP_CATALOG_H

#include "util.h"

#include <libpq-fe.h>

/*
 * One statement per row in the first column.  Every query expects
 * search_path '' (the server then qualifies every name not in pg_catalog).
 */
extern const char catalog_schemas[], catalog_extensions[], catalog_types[];
extern const char catalog_sequences[], catalog_checks[], catalog_checks_not_valid[];
extern const char catalog_keys[], catalog_fkeys[], catalog_seq_owned[], catalog_indexes[];
extern const char catalog_index_attach[], catalog_triggers[], catalog_rls[];
extern const char catalog_policies[], catalog_comments[];
/* --with-owners: ALTER ... OWNER TO, then GRANT / REVOKE against each starting ACL */
extern const char catalog_owners[], catalog_grants[];
/* Functions and procedures: the definition, and 't' for those that must follow tables. */
extern const char catalog_functions[];
/* Sequences: schema, name, and the qualified name as a literal (for setval). */
extern const char catalog_seq_list[];
/* Rows for catalog_table_list and catalog_view_order. */
extern const char catalog_tables[], catalog_columns[], catalog_views[], catalog_view_deps[];

/* The columns of a catalog_columns row (one per table column, by table oid, then attnum). */
enum catalog_column {
	CC_RELID,        /* the table's oid */
	CC_NAME,         /* the column's name */
	CC_QNAME,        /* the name as an identifier */
	CC_TYPE,         /* format_type */
	CC_COLLATE,      /* " COLLATE ..." when it is not the type's, else NULL */
	CC_DEFAULT,      /* the default or generation expression, or NULL */
	CC_NOTNULL,      /* "t" */
	CC_IDENTITY,     /* "a" (ALWAYS), "d" (BY DEFAULT) or "" */
	CC_GENERATED,    /* "s" (STORED) or "" */
	CC_IDENTITY_SEQ, /* " (SEQUENCE NAME ...)" of an identity column */
	CC_TYPLEN,       /* the type's typlen: "-1" for a varlena */
	CC_TEXTLIKE,     /* "t" for text, varchar, bytea, whose octet_length is cheap */
};

/* A table of catalog_tables; its strings point into that result. */
struct catalog_table {
	unsigned long oid;
	char kind;
	const char *nsp, *rel, *qname, *options, *partkey, *parent, *bound;
	bool unlogged;
	bool toast;      /* has out-of-line values: look for wide rows */
	int col0, ncols; /* row range in the columns result */
};

/* The tables of tr (catalog_tables), each with its range of cr (catalog_columns). */
struct catalog_table *catalog_table_list(PGresult *tr, PGresult *cr, size_t *n);
/* "CREATE TABLE ...;\n\n" for t, from its columns in cols (caller frees). */
char *catalog_create_table(const struct catalog_table *t, const PGresult *cols);

/* A view or materialized view of catalog_views; its strings point into that result. */
struct catalog_view {
	unsigned long oid;
	char kind;
	const char *qname, *def, *options;
	bool populated;
	bool done;
};

/* The views of vr in creation order: each after the views it reads (dr: catalog_view_deps). */
struct catalog_view *catalog_view_order(PGresult *vr, PGresult *dr, size_t *n);
/* "CREATE [MATERIALIZED] VIEW ...;\n\n" (a materialized one WITH NO DATA; caller frees). */
char *catalog_create_view(const struct catalog_view *v);
/* "REFRESH MATERIALIZED VIEW ...;\n" for a populated materialized view, else NULL. */
char *catalog_refresh_view(const struct catalog_view *v);

#endif
