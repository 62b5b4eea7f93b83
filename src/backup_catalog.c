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
 *
 * The SQL is written one line of SQL per line of C, and kept out of
 * clang-format's reach, which would cut it into fragments.
 */
/* clang-format off */

/* namespace alias n is not a system schema */
#define NS_OK(n) \
	n ".nspname <> 'information_schema' AND " n ".nspname !~ '^pg_'"
/* the object oid of catalogue cls does not belong to an extension */
#define NOT_EXT(cls, oid) \
	"NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = '" cls "'::regclass " \
	"AND e.objid = " oid " AND e.deptype = 'e')"
/* relation c in namespace n is the user's */
#define REL_OK(c, n) \
	c ".oid >= 16384 AND " NS_OK(n) " AND " NOT_EXT("pg_class", c ".oid")

const char catalog_schemas[] =
	"SELECT format('CREATE SCHEMA %I;', n.nspname)\n"
	"FROM pg_namespace n\n"
	"WHERE n.oid >= 16384 AND n.nspname <> 'public'\n"
	"  AND " NS_OK("n") "\n"
	"  AND " NOT_EXT("pg_namespace", "n.oid") "\n"
	"ORDER BY n.oid";

const char catalog_extensions[] =
	"SELECT format('CREATE EXTENSION IF NOT EXISTS %I WITH SCHEMA %I;', x.extname, n.nspname)\n"
	"FROM pg_extension x JOIN pg_namespace n ON n.oid = x.extnamespace\n"
	"WHERE x.oid >= 16384\n"
	"ORDER BY x.oid";

/* a collation that differs from its type's, as " COLLATE nsp.name" */
#define COLLATE_CLAUSE(coll) \
	"(SELECT format(' COLLATE %I.%I', cn.nspname, co.collname)\n" \
	"       FROM pg_collation co JOIN pg_namespace cn ON cn.oid = co.collnamespace\n" \
	"       WHERE co.oid = " coll ")"

/* user-defined types that are not a table's row type */
#define TYPE_OK(t, n) \
	t ".oid >= 16384 AND " NS_OK(n) " AND " NOT_EXT("pg_type", t ".oid") "\n" \
	"  AND (" t ".typtype IN ('e', 'd') OR (" t ".typtype = 'c' AND\n" \
	"       (SELECT r.relkind FROM pg_class r WHERE r.oid = " t ".typrelid) = 'c'))"

/* enum, composite and domain types, in creation order */
const char catalog_types[] =
	"SELECT CASE t.typtype\n"
	"WHEN 'e' THEN format('CREATE TYPE %I.%I AS ENUM (%s);', n.nspname, t.typname,\n"
	"  (SELECT string_agg(quote_literal(l.enumlabel), ', ' ORDER BY l.enumsortorder)\n"
	"   FROM pg_enum l WHERE l.enumtypid = t.oid))\n"
	"WHEN 'c' THEN format(E'CREATE TYPE %I.%I AS (\\n%s\\n);', n.nspname, t.typname,\n"
	"  (SELECT string_agg(format('    %I %s%s', a.attname,\n"
	"     format_type(a.atttypid, a.atttypmod),\n"
	"     CASE WHEN a.attcollation <> 0 AND a.attcollation <> at.typcollation THEN\n"
	"       " COLLATE_CLAUSE("a.attcollation") "\n"
	"     END), E',\\n' ORDER BY a.attnum)\n"
	"   FROM pg_attribute a JOIN pg_type at ON at.oid = a.atttypid\n"
	"   WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped))\n"
	"ELSE format('CREATE DOMAIN %I.%I AS %s%s%s%s%s;', n.nspname, t.typname,\n"
	"  format_type(t.typbasetype, t.typtypmod),\n"
	"  CASE WHEN t.typcollation <> 0 AND t.typcollation <> bt.typcollation THEN\n"
	"    " COLLATE_CLAUSE("t.typcollation") "\n"
	"  END,\n"
	"  ' DEFAULT ' || pg_get_expr(t.typdefaultbin, 0),\n"
	"  CASE WHEN t.typnotnull THEN ' NOT NULL' END,\n"
	"  (SELECT string_agg(format(E'\\n    CONSTRAINT %I %s',\n"
	"                            c.conname, pg_get_constraintdef(c.oid)),\n"
	"                     '' ORDER BY c.conname)\n"
	"   FROM pg_constraint c WHERE c.contypid = t.oid AND c.contype = 'c'))\n"
	"END\n"
	"FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace\n"
	"LEFT JOIN pg_type bt ON bt.oid = t.typbasetype\n"
	"WHERE " TYPE_OK("t", "n") "\n"
	"ORDER BY t.oid";

/*
 * Functions and procedures; "late" ones (a table's row type in the
 * signature, or a SQL-standard body that names tables) come after tables.
 */
const char catalog_functions[] =
	"SELECT pg_get_functiondef(p.oid) || E';\\n',\n"
	"  p.prosqlbody IS NOT NULL OR EXISTS (\n"
	"    SELECT 1 FROM pg_type t JOIN pg_class c ON c.oid = t.typrelid\n"
	"    WHERE c.relkind <> 'c'\n"
	"      AND (t.oid = p.prorettype OR t.oid = ANY (p.proargtypes::oid[])\n"
	"      OR t.oid = ANY (coalesce(p.proallargtypes, '{}'::oid[]))))\n"
	"FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace\n"
	"WHERE p.oid >= 16384 AND p.prokind IN ('f', 'p', 'w')\n"
	"  AND " NS_OK("n") "\n"
	"  AND " NOT_EXT("pg_proc", "p.oid") "\n"
	"ORDER BY p.oid";

/* sequences that are not an identity column's */
const char catalog_sequences[] =
	"SELECT format('CREATE %sSEQUENCE %I.%I AS %s START WITH %s INCREMENT BY %s MINVALUE %s MAXVALUE %s CACHE %s%s;',\n"
	"  CASE WHEN c.relpersistence = 'u' THEN 'UNLOGGED ' ELSE '' END,\n"
	"  n.nspname, c.relname, format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement,\n"
	"  s.seqmin, s.seqmax, s.seqcache, CASE WHEN s.seqcycle THEN ' CYCLE' ELSE '' END)\n"
	"FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace\n"
	"JOIN pg_sequence s ON s.seqrelid = c.oid\n"
	"WHERE c.relkind = 'S' AND " REL_OK("c", "n") "\n"
	"  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass\n"
	"                  AND d.objid = c.oid AND d.deptype = 'i')\n"
	"ORDER BY c.oid";

/* tables, parents before partitions */
const char catalog_tables[] =
	"WITH RECURSIVE lvl(oid, depth) AS (\n"
	"  SELECT c.oid, 0 FROM pg_class c WHERE NOT c.relispartition AND c.relkind IN ('r', 'p')\n"
	"  UNION ALL\n"
	"  SELECT i.inhrelid, l.depth + 1 FROM pg_inherits i JOIN lvl l ON l.oid = i.inhparent)\n"
	"SELECT c.oid, c.relkind, n.nspname, c.relname, format('%I.%I', n.nspname, c.relname),\n"
	"  c.relpersistence = 'u', array_to_string(c.reloptions, ', '),\n"
	"  CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END,\n"
	"  CASE WHEN c.relispartition THEN (SELECT format('%I.%I', pn.nspname, pc.relname)\n"
	"    FROM pg_inherits i JOIN pg_class pc ON pc.oid = i.inhparent\n"
	"    JOIN pg_namespace pn ON pn.oid = pc.relnamespace WHERE i.inhrelid = c.oid) END,\n"
	"  CASE WHEN c.relispartition THEN pg_get_expr(c.relpartbound, c.oid) END,\n"
	"  c.reltoastrelid <> 0 AND pg_relation_size(c.reltoastrelid) > 0\n"
	"FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace\n"
	"JOIN (SELECT oid, max(depth) AS depth FROM lvl GROUP BY oid) l ON l.oid = c.oid\n"
	"WHERE c.relkind IN ('r', 'p') AND " REL_OK("c", "n") "\n"
	"ORDER BY l.depth, c.oid";

/* its columns are enum catalog_column: change the two together */
const char catalog_columns[] =
	"SELECT a.attrelid, a.attname, quote_ident(a.attname),\n"
	"  format_type(a.atttypid, a.atttypmod),\n"
	"  CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation THEN\n"
	"    " COLLATE_CLAUSE("a.attcollation") "\n"
	"  END,\n"
	"  pg_get_expr(d.adbin, d.adrelid), a.attnotnull, a.attidentity, a.attgenerated,\n"
	"  (SELECT format(' (SEQUENCE NAME %I.%I START WITH %s INCREMENT BY %s MINVALUE %s MAXVALUE %s CACHE %s%s)',\n"
	"     sn.nspname, sc.relname, s.seqstart, s.seqincrement, s.seqmin,\n"
	"     s.seqmax, s.seqcache, CASE WHEN s.seqcycle THEN ' CYCLE' ELSE '' END)\n"
	"   FROM pg_depend dp JOIN pg_class sc ON sc.oid = dp.objid\n"
	"   JOIN pg_namespace sn ON sn.oid = sc.relnamespace\n"
	"   JOIN pg_sequence s ON s.seqrelid = sc.oid\n"
	"   WHERE a.attidentity <> '' AND dp.classid = 'pg_class'::regclass\n"
	"     AND dp.refclassid = 'pg_class'::regclass AND dp.refobjid = a.attrelid\n"
	"     AND dp.refobjsubid = a.attnum AND dp.deptype = 'i' AND sc.relkind = 'S' LIMIT 1),\n"
	"  t.typlen, a.atttypid IN ('text'::regtype, 'varchar'::regtype, 'bytea'::regtype)\n"
	"FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid\n"
	"JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_type t ON t.oid = a.atttypid\n"
	"LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum\n"
	"WHERE c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped\n"
	"  AND " REL_OK("c", "n") "\n"
	"ORDER BY a.attrelid, a.attnum";

/* constraint co of table c in namespace n */
#define CON_TABLE \
	"FROM pg_constraint co JOIN pg_class c ON c.oid = co.conrelid\n" \
	"JOIN pg_namespace n ON n.oid = c.relnamespace\n" \
	"WHERE c.relkind IN ('r', 'p') AND " REL_OK("c", "n") "\n"
#define ADD_CON \
	"format('ALTER TABLE %s%I.%I ADD CONSTRAINT %I %s;',\n" \
	"  CASE WHEN c.relkind = 'p' THEN '' ELSE 'ONLY ' END,\n" \
	"  n.nspname, c.relname, co.conname, pg_get_constraintdef(co.oid))\n"

/* CHECK constraints of the table itself (partitions inherit their parent's) */
const char catalog_checks[] =
	"SELECT " ADD_CON
	CON_TABLE
	"  AND co.contype = 'c' AND co.conislocal AND co.coninhcount = 0 AND co.convalidated\n"
	"ORDER BY c.oid, co.oid";
const char catalog_checks_not_valid[] =
	"SELECT " ADD_CON
	CON_TABLE
	"  AND co.contype = 'c' AND co.conislocal AND co.coninhcount = 0 AND NOT co.convalidated\n"
	"ORDER BY c.oid, co.oid";
/* primary keys, unique and exclusion constraints: on ONLY each table, as pg_dump */
const char catalog_keys[] =
	"SELECT format('ALTER TABLE ONLY %I.%I ADD CONSTRAINT %I %s;',\n"
	"  n.nspname, c.relname, co.conname, pg_get_constraintdef(co.oid))\n"
	CON_TABLE
	"  AND co.contype IN ('p', 'u', 'x')\n"
	"ORDER BY c.oid, co.oid";
/* foreign keys declared on the table itself (partitions get theirs from the parent) */
const char catalog_fkeys[] =
	"SELECT " ADD_CON
	CON_TABLE
	"  AND co.contype = 'f' AND co.conparentid = 0\n"
	"ORDER BY c.oid, co.oid";

const char catalog_seq_owned[] =
	"SELECT format('ALTER SEQUENCE %I.%I OWNED BY %I.%I.%I;',\n"
	"  n.nspname, c.relname, tn.nspname, t.relname, a.attname)\n"
	"FROM pg_depend d JOIN pg_class c ON c.oid = d.objid\n"
	"JOIN pg_namespace n ON n.oid = c.relnamespace\n"
	"JOIN pg_class t ON t.oid = d.refobjid JOIN pg_namespace tn ON tn.oid = t.relnamespace\n"
	"JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid\n"
	"WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass\n"
	"  AND d.deptype = 'a' AND c.relkind = 'S' AND " REL_OK("c", "n") "\n"
	"ORDER BY c.oid";

const char catalog_seq_list[] =
	"SELECT n.nspname, c.relname, quote_literal(format('%I.%I', n.nspname, c.relname))\n"
	"FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace\n"
	"WHERE c.relkind = 'S' AND " REL_OK("c", "n") "\n"
	"ORDER BY c.oid";

const char catalog_views[] =
	"SELECT c.oid, c.relkind, format('%I.%I', n.nspname, c.relname), pg_get_viewdef(c.oid),\n"
	"  array_to_string(c.reloptions, ', '), c.relispopulated\n"
	"FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace\n"
	"WHERE c.relkind IN ('v', 'm') AND " REL_OK("c", "n") "\n"
	"ORDER BY c.oid";
const char catalog_view_deps[] =
	"SELECT DISTINCT r.ev_class, d.refobjid FROM pg_rewrite r\n"
	"JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid\n"
	"  AND d.refclassid = 'pg_class'::regclass AND d.refobjid <> r.ev_class\n"
	"JOIN pg_class rc ON rc.oid = d.refobjid\n"
	"WHERE rc.relkind IN ('v', 'm')";

const char catalog_indexes[] =
	"SELECT pg_get_indexdef(i.indexrelid) || ';' FROM pg_index i\n"
	"JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_class c ON c.oid = i.indrelid\n"
	"JOIN pg_namespace n ON n.oid = c.relnamespace\n"
	"WHERE c.relkind IN ('r', 'p', 'm') AND " REL_OK("c", "n") "\n"
	"  AND NOT EXISTS (SELECT 1 FROM pg_constraint k\n"
	"                  WHERE k.conindid = i.indexrelid AND k.contype IN ('p', 'u', 'x'))\n"
	"ORDER BY ic.oid";
const char catalog_index_attach[] =
	"SELECT format('ALTER INDEX %I.%I ATTACH PARTITION %I.%I;',\n"
	"  pn.nspname, p.relname, n.nspname, c.relname)\n"
	"FROM pg_inherits h JOIN pg_class c ON c.oid = h.inhrelid\n"
	"JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_class p ON p.oid = h.inhparent\n"
	"JOIN pg_namespace pn ON pn.oid = p.relnamespace\n"
	"WHERE c.relkind IN ('i', 'I') AND " REL_OK("c", "n") "\n"
	"ORDER BY c.oid";

const char catalog_triggers[] =
	"SELECT pg_get_triggerdef(t.oid) || ';' || CASE t.tgenabled\n"
	"  WHEN 'D' THEN format(E'\\nALTER TABLE %I.%I DISABLE TRIGGER %I;',\n"
	"    n.nspname, c.relname, t.tgname)\n"
	"  WHEN 'R' THEN format(E'\\nALTER TABLE %I.%I ENABLE REPLICA TRIGGER %I;',\n"
	"    n.nspname, c.relname, t.tgname)\n"
	"  WHEN 'A' THEN format(E'\\nALTER TABLE %I.%I ENABLE ALWAYS TRIGGER %I;',\n"
	"    n.nspname, c.relname, t.tgname)\n"
	"  ELSE '' END\n"
	"FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid\n"
	"JOIN pg_namespace n ON n.oid = c.relnamespace\n"
	"WHERE NOT t.tgisinternal AND t.tgparentid = 0 AND " REL_OK("c", "n") "\n"
	"ORDER BY c.oid, t.oid";

const char catalog_rls[] =
	"SELECT format('ALTER TABLE %I.%I ENABLE ROW LEVEL SECURITY;', n.nspname, c.relname)\n"
	"  || CASE WHEN c.relforcerowsecurity\n"
	"     THEN format(E'\\nALTER TABLE %I.%I FORCE ROW LEVEL SECURITY;',\n"
	"                 n.nspname, c.relname)\n"
	"     ELSE '' END\n"
	"FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace\n"
	"WHERE c.relkind IN ('r', 'p') AND c.relrowsecurity AND " REL_OK("c", "n") "\n"
	"ORDER BY c.oid";

const char catalog_policies[] =
	"SELECT format('CREATE POLICY %I ON %I.%I%s FOR %s%s%s%s;',\n"
	"  p.polname, n.nspname, c.relname,\n"
	"  CASE WHEN p.polpermissive THEN '' ELSE ' AS RESTRICTIVE' END,\n"
	"  CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE'\n"
	"    WHEN 'd' THEN 'DELETE' ELSE 'ALL' END,\n"
	"  ' TO ' || (SELECT string_agg(CASE WHEN r = 0 THEN 'PUBLIC'\n"
	"                                ELSE quote_ident(pg_get_userbyid(r)) END, ', ')\n"
	"             FROM unnest(p.polroles) r),\n"
	"  ' USING (' || pg_get_expr(p.polqual, p.polrelid) || ')',\n"
	"  ' WITH CHECK (' || pg_get_expr(p.polwithcheck, p.polrelid) || ')')\n"
	"FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid\n"
	"JOIN pg_namespace n ON n.oid = c.relnamespace\n"
	"WHERE " REL_OK("c", "n") "\n"
	"ORDER BY c.oid, p.oid";

/* comments on the kinds of object a backup holds */
const char catalog_comments[] =
	"SELECT format('COMMENT ON %s %s IS %L;', k.kw,\n"
	"  CASE WHEN o.type = 'domain constraint'\n"
	"    THEN (SELECT format('%I ON DOMAIN %s', x.conname, format_type(x.contypid, NULL))\n"
	"          FROM pg_constraint x WHERE x.oid = d.objoid)\n"
	"  ELSE o.identity END, d.description)\n"
	"FROM pg_description d, LATERAL pg_identify_object(d.classoid, d.objoid, d.objsubid) o,\n"
	"LATERAL (SELECT CASE o.type WHEN 'table' THEN 'TABLE' WHEN 'view' THEN 'VIEW'\n"
	"  WHEN 'materialized view' THEN 'MATERIALIZED VIEW' WHEN 'index' THEN 'INDEX'\n"
	"  WHEN 'sequence' THEN 'SEQUENCE' WHEN 'type' THEN 'TYPE' WHEN 'domain' THEN 'DOMAIN'\n"
	"  WHEN 'function' THEN 'FUNCTION' WHEN 'procedure' THEN 'PROCEDURE'\n"
	"  WHEN 'trigger' THEN 'TRIGGER' WHEN 'policy' THEN 'POLICY' WHEN 'schema' THEN 'SCHEMA'\n"
	"  WHEN 'extension' THEN 'EXTENSION' WHEN 'table constraint' THEN 'CONSTRAINT'\n"
	"  WHEN 'domain constraint' THEN 'CONSTRAINT' WHEN 'table column' THEN 'COLUMN'\n"
	"  WHEN 'view column' THEN 'COLUMN' WHEN 'materialized view column' THEN 'COLUMN'\n"
	"  WHEN 'composite type column' THEN 'COLUMN' END AS kw) k\n"
	"WHERE d.objoid >= 16384 AND k.kw IS NOT NULL\n"
	"  AND (o.schema IS NULL OR (o.schema <> 'information_schema' AND o.schema !~ '^pg_'))\n"
	"  AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = d.classoid\n"
	"                  AND e.objid = d.objoid AND e.deptype = 'e')\n"
	"  AND (o.type <> 'schema' OR o.identity <> 'public')\n"
	"  AND (o.type NOT IN ('type', 'domain') OR NOT EXISTS (\n"
	"       SELECT 1 FROM pg_type t JOIN pg_class r ON r.oid = t.typrelid\n"
	"       WHERE t.oid = d.objoid AND r.relkind <> 'c'))\n"
	"  AND (d.classoid <> 'pg_proc'::regclass OR EXISTS (SELECT 1 FROM pg_proc p\n"
	"       WHERE p.oid = d.objoid AND p.prokind IN ('f', 'p', 'w')))\n"
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
	"SELECT s FROM (\n"
	" SELECT 1 AS o, n.oid, format('ALTER SCHEMA %I OWNER TO %I;', n.nspname,\n"
	"  pg_get_userbyid(n.nspowner)) AS s\n"
	" FROM pg_namespace n\n"
	" WHERE n.oid >= 16384 AND n.nspname <> 'public' AND " NS_OK("n") "\n"
	"  AND " NOT_EXT("pg_namespace", "n.oid") "\n"
	" UNION ALL\n"
	" SELECT 2, t.oid, format('ALTER %s %I.%I OWNER TO %I;',\n"
	"  CASE WHEN t.typtype = 'd' THEN 'DOMAIN' ELSE 'TYPE' END,\n"
	"  n.nspname, t.typname, pg_get_userbyid(t.typowner))\n"
	" FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace\n"
	" WHERE " TYPE_OK("t", "n") "\n"
	" UNION ALL\n"
	" SELECT 3, p.oid, format('ALTER ROUTINE %s OWNER TO %I;', p.oid::regprocedure,\n"
	"  pg_get_userbyid(p.proowner))\n"
	" FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace\n"
	" WHERE p.oid >= 16384 AND p.prokind IN ('f', 'p', 'w') AND " NS_OK("n") "\n"
	"  AND " NOT_EXT("pg_proc", "p.oid") "\n"
	" UNION ALL\n"
	" SELECT CASE WHEN c.relkind = 'S' THEN 5 ELSE 4 END, c.oid,\n"
	"  format('ALTER %s %I.%I OWNER TO %I;',\n"
	"  CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'\n"
	"    WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END,\n"
	"  n.nspname, c.relname, pg_get_userbyid(c.relowner))\n"
	" FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace\n"
	" WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S') AND " REL_OK("c", "n") "\n"
	"  AND NOT (c.relkind = 'S' AND EXISTS (SELECT 1 FROM pg_depend d\n"
	"   WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid\n"
	"     AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')))\n"
	") x ORDER BY o, oid";

/* the ACL object oid of catalogue cls starts with: initdb's, or the default for its owner */
#define ACL_START(cls, oid, kind, owner) \
	"coalesce((SELECT ip.initprivs FROM pg_init_privs ip\n" \
	"           WHERE ip.objoid = " oid " AND ip.classoid = '" cls "'::regclass\n" \
	"             AND ip.objsubid = 0),\n" \
	"          acldefault('" kind "', " owner "))"

const char catalog_grants[] =
	"WITH obj(o, oid, kw, ident, acl, start) AS (\n"
	" SELECT 1, n.oid, 'SCHEMA', quote_ident(n.nspname), n.nspacl,\n"
	"  " ACL_START("pg_namespace", "n.oid", "n", "n.nspowner") "\n"
	" FROM pg_namespace n\n"
	" WHERE (n.oid >= 16384 OR n.nspname = 'public') AND " NS_OK("n") "\n"
	"  AND " NOT_EXT("pg_namespace", "n.oid") "\n"
	" UNION ALL\n"
	" SELECT 2, t.oid, CASE WHEN t.typtype = 'd' THEN 'DOMAIN' ELSE 'TYPE' END,\n"
	"  format('%I.%I', n.nspname, t.typname), t.typacl,\n"
	"  " ACL_START("pg_type", "t.oid", "T", "t.typowner") "\n"
	" FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace\n"
	" WHERE " TYPE_OK("t", "n") "\n"
	" UNION ALL\n"
	" SELECT 3, p.oid, 'ROUTINE', p.oid::regprocedure::text, p.proacl,\n"
	"  " ACL_START("pg_proc", "p.oid", "f", "p.proowner") "\n"
	" FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace\n"
	" WHERE p.oid >= 16384 AND p.prokind IN ('f', 'p', 'w') AND " NS_OK("n") "\n"
	"  AND " NOT_EXT("pg_proc", "p.oid") "\n"
	" UNION ALL\n"
	" SELECT 4, c.oid, CASE WHEN c.relkind = 'S' THEN 'SEQUENCE' ELSE 'TABLE' END,\n"
	"  format('%I.%I', n.nspname, c.relname), c.relacl,\n"
	"  acldefault(CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::\"char\", c.relowner)\n"
	" FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace\n"
	" WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S') AND " REL_OK("c", "n") "\n"
	"),\n"
	"who(oid, name) AS (\n"
	" SELECT 0::oid, 'PUBLIC' UNION ALL SELECT oid, quote_ident(rolname) FROM pg_roles\n"
	")\n"
	"SELECT s FROM (\n"
	" SELECT obj.o, obj.oid, 1 AS k, 0::bigint AS pos, format('REVOKE %s ON %s %s FROM %s;',\n"
	"  e.privilege_type, obj.kw, obj.ident, w.name) AS s\n"
	" FROM obj, LATERAL (SELECT grantee, privilege_type FROM aclexplode(obj.start)\n"
	"                    EXCEPT SELECT grantee, privilege_type FROM aclexplode(obj.acl)) e\n"
	" JOIN who w ON w.oid = e.grantee\n"
	" WHERE obj.acl IS NOT NULL\n"
	" UNION ALL\n"
	/* in ACL order, so that the restored ACL lists its entries in the same order */
	" SELECT obj.o, obj.oid, 2, e.pos, format('GRANT %s ON %s %s TO %s%s;', e.privilege_type,\n"
	"  obj.kw, obj.ident, w.name,\n"
	"  CASE WHEN e.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END)\n"
	" FROM obj, LATERAL aclexplode(obj.acl) WITH ORDINALITY\n"
	"  e(grantor, grantee, privilege_type, is_grantable, pos)\n"
	" JOIN who w ON w.oid = e.grantee\n"
	" WHERE obj.acl IS NOT NULL AND NOT EXISTS (SELECT 1 FROM aclexplode(obj.start) b\n"
	"  WHERE b.grantee = e.grantee AND b.privilege_type = e.privilege_type\n"
	"    AND b.is_grantable = e.is_grantable)\n"
	" UNION ALL\n"
	" SELECT 5, c.oid, 3, a.attnum * 1000 + e.pos,\n"
	"  format('GRANT %s (%I) ON TABLE %I.%I TO %s%s;',\n"
	"  e.privilege_type, a.attname, n.nspname, c.relname, w.name,\n"
	"  CASE WHEN e.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END)\n"
	" FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid\n"
	" JOIN pg_namespace n ON n.oid = c.relnamespace,\n"
	" LATERAL aclexplode(a.attacl) WITH ORDINALITY\n"
	"  e(grantor, grantee, privilege_type, is_grantable, pos)\n"
	" JOIN who w ON w.oid = e.grantee\n"
	" WHERE a.attacl IS NOT NULL AND a.attnum > 0 AND NOT a.attisdropped\n"
	"  AND " REL_OK("c", "n") "\n"
	") x ORDER BY o, oid, k, pos, s";

/* clang-format on */

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
		for (c = 0; c < ncr && strtoul(PQgetvalue(cr, c, CC_RELID), NULL, 10) != t->oid;
		     c++)
			;
		t->col0 = c;
		while (c < ncr && strtoul(PQgetvalue(cr, c, CC_RELID), NULL, 10) == t->oid)
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
			const char *def = PQgetisnull(cols, r, CC_DEFAULT)
			                      ? NULL
			                      : PQgetvalue(cols, r, CC_DEFAULT);
			const char *ident = PQgetvalue(cols, r, CC_IDENTITY);
			const char *gen = PQgetvalue(cols, r, CC_GENERATED);

			sb_addf(&sb, "%s\n    %s %s%s", k ? "," : "", PQgetvalue(cols, r, CC_QNAME),
			        PQgetvalue(cols, r, CC_TYPE), PQgetvalue(cols, r, CC_COLLATE));
			if (gen[0] == 's' && def)
				sb_addf(&sb, " GENERATED ALWAYS AS (%s) STORED", def);
			else if (def)
				sb_addf(&sb, " DEFAULT %s", def);
			if (ident[0])
				sb_addf(&sb, " GENERATED %s AS IDENTITY%s",
				        ident[0] == 'a' ? "ALWAYS" : "BY DEFAULT",
				        PQgetvalue(cols, r, CC_IDENTITY_SEQ));
			if (PQgetvalue(cols, r, CC_NOTNULL)[0] == 't')
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
