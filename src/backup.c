/* backup.c - see backup.h */
#define _POSIX_C_SOURCE 200809L
#include "backup.h"

#include "compress.h"
#include "exitcodes.h"
#include "log.h"
#include "signals.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef AUZDB_VERSION
#define AUZDB_VERSION "unknown"
#endif

/* ---- catalog queries --------------------------------------------------
 * Every query runs with search_path '' inside the dump's transaction, so
 * the server's deparsers (format_type, pg_get_*def, pg_get_expr) qualify
 * every name that is not in pg_catalog.  Identifiers in the generated SQL
 * are quoted by the server (format %I, quote_ident), literals by
 * format %L / quote_literal.  Objects made by initdb (oid < 16384), in
 * system schemas, or belonging to an extension are left out, as pg_dump
 * leaves them out.
 */
#define NS_OK(n) n ".nspname <> 'information_schema' AND " n ".nspname !~ '^pg_'"
#define NOT_EXT(cls, oid)                                                                          \
	"NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = '" cls "'::regclass "             \
	"AND e.objid = " oid " AND e.deptype = 'e')"
#define REL_OK(c, n) c ".oid >= 16384 AND " NS_OK(n) " AND " NOT_EXT("pg_class", c ".oid")

static const char q_schemas[] = "SELECT format('CREATE SCHEMA %I;', n.nspname) FROM pg_namespace n "
                                "WHERE n.oid >= 16384 AND n.nspname <> 'public' AND " NS_OK(
                                    "n") " AND " NOT_EXT("pg_namespace", "n.oid") " ORDER BY n.oid";

static const char q_extensions[] =
    "SELECT format('CREATE EXTENSION IF NOT EXISTS %I WITH SCHEMA %I;', x.extname, n.nspname) "
    "FROM pg_extension x JOIN pg_namespace n ON n.oid = x.extnamespace "
    "WHERE x.oid >= 16384 ORDER BY x.oid";

/* enum, composite and domain types, in creation order */
static const char q_types[] =
    "SELECT CASE t.typtype "
    "WHEN 'e' THEN format('CREATE TYPE %I.%I AS ENUM (%s);', n.nspname, t.typname, "
    "  (SELECT string_agg(quote_literal(l.enumlabel), ', ' ORDER BY l.enumsortorder) "
    "   FROM pg_enum l WHERE l.enumtypid = t.oid)) "
    "WHEN 'c' THEN format(E'CREATE TYPE %I.%I AS (\\n%s\\n);', n.nspname, t.typname, "
    "  (SELECT string_agg(format('    %I %s%s', a.attname, format_type(a.atttypid, "
    "a.atttypmod), "
    "     CASE WHEN a.attcollation <> 0 AND a.attcollation <> at.typcollation THEN "
    "       (SELECT format(' COLLATE %I.%I', cn.nspname, co.collname) FROM pg_collation co "
    "        JOIN pg_namespace cn ON cn.oid = co.collnamespace WHERE co.oid = "
    "a.attcollation) "
    "     END), E',\\n' ORDER BY a.attnum) "
    "   FROM pg_attribute a JOIN pg_type at ON at.oid = a.atttypid "
    "   WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped)) "
    "ELSE format('CREATE DOMAIN %I.%I AS %s%s%s%s%s;', n.nspname, t.typname, "
    "  format_type(t.typbasetype, t.typtypmod), "
    "  CASE WHEN t.typcollation <> 0 AND t.typcollation <> bt.typcollation THEN "
    "    (SELECT format(' COLLATE %I.%I', cn.nspname, co.collname) FROM pg_collation co "
    "     JOIN pg_namespace cn ON cn.oid = co.collnamespace WHERE co.oid = t.typcollation) "
    "END, "
    "  ' DEFAULT ' || pg_get_expr(t.typdefaultbin, 0), "
    "  CASE WHEN t.typnotnull THEN ' NOT NULL' END, "
    "  (SELECT string_agg(format(E'\\n    CONSTRAINT %I %s', c.conname, "
    "pg_get_constraintdef(c.oid)), '' ORDER BY c.conname) "
    "   FROM pg_constraint c WHERE c.contypid = t.oid AND c.contype = 'c')) "
    "END "
    "FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
    "LEFT JOIN pg_type bt ON bt.oid = t.typbasetype "
    "WHERE t.oid >= 16384 AND " NS_OK("n") " AND " NOT_EXT(
        "pg_type", "t.oid") " AND (t.typtype IN ('e', 'd') OR (t.typtype = 'c' AND "
                            "(SELECT r.relkind FROM pg_class r WHERE r.oid = t.typrelid) = "
                            "'c')) ORDER BY t.oid";

/*
 * Functions and procedures; "late" ones (a table's row type in the
 * signature, or a SQL-standard body that names tables) come after tables.
 */
static const char q_functions[] =
    "SELECT pg_get_functiondef(p.oid) || E';\\n', "
    "  p.prosqlbody IS NOT NULL OR EXISTS (SELECT 1 FROM pg_type t JOIN pg_class c ON c.oid "
    "= t.typrelid "
    "   WHERE c.relkind <> 'c' AND (t.oid = p.prorettype OR t.oid = ANY (p.proargtypes::oid[]) "
    "   OR t.oid = ANY (coalesce(p.proallargtypes, '{}'::oid[])))) "
    "FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
    "WHERE p.oid >= 16384 AND p.prokind IN ('f', 'p', 'w') AND " NS_OK("n") " AND " NOT_EXT(
        "pg_proc", "p.oid") " ORDER BY p.oid";

/* sequences that are not an identity column's */
static const char q_sequences[] =
    "SELECT format('CREATE %sSEQUENCE %I.%I AS %s START WITH %s INCREMENT BY %s MINVALUE %s "
    "MAXVALUE %s CACHE %s%s;', CASE WHEN c.relpersistence = 'u' THEN 'UNLOGGED ' ELSE '' END, "
    "n.nspname, c.relname, format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement, "
    "s.seqmin, s.seqmax, s.seqcache, CASE WHEN s.seqcycle THEN ' CYCLE' ELSE '' END) "
    "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "JOIN pg_sequence s ON s.seqrelid = c.oid WHERE c.relkind = 'S' AND " REL_OK(
        "c", "n") " AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = "
                  "'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'i') ORDER BY c.oid";

/* tables, parents before partitions */
static const char q_tables[] =
    "WITH RECURSIVE lvl(oid, depth) AS ("
    "  SELECT c.oid, 0 FROM pg_class c WHERE NOT c.relispartition AND c.relkind IN ('r', 'p') "
    "  UNION ALL SELECT i.inhrelid, l.depth + 1 FROM pg_inherits i JOIN lvl l ON l.oid = "
    "i.inhparent) "
    "SELECT c.oid, c.relkind, n.nspname, c.relname, format('%I.%I', n.nspname, c.relname), "
    "  c.relpersistence = 'u', array_to_string(c.reloptions, ', '), "
    "  CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END, "
    "  CASE WHEN c.relispartition THEN (SELECT format('%I.%I', pn.nspname, pc.relname) "
    "    FROM pg_inherits i JOIN pg_class pc ON pc.oid = i.inhparent "
    "    JOIN pg_namespace pn ON pn.oid = pc.relnamespace WHERE i.inhrelid = c.oid) END, "
    "  CASE WHEN c.relispartition THEN pg_get_expr(c.relpartbound, c.oid) END, "
    "  c.reltoastrelid <> 0 AND pg_relation_size(c.reltoastrelid) > 0 "
    "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "JOIN (SELECT oid, max(depth) AS depth FROM lvl GROUP BY oid) l ON l.oid = c.oid "
    "WHERE c.relkind IN ('r', 'p') AND " REL_OK("c", "n") " ORDER BY l.depth, c.oid";

static const char q_columns[] =
    "SELECT a.attrelid, a.attname, quote_ident(a.attname), format_type(a.atttypid, "
    "a.atttypmod), "
    "  CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation THEN "
    "    (SELECT format(' COLLATE %I.%I', cn.nspname, co.collname) FROM pg_collation co "
    "     JOIN pg_namespace cn ON cn.oid = co.collnamespace WHERE co.oid = a.attcollation) "
    "END, "
    "  pg_get_expr(d.adbin, d.adrelid), a.attnotnull, a.attidentity, a.attgenerated, "
    "  (SELECT format(' (SEQUENCE NAME %I.%I START WITH %s INCREMENT BY %s MINVALUE %s "
    "MAXVALUE %s CACHE %s%s)', sn.nspname, sc.relname, s.seqstart, s.seqincrement, s.seqmin, "
    "s.seqmax, s.seqcache, CASE WHEN s.seqcycle THEN ' CYCLE' ELSE '' END) "
    "   FROM pg_depend dp JOIN pg_class sc ON sc.oid = dp.objid "
    "   JOIN pg_namespace sn ON sn.oid = sc.relnamespace JOIN pg_sequence s ON s.seqrelid = "
    "sc.oid "
    "   WHERE a.attidentity <> '' AND dp.classid = 'pg_class'::regclass AND dp.refclassid = "
    "'pg_class'::regclass AND dp.refobjid = a.attrelid AND dp.refobjsubid = a.attnum "
    "   AND dp.deptype = 'i' AND sc.relkind = 'S' LIMIT 1), "
    "  t.typlen, a.atttypid IN ('text'::regtype, 'varchar'::regtype, 'bytea'::regtype) "
    "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
    "JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_type t ON t.oid = a.atttypid "
    "LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
    "WHERE c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped AND " REL_OK(
        "c", "n") " ORDER BY a.attrelid, a.attnum";

#define CON_TABLE                                                                                  \
	"FROM pg_constraint co JOIN pg_class c ON c.oid = co.conrelid "                            \
	"JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p') AND " REL_OK( \
	    "c", "n")
#define ADD_CON                                                                                    \
	"format('ALTER TABLE %s%I.%I ADD CONSTRAINT %I %s;', CASE WHEN c.relkind = 'p' THEN "      \
	"'' ELSE 'ONLY ' END, n.nspname, c.relname, co.conname, pg_get_constraintdef(co.oid)) "

/* CHECK constraints of the table itself (partitions inherit their parent's) */
static const char q_checks[] =
    "SELECT " ADD_CON CON_TABLE
    " AND co.contype = 'c' AND co.conislocal AND co.coninhcount = 0 AND co.convalidated "
    "ORDER BY c.oid, co.oid";
static const char q_checks_not_valid[] =
    "SELECT " ADD_CON CON_TABLE
    " AND co.contype = 'c' AND co.conislocal AND co.coninhcount = 0 AND NOT co.convalidated "
    "ORDER BY c.oid, co.oid";
/* primary keys, unique and exclusion constraints: on ONLY each table, as pg_dump */
static const char q_keys[] =
    "SELECT format('ALTER TABLE ONLY %I.%I ADD CONSTRAINT %I %s;', n.nspname, c.relname, "
    "co.conname, pg_get_constraintdef(co.oid)) " CON_TABLE
    " AND co.contype IN ('p', 'u', 'x') ORDER BY c.oid, co.oid";
/* foreign keys declared on the table itself (partitions get theirs from the parent) */
static const char q_fkeys[] = "SELECT " ADD_CON CON_TABLE
                              " AND co.contype = 'f' AND co.conparentid = 0 ORDER BY c.oid, co.oid";

static const char q_seq_owned[] =
    "SELECT format('ALTER SEQUENCE %I.%I OWNED BY %I.%I.%I;', n.nspname, c.relname, "
    "tn.nspname, t.relname, a.attname) "
    "FROM pg_depend d JOIN pg_class c ON c.oid = d.objid JOIN pg_namespace n ON n.oid = "
    "c.relnamespace "
    "JOIN pg_class t ON t.oid = d.refobjid JOIN pg_namespace tn ON tn.oid = t.relnamespace "
    "JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid "
    "WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass AND "
    "d.deptype = 'a' AND c.relkind = 'S' AND " REL_OK("c", "n") " ORDER BY c.oid";

static const char q_seq_list[] =
    "SELECT n.nspname, c.relname, quote_literal(format('%I.%I', n.nspname, c.relname)) "
    "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relkind = 'S' AND " REL_OK("c", "n") " ORDER BY c.oid";

static const char q_views[] =
    "SELECT c.oid, c.relkind, format('%I.%I', n.nspname, c.relname), pg_get_viewdef(c.oid), "
    "array_to_string(c.reloptions, ', '), c.relispopulated "
    "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relkind IN ('v', 'm') AND " REL_OK("c", "n") " ORDER BY c.oid";
static const char q_view_deps[] =
    "SELECT DISTINCT r.ev_class, d.refobjid FROM pg_rewrite r "
    "JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid "
    "AND d.refclassid = 'pg_class'::regclass AND d.refobjid <> r.ev_class "
    "JOIN pg_class rc ON rc.oid = d.refobjid WHERE rc.relkind IN ('v', 'm')";

static const char q_indexes[] =
    "SELECT pg_get_indexdef(i.indexrelid) || ';' FROM pg_index i "
    "JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_class c ON c.oid = i.indrelid "
    "JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relkind IN ('r', 'p', 'm') AND " REL_OK(
        "c", "n") " AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = "
                  "i.indexrelid AND k.contype IN ('p', 'u', 'x')) ORDER BY ic.oid";
static const char q_index_attach[] =
    "SELECT format('ALTER INDEX %I.%I ATTACH PARTITION %I.%I;', pn.nspname, p.relname, "
    "n.nspname, c.relname) FROM pg_inherits h JOIN pg_class c ON c.oid = h.inhrelid "
    "JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_class p ON p.oid = h.inhparent "
    "JOIN pg_namespace pn ON pn.oid = p.relnamespace "
    "WHERE c.relkind IN ('i', 'I') AND " REL_OK("c", "n") " ORDER BY c.oid";

static const char q_triggers[] =
    "SELECT pg_get_triggerdef(t.oid) || ';' || CASE t.tgenabled "
    "  WHEN 'D' THEN format(E'\\nALTER TABLE %I.%I DISABLE TRIGGER %I;', n.nspname, "
    "c.relname, t.tgname) "
    "  WHEN 'R' THEN format(E'\\nALTER TABLE %I.%I ENABLE REPLICA TRIGGER %I;', n.nspname, "
    "c.relname, t.tgname) "
    "  WHEN 'A' THEN format(E'\\nALTER TABLE %I.%I ENABLE ALWAYS TRIGGER %I;', n.nspname, "
    "c.relname, t.tgname) "
    "  ELSE '' END "
    "FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = "
    "c.relnamespace WHERE NOT t.tgisinternal AND t.tgparentid = 0 AND " REL_OK(
        "c", "n") " ORDER BY c.oid, t.oid";

static const char q_rls[] =
    "SELECT format('ALTER TABLE %I.%I ENABLE ROW LEVEL SECURITY;', n.nspname, c.relname) "
    "  || CASE WHEN c.relforcerowsecurity THEN format(E'\\nALTER TABLE %I.%I FORCE ROW "
    "LEVEL SECURITY;', n.nspname, c.relname) ELSE '' END "
    "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relkind IN ('r', 'p') AND c.relrowsecurity AND " REL_OK("c", "n") " ORDER BY c.oid";

static const char q_policies[] =
    "SELECT format('CREATE POLICY %I ON %I.%I%s FOR %s%s%s%s;', p.polname, n.nspname, "
    "c.relname, "
    "  CASE WHEN p.polpermissive THEN '' ELSE ' AS RESTRICTIVE' END, "
    "  CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE' "
    "WHEN 'd' THEN 'DELETE' ELSE 'ALL' END, "
    "  ' TO ' || (SELECT string_agg(CASE WHEN r = 0 THEN 'PUBLIC' ELSE "
    "quote_ident(pg_get_userbyid(r)) END, ', ') FROM unnest(p.polroles) r), "
    "  ' USING (' || pg_get_expr(p.polqual, p.polrelid) || ')', "
    "  ' WITH CHECK (' || pg_get_expr(p.polwithcheck, p.polrelid) || ')') "
    "FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid JOIN pg_namespace n ON n.oid = "
    "c.relnamespace WHERE " REL_OK("c", "n") " ORDER BY c.oid, p.oid";

/* comments on the kinds of object a backup holds */
static const char q_comments[] =
    "SELECT format('COMMENT ON %s %s IS %L;', k.kw, "
    "  CASE WHEN o.type = 'domain constraint' THEN (SELECT format('%I ON DOMAIN %s', "
    "x.conname, format_type(x.contypid, NULL)) FROM pg_constraint x WHERE x.oid = d.objoid) "
    "  ELSE o.identity END, d.description) "
    "FROM pg_description d, LATERAL pg_identify_object(d.classoid, d.objoid, d.objsubid) o, "
    "LATERAL (SELECT CASE o.type WHEN 'table' THEN 'TABLE' WHEN 'view' THEN 'VIEW' "
    "  WHEN 'materialized view' THEN 'MATERIALIZED VIEW' WHEN 'index' THEN 'INDEX' "
    "  WHEN 'sequence' THEN 'SEQUENCE' WHEN 'type' THEN 'TYPE' WHEN 'domain' THEN 'DOMAIN' "
    "  WHEN 'function' THEN 'FUNCTION' WHEN 'procedure' THEN 'PROCEDURE' "
    "  WHEN 'trigger' THEN 'TRIGGER' WHEN 'policy' THEN 'POLICY' WHEN 'schema' THEN 'SCHEMA' "
    "  WHEN 'extension' THEN 'EXTENSION' WHEN 'table constraint' THEN 'CONSTRAINT' "
    "  WHEN 'domain constraint' THEN 'CONSTRAINT' WHEN 'table column' THEN 'COLUMN' "
    "  WHEN 'view column' THEN 'COLUMN' WHEN 'materialized view column' THEN 'COLUMN' "
    "  WHEN 'composite type column' THEN 'COLUMN' END AS kw) k "
    "WHERE d.objoid >= 16384 AND k.kw IS NOT NULL "
    "AND (o.schema IS NULL OR (o.schema <> 'information_schema' AND o.schema !~ '^pg_')) "
    "AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = d.classoid AND e.objid = "
    "d.objoid AND e.deptype = 'e') "
    "AND (o.type <> 'schema' OR o.identity <> 'public') "
    "AND (o.type NOT IN ('type', 'domain') OR NOT EXISTS (SELECT 1 FROM pg_type t "
    "  JOIN pg_class r ON r.oid = t.typrelid WHERE t.oid = d.objoid AND r.relkind <> 'c')) "
    "AND (d.classoid <> 'pg_proc'::regclass OR EXISTS (SELECT 1 FROM pg_proc p WHERE p.oid = "
    "d.objoid AND p.prokind IN ('f', 'p', 'w'))) "
    "ORDER BY d.classoid, d.objoid, d.objsubid";

/*
 * --with-owners: owners, then privileges.  Owners go to the owning role
 * (tables before sequences, whose owned-by table already carries them
 * along).  Privileges are what differs from the object's starting ACL
 * (acldefault for its owner, or pg_init_privs for objects initdb made,
 * such as schema public): REVOKE what the start has and the ACL lacks,
 * GRANT what the ACL has and the start lacks.  The grantor becomes the
 * owner on restore.
 */
static const char q_owners[] =
    "SELECT s FROM ("
    " SELECT 1 AS o, n.oid, format('ALTER SCHEMA %I OWNER TO %I;', n.nspname, "
    "  pg_get_userbyid(n.nspowner)) AS s FROM pg_namespace n "
    " WHERE n.oid >= 16384 AND n.nspname <> 'public' AND " NS_OK("n") " AND " NOT_EXT(
        "pg_namespace",
        "n.oid") " UNION ALL"
                 " SELECT 2, t.oid, format('ALTER %s %I.%I OWNER TO %I;', CASE WHEN t.typtype "
                 "= 'd' THEN "
                 "  'DOMAIN' ELSE 'TYPE' END, n.nspname, t.typname, "
                 "pg_get_userbyid(t.typowner)) "
                 " FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
                 " WHERE t.oid >= 16384 AND " NS_OK("n") " AND " NOT_EXT(
                     "pg_type",
                     "t.oid") " AND (t.typtype IN ('e', 'd') OR (t.typtype = 'c' AND "
                              "(SELECT r.relkind FROM pg_class r WHERE r.oid = t.typrelid) = "
                              "'c')) UNION ALL"
                              " SELECT 3, p.oid, format('ALTER ROUTINE %s OWNER TO %I;', "
                              "p.oid::regprocedure, "
                              "  pg_get_userbyid(p.proowner)) FROM pg_proc p JOIN pg_namespace "
                              "n ON n.oid = p.pronamespace "
                              " WHERE p.oid >= 16384 AND p.prokind IN ('f', 'p', 'w') "
                              "AND " NS_OK("n") " AND " NOT_EXT(
                                  "pg_proc",
                                  "p.oid") " UNION ALL"
                                           " SELECT CASE WHEN c.relkind = 'S' THEN 5 ELSE 4 "
                                           "END, c.oid, format('ALTER %s %I.%I OWNER "
                                           "TO %I;', CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN "
                                           "'m' THEN 'MATERIALIZED VIEW' WHEN 'S' "
                                           "THEN 'SEQUENCE' ELSE 'TABLE' END, n.nspname, "
                                           "c.relname, pg_get_userbyid(c.relowner)) "
                                           " FROM pg_class c JOIN pg_namespace n ON n.oid = "
                                           "c.relnamespace "
                                           " WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S') "
                                           "AND " REL_OK(
                                               "c", "n") " AND NOT (c.relkind = 'S' AND EXISTS "
                                                         "(SELECT 1 FROM pg_depend d WHERE "
                                                         "d.classid = 'pg_class'::regclass AND "
                                                         "d.objid = c.oid AND d.refclassid = "
                                                         "'pg_class'::regclass AND d.deptype "
                                                         "IN ('a', 'i')))"
                                                         ") x ORDER BY o, oid";

#define ACL_START(cls, oid, kind, owner)                                                           \
	"coalesce((SELECT ip.initprivs FROM pg_init_privs ip WHERE ip.objoid = " oid               \
	" AND ip.classoid = '" cls "'::regclass AND ip.objsubid = 0), acldefault('" kind           \
	"', " owner "))"

static const char q_grants
    [] = "WITH obj(o, oid, kw, ident, acl, start) AS ("
         " SELECT 1, n.oid, 'SCHEMA', quote_ident(n.nspname), n.nspacl, " ACL_START(
             "pg_namespace", "n.oid",
             "n", "n.nspowner") " FROM pg_namespace n "
                                " WHERE (n.oid >= 16384 OR n.nspname = 'public') AND " NS_OK("n") " AND " NOT_EXT(
                                    "pg_namespace",
                                    "n.oid") " UNION ALL"
                                             " SELECT 2, t.oid, CASE WHEN t.typtype = 'd' THEN "
                                             "'DOMAIN' ELSE 'TYPE' END, "
                                             "  format('%I.%I', n.nspname, t.typname), "
                                             "t.typacl, " ACL_START(
                                                 "pg_type", "t.oid", "T",
                                                 "t.typowner") " FROM pg_type t JOIN pg_namespace "
                                                               "n ON n.oid = "
                                                               "t.typnamespace "
                                                               " WHERE t.oid >= 16384 AND " NS_OK("n") " AND " NOT_EXT(
                                                                   "pg_type",
                                                                   "t.oid") " AND (t.typtype IN "
                                                                            "('e', 'd') OR "
                                                                            "(t.typtype = 'c' AND "
                                                                            "(SELECT r.relkind "
                                                                            "FROM pg_class r WHERE "
                                                                            "r.oid = t.typrelid) = "
                                                                            "'c')) UNION ALL"
                                                                            " SELECT 3, p.oid, "
                                                                            "'ROUTINE', "
                                                                            "p.oid::regprocedure::"
                                                                            "text, "
                                                                            "p.proacl, " ACL_START(
                                                                                "pg_proc", "p.oid",
                                                                                "f",
                                                                                "p.proowner") " FRO"
                                                                                              "M "
                                                                                              "pg_"
                                                                                              "proc"
                                                                                              " p "
                                                                                              "JOIN"
                                                                                              " pg_"
                                                                                              "name"
                                                                                              "spac"
                                                                                              "e n "
                                                                                              "ON "
                                                                                              "n."
                                                                                              "oid "
                                                                                              "= "
                                                                                              "p."
                                                                                              "pron"
                                                                                              "ames"
                                                                                              "pace"
                                                                                              " "
                                                                                              " WHE"
                                                                                              "RE "
                                                                                              "p."
                                                                                              "oid "
                                                                                              ">= "
                                                                                              "1638"
                                                                                              "4 "
                                                                                              "AND "
                                                                                              "p."
                                                                                              "prok"
                                                                                              "ind "
                                                                                              "IN "
                                                                                              "('f'"
                                                                                              ", "
                                                                                              "'p',"
                                                                                              " 'w'"
                                                                                              ") "
                                                                                              "AND"
                                                                                              " " NS_OK("n") " AND " NOT_EXT(
                                                                                                  "pg_proc",
                                                                                                  "p.oid") " UNION ALL"
                                                                                                           " SELECT 4, c.oid, CASE WHEN c.relkind = 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, "
                                                                                                           "  format('%I.%I', n.nspname, c.relname), c.relacl, "
                                                                                                           "  acldefault(CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::\"char\", c.relowner) "
                                                                                                           " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                                                                                                           " WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S') AND " REL_OK(
                                                                                                               "c",
                                                                                                               "n") "), "
                                                                                                                    "who(oid, name) AS (SELECT 0::oid, 'PUBLIC' UNION ALL SELECT oid, quote_ident(rolname) "
                                                                                                                    " FROM pg_roles) "
                                                                                                                    "SELECT s FROM ("
                                                                                                                    " SELECT obj.o, obj.oid, 1 AS k, 0::bigint AS pos, format('REVOKE %s ON %s %s FROM %s;', "
                                                                                                                    "  e.privilege_type, obj.kw, obj.ident, w.name) AS s FROM obj, LATERAL (SELECT grantee, "
                                                                                                                    "  privilege_type FROM aclexplode(obj.start) EXCEPT SELECT grantee, privilege_type "
                                                                                                                    "  FROM aclexplode(obj.acl)) e JOIN who w ON w.oid = e.grantee WHERE obj.acl IS NOT NULL "
                                                                                                                    " UNION ALL"
                                                                                                                    /* in ACL order, so that the restored ACL lists its entries in the same order */
                                                                                                                    " SELECT obj.o, obj.oid, 2, e.pos, format('GRANT %s ON %s %s TO %s%s;', e.privilege_type, "
                                                                                                                    "  obj.kw, obj.ident, w.name, CASE WHEN e.is_grantable THEN ' WITH GRANT OPTION' ELSE '' "
                                                                                                                    "END) FROM obj, LATERAL aclexplode(obj.acl) WITH ORDINALITY e(grantor, grantee, "
                                                                                                                    "  privilege_type, is_grantable, pos) JOIN who w ON w.oid = e.grantee "
                                                                                                                    "  WHERE obj.acl IS NOT NULL AND NOT EXISTS (SELECT 1 FROM aclexplode(obj.start) b "
                                                                                                                    "  WHERE b.grantee = e.grantee AND b.privilege_type = e.privilege_type "
                                                                                                                    "  AND b.is_grantable = e.is_grantable) "
                                                                                                                    " UNION ALL"
                                                                                                                    " SELECT 5, c.oid, 3, a.attnum * 1000 + e.pos, format('GRANT %s (%I) ON TABLE %I.%I TO "
                                                                                                                    "%s%s;', e.privilege_type, a.attname, n.nspname, c.relname, w.name, CASE WHEN "
                                                                                                                    "e.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END) "
                                                                                                                    "  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
                                                                                                                    "  JOIN pg_namespace n ON n.oid = c.relnamespace, LATERAL aclexplode(a.attacl) "
                                                                                                                    "  WITH ORDINALITY e(grantor, grantee, privilege_type, is_grantable, pos) "
                                                                                                                    "  JOIN who w ON w.oid = e.grantee "
                                                                                                                    "  WHERE a.attacl IS NOT NULL AND a.attnum > 0 AND NOT a.attisdropped AND " REL_OK(
                                                                                                                        "c",
                                                                                                                        "n") ") x ORDER BY o, oid, k, pos, s";

/* ---- the dump -------------------------------------------------------- */

struct table_count {
	char *name;
	long long rows;
};

struct dump_info {
	char *server_version;
	char started_at[40];
	long long duration_ms;
	struct table_count *tables;
	size_t ntables;
};

struct dump {
	struct dbconn *db;
	struct gz_writer *w;
	struct dump_info *info;
	long lock_timeout_s;
	char *err;   /* first error not from the writer */
	bool owners; /* --with-owners: owners and privileges too */
	/* progress on a TTY: uncompressed bytes, rate, the table being read */
	bool progress;
	long long p_start, p_last;
	unsigned long long p_bytes;
	const char *p_table;
};

static void info_free(struct dump_info *in)
{
	for (size_t i = 0; i < in->ntables; i++)
		free(in->tables[i].name);
	free(in->tables);
	free(in->server_version);
	memset(in, 0, sizeof *in);
}

/* One progress line on stderr (a TTY), at most every 250 ms; final clears it. */
static void progress(struct dump *d, bool final)
{
	long long now;
	double secs;

	if (!d->progress)
		return;
	now = now_ms();
	if (!final && d->p_last && now - d->p_last < 250)
		return;
	if (!d->p_start)
		d->p_start = now;
	d->p_last = now;
	secs = (double)(now - d->p_start) / 1000.0;
	if (final) {
		fputs("\r\033[K", stderr);
	} else {
		fputs("\r\033[Kbacking up ", stderr);
		for (const char *p = d->db->dbname; *p; p++)
			fputc((unsigned char)*p < 0x20 ? '?' : *p, stderr);
		fprintf(stderr, ": %.1f MiB, %.1f MiB/s%s%s", (double)d->p_bytes / 1048576.0,
		        secs > 0.05 ? (double)d->p_bytes / 1048576.0 / secs : 0.0,
		        d->p_table ? ", table " : "", d->p_table ? d->p_table : "");
	}
	fflush(stderr);
}

static bool put(struct dump *d, const char *s)
{
	size_t n = strlen(s);
	d->p_bytes += n;
	return gzw_write(d->w, s, n);
}

static bool dump_fail(struct dump *d, char *err)
{
	if (!d->err)
		d->err = err;
	else
		free(err);
	return false;
}

static PGresult *rows(struct dump *d, const char *sql, const char *what)
{
	char *e = NULL;
	PGresult *res = db_query(d->db, sql, 0, NULL, PGRES_TUPLES_OK, &e);
	if (!res) {
		dump_fail(d, xasprintf("reading %s failed: %s", what, e));
		free(e);
	}
	return res;
}

/* Writes every row's first column as one statement, under a section header. */
static bool section(struct dump *d, const char *title, const char *sql)
{
	PGresult *res = rows(d, sql, title);
	bool ok = res != NULL;

	if (ok && PQntuples(res) > 0) {
		ok = put(d, "\n--\n-- ") && put(d, title) && put(d, "\n--\n\n");
		for (int i = 0; ok && i < PQntuples(res); i++)
			ok = put(d, PQgetvalue(res, i, 0)) && put(d, "\n");
	}
	PQclear(res);
	return ok;
}

static bool functions(struct dump *d, bool late)
{
	PGresult *res = rows(d, q_functions, "functions");
	bool ok = res != NULL, titled = false;

	for (int i = 0; ok && i < PQntuples(res); i++) {
		if ((PQgetvalue(res, i, 1)[0] == 't') != late)
			continue;
		if (!titled) {
			titled = true;
			ok = put(d, late ? "\n--\n-- functions using tables\n--\n\n"
			                 : "\n--\n-- functions and procedures\n--\n\n");
		}
		ok = ok && put(d, PQgetvalue(res, i, 0)) && put(d, "\n");
	}
	PQclear(res);
	return ok;
}

struct table {
	unsigned long oid;
	char kind;
	const char *nsp, *rel, *qname, *options, *partkey, *parent, *bound;
	bool unlogged;
	bool toast;      /* has out-of-line values: look for wide rows */
	int col0, ncols; /* row range in the columns result */
};

static bool create_table(struct dump *d, const struct table *t, PGresult *cols)
{
	struct strbuf sb;
	bool ok;

	sb_init(&sb);
	sb_addf(&sb, "CREATE %sTABLE %s", t->unlogged ? "UNLOGGED " : "", t->qname);
	if (t->parent) {
		sb_addf(&sb, " PARTITION OF %s", t->parent);
	} else {
		sb_adds(&sb, " (");
		for (int k = 0; k < t->ncols; k++) {
			int r = t->col0 + k;
			const char *def = PQgetisnull(cols, r, 5) ? NULL : PQgetvalue(cols, r, 5);
			const char *ident = PQgetvalue(cols, r, 7);
			const char *gen = PQgetvalue(cols, r, 8);

			sb_addf(&sb, "%s\n    %s %s%s", k ? "," : "", PQgetvalue(cols, r, 2),
			        PQgetvalue(cols, r, 3), PQgetvalue(cols, r, 4));
			if (gen[0] == 's' && def)
				sb_addf(&sb, " GENERATED ALWAYS AS (%s) STORED", def);
			else if (def)
				sb_addf(&sb, " DEFAULT %s", def);
			if (ident[0])
				sb_addf(&sb, " GENERATED %s AS IDENTITY%s",
				        ident[0] == 'a' ? "ALWAYS" : "BY DEFAULT",
				        PQgetvalue(cols, r, 9));
			if (PQgetvalue(cols, r, 6)[0] == 't')
				sb_adds(&sb, " NOT NULL");
		}
		sb_adds(&sb, "\n)");
	}
	if (t->bound)
		sb_addf(&sb, "\n%s", t->bound);
	if (t->partkey)
		sb_addf(&sb, "\nPARTITION BY %s", t->partkey);
	if (t->options && *t->options)
		sb_addf(&sb, "\nWITH (%s)", t->options);
	sb_adds(&sb, ";\n\n");
	ok = put(d, sb.buf);
	sb_free(&sb);
	return ok;
}

/* Asks the server to stop a COPY we no longer want, then drains it. */
static void abandon_copy(PGconn *pg)
{
	PGcancel *c = PQgetCancel(pg);
	char buf[256];
	char *row;
	PGresult *res;

	if (c) {
		(void)PQcancel(c, buf, sizeof buf);
		PQfreeCancel(c);
	}
	while (PQgetCopyData(pg, &row, 0) > 0)
		PQfreemem(row);
	while ((res = PQgetResult(pg)) != NULL)
		PQclear(res);
}

/* "nsp"."rel" quoted by libpq for statements we run; NULL on failure. */
static char *exec_name(PGconn *pg, const char *nsp, const char *rel)
{
	char *qn = PQescapeIdentifier(pg, nsp, strlen(nsp));
	char *qr = PQescapeIdentifier(pg, rel, strlen(rel));
	char *out = qn && qr ? xasprintf("%s.%s", qn, qr) : NULL;
	PQfreemem(qn);
	PQfreemem(qr);
	return out;
}

/*
 * Wide rows.  libpq holds a whole COPY row twice (its input buffer and the
 * copy PQgetCopyData returns), so a 10 MB value would cost 20 MB.  Rows
 * with a value stored out of line above these sizes are left out of the
 * table's COPY and written afterwards as COPY lines of their own, each
 * value fetched in slices: its text form (the type's output function, as
 * COPY uses) escaped as COPY's text format needs (backslash, newline,
 * carriage return, tab).
 */
#define WIDE_STORED (256 * 1024)  /* pg_column_size: the stored, maybe compressed, size */
#define WIDE_RAW    (1024 * 1024) /* octet_length of text, varchar and bytea */
#define WIDE_SLICE  (1024 * 1024) /* characters per fetch */
#define COPY_ESCAPE(x)                                                                             \
	"pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(" x ", "      \
	"E'\\\\', E'\\\\\\\\'), E'\\n', E'\\\\n'), E'\\r', E'\\\\r'), E'\\t', E'\\\\t')"

/* Writes the row at ctid of table name as one COPY text line, value by value. */
static bool copy_wide_row(struct dump *d, const char *name, const struct table *t, PGresult *cols,
                          const char *ctid)
{
	bool ok = true, first = true;

	for (int k = 0; ok && k < t->ncols; k++) {
		int r = t->col0 + k;
		const char *col = PQgetvalue(cols, r, 1);
		char *q, *sql, pos[32];
		const char *params[2] = {ctid, pos};

		if (PQgetvalue(cols, r, 8)[0] == 's')
			continue;
		q = PQescapeIdentifier(d->db->pg, col, strlen(col));
		if (!q)
			return dump_fail(d, xasprintf("cannot quote a column of %s", t->qname));
		sql = xasprintf(
		    "SELECT pg_catalog.substr(e, $2::int, %d), n, "
		    "pg_catalog.char_length(e) < $2::int + %d FROM (SELECT " COPY_ESCAPE(
		        "pg_catalog.format('%%s', %s)") " AS e, pg_catalog.num_nulls(%s) = 1 "
		                                        "AS n FROM ONLY %s WHERE ctid = "
		                                        "$1::pg_catalog.tid) s",
		    WIDE_SLICE, WIDE_SLICE, q, q, name);
		PQfreemem(q);
		ok = first || put(d, "\t");
		first = false;
		for (long p = 1; ok; p += WIDE_SLICE) {
			char *e = NULL;
			PGresult *res;
			snprintf(pos, sizeof pos, "%ld", p);
			res = db_query(d->db, sql, 2, params, PGRES_TUPLES_OK, &e);
			if (!res || PQntuples(res) != 1) {
				ok = dump_fail(d, xasprintf("reading a wide row of %s failed: %s",
				                            t->qname, e ? e : "the row is gone"));
				free(e);
				PQclear(res);
				break;
			}
			if (PQgetvalue(res, 0, 1)[0] == 't') {
				ok = put(d, "\\N");
			} else {
				size_t n = (size_t)PQgetlength(res, 0, 0);
				ok = gzw_write(d->w, PQgetvalue(res, 0, 0), n);
				d->p_bytes += n;
				progress(d, false);
			}
			if (PQgetvalue(res, 0, 1)[0] == 't' || PQgetvalue(res, 0, 2)[0] != 'f') {
				PQclear(res);
				break;
			}
			PQclear(res);
		}
		free(sql);
	}
	return ok && put(d, "\n");
}

/* COPY one table out: "COPY name (cols) FROM stdin;", the rows, "\.". */
static bool copy_table(struct dump *d, const struct table *t, PGresult *cols)
{
	struct strbuf head, sql, wide;
	PGresult *wrows = NULL;
	PGconn *pg = d->db->pg;
	PGresult *res;
	long long nrows = 0;
	char *row, *name = exec_name(pg, t->nsp, t->rel);
	int n = -1, ncopied = 0;
	bool ok = name != NULL, in_copy = false;

	if (signals_stop_requested()) {
		free(name);
		return dump_fail(d, xasprintf("interrupted by %s", signals_stop_reason()));
	}
	if (!ok) {
		return dump_fail(d, xasprintf("cannot quote %s: %s", t->qname, PQerrorMessage(pg)));
	}
	sb_init(&head);
	sb_init(&sql);
	sb_init(&wide);
	for (int k = 0; ok && k < t->ncols; k++) {
		int r = t->col0 + k;
		const char *col = PQgetvalue(cols, r, 1);
		char *q;
		if (PQgetvalue(cols, r, 8)[0] == 's')
			continue; /* generated columns are computed again on restore */
		q = PQescapeIdentifier(pg, col, strlen(col));
		if (!q) {
			ok = dump_fail(d, xasprintf("cannot quote a column of %s: %s", t->qname,
			                            PQerrorMessage(pg)));
			break;
		}
		sb_addf(&head, "%s%s", ncopied ? ", " : "", PQgetvalue(cols, r, 2));
		sb_addf(&sql, "%s%s", ncopied ? ", " : "", q);
		if (t->toast && str_eq(PQgetvalue(cols, r, 10), "-1")) {
			sb_addf(&wide, "%spg_catalog.pg_column_size(%s) > %d",
			        wide.len ? " OR " : "", q, WIDE_STORED);
			if (PQgetvalue(cols, r, 11)[0] == 't')
				sb_addf(&wide, " OR pg_catalog.octet_length(%s) > %d", q, WIDE_RAW);
		}
		PQfreemem(q);
		ncopied++;
	}
	if (ok && wide.len) {
		char *e = NULL, *w = xasprintf("SELECT ctid FROM ONLY %s WHERE %s ORDER BY ctid",
		                               name, wide.buf);
		wrows = db_query(d->db, w, 0, NULL, PGRES_TUPLES_OK, &e);
		free(w);
		if (!wrows) {
			ok = dump_fail(
			    d, xasprintf("looking for wide rows in %s failed: %s", t->qname, e));
			free(e);
		} else if (PQntuples(wrows) == 0) {
			PQclear(wrows);
			wrows = NULL;
		}
	}
	if (ok) {
		char *h = ncopied ? xasprintf("COPY %s (%s) FROM stdin;\n", t->qname, head.buf)
		                  : xasprintf("COPY %s FROM stdin;\n", t->qname);
		char *x = wrows     ? xasprintf("COPY (SELECT %s FROM ONLY %s WHERE NOT "
		                                    "COALESCE(%s, false)) TO STDOUT",
		                                sql.buf, name, wide.buf)
		          : ncopied ? xasprintf("COPY %s (%s) TO STDOUT", name, sql.buf)
		                    : xasprintf("COPY %s TO STDOUT", name);
		ok = put(d, h);
		free(h);
		if (ok) {
			res = PQexec(pg, x);
			if (!res || PQresultStatus(res) != PGRES_COPY_OUT) {
				char *e = db_result_error(res, pg);
				ok = dump_fail(d, xasprintf("COPY %s failed: %s", t->qname, e));
				free(e);
			} else {
				in_copy = true;
			}
			PQclear(res);
		}
		free(x);
	}
	d->p_table = t->qname;
	progress(d, false);
	while (ok && (n = PQgetCopyData(pg, &row, 0)) > 0) {
		ok = gzw_write(d->w, row, (size_t)n);
		PQfreemem(row);
		d->p_bytes += (unsigned long long)n;
		if ((++nrows & 255) == 0)
			progress(d, false);
	}
	if (ok) {
		if (n == -2) {
			char *e = db_result_error(NULL, pg);
			ok = dump_fail(d, xasprintf("COPY %s failed: %s", t->qname, e));
			free(e);
		}
		res = PQgetResult(pg);
		if (ok && (!res || PQresultStatus(res) != PGRES_COMMAND_OK)) {
			char *e = db_result_error(res, pg);
			ok = dump_fail(d, xasprintf("COPY %s failed: %s", t->qname, e));
			free(e);
		}
		PQclear(res);
		while ((res = PQgetResult(pg)) != NULL) /* none expected */
			PQclear(res);
	} else if (in_copy && PQstatus(pg) == CONNECTION_OK) {
		abandon_copy(pg);
	}
	for (int i = 0; ok && wrows && i < PQntuples(wrows); i++) {
		ok = copy_wide_row(d, name, t, cols, PQgetvalue(wrows, i, 0));
		nrows++;
	}
	d->p_table = NULL;
	ok = ok && put(d, "\\.\n\n");
	if (ok) {
		struct dump_info *in = d->info;
		in->tables = xrealloc(in->tables, (in->ntables + 1) * sizeof *in->tables);
		in->tables[in->ntables].name = xstrdup(t->qname);
		in->tables[in->ntables++].rows = nrows;
	}
	sb_free(&head);
	sb_free(&sql);
	sb_free(&wide);
	PQclear(wrows);
	free(name);
	return ok;
}

/* LOCK every table we read, so concurrent DDL waits for the dump. */
static bool lock_tables(struct dump *d, const struct table *tabs, size_t n)
{
	struct strbuf sb;
	char timeout[32], *e = NULL;
	const char *params[1] = {timeout};
	PGresult *res;
	bool ok = true;

	if (!n)
		return true;
	snprintf(timeout, sizeof timeout, "%lds", d->lock_timeout_s);
	res = db_query(d->db, "SELECT pg_catalog.set_config('lock_timeout', $1, true)", 1, params,
	               PGRES_TUPLES_OK, &e);
	if (!res) {
		dump_fail(d, xasprintf("cannot set lock_timeout: %s", e));
		free(e);
		return false;
	}
	PQclear(res);
	sb_init(&sb);
	sb_adds(&sb, "LOCK TABLE ");
	for (size_t i = 0; ok && i < n; i++) {
		char *qn = PQescapeIdentifier(d->db->pg, tabs[i].nsp, strlen(tabs[i].nsp));
		char *qr = PQescapeIdentifier(d->db->pg, tabs[i].rel, strlen(tabs[i].rel));
		if (qn && qr)
			sb_addf(&sb, "%s%s.%s", i ? ", " : "", qn, qr);
		else
			ok = dump_fail(d, xasprintf("cannot quote %s", tabs[i].qname));
		PQfreemem(qn);
		PQfreemem(qr);
	}
	sb_adds(&sb, " IN ACCESS SHARE MODE");
	if (ok && !db_command(d->db, sb.buf, 0, NULL, &e)) {
		ok = dump_fail(d, xasprintf("cannot lock the tables for the backup: %s", e));
		free(e);
	}
	sb_free(&sb);
	return ok;
}

static bool set_values(struct dump *d)
{
	PGresult *list = rows(d, q_seq_list, "sequences");
	bool ok = list != NULL;

	if (ok && PQntuples(list) > 0)
		ok = put(d, "\n--\n-- sequence values\n--\n\n");
	for (int i = 0; ok && i < PQntuples(list); i++) {
		const char *nsp = PQgetvalue(list, i, 0), *rel = PQgetvalue(list, i, 1);
		char *qn = PQescapeIdentifier(d->db->pg, nsp, strlen(nsp));
		char *qr = PQescapeIdentifier(d->db->pg, rel, strlen(rel));
		char *sql, *e = NULL, *line;
		PGresult *res;

		if (!qn || !qr) {
			PQfreemem(qn);
			PQfreemem(qr);
			ok = dump_fail(
			    d, xasprintf("cannot quote sequence %s", PQgetvalue(list, i, 2)));
			break;
		}
		sql = xasprintf("SELECT last_value, is_called FROM %s.%s", qn, qr);
		PQfreemem(qn);
		PQfreemem(qr);
		res = db_query(d->db, sql, 0, NULL, PGRES_TUPLES_OK, &e);
		free(sql);
		if (!res || PQntuples(res) != 1) {
			ok = dump_fail(d, xasprintf("reading sequence %s failed: %s",
			                            PQgetvalue(list, i, 2), e ? e : "no row"));
			free(e);
			PQclear(res);
			break;
		}
		line = xasprintf("SELECT pg_catalog.setval(%s, %s, %s);\n", PQgetvalue(list, i, 2),
		                 PQgetvalue(res, 0, 0),
		                 PQgetvalue(res, 0, 1)[0] == 't' ? "true" : "false");
		ok = put(d, line);
		free(line);
		PQclear(res);
	}
	PQclear(list);
	return ok;
}

struct view {
	unsigned long oid;
	char kind;
	const char *qname, *def, *options;
	bool populated;
	int ndeps; /* views it still waits for */
	bool done;
};

/* Views and materialized views, each after the views it reads (Kahn's algorithm). */
static bool views(struct dump *d, bool refresh_only)
{
	PGresult *vr = rows(d, q_views, "views"), *dr = NULL;
	struct view *v = NULL;
	size_t n = 0, emitted = 0;
	bool ok = vr != NULL;

	if (ok)
		dr = rows(d, q_view_deps, "view dependencies");
	ok = ok && dr != NULL;
	if (ok) {
		n = (size_t)PQntuples(vr);
		v = xcalloc(n ? n : 1, sizeof *v);
		for (size_t i = 0; i < n; i++) {
			v[i].oid = strtoul(PQgetvalue(vr, (int)i, 0), NULL, 10);
			v[i].kind = PQgetvalue(vr, (int)i, 1)[0];
			v[i].qname = PQgetvalue(vr, (int)i, 2);
			v[i].def = PQgetvalue(vr, (int)i, 3);
			v[i].options = PQgetvalue(vr, (int)i, 4);
			v[i].populated = PQgetvalue(vr, (int)i, 5)[0] == 't';
		}
	}
	if (ok && n)
		ok = put(d, refresh_only ? "\n--\n-- materialized view data\n--\n\n"
		                         : "\n--\n-- views and materialized views\n--\n\n");
	while (ok && emitted < n) {
		size_t pick = n;
		for (size_t i = 0; i < n && pick == n; i++) {
			bool ready = !v[i].done;
			for (int k = 0; ready && k < PQntuples(dr); k++) {
				unsigned long from = strtoul(PQgetvalue(dr, k, 0), NULL, 10);
				unsigned long to = strtoul(PQgetvalue(dr, k, 1), NULL, 10);
				if (from != v[i].oid)
					continue;
				for (size_t j = 0; j < n; j++)
					if (v[j].oid == to && !v[j].done && j != i)
						ready = false;
			}
			if (ready)
				pick = i;
		}
		if (pick == n)
			pick = 0; /* a cycle cannot happen; take the oldest left anyway */
		while (v[pick].done)
			pick++;
		v[pick].done = true;
		emitted++;
		if (refresh_only) {
			if (v[pick].kind == 'm' && v[pick].populated) {
				char *s =
				    xasprintf("REFRESH MATERIALIZED VIEW %s;\n", v[pick].qname);
				ok = put(d, s);
				free(s);
			}
		} else {
			struct strbuf sb;
			size_t dl = strlen(v[pick].def);
			while (dl && (v[pick].def[dl - 1] == ';' || v[pick].def[dl - 1] == '\n' ||
			              v[pick].def[dl - 1] == ' '))
				dl--;
			sb_init(&sb);
			sb_addf(&sb, "CREATE %s %s",
			        v[pick].kind == 'm' ? "MATERIALIZED VIEW" : "VIEW", v[pick].qname);
			if (*v[pick].options)
				sb_addf(&sb, " WITH (%s)", v[pick].options);
			sb_adds(&sb, " AS\n");
			sb_add(&sb, v[pick].def, dl);
			sb_adds(&sb, v[pick].kind == 'm' ? "\n  WITH NO DATA;\n\n" : ";\n\n");
			ok = put(d, sb.buf);
			sb_free(&sb);
		}
	}
	free(v);
	PQclear(vr);
	PQclear(dr);
	return ok;
}

static const char dump_header[] = "SET statement_timeout = 0;\n"
                                  "SET lock_timeout = 0;\n"
                                  "SET idle_in_transaction_session_timeout = 0;\n"
                                  "SET client_encoding = 'UTF8';\n"
                                  "SET standard_conforming_strings = on;\n"
                                  "SELECT pg_catalog.set_config('search_path', '', false);\n"
                                  "SET check_function_bodies = false;\n"
                                  "SET xmloption = content;\n"
                                  "SET client_min_messages = warning;\n"
                                  "SET row_security = off;\n";

/* The dump's session: one snapshot, nothing written, names fully qualified. */
static const char dump_session[] = "SELECT pg_catalog.set_config('search_path', '', true), "
                                   "pg_catalog.set_config('DateStyle', 'ISO', true), "
                                   "pg_catalog.set_config('IntervalStyle', 'postgres', true), "
                                   "pg_catalog.set_config('extra_float_digits', '3', true), "
                                   "pg_catalog.set_config('row_security', 'off', true), "
                                   "pg_catalog.set_config('statement_timeout', '0', true)";

static bool dump_body(struct dump *d)
{
	PGresult *tr = NULL, *cr = NULL;
	struct table *tabs = NULL;
	size_t nt = 0;
	bool ok;
	char ts[40];
	struct strbuf sb;

	tr = rows(d, q_tables, "tables");
	cr = tr ? rows(d, q_columns, "columns") : NULL;
	ok = tr && cr;
	if (ok) {
		int c = 0, ncr = PQntuples(cr);
		nt = (size_t)PQntuples(tr);
		tabs = xcalloc(nt ? nt : 1, sizeof *tabs);
		for (size_t i = 0; i < nt; i++) {
			struct table *t = &tabs[i];
			int r = (int)i;
			t->oid = strtoul(PQgetvalue(tr, r, 0), NULL, 10);
			t->kind = PQgetvalue(tr, r, 1)[0];
			t->nsp = PQgetvalue(tr, r, 2);
			t->rel = PQgetvalue(tr, r, 3);
			t->qname = PQgetvalue(tr, r, 4);
			t->unlogged = PQgetvalue(tr, r, 5)[0] == 't';
			t->options = PQgetvalue(tr, r, 6);
			t->partkey = PQgetisnull(tr, r, 7) ? NULL : PQgetvalue(tr, r, 7);
			t->parent = PQgetisnull(tr, r, 8) ? NULL : PQgetvalue(tr, r, 8);
			t->bound = PQgetisnull(tr, r, 9) ? NULL : PQgetvalue(tr, r, 9);
			t->toast = PQgetvalue(tr, r, 10)[0] == 't';
			/* columns are ordered by table oid: find this table's run */
			for (c = 0; c < ncr && strtoul(PQgetvalue(cr, c, 0), NULL, 10) != t->oid;
			     c++)
				;
			t->col0 = c;
			while (c < ncr && strtoul(PQgetvalue(cr, c, 0), NULL, 10) == t->oid)
				c++;
			t->ncols = c - t->col0;
		}
		ok = lock_tables(d, tabs, nt);
	}

	utc_timestamp(ts, sizeof ts, false);
	sb_init(&sb);
	sb_adds(&sb, "--\n-- PostgreSQL database backup written by auzdb " AUZDB_VERSION "\n");
	sb_addf(&sb, "-- database: ");
	for (const char *p = d->db->dbname; *p; p++)
		sb_addc(&sb, (unsigned char)*p < 0x20 ? '?' : *p);
	sb_addf(&sb, "\n-- server version: %s\n-- taken at: %s\n--\n\n",
	        d->info->server_version ? d->info->server_version : "unknown", ts);
	sb_adds(&sb, dump_header);
	ok = ok && put(d, sb.buf);
	sb_free(&sb);

	ok = ok && section(d, "schemas", q_schemas);
	ok = ok && section(d, "extensions", q_extensions);
	ok = ok && section(d, "types", q_types);
	ok = ok && functions(d, false);
	ok = ok && section(d, "sequences", q_sequences);
	if (ok && nt)
		ok = put(d, "\n--\n-- tables\n--\n\n");
	for (size_t i = 0; ok && i < nt; i++)
		ok = create_table(d, &tabs[i], cr);
	ok = ok && section(d, "check constraints", q_checks);
	ok = ok && section(d, "sequence ownership", q_seq_owned);
	ok = ok && functions(d, true);
	ok = ok && views(d, false);

	if (ok && nt)
		ok = put(d, "\n--\n-- data\n--\n\n");
	for (size_t i = 0; ok && i < nt; i++)
		if (tabs[i].kind == 'r')
			ok = copy_table(d, &tabs[i], cr);
	ok = ok && set_values(d);

	ok = ok && section(d, "primary keys, unique and exclusion constraints", q_keys);
	ok = ok && section(d, "indexes", q_indexes);
	ok = ok && section(d, "partition indexes", q_index_attach);
	ok = ok && section(d, "check constraints not yet validated", q_checks_not_valid);
	ok = ok && section(d, "foreign keys", q_fkeys);
	ok = ok && section(d, "triggers", q_triggers);
	ok = ok && section(d, "row level security", q_rls);
	ok = ok && section(d, "policies", q_policies);
	ok = ok && section(d, "comments", q_comments);
	if (d->owners)
		ok = ok && section(d, "owners", q_owners) && section(d, "privileges", q_grants);
	ok = ok && views(d, true);
	ok = ok && put(d, "\n--\n-- auzdb backup complete\n--\n");
	free(tabs);
	PQclear(tr);
	PQclear(cr);
	return ok;
}

/*
 * Runs the whole dump in one REPEATABLE READ, READ ONLY transaction on db
 * (which must be idle) into w.  Returns true, or false with d->err set, or
 * false with the error left in the writer.
 */
static bool dump_database(struct dump *d)
{
	char *e = NULL;
	PGresult *res;
	bool ok;
	long long t0 = now_ms();
	const char *sv = PQparameterStatus(d->db->pg, "server_version");

	d->info->server_version = xstrdup(sv ? sv : "unknown");
	utc_timestamp(d->info->started_at, sizeof d->info->started_at, false);
	if (!db_command(d->db, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", 0, NULL, &e)) {
		dump_fail(d, xasprintf("cannot start the backup transaction: %s", e));
		free(e);
		return false;
	}
	res = db_query(d->db, dump_session, 0, NULL, PGRES_TUPLES_OK, &e);
	if (!res) {
		dump_fail(d, xasprintf("cannot set up the backup session: %s", e));
		free(e);
		ok = false;
	} else {
		PQclear(res);
		ok = dump_body(d);
	}
	if (ok && !db_command(d->db, "COMMIT", 0, NULL, &e)) {
		ok = dump_fail(d, xasprintf("backup transaction failed: %s", e));
		free(e);
	}
	if (!ok && PQstatus(d->db->pg) == CONNECTION_OK &&
	    PQtransactionStatus(d->db->pg) != PQTRANS_IDLE) {
		res = PQexec(d->db->pg, "ROLLBACK");
		PQclear(res);
	}
	d->info->duration_ms = now_ms() - t0;
	return ok;
}

/* ---- files ----------------------------------------------------------- */

static bool fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	bool ok;
	if (fd < 0)
		return false;
	ok = fsync(fd) == 0 || errno == EINVAL;
	close(fd);
	return ok;
}

/* mkdir -p with mode 0700 for the parts it creates. */
static int mkdir_p(const char *path)
{
	char *p = xstrdup(path);
	int rc = 0;

	for (char *s = p + 1;; s++) {
		if (*s == '/' || *s == '\0') {
			char c = *s;
			*s = '\0';
			if (mkdir(p, 0700) != 0 && errno != EEXIST) {
				rc = errno;
				break;
			}
			*s = c;
			if (!c)
				break;
		}
	}
	if (!rc) {
		struct stat st;
		if (stat(p, &st) != 0)
			rc = errno;
		else if (!S_ISDIR(st.st_mode))
			rc = ENOTDIR;
	}
	free(p);
	return rc;
}

/* A database name as a file name: [A-Za-z0-9_.-] kept, other bytes %XX. */
static char *file_name(const char *db)
{
	struct strbuf sb;
	sb_init(&sb);
	for (const unsigned char *p = (const unsigned char *)db; *p; p++) {
		bool keep = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		            (*p >= '0' && *p <= '9') || *p == '_' || *p == '-' ||
		            (*p == '.' && p != (const unsigned char *)db);
		if (keep)
			sb_addc(&sb, (char)*p);
		else
			sb_addf(&sb, "%%%02X", *p);
	}
	sb_adds(&sb, ".sql.gz");
	return sb.buf;
}

struct manifest_entry {
	char *database, *file;
	uint64_t bytes;
	char sha256[65];
	struct dump_info info;
};

struct backup_set {
	const struct config *cfg;
	pthread_mutex_t mu;
	char stamp[32];
	char *dir; /* NULL until created */
	struct manifest_entry *entries;
	size_t count;
	bool failed;
	bool progress_busy; /* one dump at a time shows progress */
};

struct backup_set *backup_set_new(const struct config *cfg)
{
	struct backup_set *bs = xcalloc(1, sizeof *bs);
	struct timespec ts;
	struct tm tm;

	bs->cfg = cfg;
	pthread_mutex_init(&bs->mu, NULL);
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(bs->stamp, sizeof bs->stamp, "%Y%m%dT%H%M%SZ", &tm);
	return bs;
}

/* Creates <dir>/<stamp>[-N]/ on first use (caller holds mu). */
static int ensure_dir(struct backup_set *bs, char **err)
{
	int e;
	if (bs->dir)
		return AZ_EXIT_OK;
	e = mkdir_p(bs->cfg->backup_dir);
	if (e) {
		*err = xasprintf("cannot create backup directory %s: %s", bs->cfg->backup_dir,
		                 strerror(e));
		return AZ_EXIT_BACKUP;
	}
	for (int n = 1; n < 1000; n++) {
		char *d = n == 1 ? xasprintf("%s/%s", bs->cfg->backup_dir, bs->stamp)
		                 : xasprintf("%s/%s-%d", bs->cfg->backup_dir, bs->stamp, n);
		if (mkdir(d, 0700) == 0) {
			if (!fsync_dir(bs->cfg->backup_dir)) {
				*err = xasprintf("cannot fsync backup directory %s: %s",
				                 bs->cfg->backup_dir, strerror(errno));
				rmdir(d);
				free(d);
				return AZ_EXIT_BACKUP;
			}
			bs->dir = d;
			return AZ_EXIT_OK;
		}
		e = errno;
		free(d);
		if (e != EEXIST) {
			*err = xasprintf("cannot create a backup set in %s: %s",
			                 bs->cfg->backup_dir, strerror(e));
			return AZ_EXIT_BACKUP;
		}
	}
	*err = xasprintf("cannot create a backup set in %s: too many sets named %s",
	                 bs->cfg->backup_dir, bs->stamp);
	return AZ_EXIT_BACKUP;
}

static char *manifest_json(const struct backup_set *bs)
{
	struct strbuf sb;
	sb_init(&sb);
	sb_addf(&sb, "{\n  \"format\": \"auzdb-backup-1\",\n  \"auzdb_version\": \"%s\",\n",
	        AUZDB_VERSION);
	sb_addf(&sb, "  \"set\": \"%s\",\n  \"compression\": \"gzip\",\n  \"level\": %ld,\n",
	        bs->stamp, bs->cfg->compress_level);
	sb_adds(&sb, "  \"databases\": [");
	for (size_t i = 0; i < bs->count; i++) {
		const struct manifest_entry *m = &bs->entries[i];
		sb_adds(&sb, i ? ",\n    {" : "\n    {");
		sb_adds(&sb, "\"database\": \"");
		sb_add_json(&sb, m->database);
		sb_adds(&sb, "\", \"file\": \"");
		sb_add_json(&sb, m->file);
		sb_addf(&sb, "\", \"bytes\": %llu, \"sha256\": \"%s\", \"server_version\": \"",
		        (unsigned long long)m->bytes, m->sha256);
		sb_add_json(&sb, m->info.server_version);
		sb_addf(&sb,
		        "\", \"started_at\": \"%s\", \"duration_ms\": %lld,\n      \"tables\": {",
		        m->info.started_at, m->info.duration_ms);
		for (size_t k = 0; k < m->info.ntables; k++) {
			sb_adds(&sb, k ? ", \"" : "\"");
			sb_add_json(&sb, m->info.tables[k].name);
			sb_addf(&sb, "\": %lld", m->info.tables[k].rows);
		}
		sb_adds(&sb, "}}");
	}
	sb_adds(&sb, bs->count ? "\n  ]\n}\n" : "]\n}\n");
	return sb.buf;
}

static bool write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (w == 0)
				errno = EIO;
			return false;
		}
		p += w;
		n -= (size_t)w;
	}
	return true;
}

/* Rewrites manifest.json durably (caller holds mu). */
static bool write_manifest(struct backup_set *bs, char **err)
{
	char *json = manifest_json(bs);
	char *path = xasprintf("%s/manifest.json", bs->dir);
	char *tmp = xasprintf("%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	bool ok = fd >= 0 && write_all(fd, json, strlen(json)) && fsync(fd) == 0;
	int e = errno;

	if (fd >= 0 && close(fd) != 0 && ok) {
		ok = false;
		e = errno;
	}
	if (ok && rename(tmp, path) != 0) {
		ok = false;
		e = errno;
	}
	if (ok && !fsync_dir(bs->dir)) {
		ok = false;
		e = errno;
	}
	if (!ok) {
		*err = xasprintf("cannot write %s: %s", path, strerror(e));
		unlink(tmp);
	}
	free(tmp);
	free(path);
	free(json);
	return ok;
}

/*
 * Reads path back: it must have the sha256 of the bytes we wrote (which
 * the writer inflated and checked against the input as it wrote them).
 */
static bool verify(const char *path, const char *sha, char **err)
{
	char got[65];

	if (!file_sha256(path, got)) {
		*err = xasprintf("backup verification failed: cannot read %s: %s", path,
		                 strerror(errno));
		return false;
	}
	if (strcmp(got, sha) != 0) {
		*err = xasprintf("backup verification failed: %s changed on disk", path);
		return false;
	}
	return true;
}

int backup_database(struct backup_set *bs, struct dbconn *db, char **file, char **err)
{
	char *name = file_name(db->dbname), *final = NULL, *tmp = NULL, *e = NULL;
	struct dump d = {.db = db, .lock_timeout_s = bs->cfg->lock_timeout_s};
	struct dump_info info;
	struct manifest_entry *m;
	uint64_t bytes = 0;
	char sha[65];
	int fd = -1, rc;
	long long duration;
	bool ok;

	memset(&info, 0, sizeof info);
	*file = NULL;
	pthread_mutex_lock(&bs->mu);
	rc = ensure_dir(bs, err);
	if (!rc) {
		final = xasprintf("%s/%s", bs->dir, name);
		tmp = xasprintf("%s.tmp", final);
	}
	pthread_mutex_unlock(&bs->mu);
	if (rc)
		goto fail;

	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		*err = xasprintf("cannot create %s: %s", tmp, strerror(errno));
		goto fail;
	}
	signals_track_tmp(tmp); /* a forced exit unlinks it */
	log_at(LOG_INFO, &(struct log_ctx){db->dbname, NULL, -1}, "backing up to %s", final);
	d.w = gzw_open(fd, (int)bs->cfg->compress_level, tmp);
	d.info = &info;
	d.owners = bs->cfg->backup_owners;
	pthread_mutex_lock(&bs->mu);
	if (bs->cfg->progress && !bs->progress_busy)
		d.progress = bs->progress_busy = true;
	pthread_mutex_unlock(&bs->mu);
	ok = dump_database(&d);
	if (d.progress) {
		progress(&d, true);
		pthread_mutex_lock(&bs->mu);
		bs->progress_busy = false;
		pthread_mutex_unlock(&bs->mu);
	}
	if (!gzw_finish(d.w, !ok, &bytes, sha, &e)) {
		/* a database error explains more than "abandoned" does */
		*err = d.err ? xasprintf("%s", d.err) : e;
		if (d.err)
			free(e);
		goto fail;
	}
	if (fsync(fd) != 0) {
		*err = xasprintf("cannot fsync %s: %s", tmp, strerror(errno));
		goto fail;
	}
	if (close(fd) != 0) {
		fd = -1;
		*err = xasprintf("cannot close %s: %s", tmp, strerror(errno));
		goto fail;
	}
	fd = -1;
	if (!verify(tmp, sha, err))
		goto fail;
	if (rename(tmp, final) != 0) {
		*err = xasprintf("cannot rename %s: %s", tmp, strerror(errno));
		goto fail;
	}
	if (!fsync_dir(bs->dir)) {
		*err = xasprintf("cannot fsync %s: %s", bs->dir, strerror(errno));
		unlink(final);
		goto fail;
	}

	duration = info.duration_ms;
	pthread_mutex_lock(&bs->mu);
	bs->entries = xrealloc(bs->entries, (bs->count + 1) * sizeof *bs->entries);
	m = &bs->entries[bs->count++];
	m->database = xstrdup(db->dbname);
	m->file = xstrdup(name);
	m->bytes = bytes;
	memcpy(m->sha256, sha, sizeof sha);
	m->info = info;
	memset(&info, 0, sizeof info);
	ok = write_manifest(bs, err);
	if (!ok) {
		bs->failed = true;
		unlink(final); /* a file the manifest does not vouch for is no backup */
	}
	pthread_mutex_unlock(&bs->mu);
	if (!ok)
		goto fail;
	log_at(LOG_INFO, &(struct log_ctx){db->dbname, NULL, duration},
	       "backup written: %s (%llu bytes, sha256 %.12s...)", final, (unsigned long long)bytes,
	       sha);
	*file = final;
	signals_untrack_tmp(tmp);
	free(tmp);
	free(name);
	free(d.err);
	return AZ_EXIT_OK;

fail:
	if (fd >= 0)
		close(fd);
	if (tmp) {
		unlink(tmp);
		signals_untrack_tmp(tmp);
	}
	pthread_mutex_lock(&bs->mu);
	bs->failed = true;
	pthread_mutex_unlock(&bs->mu);
	if (!*err)
		*err = xstrdup("backup failed");
	{
		char *full = xasprintf("backup of \"%s\" failed: %s", db->dbname, *err);
		free(*err);
		*err = full;
	}
	info_free(&info);
	free(d.err);
	free(final);
	free(tmp);
	free(name);
	return AZ_EXIT_BACKUP;
}

int backup_to_fd(const struct config *cfg, struct dbconn *db, int fd, char **err)
{
	struct dump d = {.db = db, .lock_timeout_s = cfg->lock_timeout_s};
	struct dump_info info;
	uint64_t bytes = 0;
	char sha[65], *e = NULL;
	bool ok;

	memset(&info, 0, sizeof info);
	d.w = gzw_open(fd, (int)cfg->compress_level, "standard output");
	d.info = &info;
	d.owners = cfg->backup_owners;
	d.progress = cfg->progress;
	ok = dump_database(&d);
	progress(&d, true);
	if (!gzw_finish(d.w, !ok, &bytes, sha, &e)) {
		*err = xasprintf("backup of \"%s\" failed: %s", db->dbname, d.err ? d.err : e);
		free(e);
		free(d.err);
		info_free(&info);
		return AZ_EXIT_BACKUP;
	}
	log_at(LOG_INFO, &(struct log_ctx){db->dbname, NULL, info.duration_ms},
	       "backup written to standard output (%llu bytes, sha256 %s)",
	       (unsigned long long)bytes, sha);
	free(d.err);
	info_free(&info);
	return AZ_EXIT_OK;
}

/* ---- retention ------------------------------------------------------- */

static bool is_set_name(const char *s)
{
	/* YYYYMMDDTHHMMSSZ, optionally -N */
	static const char shape[] = "ddddddddTddddddZ";
	size_t i;
	for (i = 0; shape[i]; i++) {
		if (shape[i] == 'd' ? !(s[i] >= '0' && s[i] <= '9') : s[i] != shape[i])
			return false;
	}
	if (s[i] == '\0')
		return true;
	if (s[i++] != '-' || !s[i])
		return false;
	for (; s[i]; i++)
		if (!(s[i] >= '0' && s[i] <= '9'))
			return false;
	return true;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Removes a set: its backup files and manifest, then the directory. */
static void remove_set(const char *base, const char *name)
{
	char *dir = xasprintf("%s/%s", base, name);
	DIR *dh = opendir(dir);
	struct dirent *de;

	if (dh) {
		while ((de = readdir(dh)) != NULL) {
			size_t n = strlen(de->d_name);
			char *f;
			if (de->d_name[0] == '.')
				continue;
			if (!(n > 7 && strcmp(de->d_name + n - 7, ".sql.gz") == 0) &&
			    !(n > 11 && strcmp(de->d_name + n - 11, ".sql.gz.tmp") == 0) &&
			    !str_startswith(de->d_name, "manifest.json"))
				continue; /* not ours: leave it, and the directory */
			f = xasprintf("%s/%s", dir, de->d_name);
			if (unlink(f) != 0)
				log_warn("backup retention: cannot remove %s: %s", f,
				         strerror(errno));
			free(f);
		}
		closedir(dh);
	}
	if (rmdir(dir) != 0)
		log_warn("backup retention: cannot remove %s: %s", dir, strerror(errno));
	else
		log_info("backup retention: removed old set %s", dir);
	free(dir);
}

static void retain(const struct backup_set *bs)
{
	const char *base = bs->cfg->backup_dir;
	DIR *dh = opendir(base);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0;

	if (!dh) {
		log_warn("backup retention: cannot read %s: %s", base, strerror(errno));
		return;
	}
	while ((de = readdir(dh)) != NULL) {
		char *man;
		struct stat st;
		if (!is_set_name(de->d_name))
			continue;
		man = xasprintf("%s/%s/manifest.json", base, de->d_name);
		if (stat(man, &st) == 0) { /* only complete sets count */
			names = xrealloc(names, (n + 1) * sizeof *names);
			names[n++] = xstrdup(de->d_name);
		}
		free(man);
	}
	closedir(dh);
	qsort(names, n, sizeof *names, cmp_str);
	for (size_t i = 0; i + (size_t)bs->cfg->backup_keep < n; i++)
		remove_set(base, names[i]);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

void backup_set_close(struct backup_set *bs)
{
	if (!bs)
		return;
	if (bs->dir && bs->count == 0)
		rmdir(bs->dir); /* nothing was backed up: leave no empty set */
	else if (bs->dir && !bs->failed && bs->cfg->backup_keep > 0)
		retain(bs);
	for (size_t i = 0; i < bs->count; i++) {
		free(bs->entries[i].database);
		free(bs->entries[i].file);
		info_free(&bs->entries[i].info);
	}
	free(bs->entries);
	free(bs->dir);
	pthread_mutex_destroy(&bs->mu);
	free(bs);
}
