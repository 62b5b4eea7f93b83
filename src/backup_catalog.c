/* backup_catalog.c - see backup_catalog.h */
#define _POSIX_C_SOURCE 200809L
#include "backup_catalog.h"

#include <stdlib.h>
#include <string.h>

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

const char catalog_schemas[] = "SELECT format('CREATE SCHEMA %I;', n.nspname) FROM pg_namespace n "
                               "WHERE n.oid >= 16384 AND n.nspname <> 'public' AND " NS_OK(
                                   "n") " AND " NOT_EXT("pg_namespace", "n.oid") " ORDER BY n.oid";

const char catalog_extensions[] =
    "SELECT format('CREATE EXTENSION IF NOT EXISTS %I WITH SCHEMA %I;', x.extname, n.nspname) "
    "FROM pg_extension x JOIN pg_namespace n ON n.oid = x.extnamespace "
    "WHERE x.oid >= 16384 ORDER BY x.oid";

/* enum, composite and domain types, in creation order */
const char catalog_types[] =
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
const char catalog_functions[] =
    "SELECT pg_get_functiondef(p.oid) || E';\\n', "
    "  p.prosqlbody IS NOT NULL OR EXISTS (SELECT 1 FROM pg_type t JOIN pg_class c ON c.oid "
    "= t.typrelid "
    "   WHERE c.relkind <> 'c' AND (t.oid = p.prorettype OR t.oid = ANY (p.proargtypes::oid[]) "
    "   OR t.oid = ANY (coalesce(p.proallargtypes, '{}'::oid[])))) "
    "FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
    "WHERE p.oid >= 16384 AND p.prokind IN ('f', 'p', 'w') AND " NS_OK("n") " AND " NOT_EXT(
        "pg_proc", "p.oid") " ORDER BY p.oid";

/* sequences that are not an identity column's */
const char catalog_sequences[] =
    "SELECT format('CREATE %sSEQUENCE %I.%I AS %s START WITH %s INCREMENT BY %s MINVALUE %s "
    "MAXVALUE %s CACHE %s%s;', CASE WHEN c.relpersistence = 'u' THEN 'UNLOGGED ' ELSE '' END, "
    "n.nspname, c.relname, format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement, "
    "s.seqmin, s.seqmax, s.seqcache, CASE WHEN s.seqcycle THEN ' CYCLE' ELSE '' END) "
    "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "JOIN pg_sequence s ON s.seqrelid = c.oid WHERE c.relkind = 'S' AND " REL_OK(
        "c", "n") " AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = "
                  "'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'i') ORDER BY c.oid";

/* tables, parents before partitions */
const char catalog_tables[] =
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

const char catalog_columns[] =
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
const char catalog_checks[] =
    "SELECT " ADD_CON CON_TABLE
    " AND co.contype = 'c' AND co.conislocal AND co.coninhcount = 0 AND co.convalidated "
    "ORDER BY c.oid, co.oid";
const char catalog_checks_not_valid[] =
    "SELECT " ADD_CON CON_TABLE
    " AND co.contype = 'c' AND co.conislocal AND co.coninhcount = 0 AND NOT co.convalidated "
    "ORDER BY c.oid, co.oid";
/* primary keys, unique and exclusion constraints: on ONLY each table, as pg_dump */
const char catalog_keys[] =
    "SELECT format('ALTER TABLE ONLY %I.%I ADD CONSTRAINT %I %s;', n.nspname, c.relname, "
    "co.conname, pg_get_constraintdef(co.oid)) " CON_TABLE
    " AND co.contype IN ('p', 'u', 'x') ORDER BY c.oid, co.oid";
/* foreign keys declared on the table itself (partitions get theirs from the parent) */
const char catalog_fkeys[] = "SELECT " ADD_CON CON_TABLE
                             " AND co.contype = 'f' AND co.conparentid = 0 ORDER BY c.oid, co.oid";

const char catalog_seq_owned[] =
    "SELECT format('ALTER SEQUENCE %I.%I OWNED BY %I.%I.%I;', n.nspname, c.relname, "
    "tn.nspname, t.relname, a.attname) "
    "FROM pg_depend d JOIN pg_class c ON c.oid = d.objid JOIN pg_namespace n ON n.oid = "
    "c.relnamespace "
    "JOIN pg_class t ON t.oid = d.refobjid JOIN pg_namespace tn ON tn.oid = t.relnamespace "
    "JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid "
    "WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass AND "
    "d.deptype = 'a' AND c.relkind = 'S' AND " REL_OK("c", "n") " ORDER BY c.oid";

const char catalog_seq_list[] =
    "SELECT n.nspname, c.relname, quote_literal(format('%I.%I', n.nspname, c.relname)) "
    "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relkind = 'S' AND " REL_OK("c", "n") " ORDER BY c.oid";

const char catalog_views[] =
    "SELECT c.oid, c.relkind, format('%I.%I', n.nspname, c.relname), pg_get_viewdef(c.oid), "
    "array_to_string(c.reloptions, ', '), c.relispopulated "
    "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relkind IN ('v', 'm') AND " REL_OK("c", "n") " ORDER BY c.oid";
const char catalog_view_deps[] =
    "SELECT DISTINCT r.ev_class, d.refobjid FROM pg_rewrite r "
    "JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid "
    "AND d.refclassid = 'pg_class'::regclass AND d.refobjid <> r.ev_class "
    "JOIN pg_class rc ON rc.oid = d.refobjid WHERE rc.relkind IN ('v', 'm')";

const char catalog_indexes[] =
    "SELECT pg_get_indexdef(i.indexrelid) || ';' FROM pg_index i "
    "JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_class c ON c.oid = i.indrelid "
    "JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relkind IN ('r', 'p', 'm') AND " REL_OK(
        "c", "n") " AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = "
                  "i.indexrelid AND k.contype IN ('p', 'u', 'x')) ORDER BY ic.oid";
const char catalog_index_attach[] =
    "SELECT format('ALTER INDEX %I.%I ATTACH PARTITION %I.%I;', pn.nspname, p.relname, "
    "n.nspname, c.relname) FROM pg_inherits h JOIN pg_class c ON c.oid = h.inhrelid "
    "JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_class p ON p.oid = h.inhparent "
    "JOIN pg_namespace pn ON pn.oid = p.relnamespace "
    "WHERE c.relkind IN ('i', 'I') AND " REL_OK("c", "n") " ORDER BY c.oid";

const char catalog_triggers[] =
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

const char catalog_rls[] =
    "SELECT format('ALTER TABLE %I.%I ENABLE ROW LEVEL SECURITY;', n.nspname, c.relname) "
    "  || CASE WHEN c.relforcerowsecurity THEN format(E'\\nALTER TABLE %I.%I FORCE ROW "
    "LEVEL SECURITY;', n.nspname, c.relname) ELSE '' END "
    "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relkind IN ('r', 'p') AND c.relrowsecurity AND " REL_OK("c", "n") " ORDER BY c.oid";

const char catalog_policies[] =
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
const char catalog_comments[] =
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
const char catalog_owners[] =
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

const char catalog_grants
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

/* ---- catalogue objects ----------------------------------------------- */

struct catalog_table *catalog_table_list(PGresult *tr, PGresult *cr, size_t *n)
{
	int c = 0, ncr = PQntuples(cr);
	size_t nt = (size_t)PQntuples(tr);
	struct catalog_table *tabs = xcalloc(nt ? nt : 1, sizeof *tabs);

	for (size_t i = 0; i < nt; i++) {
		struct catalog_table *t = &tabs[i];
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
		for (c = 0; c < ncr && strtoul(PQgetvalue(cr, c, 0), NULL, 10) != t->oid; c++)
			;
		t->col0 = c;
		while (c < ncr && strtoul(PQgetvalue(cr, c, 0), NULL, 10) == t->oid)
			c++;
		t->ncols = c - t->col0;
	}
	*n = nt;
	return tabs;
}

char *catalog_create_table(const struct catalog_table *t, const PGresult *cols)
{
	struct strbuf sb;

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
	return sb.buf;
}

/* Views and materialized views, each after the views it reads (Kahn's algorithm). */
struct catalog_view *catalog_view_order(PGresult *vr, PGresult *dr, size_t *count)
{
	size_t n = (size_t)PQntuples(vr), emitted = 0;
	struct catalog_view *v = xcalloc(n ? n : 1, sizeof *v);
	struct catalog_view *out = xcalloc(n ? n : 1, sizeof *out);

	for (size_t i = 0; i < n; i++) {
		v[i].oid = strtoul(PQgetvalue(vr, (int)i, 0), NULL, 10);
		v[i].kind = PQgetvalue(vr, (int)i, 1)[0];
		v[i].qname = PQgetvalue(vr, (int)i, 2);
		v[i].def = PQgetvalue(vr, (int)i, 3);
		v[i].options = PQgetvalue(vr, (int)i, 4);
		v[i].populated = PQgetvalue(vr, (int)i, 5)[0] == 't';
	}
	while (emitted < n) {
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
		out[emitted++] = v[pick];
	}
	free(v);
	*count = n;
	return out;
}

char *catalog_create_view(const struct catalog_view *v)
{
	struct strbuf sb;
	size_t dl = strlen(v->def);

	while (dl && (v->def[dl - 1] == ';' || v->def[dl - 1] == '\n' || v->def[dl - 1] == ' '))
		dl--;
	sb_init(&sb);
	sb_addf(&sb, "CREATE %s %s", v->kind == 'm' ? "MATERIALIZED VIEW" : "VIEW", v->qname);
	if (*v->options)
		sb_addf(&sb, " WITH (%s)", v->options);
	sb_adds(&sb, " AS\n");
	sb_add(&sb, v->def, dl);
	sb_adds(&sb, v->kind == 'm' ? "\n  WITH NO DATA;\n\n" : ";\n\n");
	return sb.buf;
}

char *catalog_refresh_view(const struct catalog_view *v)
{
	if (v->kind == 'm' && v->populated)
		return xasprintf("REFRESH MATERIALIZED VIEW %s;\n", v->qname);
	return NULL;
}
